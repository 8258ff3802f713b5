/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package shcrregion

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/gateway"
	"github.com/shcr-io/shcr-operator/internal/httpjson"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// EventBreakGlassUsed is the reason of the Warning Event a region gets when
// its gateway has allowed accesses through a break-glass emergency override.
const EventBreakGlassUsed = "BreakGlassUsed"

// DefaultBreakGlassInterval is how often each region's gateway is asked
// for its break-glass count.
const DefaultBreakGlassInterval = time.Minute

// breakGlassClient reads gateways' counts; they answer at once or not at all.
var breakGlassClient = &http.Client{Timeout: 3 * time.Second}

// BreakGlassWatcher raises a Warning Event BreakGlassUsed on a region when
// its record gateway reports break-glass accesses it had not reported
// before. It reads the gateway's GET /v1/break-glass-count (per process,
// per organisation) through the gateway's Service, so with several
// replicas each is seen in turn; counts are kept per gateway process, and
// a process seen for the first time (a new pod, or the operator
// restarted) has its whole count reported: a use reported twice is better
// than one never reported. The Event names organisations that are members
// of the region by ODS code and the number of accesses, never a patient,
// user or reason: those are in the audit trail, for
// "kubectl shcr break-glass --since".
type BreakGlassWatcher struct {
	// Client lists regions and their organisations.
	Client client.Reader
	// Recorder records the Events.
	Recorder events.EventRecorder
	// URL is where a region's count is read; the gateway Service's
	// BreakGlassCountPath when nil.
	URL func(*shcrv1alpha1.ShCRRegion) string
	// Interval is how often every region is looked at;
	// DefaultBreakGlassInterval when zero.
	Interval time.Duration

	mu sync.Mutex
	// seen is the last count of each region's gateway processes:
	// region -> instance -> organisation -> accesses.
	seen map[string]map[string]map[string]uint64
}

// BreakGlassCountURL is the in-cluster URL of a region gateway's count.
func BreakGlassCountURL(region *shcrv1alpha1.ShCRRegion) string {
	return fmt.Sprintf("http://%s.%s.svc:%d%s", specs.GatewayName,
		shcrv1alpha1.NamespaceFor(region.Name), specs.GatewayPort, gateway.BreakGlassCountPath)
}

// Start looks at every region each Interval until ctx ends.
func (w *BreakGlassWatcher) Start(ctx context.Context) error {
	interval := w.Interval
	if interval == 0 {
		interval = DefaultBreakGlassInterval
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		w.lookAtRegions(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// lookAtRegions reads every region's count once and records an Event on
// each region with new break-glass accesses.
func (w *BreakGlassWatcher) lookAtRegions(ctx context.Context) {
	log := ctrl.LoggerFrom(ctx).WithName("break-glass")
	regions := &shcrv1alpha1.ShCRRegionList{}
	if err := w.Client.List(ctx, regions); err != nil {
		log.Error(err, "Listing regions to read their break-glass counts")
		return
	}
	for i := range regions.Items {
		region := &regions.Items[i]
		if !region.DeletionTimestamp.IsZero() || region.Status.Namespace == "" {
			continue
		}
		url := BreakGlassCountURL(region)
		if w.URL != nil {
			url = w.URL(region)
		}
		count, err := readBreakGlassCount(ctx, url)
		if err != nil {
			// A gateway not running yet, or not answering: the alert on
			// shcr_gateway_break_glass_total does not depend on this.
			log.V(1).Info("Break-glass count not read", "region", region.Name, "error", err.Error())
			continue
		}
		members, err := w.memberCodes(ctx, region)
		if err != nil {
			log.Error(err, "Listing a region's organisations", "region", region.Name)
			continue
		}
		if note := breakGlassNote(w.newAccesses(region.Name, count), members); note != "" {
			w.Recorder.Eventf(region, nil, corev1.EventTypeWarning, EventBreakGlassUsed, EventBreakGlassUsed, note)
		}
	}
}

// memberCodes are the ODS codes of the region's organisations.
func (w *BreakGlassWatcher) memberCodes(ctx context.Context, region *shcrv1alpha1.ShCRRegion) (map[string]bool, error) {
	list := &shcrv1alpha1.MemberOrganisationList{}
	if err := w.Client.List(ctx, list, client.InNamespace(shcrv1alpha1.NamespaceFor(region.Name))); err != nil {
		return nil, err
	}
	codes := make(map[string]bool, len(list.Items))
	for _, m := range list.Items {
		codes[m.Spec.ODSCode] = true
	}
	return codes, nil
}

// newAccesses is how many accesses of each organisation count holds that
// were not in the last count of the same gateway process, and remembers
// count.
func (w *BreakGlassWatcher) newAccesses(region string, count *gateway.BreakGlassCount) map[string]uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen == nil {
		w.seen = map[string]map[string]map[string]uint64{}
	}
	if w.seen[region] == nil {
		w.seen[region] = map[string]map[string]uint64{}
	}
	last := w.seen[region][count.Instance]
	fresh := map[string]uint64{}
	for org, n := range count.Organisations {
		if n > last[org] {
			fresh[org] = n - last[org]
		}
	}
	w.seen[region][count.Instance] = count.Organisations
	return fresh
}

// breakGlassNote is the Event's note for the new accesses, or "" when
// there are none. Only the region's members' ODS codes are named; any
// other label (which a correct gateway never reports) is counted as
// "another organisation", so nothing but an ODS code reaches the Event.
func breakGlassNote(fresh map[string]uint64, members map[string]bool) string {
	var named []string
	var other uint64
	for org, n := range fresh {
		if members[org] {
			named = append(named, fmt.Sprintf("%s %d", org, n))
		} else {
			other += n
		}
	}
	if len(named) == 0 && other == 0 {
		return ""
	}
	slices.Sort(named)
	if other > 0 {
		named = append(named, fmt.Sprintf("another organisation %d", other))
	}
	return "Break-glass emergency override used since the last look, accesses by organisation (ODS code): " +
		strings.Join(named, ", ") + ". Review who, when, whose records and why with: kubectl shcr break-glass --since 24h"
}

// readBreakGlassCount fetches a gateway's GET /v1/break-glass-count.
func readBreakGlassCount(ctx context.Context, url string) (*gateway.BreakGlassCount, error) {
	count := &gateway.BreakGlassCount{}
	if err := httpjson.Get(ctx, breakGlassClient, url, "the gateway's break-glass count", count); err != nil {
		return nil, err
	}
	if count.Instance == "" {
		return nil, fmt.Errorf("the gateway's break-glass count names no instance")
	}
	return count, nil
}
