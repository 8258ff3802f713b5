/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/shcr-io/shcr-operator/internal/gpconnect"
	"github.com/shcr-io/shcr-operator/internal/gpconnect/gpconnecttest"
)

// BenchmarkFederatedSearch is a patient's allergy search through the
// gateway from the record service alone, then with one GP practice read
// over GP Connect at the moment of care (a loopback stand-in holding 20
// allergies, each mapped, decided and audited), audit events thrown away.
func BenchmarkFederatedSearch(b *testing.B) {
	gp := gpconnecttest.New(b, "B86001", b86ASID, regionASID)
	for i := range 20 {
		gp.Add(alice, stu3Allergy(fmt.Sprintf("a%d", i)))
	}
	file := filepath.Join(b.TempDir(), "gpconnect.json")
	writeFile(b, file, mustJSON(gpconnect.File{ASID: regionASID, Practices: []gpconnect.Practice{
		{ODSCode: "B86001", ASID: b86ASID, Endpoint: gp.Base().String()}}}))
	path := "/AllergyIntolerance?" + patientQuery("AllergyIntolerance", alice)
	for _, c := range []struct {
		name string
		file string
	}{{"record-service-only", ""}, {"with-gp-connect", file}} {
		b.Run(c.name, func(b *testing.B) {
			h := newHarness(b, func(s *setup) {
				s.audit = discard{}
				s.config = func(cfg *Config) { cfg.GPConnectFile = c.file }
			})
			token := clinician().sign(b)
			client := h.server.Client()
			b.ReportAllocs()
			for b.Loop() {
				benchGet(b, client, h.server.URL+path, token)
			}
		})
	}
}
