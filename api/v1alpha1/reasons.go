/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package v1alpha1

// ReasonClass says what a condition's Reason means for the object's health.
// Ready's summary (Reconciling and Stalled), the Events the operator records
// and the README's statement about Events all follow ReasonClasses.
type ReasonClass string

const (
	// ClassProgressing: the operator is converging by itself (a rollout, a
	// namespace terminating). Reconciling=True; no Event: its end makes one.
	ClassProgressing ReasonClass = "Progressing"
	// ClassRetrying: the operator is converging by retrying after a
	// failure (the API server refused a write). Reconciling=True, and a
	// Warning Event, since the failure may need a person.
	ClassRetrying ReasonClass = "Retrying"
	// ClassWaiting: the object waits for another object (a policy for its
	// agreement to become Active). Reconciling=False; no Event: the end of
	// the wait makes one.
	ClassWaiting ReasonClass = "Waiting"
	// ClassTerminal: settled until a person (or the clock) changes
	// something: every healthy reason, and every refusal. An Event when the
	// condition changes to it.
	ClassTerminal ReasonClass = "Terminal"
)

// ReasonClasses classifies every Reason constant; a test keeps it complete.
var ReasonClasses = map[string]ReasonClass{
	ReasonProgressing:          ClassProgressing,
	ReasonRollingOut:           ClassProgressing,
	ReasonNamespaceTerminating: ClassProgressing,

	ReasonApplyFailed: ClassRetrying,
	// A purge past its deadline: the operator keeps retrying, with a
	// Warning Event, since the record service may need a person.
	ReasonPurgeOverdue: ClassRetrying,
	// A purge under way, before its deadline.
	ReasonPurgePending: ClassProgressing,
	// A purge completed: an Event records it.
	ReasonPurged: ClassTerminal,
	// The same three for the records of organisations that left a region.
	ReasonDepartedPurgesOverdue: ClassRetrying,
	ReasonDepartedPurgesPending: ClassProgressing,
	ReasonDepartedPurged:        ClassTerminal,

	ReasonAgreementNotActive: ClassWaiting,

	ReasonReady:              ClassTerminal,
	ReasonNotReady:           ClassTerminal,
	ReasonReconciled:         ClassTerminal,
	ReasonInvalidSpec:        ClassTerminal,
	ReasonPaused:             ClassTerminal,
	ReasonNamespaceActive:    ClassTerminal,
	ReasonNamespaceAdopted:   ClassTerminal,
	ReasonNamespaceConflict:  ClassTerminal,
	ReasonChildConflict:      ClassTerminal,
	ReasonAvailable:          ClassTerminal,
	ReasonCompiled:           ClassTerminal,
	ReasonCompileFailed:      ClassTerminal,
	ReasonRetained:           ClassTerminal,
	ReasonDeleted:            ClassTerminal,
	ReasonPeersFound:         ClassTerminal,
	ReasonPeersMissing:       ClassTerminal,
	ReasonAdmitted:           ClassTerminal,
	ReasonSuspended:          ClassTerminal,
	ReasonDSPTNotMet:         ClassTerminal,
	ReasonDSPTExpired:        ClassTerminal,
	ReasonCredentialsFound:   ClassTerminal,
	ReasonCredentialsMissing: ClassTerminal,
	ReasonNoConnector:        ClassTerminal,
	ReasonNothingToProvide:   ClassTerminal,
	ReasonNotAdmitted:        ClassTerminal,
	ReasonNotInRegion:        ClassTerminal,
	ReasonDuplicateODSCode:   ClassTerminal,
	ReasonApproved:           ClassTerminal,
	ReasonAwaitingApprovals:  ClassTerminal,
	ReasonTermsHold:          ClassTerminal,
	ReasonPeerConfirmed:      ClassTerminal,
	ReasonPeerMismatch:       ClassTerminal,
	ReasonNotCrossRegion:     ClassTerminal,
	ReasonNotSignatory:       ClassTerminal,
	ReasonRecorded:           ClassTerminal,
	ReasonNotYetApproved:     ClassTerminal,
	ReasonLedgerMismatch:     ClassTerminal,
	ReasonDuplicateVersion:   ClassTerminal,
	ReasonInForce:            ClassTerminal,
	ReasonAgreementNotFound:  ClassTerminal,
	ReasonPolicyWarnings:     ClassTerminal,
	ReasonNoWarnings:         ClassTerminal,
	ReasonWithinScope:        ClassTerminal,
	ReasonNarrowed:           ClassTerminal,
	ReasonNothingGranted:     ClassTerminal,
	ReasonIdentityMissing:    ClassTerminal,
	ReasonIdentityConfigured: ClassTerminal,

	// A GP Connect practice, read by the gateway (gpconnect_types.go).
	ReasonReadByGateway:          ClassTerminal,
	ReasonGPConnectNotConfigured: ClassTerminal,

	// The IG Framework's assurance gate: settled until the panel records
	// or the clock reaches a review date (or a future assuredAt).
	ReasonAssured:               ClassTerminal,
	ReasonNotAssured:            ClassTerminal,
	ReasonAssuranceLapsed:       ClassTerminal,
	ReasonAssurancePending:      ClassTerminal,
	ReasonAssuranceReviewDue:    ClassTerminal,
	ReasonProcessorDueDiligence: ClassTerminal,

	// An agreement's phases, as the reasons of Active, and of TermsValid,
	// Ready, Reconciling and Stalled where the phase decides them
	// (PhaseReason). Each change of phase is a legal fact with an Event.
	ReasonDraft:      ClassTerminal,
	ReasonPending:    ClassTerminal,
	ReasonActive:     ClassTerminal,
	ReasonExpired:    ClassTerminal,
	ReasonSuperseded: ClassTerminal,
	ReasonInvalid:    ClassTerminal,
}

// Reasons that name an agreement's phase (ReasonSuspended is shared with
// MemberOrganisation).
const (
	ReasonDraft      = "Draft"
	ReasonPending    = "Pending"
	ReasonActive     = "Active"
	ReasonExpired    = "Expired"
	ReasonSuperseded = "Superseded"
	ReasonInvalid    = "Invalid"
)

// phaseReasons maps each agreement phase to its Reason.
var phaseReasons = map[AgreementPhase]string{
	PhaseDraft:      ReasonDraft,
	PhasePending:    ReasonPending,
	PhaseActive:     ReasonActive,
	PhaseExpired:    ReasonExpired,
	PhaseSuspended:  ReasonSuspended,
	PhaseSuperseded: ReasonSuperseded,
	PhaseInvalid:    ReasonInvalid,
}

// PhaseReason is the Reason that names an agreement phase; ReasonInvalid
// for a phase this version does not know (fail closed).
func PhaseReason(p AgreementPhase) string {
	if r, ok := phaseReasons[p]; ok {
		return r
	}
	return ReasonInvalid
}

// ClassOf is the class of a Reason; ClassTerminal for one the table does not
// list, so that an unclassified reason is never silenced.
func ClassOf(reason string) ReasonClass {
	if c, ok := ReasonClasses[reason]; ok {
		return c
	}
	return ClassTerminal
}
