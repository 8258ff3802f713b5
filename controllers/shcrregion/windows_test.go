/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package shcrregion

import (
	"testing"
	"time"
)

// A region's coalescing window is the configured one until its reconciles
// cost more than a fifth of it, then follows their cost up to MaxCoalesce;
// each region has its own, and a region that goes is forgotten.
func TestWindowsFollowTheCostOfTheLastReconcile(t *testing.T) {
	w := &windows{min: 500 * time.Millisecond}
	cases := []struct {
		took, want time.Duration
	}{
		{0, 500 * time.Millisecond},
		{50 * time.Millisecond, 500 * time.Millisecond},
		{100 * time.Millisecond, 500 * time.Millisecond},
		{300 * time.Millisecond, 1500 * time.Millisecond},
		{time.Minute, MaxCoalesce},
		{20 * time.Millisecond, 500 * time.Millisecond}, // the last reconcile counts, not the slowest
	}
	for _, tc := range cases {
		w.observe("north", tc.took)
		if got := w.of("north"); got != tc.want {
			t.Errorf("after a reconcile of %s: window %s, want %s", tc.took, got, tc.want)
		}
	}
	w.observe("north", 2*time.Second)
	if got := w.of("south"); got != 500*time.Millisecond {
		t.Errorf("another region's window %s", got)
	}
	w.forget("north")
	if got := w.of("north"); got != 500*time.Millisecond {
		t.Errorf("a forgotten region's window %s", got)
	}
}
