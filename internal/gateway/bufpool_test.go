/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/prometheus/client_golang/prometheus"
)

// TestPlainSearches holds the entry searches passed on as they came to
// what reading them into their shape and writing them again gives.
func TestPlainSearches(t *testing.T) {
	for _, plain := range plainSearches {
		var s entrySearch
		must(t, json.Unmarshal(plain, &s))
		out, err := json.Marshal(s)
		must(t, err)
		if !bytes.Equal(out, plain) {
			t.Errorf("%s is written again as %s", plain, out)
		}
	}
}

// TestReservationGivesItsBufferBackOnce: however often an answer is
// released, its buffer goes back to the pool once, so that two answers
// never share one.
func TestReservationGivesItsBufferBackOnce(t *testing.T) {
	budget := newMemoryBudget(1<<20, time.Second, prometheus.NewGauge(prometheus.GaugeOpts{Name: "test"}))
	r := budget.reservation()
	must(t, r.grow(t.Context(), 1024))
	buf := upstreamBodies.get(1024)
	r.keep(buf)
	for range 3 {
		r.release()
	}
	if r.buf != nil {
		t.Fatal("the reservation still holds its buffer after release")
	}
	first, second := upstreamBodies.get(1024), upstreamBodies.get(1024)
	if first == second {
		t.Error("the pool handed out one buffer twice: it was given back more than once")
	}
}

// TestBufferPoolBounds: a buffer comes with room for what is asked, empty,
// and one larger than maxPooledBuffer is not kept.
func TestBufferPoolBounds(t *testing.T) {
	var p bufferPool
	for _, size := range []int{0, 1, 512, 4096, maxPooledBuffer, maxPooledBuffer + 1, 4 * maxPooledBuffer} {
		buf := p.get(size)
		if len(*buf) != 0 || cap(*buf) < size {
			t.Errorf("get(%d): len %d, cap %d", size, len(*buf), cap(*buf))
		}
		*buf = append(*buf, "x"...)
		p.put(buf)
	}
	big := p.get(4 * maxPooledBuffer)
	p.put(big)
	for range 4 {
		if got := p.get(1); cap(*got) > maxPooledBuffer {
			t.Errorf("a buffer of %d bytes was kept", cap(*got))
		}
	}
}

// TestConcurrentAnswersDoNotShareBuffers sends reads and searches of
// different records at once, many times over: every answer must be the
// one the same request got alone, so no answer is written from, or into, a
// buffer another response still uses, and no page is filtered by another
// page's verdicts (pooled too): the mixed page has entries the caller may
// not see, at other positions than the other searches'.
func TestConcurrentAnswersDoNotShareBuffers(t *testing.T) {
	h := newHarness(t)
	token := clinician().sign(t)
	paths := []string{
		"/MedicationRequest/med-alice-b86", "/MedicationRequest/med-alice-rth", "/MedicationRequest/med-carol-b86",
		"/MedicationRequest?_count=20&" + aliceQuery(), "/MedicationRequest?_count=1&" + aliceQuery(),
		"/?_getpages=page-2&_getpagesoffset=20",
	}
	want := map[string][]byte{}
	for _, path := range paths {
		resp := h.get(t, path, token)
		if resp.status != http.StatusOK {
			t.Fatalf("%s: status %d: %s", path, resp.status, resp.body)
		}
		want[path] = resp.body
	}
	client := h.server.Client()
	var wg sync.WaitGroup
	for worker := range 8 {
		wg.Go(func() {
			for i := range 40 {
				path := paths[(worker+i)%len(paths)]
				req, err := http.NewRequest(http.MethodGet, h.server.URL+path, nil)
				if err != nil {
					t.Error(err)
					return
				}
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				body, err := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(body, want[path]) {
					t.Errorf("%s: status %d, %v: answered\n%s\nalone it answered\n%s", path, resp.StatusCode, err, body, want[path])
					return
				}
			}
		})
	}
	wg.Wait()
}
