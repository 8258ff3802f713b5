/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package datasharingagreement

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/test/fixtures"
)

func newAgreement() *shcrv1alpha1.DataSharingAgreement {
	return &shcrv1alpha1.DataSharingAgreement{ObjectMeta: metav1.ObjectMeta{Namespace: "shcr-r", Name: "dsa-v1", Generation: 7}}
}

// condition finds a condition set for the current generation.
func condition(t *testing.T, a *shcrv1alpha1.DataSharingAgreement, conditionType string) *metav1.Condition {
	t.Helper()
	return fixtures.Condition(t, a.Status.Conditions, conditionType, a.Generation)
}

// Every derived phase is recorded with Active True only when Active, the
// next transition only when the clock will change the phase, activeSince
// only for an Active version (and kept while it is unchanged), and
// TermsValid False with the derived reason only for Invalid and Suspended.
func TestMarkPhase(t *testing.T) {
	t0 := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name       string
		d          derived
		active     metav1.ConditionStatus
		termsValid metav1.ConditionStatus
		termsWhy   string
	}{
		{"active", derived{phase: shcrv1alpha1.PhaseActive, next: t0.AddDate(1, 0, 0), activeSince: t0, message: "in force"},
			metav1.ConditionTrue, metav1.ConditionTrue, shcrv1alpha1.ReasonTermsHold},
		{"pending until a date", derived{phase: shcrv1alpha1.PhasePending, next: t0, message: "takes effect"},
			metav1.ConditionFalse, metav1.ConditionTrue, shcrv1alpha1.ReasonTermsHold},
		{"draft", derived{phase: shcrv1alpha1.PhaseDraft, message: "not approved"},
			metav1.ConditionFalse, metav1.ConditionTrue, shcrv1alpha1.ReasonTermsHold},
		{"expired", derived{phase: shcrv1alpha1.PhaseExpired, message: "ended"},
			metav1.ConditionFalse, metav1.ConditionTrue, shcrv1alpha1.ReasonTermsHold},
		{"superseded", derived{phase: shcrv1alpha1.PhaseSuperseded, message: "superseded"},
			metav1.ConditionFalse, metav1.ConditionTrue, shcrv1alpha1.ReasonTermsHold},
		{"suspended", derived{phase: shcrv1alpha1.PhaseSuspended, message: "spec.suspended"},
			metav1.ConditionFalse, metav1.ConditionFalse, shcrv1alpha1.PhaseReason(shcrv1alpha1.PhaseSuspended)},
		{"invalid", derived{phase: shcrv1alpha1.PhaseInvalid, message: "no controller"},
			metav1.ConditionFalse, metav1.ConditionFalse, shcrv1alpha1.PhaseReason(shcrv1alpha1.PhaseInvalid)},
		{"a duplicate", derived{phase: shcrv1alpha1.PhaseInvalid, reason: shcrv1alpha1.ReasonDuplicateVersion, message: "dsa-v2 holds it"},
			metav1.ConditionFalse, metav1.ConditionFalse, shcrv1alpha1.ReasonDuplicateVersion},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newAgreement()
			// What an earlier reconcile left: a transition and an activeSince.
			a.Status.NextTransitionTime = &metav1.Time{Time: t0.Add(-time.Hour)}
			earlier := &metav1.Time{Time: t0.Add(-48 * time.Hour)}
			a.Status.ActiveSince = earlier
			markPhase(a, tc.d)
			if a.Status.Phase != tc.d.phase {
				t.Errorf("phase %s, want %s", a.Status.Phase, tc.d.phase)
			}
			if next := a.Status.NextTransitionTime; (next == nil) != tc.d.next.IsZero() || (next != nil && !next.Time.Equal(tc.d.next)) {
				t.Errorf("nextTransitionTime %v, want %v", next, tc.d.next)
			}
			if tc.d.phase == shcrv1alpha1.PhaseActive && !a.Status.ActiveSince.Time.Equal(tc.d.activeSince) {
				t.Errorf("activeSince %v, want %v", a.Status.ActiveSince, tc.d.activeSince)
			}
			if tc.d.phase != shcrv1alpha1.PhaseActive && a.Status.ActiveSince != earlier {
				t.Errorf("a version not Active changed activeSince to %v", a.Status.ActiveSince)
			}
			active := condition(t, a, shcrv1alpha1.ConditionActive)
			if active.Status != tc.active || active.Reason != shcrv1alpha1.PhaseReason(tc.d.phase) || active.Message != tc.d.message {
				t.Errorf("Active %+v, want %s %s %q", active, tc.active, shcrv1alpha1.PhaseReason(tc.d.phase), tc.d.message)
			}
			terms := condition(t, a, shcrv1alpha1.ConditionTermsValid)
			if terms.Status != tc.termsValid || terms.Reason != tc.termsWhy {
				t.Errorf("TermsValid %s %s, want %s %s", terms.Status, terms.Reason, tc.termsValid, tc.termsWhy)
			}
		})
	}

	// An Active version staying Active keeps its activeSince object.
	a := newAgreement()
	since := &metav1.Time{Time: t0}
	a.Status.ActiveSince = since
	markPhase(a, derived{phase: shcrv1alpha1.PhaseActive, next: t0.AddDate(1, 0, 0), activeSince: t0})
	if a.Status.ActiveSince != since {
		t.Error("an unchanged activeSince was replaced")
	}
}

