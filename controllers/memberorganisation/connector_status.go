/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package memberorganisation

import (
	"context"
	"math"
	"net/http"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/connector"
	"github.com/shcr-io/shcr-operator/internal/httpjson"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// connectorStatusRefresh is how often a running connector's status is read.
const connectorStatusRefresh = time.Minute

// statusClient reads connectors' /status endpoints; they answer at once or
// not at all.
var statusClient = &http.Client{Timeout: 3 * time.Second}

// readConnectorStatus fetches a connector's /status (docs/connector.md).
func readConnectorStatus(ctx context.Context, url string) (*connector.Status, error) {
	status := &connector.Status{}
	if err := httpjson.Get(ctx, statusClient, url, "connector status", status); err != nil {
		return nil, err
	}
	return status, nil
}

// statusBoard holds the latest report of each running connector. Reports
// are read in the background, a few at a time, so that no reconcile waits on
// a connector (a region may run thousands, and one that does not answer
// would hold a worker for the whole timeout). When a report changes, the
// organisation is reconciled again to show it.
type statusBoard struct {
	read func(ctx context.Context, url string) (*connector.Status, error)
	// changed receives the organisation whose report changed.
	changed chan event.GenericEvent
	// slots bounds the reads in flight.
	slots chan struct{}

	mu      sync.Mutex
	ctx     context.Context
	entries map[types.NamespacedName]*boardEntry
}

type boardEntry struct {
	url      string
	report   *shcrv1alpha1.ConnectorStatus
	readAt   time.Time
	inFlight bool
	// categories are those the connector said it forwards, answered at
	// categoriesAt (purge.go waits for them to narrow).
	categories   []string
	categoriesAt time.Time
}

// statusReadsInFlight is how many connectors' status endpoints are read at once.
const statusReadsInFlight = 8

func newStatusBoard(read func(ctx context.Context, url string) (*connector.Status, error)) *statusBoard {
	return &statusBoard{
		read: read, changed: make(chan event.GenericEvent, 1024), slots: make(chan struct{}, statusReadsInFlight),
		entries: map[types.NamespacedName]*boardEntry{},
	}
}

// Start gives the board the manager's lifetime: reads stop when it ends.
func (b *statusBoard) Start(ctx context.Context) error {
	b.mu.Lock()
	b.ctx = ctx
	b.mu.Unlock()
	<-ctx.Done()
	return nil
}

// started says whether the manager has started the board.
func (b *statusBoard) started() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ctx != nil
}

// latest returns the last report read from url for the organisation (nil
// when none has been read yet) and, when that report is older than
// refresh, starts a read in the background.
func (b *statusBoard) latest(key types.NamespacedName, url string, now time.Time, refresh time.Duration) *shcrv1alpha1.ConnectorStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entries[key]
	if e == nil || e.url != url {
		e = &boardEntry{url: url}
		b.entries[key] = e
	}
	if !e.inFlight && now.Sub(e.readAt) >= refresh && b.ctx != nil {
		// Staleness counts from the start of the last read, on the
		// reconciler's clock.
		e.inFlight, e.readAt = true, now
		go b.refresh(b.ctx, key, url)
	}
	return e.report
}

// forget drops an organisation's entry (its connector was removed).
func (b *statusBoard) forget(key types.NamespacedName) {
	b.mu.Lock()
	delete(b.entries, key)
	b.mu.Unlock()
}

func (b *statusBoard) refresh(ctx context.Context, key types.NamespacedName, url string) {
	select {
	case b.slots <- struct{}{}:
	case <-ctx.Done():
		return
	}
	reported, err := b.read(ctx, url)
	<-b.slots
	var report *shcrv1alpha1.ConnectorStatus
	if err != nil {
		ctrl.LoggerFrom(ctx).V(1).Info("Connector status not available", "memberorganisation", key.String(), "error", err.Error())
	} else {
		report = statusOf(reported)
	}
	b.mu.Lock()
	e := b.entries[key]
	changed := false
	if e != nil && e.url == url {
		e.inFlight = false
		if reported != nil {
			e.categories, e.categoriesAt = reported.Categories, time.Now()
		}
		// When the connector cannot be reached, the last report stands.
		if report != nil && !equality.Semantic.DeepEqual(report, e.report) {
			e.report, changed = report, true
		}
	}
	b.mu.Unlock()
	if changed {
		select {
		case b.changed <- event.GenericEvent{Object: &shcrv1alpha1.MemberOrganisation{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}}:
		case <-ctx.Done():
		}
	}
}

// statusOf is what the organisation's status shows of a connector's report:
// last successful sync, lag and circuit. Nothing else the connector says
// (its last error may name a URL) is copied.
func statusOf(reported *connector.Status) *shcrv1alpha1.ConnectorStatus {
	out := &shcrv1alpha1.ConnectorStatus{Circuit: reported.Circuit}
	if reported.LastSuccessfulSync != nil {
		out.LastSuccessfulSync = &metav1.Time{Time: reported.LastSuccessfulSync.UTC().Truncate(time.Second)}
	}
	if reported.LagSeconds != nil {
		lag := int64(math.Round(*reported.LagSeconds))
		out.LagSeconds = &lag
	}
	return out
}

// reportConnector shows in the organisation's status the latest report its
// running connector gave. Until one has been read (after the operator
// starts, say), the status keeps what it showed.
func (r *Reconciler) reportConnector(member *shcrv1alpha1.MemberOrganisation) {
	url := specs.ConnectorStatusURL(member)
	if r.ConnectorStatusURL != nil {
		url = r.ConnectorStatusURL(member)
	}
	if report := r.board.latest(client.ObjectKeyFromObject(member), url, r.Now(), connectorStatusRefresh); report != nil {
		member.Status.Connector = report.DeepCopy() // the board's copy is shared
	}
}
