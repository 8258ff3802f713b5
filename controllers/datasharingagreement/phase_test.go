/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package datasharingagreement

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
		status, reason, message := termsValidity(d)
		if status == metav1.ConditionTrue && (reason != shcrv1alpha1.ReasonTermsHold || strings.Contains(message, "approv") ||
			strings.Contains(message, "effect") || strings.Contains(message, string(d.phase))) {
			t.Errorf("%s: TermsValid=True %s %q speaks of something other than the terms", tc.name, reason, message)
		}
		if valid := d.phase != shcrv1alpha1.PhaseInvalid && d.phase != shcrv1alpha1.PhaseSuspended; valid != (status == metav1.ConditionTrue) {
			t.Errorf("%s: phase %s gives TermsValid=%s", tc.name, d.phase, status)
		}
		if d.phase == shcrv1alpha1.PhaseActive && !d.activeSince.Equal(tc.in.window.From) {
			t.Errorf("%s: activeSince %v, want %v", tc.name, d.activeSince, tc.in.window.From)
		}
	}
}

// A duplicate of a version is Invalid whatever else holds of it, and the
// message names the object that holds the version.
func TestDeriveDuplicate(t *testing.T) {
	t0 := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	end := t0.AddDate(1, 0, 0)
	ok := phaseInput{approved: true, controllerEffective: true, window: policy.Window{From: t0, Until: end}, endsOn: end}
	for name, mod := range map[string]func(*phaseInput){
		"approved and in force": func(*phaseInput) {},
		"a draft":               func(in *phaseInput) { in.approved = false },
		"suspended":             func(in *phaseInput) { in.suspended = true },
		"rewritten too":         func(in *phaseInput) { in.ledgerMismatch = "rewritten" },
		"pending":               func(in *phaseInput) { in.controllerEffective, in.admissionPending = false, true },
		"superseded":            func(in *phaseInput) { in.window = policy.Window{From: t0, Until: t0, SupersededBy: 3} },
		"cross-region":          func(in *phaseInput) { in.crossRegion = true },
	} {
		in := ok
		mod(&in)
		in.duplicateOf = "dsa-v2"
		d := derive(in, t0)
		if d.phase != shcrv1alpha1.PhaseInvalid || d.reason != shcrv1alpha1.ReasonDuplicateVersion ||
			!strings.Contains(d.message, "DataSharingAgreement dsa-v2 already holds") || !d.next.IsZero() {
			t.Errorf("duplicate, %s: %s %s next %v (%s)", name, d.phase, d.reason, d.next, d.message)
		}
	}
}

// Once v2 is recorded as approved in the ledger, v1 is Superseded by v2 from
// v2's start whatever becomes of v2's object, and never Active again; before
// v2's start v1 stays Active until it.
func TestDeriveNoFallBackToASupersededVersion(t *testing.T) {
	t0 := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	end := t0.AddDate(1, 0, 0)
	v2From := t0.AddDate(0, 6, 0)
	v1 := policy.Agreement{ID: "a", Version: 1, Approved: true, Purpose: policy.PurposeDirectCare, EffectiveFrom: t0, EndsOn: end}
	v2 := v1
	v2.Version, v2.EffectiveFrom = 2, v2From
	successors := map[string]policy.Successor{"a": {Version: 2, From: v2From}}
	for name, others := range map[string][]policy.Agreement{
		"v2 deleted":      nil,
		"v2 suspended":    {func() policy.Agreement { a := v2; a.Suspended = true; return a }()},
		"v2 expired":      {func() policy.Agreement { a := v2; a.EndsOn = v2From.Add(time.Hour); return a }()},
		"v2 a draft copy": {func() policy.Agreement { a := v2; a.Approved = false; return a }()},
		"v2 twice":        {v2, v2},
		"v2 in force":     {v2},
	} {
		w := policy.Windows(append([]policy.Agreement{v1}, others...), successors)[policy.AgreementKey{ID: "a", Version: 1}]
		in := phaseInput{approved: true, controllerEffective: true, window: w, endsOn: end}
		if d := derive(in, v2From.Add(-time.Second)); d.phase != shcrv1alpha1.PhaseActive || !d.next.Equal(v2From) {
			t.Errorf("%s, before v2's start: %s next %v (%s)", name, d.phase, d.next, d.message)
		}
		for _, now := range []time.Time{v2From, v2From.Add(time.Hour), end.Add(-time.Second)} {
			d := derive(in, now)
			if d.phase != shcrv1alpha1.PhaseSuperseded || !strings.Contains(d.message, "superseded by version 2 from "+stamp(v2From)) {
				t.Errorf("%s, at %v: %s (%s)", name, now, d.phase, d.message)
			}
		}
	}
}

// A processor party without due diligence keeps an approved, in-force
// version from taking effect, with the reason; suspension still wins.
func TestProcessorWithoutDueDiligenceIsInvalid(t *testing.T) {
	t0 := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	end := t0.AddDate(1, 0, 0)
	in := phaseInput{approved: true, controllerEffective: true, window: policy.Window{From: t0, Until: end}, endsOn: end,
		blocked: "processor parties without due diligence: X26 (no due diligence recorded)"}
	d := derive(in, t0.Add(time.Hour))
	if d.phase != shcrv1alpha1.PhaseInvalid || d.reason != shcrv1alpha1.ReasonProcessorDueDiligence || !strings.Contains(d.message, "X26") {
		t.Fatalf("got %+v", d)
	}
	in.suspended = true
	if d := derive(in, t0.Add(time.Hour)); d.phase != shcrv1alpha1.PhaseSuspended {
		t.Fatalf("suspension must still win: %+v", d)
	}
}