// Approved counts a controller's approval only from one of its
// signatories, and an approval recorded in the ledger stands when a
// signatory later leaves.
func TestSetApproved(t *testing.T) {
	cases := []struct {
		name            string
		missing         []string
		unsigned        []string
		approved        bool
		status          metav1.ConditionStatus
		reason          string
		names           []string
		missingInStatus []string
	}{
		{"every controller approved", nil, nil, true, metav1.ConditionTrue, shcrv1alpha1.ReasonApproved,
			[]string{"every controller party has approved"}, nil},
		{"every controller approved, not yet recorded", nil, nil, false, metav1.ConditionTrue, shcrv1alpha1.ReasonApproved, nil, nil},
		{"recorded, a signatory left since", []string{"RTH"}, nil, true, metav1.ConditionTrue, shcrv1alpha1.ReasonApproved,
			[]string{"recorded in the agreement ledger", "RTH would not count today"}, nil},
		{"an approval by someone not a signatory", []string{"RTH", "K84001"}, []string{"RTH"}, false,
			metav1.ConditionFalse, shcrv1alpha1.ReasonNotSignatory,
			[]string{"approval for RTH is not counted", "spec.signatories", "awaiting approval from RTH, K84001"}, []string{"RTH", "K84001"}},
		{"awaiting approvals", []string{"K84001"}, nil, false, metav1.ConditionFalse, shcrv1alpha1.ReasonAwaitingApprovals,
			[]string{"awaiting approval from K84001"}, []string{"K84001"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newAgreement()
			a.Status.MissingApprovals = []string{"left from before"}
			setApproved(a, tc.missing, tc.unsigned, tc.approved)
			c := condition(t, a, shcrv1alpha1.ConditionApproved)
			if c.Status != tc.status || c.Reason != tc.reason {
				t.Errorf("Approved %s %s, want %s %s (%s)", c.Status, c.Reason, tc.status, tc.reason, c.Message)
			}
			for _, n := range tc.names {
				if !strings.Contains(c.Message, n) {
					t.Errorf("Approved %q does not say %q", c.Message, n)
				}
			}
			if !slices.Equal(a.Status.MissingApprovals, tc.missingInStatus) {
				t.Errorf("missingApprovals %v, want %v", a.Status.MissingApprovals, tc.missingInStatus)
			}
		})
	}
}

// Recorded says what the ledger holds: a rewritten version wins over
// everything, with the ledger's explanation.
func TestSetRecorded(t *testing.T) {
	cases := []struct {
		name   string
		ledger ledgerState
		status metav1.ConditionStatus
		reason string
	}{
		{"recorded", ledgerState{recorded: true}, metav1.ConditionTrue, shcrv1alpha1.ReasonRecorded},
		{"not yet", ledgerState{}, metav1.ConditionFalse, shcrv1alpha1.ReasonNotYetApproved},
		{"rewritten", ledgerState{mismatch: "other terms"}, metav1.ConditionFalse, shcrv1alpha1.ReasonLedgerMismatch},
		{"rewritten, though recorded", ledgerState{recorded: true, mismatch: "other terms"}, metav1.ConditionFalse, shcrv1alpha1.ReasonLedgerMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newAgreement()
			setRecorded(a, tc.ledger)
			c := condition(t, a, shcrv1alpha1.ConditionRecorded)
			if c.Status != tc.status || c.Reason != tc.reason {
				t.Errorf("Recorded %s %s, want %s %s", c.Status, c.Reason, tc.status, tc.reason)
			}
			if tc.ledger.mismatch != "" && c.Message != tc.ledger.mismatch {
				t.Errorf("Recorded %q does not carry the ledger's explanation", c.Message)
			}
		})
	}
}

