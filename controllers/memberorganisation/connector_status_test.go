/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package memberorganisation

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/shcr-io/shcr-operator/internal/connector"
	"github.com/shcr-io/shcr-operator/test/fixtures"
)

// The status board reads connectors in the background: a reconcile gets the
// last report at once, a read starts only when that report is stale, the
// organisation is reconciled again only when its report changed, and a
// connector that cannot be read leaves the last report standing.
func TestStatusBoard(t *testing.T) {
	var reads atomic.Int32
	lag := 30.0
	answer := atomic.Pointer[connector.Status]{}
	answer.Store(&connector.Status{Circuit: "closed", LagSeconds: &lag})
	board := newStatusBoard(func(context.Context, string) (*connector.Status, error) {
		reads.Add(1)
		if s := answer.Load(); s != nil {
			return s, nil
		}
		return nil, errors.New("connection refused")
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = board.Start(ctx) }()
	key := types.NamespacedName{Namespace: "shcr-r", Name: "gp"}
	const url, refresh = "http://connector-k84001.shcr-r.svc:8080/status", time.Minute

	// Reads start once the manager has started the board.
	fixtures.WaitFor(t, "the board started", 5*time.Second, func() (bool, string) { return board.started(), "not started" })
	now := time.Now()
	if got := board.latest(key, url, now, refresh); got != nil {
		t.Fatalf("a report before any read: %+v", got)
	}
	changed := waitChanged(t, board)
	if changed.GetName() != "gp" || changed.GetNamespace() != "shcr-r" {
		t.Errorf("reconcile asked for %s/%s", changed.GetNamespace(), changed.GetName())
	}
	got := board.latest(key, url, now, refresh)
	if got == nil || got.Circuit != "closed" || got.LagSeconds == nil || *got.LagSeconds != 30 {
		t.Fatalf("report %+v", got)
	}
	if n := reads.Load(); n != 1 {
		t.Errorf("%d reads while the report was fresh, want 1", n)
	}

	// Stale, unchanged: read again, no reconcile.
	board.latest(key, url, now.Add(refresh), refresh)
	waitReads(t, board, key, &reads, 2)
	select {
	case <-board.changed:
		t.Error("an unchanged report asked for a reconcile")
	case <-time.After(100 * time.Millisecond):
	}

	// Stale, unreadable: the last report stands.
	answer.Store(nil)
	board.latest(key, url, now.Add(3*refresh), refresh)
	waitReads(t, board, key, &reads, 3)
	if got := board.latest(key, url, now.Add(3*refresh), refresh); got == nil || got.Circuit != "closed" {
		t.Errorf("an unreadable connector lost the last report: %+v", got)
	}

	// Forgotten (the organisation or its connector is gone): nothing left.
	board.forget(key)
	board.mu.Lock()
	_, kept := board.entries[key]
	board.mu.Unlock()
	if kept {
		t.Error("forget kept the entry")
	}
}

func waitChanged(t *testing.T, b *statusBoard) interface {
	GetName() string
	GetNamespace() string
} {
	t.Helper()
	select {
	case e := <-b.changed:
		return e.Object
	case <-time.After(5 * time.Second):
		t.Fatal("no reconcile asked for after a new report")
	}
	return nil
}

// waitReads waits until the board has made n reads and recorded the result
// of the last one for key.
func waitReads(t *testing.T, b *statusBoard, key types.NamespacedName, reads *atomic.Int32, n int32) {
	t.Helper()
	fixtures.WaitFor(t, fmt.Sprintf("%d reads recorded", n), 5*time.Second, func() (bool, string) {
		b.mu.Lock()
		defer b.mu.Unlock()
		e := b.entries[key]
		return reads.Load() >= n && e != nil && !e.inFlight, fmt.Sprintf("%d reads, in flight %v", reads.Load(), e != nil && e.inFlight)
	})
}
