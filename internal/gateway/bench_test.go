/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"io"
	"net/http"
	"testing"
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