// An agreement outside a region namespace is Invalid, and Ready says where
// to create it.
func TestMarkNotInRegion(t *testing.T) {
	a := newAgreement()
	a.Namespace = "team-a"
	a.Status.Phase = shcrv1alpha1.PhaseActive
	markNotInRegion(a)
	c := condition(t, a, shcrv1alpha1.ConditionReady)
	if a.Status.Phase != shcrv1alpha1.PhaseInvalid || c.Status != metav1.ConditionFalse || c.Reason != shcrv1alpha1.ReasonNotInRegion ||
		!strings.Contains(c.Message, "namespace team-a") || !strings.Contains(c.Message, "shcr-<region>") {
		t.Errorf("phase %s, Ready %+v", a.Status.Phase, c)
	}
	summarise(a, reconcile.TerminalError(errors.New("not a region namespace")))
	if s := condition(t, a, shcrv1alpha1.ConditionStalled); s.Status != metav1.ConditionTrue || s.Reason != shcrv1alpha1.ReasonNotInRegion {
		t.Errorf("Stalled %+v, want True NotInRegion", s)
	}
	if a.Status.ObservedGeneration != 0 {
		t.Errorf("observedGeneration %d after a refused reconcile", a.Status.ObservedGeneration)
	}
}

// Ready summarises Approved, Recorded and TermsValid, then says what the
// phase means (phaseHealth); observedGeneration is set only when the
// reconcile succeeded.
func TestSummarise(t *testing.T) {
	cases := []struct {
		name                        string
		phase                       shcrv1alpha1.AgreementPhase
		approved                    bool
		err                         error
		ready, reconciling, stalled metav1.ConditionStatus
		observed                    bool
	}{
		{"active", shcrv1alpha1.PhaseActive, true, nil, metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionFalse, true},
		{"draft", shcrv1alpha1.PhaseDraft, false, nil, metav1.ConditionFalse, metav1.ConditionTrue, metav1.ConditionFalse, true},
		{"pending", shcrv1alpha1.PhasePending, true, nil, metav1.ConditionFalse, metav1.ConditionTrue, metav1.ConditionFalse, true},
		{"expired", shcrv1alpha1.PhaseExpired, true, nil, metav1.ConditionFalse, metav1.ConditionFalse, metav1.ConditionTrue, true},
		{"superseded", shcrv1alpha1.PhaseSuperseded, true, nil, metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionFalse, true},
		{"a read failed", shcrv1alpha1.PhaseActive, true, errors.New("cache not synced"),
			metav1.ConditionFalse, metav1.ConditionTrue, metav1.ConditionFalse, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newAgreement()
			a.Status.Phase = tc.phase
			setApproved(a, nil, nil, true)
			if !tc.approved {
				setApproved(a, []string{"RTH"}, nil, false)
			}
			setRecorded(a, ledgerState{recorded: tc.approved})
			markPhase(a, derived{phase: tc.phase, message: "why"})
			summarise(a, tc.err)
			fixtures.Health(t, a.Status.Conditions, a.Generation, tc.ready, tc.reconciling, tc.stalled)
			if (a.Status.ObservedGeneration == a.Generation) != tc.observed {
				t.Errorf("observedGeneration %d, want set %v", a.Status.ObservedGeneration, tc.observed)
			}
		})
	}
}

// The Parties printer column names every party as ODS:Role, in order.
func TestPartiesDisplay(t *testing.T) {
	for _, tc := range []struct {
		parties []shcrv1alpha1.Party
		want    string
	}{
		{nil, ""},
		{[]shcrv1alpha1.Party{{ODSCode: "RTH", Role: shcrv1alpha1.PartyController}}, "RTH:Controller"},
		{[]shcrv1alpha1.Party{{ODSCode: "RTH", Role: shcrv1alpha1.PartyController}, {ODSCode: "X26", Role: shcrv1alpha1.PartyProcessor}},
			"RTH:Controller,X26:Processor"},
	} {
		if got := partiesDisplay(tc.parties); got != tc.want {
			t.Errorf("partiesDisplay(%v) = %q, want %q", tc.parties, got, tc.want)
		}
	}
}
