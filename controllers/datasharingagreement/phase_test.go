/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package datasharingagreement

import (
	"testing"
	"time"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

func TestDerive(t *testing.T) {
	t0 := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	end := t0.AddDate(1, 0, 0)
	full := policy.Window{From: t0, Until: end}
	cut := policy.Window{From: t0, Until: t0.AddDate(0, 6, 0), SupersededBy: 2}
	ok := phaseInput{approved: true, controllerEffective: true, window: full, endsOn: end}
	with := func(mod func(*phaseInput)) phaseInput {
		in := ok
		mod(&in)
		return in
	}
	cases := []struct {
		name  string
		in    phaseInput
		now   time.Time
		phase shcrv1alpha1.AgreementPhase
		next  time.Time
	}{
		{"before effectiveFrom", ok, t0.Add(-time.Second), shcrv1alpha1.PhasePending, t0},
		{"at effectiveFrom", ok, t0, shcrv1alpha1.PhaseActive, end},
		{"last second", ok, end.Add(-time.Nanosecond), shcrv1alpha1.PhaseActive, end},
		{"at endsOn", ok, end, shcrv1alpha1.PhaseExpired, time.Time{}},
		{"a ledger mismatch wins over everything", with(func(in *phaseInput) { in.ledgerMismatch, in.suspended = "rewritten", true }), t0,
			shcrv1alpha1.PhaseInvalid, time.Time{}},
		{"suspended wins", with(func(in *phaseInput) { in.suspended = true }), t0, shcrv1alpha1.PhaseSuspended, time.Time{}},
		{"awaiting approvals", with(func(in *phaseInput) { in.approved = false }), t0, shcrv1alpha1.PhaseDraft, time.Time{}},
		{"no admitted controller", with(func(in *phaseInput) { in.controllerEffective = false }), t0, shcrv1alpha1.PhaseInvalid, time.Time{}},
		{"controllers not yet checked", with(func(in *phaseInput) { in.controllerEffective, in.admissionPending = false, true }), t0,
			shcrv1alpha1.PhasePending, time.Time{}},
		{"an admitted controller: pending checks do not matter", with(func(in *phaseInput) { in.admissionPending = true }), t0,
			shcrv1alpha1.PhaseActive, end},
		{"expired stays expired without controllers", with(func(in *phaseInput) { in.controllerEffective = false }), end, shcrv1alpha1.PhaseExpired, time.Time{}},
		{"cross-region unconfirmed", with(func(in *phaseInput) { in.crossRegion = true }), t0, shcrv1alpha1.PhasePending, time.Time{}},
		{"cross-region confirmed", with(func(in *phaseInput) { in.crossRegion, in.peerConfirmed = true, true }), t0, shcrv1alpha1.PhaseActive, end},
		{"cut short by a successor: active until it", with(func(in *phaseInput) { in.window = cut }), t0, shcrv1alpha1.PhaseActive, cut.Until},
		{"cut short by a successor: superseded after", with(func(in *phaseInput) { in.window = cut }), cut.Until, shcrv1alpha1.PhaseSuperseded, time.Time{}},
		{"superseded before it began", with(func(in *phaseInput) { in.window = policy.Window{From: t0, Until: t0, SupersededBy: 3} }), t0.Add(-time.Hour),
			shcrv1alpha1.PhaseSuperseded, time.Time{}},
	}
	for _, tc := range cases {
		d := derive(tc.in, tc.now)
		if d.phase != tc.phase || !d.next.Equal(tc.next) {
			t.Errorf("%s: phase %s next %v, want %s next %v (%s)", tc.name, d.phase, d.next, tc.phase, tc.next, d.message)
		}
		if d.phase == shcrv1alpha1.PhaseActive && !d.activeSince.Equal(tc.in.window.From) {
			t.Errorf("%s: activeSince %v, want %v", tc.name, d.activeSince, tc.in.window.From)
		}
	}
}
