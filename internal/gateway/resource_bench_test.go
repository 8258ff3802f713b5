/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import "testing"

// BenchmarkInspect times reading the facts of single fixture resources:
// a typical one, and one with a contained resource.
func BenchmarkInspect(b *testing.B) {
	for _, key := range []string{"MedicationRequest/med-alice-b86", "DiagnosticReport/dr-contained-hiv"} {
		var data []byte
		for _, r := range fixtureRecords() {
			if r.key() == key {
				data = r.json()
			}
		}
		b.Run(key, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := inspect(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
