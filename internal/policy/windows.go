/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package policy

import (
	"cmp"
	"slices"
	"time"
)

// PurposeDirectCare is the only agreement purpose that grants access.
const PurposeDirectCare = "DirectCare"

// AgreementKey names one version of an agreement.
type AgreementKey struct {
	ID      string
	Version int32
}

// Window is when one agreement version is in force: From <= t < Until. A
// window that is empty (Until not after From) is never in force.
type Window struct {
	From, Until time.Time
	// SupersededBy is the higher version whose EffectiveFrom ends the window
	// (at or before EndsOn); 0 when the window ends at EndsOn or is zero.
	SupersededBy int32
}

// Empty reports whether the window is never in force.
func (w Window) Empty() bool {
	return !w.From.Before(w.Until)
}

// Contains reports whether t falls inside the window.
func (w Window) Contains(t time.Time) bool {
	return !t.Before(w.From) && t.Before(w.Until)
}

// Eligible reports whether an agreement version may grant at all: approved
// by every controller party, not suspended, not blocked, for direct care,
// and, for a cross-region agreement, confirmed by the peer region.
func Eligible(a Agreement) bool {
	return a.Approved && !a.Suspended && a.Blocked == "" && a.Purpose == PurposeDirectCare && (!a.CrossRegion || a.PeerConfirmed)
}

// Windows gives the validity window of every agreement version. An eligible
// version is in force from its EffectiveFrom until its EndsOn or until a
// higher eligible version of the same agreement takes effect, whichever
// comes first, so a newer version supersedes an older one exactly when it
// starts. A successor (see Successor) ends every lower version at its start
// in the same way, whether or not it is listed or eligible. Versions that
// are not eligible get the zero window, and so do versions listed more than
// once (ambiguous), though an eligible copy still ends the lower versions:
// a duplicate never brings back a superseded version.
func Windows(agreements []Agreement, successors map[string]Successor) map[AgreementKey]Window {
	out := make(map[AgreementKey]Window, len(agreements))
	for _, a := range agreements {
		out[keyOf(a)] = Window{}
	}
	listed := make(map[AgreementKey]int, len(agreements))
	for _, a := range agreements {
		listed[keyOf(a)]++
	}
	for id, versions := range eligibleByID(agreements) {
		supersede(versions, successors[id], out)
		for _, a := range versions {
			if listed[keyOf(a)] > 1 {
				out[keyOf(a)] = Window{}
			}
		}
	}
	return out
}

func keyOf(a Agreement) AgreementKey {
	return AgreementKey{ID: a.ID, Version: a.Version}
}

// eligibleByID groups the eligible versions by agreement ID, each group
// sorted by version, highest first.
func eligibleByID(agreements []Agreement) map[string][]Agreement {
	byID := map[string][]Agreement{}
	for _, a := range agreements {
		if Eligible(a) {
			byID[a.ID] = append(byID[a.ID], a)
		}
	}
	for _, versions := range byID {
		slices.SortFunc(versions, func(x, y Agreement) int { return cmp.Compare(y.Version, x.Version) })
	}
	return byID
}

// supersede sets the window of each version: from its EffectiveFrom to its
// EndsOn, cut short by the earliest EffectiveFrom of the higher versions when
// that comes no later. The successor, when there is one (Version > 0),
// counts as one more higher version for every version below it. versions
// are sorted highest first; on equal start times the lowest of the higher
// versions is named as superseding.
func supersede(versions []Agreement, successor Successor, windows map[AgreementKey]Window) {
	var next time.Time
	var nextVersion int32
	higher := false
	merge := func(from time.Time, version int32) {
		if !higher || !from.After(next) {
			next, nextVersion = from, version
		}
		higher = true
	}
	successorMerged := successor.Version <= 0
	for _, a := range versions {
		if !successorMerged && a.Version < successor.Version {
			merge(successor.From.UTC(), successor.Version)
			successorMerged = true
		}
		w := Window{From: a.EffectiveFrom.UTC(), Until: a.EndsOn.UTC()}
		if higher && !next.After(w.Until) {
			w.Until, w.SupersededBy = next, nextVersion
		}
		windows[keyOf(a)] = w
		merge(w.From, a.Version)
	}
}
