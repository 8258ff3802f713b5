/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package auditlog

import (
	"math/rand/v2"
	"testing"
)

// TestLinkerMatchesNext: a writer's linker, used over and over, gives the
// links next gives (which Verify checks), for lines of every length, and
// allocates nothing.
func TestLinkerMatchesNext(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var k linker
	var prev Hash
	for i := range 500 {
		line := make([]byte, rng.IntN(5000))
		for j := range line {
			line[j] = byte(rng.UintN(256))
		}
		got, want := k.next(prev, line), next(prev, line)
		if got != want {
			t.Fatalf("line %d (%d bytes): linker gave %s, next %s", i, len(line), got, want)
		}
		prev = got
	}
	line := []byte(`{"resourceType":"AuditEvent"}`)
	if allocs := testing.AllocsPerRun(100, func() { prev = k.next(prev, line) }); allocs != 0 {
		t.Errorf("linker.next allocates %v times a line", allocs)
	}
}
