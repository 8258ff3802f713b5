/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/shcr-io/shcr-operator/internal/auditlog"
)

// BenchmarkGatewayRead compares a read from the record service alone with
// the same read through the gateway, over loopback HTTP: the difference is
// what the gateway adds (token verification, cached after the first
// request; the decision; the audit event).
func BenchmarkGatewayRead(b *testing.B) {
	benchThroughGateway(b, "/MedicationRequest/med-alice-b86")
}

// BenchmarkGatewaySearch is BenchmarkGatewayRead for a search answered with
// a page of mixed resources, each decided and audited by the gateway.
func BenchmarkGatewaySearch(b *testing.B) {
	benchThroughGateway(b, "/?_getpages=page-2&_getpagesoffset=20")
}

// benchThroughGateway gets path from the record service, then through the
// gateway, with audit events thrown away.
func benchThroughGateway(b *testing.B, path string) {
	h := newHarness(b, func(s *setup) { s.audit = discard{} })
	token := clinician().sign(b)
	client := h.server.Client()
	b.Run("record-service", func(b *testing.B) {
		for b.Loop() {
			benchGet(b, client, h.records.base()+path, "")
		}
	})
	b.Run("gateway", func(b *testing.B) {
		for b.Loop() {
			benchGet(b, client, h.server.URL+path, token)
		}
	})
}

// benchGet gets url, with token when one is given, and expects 200.
func benchGet(b *testing.B, client *http.Client, url, token string) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("status %d", resp.StatusCode)
	}
}

// BenchmarkSearchSteps times the gateway's own work on a search page of
// the fixture records, without HTTP: reading the Bundle, deciding and
// auditing its entries (audit events encoded, then thrown away), and
// writing the filtered Bundle.
func BenchmarkSearchSteps(b *testing.B) {
	h := newHarness(b, func(s *setup) { s.audit = discard{} })
	body := h.records.searchset(h.records.all(), "")
	caller, err := h.gateway.verifier.Verify(clinician().sign(b), time.Now())
	if err != nil {
		b.Fatal(err)
	}
	bundle, err := decodeSearchBundle(body)
	if err != nil {
		b.Fatal(err)
	}
	facts := make([]resourceFacts, 0, len(bundle.Entry))
	for _, e := range bundle.Entry {
		facts = append(facts, e.facts)
	}
	b.Run("read", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := decodeSearchBundle(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decide-and-audit", func(b *testing.B) {
		for b.Loop() {
			if _, err := h.gateway.decide(h.gateway.currentView(), caller, KindSearch, facts...); err != nil {
				b.Fatal(err)
			}
		}
	})
	// query-audit is the search's own BALP PatientQuery event written
	// alone, as it is for an answer that cannot be used.
	query := Interaction{Kind: KindSearch, Type: "MedicationRequest", Query: url.Values{
		"patient.identifier": {SystemNHSNumber + "|" + alice}, "_count": {"50"},
	}}
	b.Run("query-audit", func(b *testing.B) {
		for b.Loop() {
			if err := h.gateway.auditQuery(caller, query); err != nil {
				b.Fatal(err)
			}
		}
	})
	// query-and-decisions is a search's whole audit: the query's event and
	// every entry's, as two writes (the query's first, as before) and as
	// the one write the gateway makes, thrown away and on an audit log on
	// disk (the File sink: a sha256 chain, a write(2) per write), each on
	// a log of its own that is never rotated (no fsync in the figures).
	for _, sink := range []string{"discard", "file"} {
		gateway := func(b *testing.B) *Gateway {
			if sink == "discard" {
				return h.gateway
			}
			log, err := auditlog.Open(auditlog.Options{Dir: b.TempDir(), Observer: "bench", MaxFileBytes: 1 << 40})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = log.Close() })
			return newHarness(b, func(s *setup) { s.audit = log }).gateway
		}
		b.Run("query-and-decisions/"+sink+"/two-writes", func(b *testing.B) {
			g := gateway(b)
			for b.Loop() {
				if err := g.auditQuery(caller, query); err != nil {
					b.Fatal(err)
				}
				if _, err := g.decide(g.currentView(), caller, KindSearch, facts...); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("query-and-decisions/"+sink+"/one-write", func(b *testing.B) {
			g := gateway(b)
			for b.Loop() {
				v, now := g.currentView(), time.Now()
				record := g.queryRecord(caller, query, v.policy, now)
				if _, err := g.decideAfter(v, caller, KindSearch, &record, now, facts, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("write", func(b *testing.B) {
		for b.Loop() {
			if _, err := bundle.encode(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
