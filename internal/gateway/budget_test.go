/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// bigRecordService answers reads of Practitioner/<id> with a Practitioner
// of size bytes, where the id is "<size>" or "<size>-chunked" (no
// Content-Length). A read of an id in held stops after the first bytes
// until its channel is closed; arrived gets the id.
type bigRecordService struct {
	mu      sync.Mutex
	held    map[string]chan struct{}
	arrived chan string
}

func (b *bigRecordService) hold(id string) (release func()) {
	ch := make(chan struct{})
	b.mu.Lock()
	b.held[id] = ch
	b.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

func (b *bigRecordService) serve(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/fhir/Practitioner/")
	size, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSuffix(id, "-held"), "-chunked"))
	head := `{"resourceType":"Practitioner","id":"` + id + `","meta":{"tag":[{"system":"` + SystemODS + `","code":"RR8"}]},"name":[{"text":"`
	tail := `"}]}`
	body := head + strings.Repeat("x", max(0, size-len(head)-len(tail))) + tail
	w.Header().Set("Content-Type", ContentTypeFHIR)
	if !strings.HasSuffix(id, "-chunked") {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	b.mu.Lock()
	release := b.held[id]
	b.mu.Unlock()
	if release != nil {
		_, _ = w.Write([]byte(body[:100]))
		w.(http.Flusher).Flush()
		b.arrived <- id
		<-release
		body = body[100:]
	}
	_, _ = w.Write([]byte(body))
}

func newBudgetHarness(t *testing.T, budget int64, wait time.Duration) (*harness, *bigRecordService) {
	h := newHarness(t, func(s *setup) {
		s.config = func(c *Config) { c.UpstreamMemory, c.UpstreamMemoryWait = budget, wait }
	})
	big := &bigRecordService{held: map[string]chan struct{}{}, arrived: make(chan string, 4)}
	h.records.answer(big.serve)
	return h, big
}

// TestUpstreamMemoryBudget bounds the bytes of record service answers held
// at once: an answer larger than the whole budget, announced or not, gets
// 503 with an OperationOutcome before it is read into memory; an answer
// that does not fit beside those in flight waits, then gets 503; once the
// answers in flight are written, their memory is free again.
func TestUpstreamMemoryBudget(t *testing.T) {
	const budget = 256 << 10
	h, big := newBudgetHarness(t, budget, 50*time.Millisecond)
	token := clinician().sign(t)
	inUse := func() float64 { return testutil.ToFloat64(h.gateway.metrics.upstreamMemory) }
	served := func(status int) bool { return status == http.StatusOK || status == http.StatusForbidden }

	for _, id := range []string{"300000", "300000-chunked", "2000000-chunked"} {
		resp := h.get(t, "/Practitioner/"+id, token)
		if resp.status != http.StatusServiceUnavailable || resp.outcome(t).Code != issueTransient {
			t.Errorf("%s: status %d %s, want 503", id, resp.status, resp.body)
		}
	}
	if resp := h.get(t, "/Practitioner/200000-chunked", token); !served(resp.status) {
		t.Errorf("an answer that fits: status %d %.300s", resp.status, resp.body)
	}

	// One answer of 200 kB in flight leaves no room for another.
	release := big.hold("200000-held")
	defer release()
	first := make(chan int, 1)
	go func() { first <- h.status("/Practitioner/200000-held", token) }()
	<-big.arrived
	h.eventually("the first answer holds its memory", func() bool { return inUse() >= 200000 })
	for _, id := range []string{"200000", "200000-chunked"} {
		if resp := h.get(t, "/Practitioner/"+id, token); resp.status != http.StatusServiceUnavailable {
			t.Errorf("%s beside an answer in flight: status %d, want 503", id, resp.status)
		}
	}
	if resp := h.get(t, "/Practitioner/20000", token); !served(resp.status) {
		t.Errorf("a small answer beside one in flight: status %d", resp.status)
	}
	release()
	if status := <-first; !served(status) {
		t.Errorf("the answer in flight: status %d", status)
	}
	h.eventually("the memory is free again", func() bool { return inUse() == 0 })
	if resp := h.get(t, "/Practitioner/200000", token); !served(resp.status) {
		t.Errorf("after the first answer: status %d", resp.status)
	}
	if m := h.get(t, "/metrics", ""); !strings.Contains(string(m.body), "shcr_gateway_upstream_memory_refusals_total 5") {
		t.Errorf("refusals metric:\n%s", grep(string(m.body), "memory"))
	}
}

// TestUpstreamAnswerSizeLimit refuses an answer announced above the
// per-answer limit before reading it, and one that grows above it while
// read, with 502; neither keeps any of the memory budget.
func TestUpstreamAnswerSizeLimit(t *testing.T) {
	h, _ := newBudgetHarness(t, DefaultUpstreamMemory, time.Minute)
	token := clinician().sign(t)
	for _, id := range []string{strconv.Itoa(70 << 20), strconv.Itoa(maxUpstreamBody+1) + "-chunked"} {
		resp := h.get(t, "/Practitioner/"+id, token)
		if resp.status != http.StatusBadGateway {
			t.Errorf("%s: status %d, want 502", id, resp.status)
		}
		resp.outcome(t)
	}
	if inUse := testutil.ToFloat64(h.gateway.metrics.upstreamMemory); inUse != 0 {
		t.Errorf("%v bytes still reserved", inUse)
	}
}

// TestUpstreamMemoryBudgetWaits lets an answer that does not fit wait until
// the answer in flight is written.
func TestUpstreamMemoryBudgetWaits(t *testing.T) {
	h, big := newBudgetHarness(t, 256<<10, time.Minute)
	token := clinician().sign(t)
	release := big.hold("200000-held")
	defer release()
	first := make(chan int, 1)
	go func() { first <- h.status("/Practitioner/200000-held", token) }()
	<-big.arrived
	second := make(chan int, 1)
	go func() { second <- h.status("/Practitioner/200000", token) }()
	h.eventually("the second answer is asked for", func() bool {
		requests, _ := h.records.seen()
		return len(requests) == 2
	})
	release()
	for _, ch := range []chan int{first, second} {
		if status := <-ch; status != http.StatusOK && status != http.StatusForbidden {
			t.Errorf("status %d, want the answer", status)
		}
	}
}
