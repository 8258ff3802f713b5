/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package datasharingagreement

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// Concurrent appends to one namespace's ledger are written in fewer
// updates than appends, never two updates of a namespace at once, and
// every append gets the result of the update that carried it.
func TestLedgerAppendsAreGroupedAndEachGetsItsResult(t *testing.T) {
	var w ledgerWriter
	var mu sync.Mutex
	running := map[string]int{}
	var commits int
	written := map[string]bool{}
	release := make(chan struct{})
	commit := func(_ context.Context, ns string, batch []*ledgerAppend) []ledgerResult {
		mu.Lock()
		running[ns]++
		if running[ns] > 1 {
			t.Errorf("two updates of %s at once", ns)
		}
		first := commits == 0
		commits++
		mu.Unlock()
		if first {
			<-release // the others queue up behind the first update
		}
		out := make([]ledgerResult, len(batch))
		mu.Lock()
		for i, a := range batch {
			if written[ns+"/"+a.key] {
				t.Errorf("%s written twice", a.key)
			}
			written[ns+"/"+a.key] = true
			out[i].state.recorded = a.key != "refused"
			if a.key == "refused" {
				out[i].err = fmt.Errorf("refused %s", a.key)
			}
		}
		running[ns]--
		mu.Unlock()
		return out
	}
	const n = 40
	var wg sync.WaitGroup
	results := make([]ledgerResult, n)
	for i := range n {
		key := fmt.Sprintf("v%d", i)
		if i == n-1 {
			key = "refused"
		}
		wg.Go(func() {
			st, err := w.append(context.Background(), "shcr-a", &ledgerAppend{key: key, done: make(chan ledgerResult, 1)}, commit)
			results[i] = ledgerResult{st, err}
		})
		if i == 0 {
			for { // the first appender leads and is held in its update
				mu.Lock()
				started := commits == 1
				mu.Unlock()
				if started {
					break
				}
				runtime.Gosched()
			}
		}
	}
	for { // every other append waits behind the first update
		w.mu.Lock()
		queued := len(w.pending["shcr-a"])
		w.mu.Unlock()
		if queued == n-1 {
			break
		}
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	for i, res := range results {
		refused := i == n-1
		if refused != (res.err != nil) || res.state.recorded == refused {
			t.Errorf("append %d: %+v", i, res)
		}
	}
	if len(written) != n {
		t.Errorf("%d appends written, want %d", len(written), n)
	}
	if commits != 2 {
		t.Errorf("%d updates for %d appends, want 2: the first, and one for the %d that waited behind it", commits, n, n-1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w.busy["shcr-b"] = true // another appender leads and has not finished
	if _, err := w.append(ctx, "shcr-b", &ledgerAppend{key: "late", done: make(chan ledgerResult, 1)}, commit); err == nil {
		t.Error("an append whose reconcile was cancelled waited for ever or claimed a result")
	}
}
