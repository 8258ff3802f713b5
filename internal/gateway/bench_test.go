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
// what the gateway adds (token verification, decision, audit event).
func BenchmarkGatewayRead(b *testing.B) {
	h := newHarness(b, func(s *setup) { s.audit = discard{} })
	token := clinician().sign(b)
	client := h.server.Client()
	read := func(b *testing.B, url, token string) {
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
	b.Run("record-service", func(b *testing.B) {
		for b.Loop() {
			read(b, h.records.base()+"/MedicationRequest/med-alice-b86", "")
		}
	})
	b.Run("gateway", func(b *testing.B) {
		for b.Loop() {
			read(b, h.server.URL+"/MedicationRequest/med-alice-b86", token)
		}
	})
}
