/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"testing"

	"github.com/google/uuid"
)

// TestNewEventIDs: every id is a version 4 UUID of the RFC variant, in its
// text form, and none repeats, within a draw or across draws.
func TestNewEventIDs(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range []int{0, 1, 2, 21, 1000} {
		ids, err := newEventIDs(n)
		must(t, err)
		if len(ids) != n {
			t.Fatalf("%d ids, want %d", len(ids), n)
		}
		for _, id := range ids {
			u, err := uuid.Parse(id)
			if err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 || u.String() != id {
				t.Errorf("id %q: version %d, variant %v, %v", id, u.Version(), u.Variant(), err)
			}
			if seen[id] {
				t.Errorf("id %q drawn twice", id)
			}
			seen[id] = true
		}
	}
}
