/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package datasharingagreement

import (
	"fmt"
	"time"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

// phaseInput is what an agreement version's phase depends on.
type phaseInput struct {
	// duplicateOf, when set, names the other object in the namespace that
	// holds this agreementId and version: this object is Invalid.
	duplicateOf string
	// ledgerMismatch, when set, says why the region's agreement ledger
	// records this version with other terms: the object is Invalid.
	ledgerMismatch string
	// blocked, when set, says why the terms cannot hold whatever the
	// approvals: a processor party without due diligence.
	blocked                                  string
	approved, suspended, controllerEffective bool
	// admissionPending: a controller party is a member whose admission the
	// operator has not yet decided (a member just created).
	admissionPending           bool
	crossRegion, peerConfirmed bool
	// window is the version's validity as the policy compiler computes it:
	// cut short when a later version takes effect.
	window policy.Window
	endsOn time.Time
}

// derived is a phase and when the clock alone will change it.
type derived struct {
	phase       shcrv1alpha1.AgreementPhase
	next        time.Time
	activeSince time.Time
	// reason, when set, is the TermsValid reason of an Invalid phase.
	reason  string
	message string
}

// derive computes an agreement version's phase at now. A second object
// holding a version another object holds, and a version the agreement
// ledger records with other terms, are Invalid whatever else holds.
// Then suspension and
// missing approvals come first; then an ended window (Expired, or Superseded
// when a later version cut it short); then terms that cannot hold; then the
// peer's confirmation; then the clock.
func derive(in phaseInput, now time.Time) derived {
	w := in.window
	switch {
	case in.duplicateOf != "":
		return derived{phase: shcrv1alpha1.PhaseInvalid, reason: shcrv1alpha1.ReasonDuplicateVersion, message: fmt.Sprintf(
			"DataSharingAgreement %s already holds this agreementId and version: a version is one object; delete this copy "+
				"(to rename, delete %s first, then create this one)", in.duplicateOf, in.duplicateOf)}
	case in.ledgerMismatch != "":
		return derived{phase: shcrv1alpha1.PhaseInvalid, message: in.ledgerMismatch}
	case in.suspended:
		return derived{phase: shcrv1alpha1.PhaseSuspended, message: "spec.suspended is set: nothing is shared under this version"}
	case in.blocked != "":
		return derived{phase: shcrv1alpha1.PhaseInvalid, reason: shcrv1alpha1.ReasonProcessorDueDiligence,
			message: in.blocked + ": record each processor's due diligence (spec.terms.parties[].dueDiligence) in a new version"}
	case !in.approved:
		return derived{phase: shcrv1alpha1.PhaseDraft, message: "not every controller party has approved the terms"}
	case w.Empty() || !now.Before(w.Until):
		if w.Until.Before(in.endsOn) {
			return derived{phase: shcrv1alpha1.PhaseSuperseded, message: fmt.Sprintf(
				"superseded by version %d from %s", w.SupersededBy, stamp(w.Until))}
		}
		return derived{phase: shcrv1alpha1.PhaseExpired, message: "ended at " + stamp(in.endsOn)}
	case !in.controllerEffective && in.admissionPending:
		return derived{phase: shcrv1alpha1.PhasePending, message: "awaiting the admission check of the controller parties"}
	case !in.controllerEffective:
		return derived{phase: shcrv1alpha1.PhaseInvalid, message: "no controller party is an Admitted member: the terms cannot hold"}
	case in.crossRegion && !in.peerConfirmed:
		return derived{phase: shcrv1alpha1.PhasePending, message: "awaiting confirmation by the peer region"}
	case now.Before(w.From):
		return derived{phase: shcrv1alpha1.PhasePending, next: w.From, message: "takes effect at " + stamp(w.From)}
	}
	return derived{phase: shcrv1alpha1.PhaseActive, next: w.Until, activeSince: w.From,
		message: fmt.Sprintf("in force from %s until %s", stamp(w.From), stamp(w.Until))}
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
