/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package shcrregion

import (
	"strings"
	"testing"

	"github.com/shcr-io/shcr-operator/internal/gateway"
)

// Each look reports only the accesses not reported before, per gateway
// process: a second replica, a restarted gateway (a new instance) and a
// count that did not move are each handled; a count that went down (which a
// correct gateway never serves) reports nothing new.
func TestBreakGlassWatcherReportsEachAccessOnce(t *testing.T) {
	w := &BreakGlassWatcher{}
	steps := []struct {
		count gateway.BreakGlassCount
		want  map[string]uint64
	}{
		{gateway.BreakGlassCount{Instance: "a", Organisations: map[string]uint64{}}, map[string]uint64{}},
		{gateway.BreakGlassCount{Instance: "a", Organisations: map[string]uint64{"RR8": 2}}, map[string]uint64{"RR8": 2}},
		{gateway.BreakGlassCount{Instance: "a", Organisations: map[string]uint64{"RR8": 2}}, map[string]uint64{}},
		{gateway.BreakGlassCount{Instance: "b", Organisations: map[string]uint64{"RR8": 1}}, map[string]uint64{"RR8": 1}},
		{gateway.BreakGlassCount{Instance: "a", Organisations: map[string]uint64{"RR8": 5, "B86001": 1}}, map[string]uint64{"RR8": 3, "B86001": 1}},
		{gateway.BreakGlassCount{Instance: "a", Organisations: map[string]uint64{"RR8": 4, "B86001": 1}}, map[string]uint64{}},
		{gateway.BreakGlassCount{Instance: "c", Organisations: map[string]uint64{"RR8": 1}}, map[string]uint64{"RR8": 1}},
	}
	for i, step := range steps {
		got := w.newAccesses("north", &step.count)
		if len(got) != len(step.want) {
			t.Errorf("step %d: %v, want %v", i, got, step.want)
			continue
		}
		for org, n := range step.want {
			if got[org] != n {
				t.Errorf("step %d: %v, want %v", i, got, step.want)
			}
		}
	}
	// Another region's gateway is counted apart.
	if got := w.newAccesses("south", &gateway.BreakGlassCount{Instance: "a", Organisations: map[string]uint64{"RR8": 5}}); got["RR8"] != 5 {
		t.Errorf("another region with the same instance name: %v, want RR8 5", got)
	}
}

// The note names only the region's members by ODS code; anything else the
// count carries (an NHS number, a name, markup, a newline) is folded into
// "another organisation" and never appears.
func TestBreakGlassNoteNamesOnlyMembers(t *testing.T) {
	members := map[string]bool{"RR8": true, "B86001": true}
	if note := breakGlassNote(map[string]uint64{}, members); note != "" {
		t.Errorf("no new accesses: %q, want no note", note)
	}
	note := breakGlassNote(map[string]uint64{"RR8": 2, "B86001": 1}, members)
	if !strings.Contains(note, "B86001 1, RR8 2.") || !strings.Contains(note, "kubectl shcr break-glass --since 24h") {
		t.Errorf("note %q does not list the members in order with the review command", note)
	}
	for _, label := range []string{"9434765919", "943 476 5919", "Dr Alice Smith", "<script>", "RR8\nB86001 9", "", "rr8", "RR8X", "R R8"} {
		note := breakGlassNote(map[string]uint64{label: 3, "RR8": 1}, members)
		if label != "" && label != "RR8" && strings.Contains(note, label) {
			t.Errorf("label %q reached the note %q", label, note)
		}
		if !strings.Contains(note, "RR8 1, another organisation 3.") {
			t.Errorf("label %q: note %q, want it counted as another organisation", label, note)
		}
	}
}
