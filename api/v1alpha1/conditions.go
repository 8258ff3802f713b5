/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package v1alpha1

// Condition types. Ready summarises the others of its kind; Reconciling and
// Stalled follow the kstatus convention so that kubectl wait, kstatus, Argo CD
// and Flux read health correctly.
const (
	ConditionReady       = "Ready"
	ConditionReconciling = "Reconciling"
	ConditionStalled     = "Stalled"

	// ShCRRegion.
	ConditionNamespaceReady         = "NamespaceReady"
	ConditionRecordServiceAvailable = "RecordServiceAvailable"
	ConditionGatewayAvailable       = "GatewayAvailable"
	ConditionPolicyCompiled         = "PolicyCompiled"
	// ConditionGatewayIdentity says whether spec.gateway.identity holds what
	// the gateway needs to verify tokens (issuer, audience, keys); without
	// it the gateway never passes its readiness probe. Not part of Ready.
	ConditionGatewayIdentity = "GatewayIdentity"
	// ConditionPeersFound says whether every region in spec.peers exists.
	// It is informational: Ready does not summarise it, but no sharing
	// happens with a peer that does not exist.
	ConditionPeersFound = "PeersFound"
	// ConditionAssured says whether the region's IG Framework assurance
	// lets it share now (see spec.assurance). It is not part of Ready: a
	// region's workloads run while it awaits assurance; it shares nothing.
	ConditionAssured = "Assured"
)

// Condition and Event reasons. The same constants are used as the reason of
// the Events the operator records, so a transition reads the same in
// `kubectl describe` and in status.
const (
	// ReasonReady: every condition Ready summarises is True.
	ReasonReady = "Ready"
	// ReasonNotReady: at least one condition Ready summarises is not True; the
	// message names it.
	ReasonNotReady = "NotReady"
	// ReasonProgressing: the operator is still converging on the spec.
	ReasonProgressing = "Progressing"
	// ReasonReconciled: the operator has converged on the spec.
	ReasonReconciled = "Reconciled"
	// ReasonInvalidSpec: the spec breaks a rule that retrying cannot fix.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonPaused: spec.paused is set; nothing is changed.
	ReasonPaused = "Paused"
	// ReasonApplyFailed: the API server refused a child object.
	ReasonApplyFailed = "ApplyFailed"

	// ReasonNamespaceActive: the region namespace exists, is owned by the
	// region and is active.
	ReasonNamespaceActive = "NamespaceActive"
	// ReasonNamespaceAdopted: a namespace retained from an earlier region of
	// the same name was adopted, with its data.
	ReasonNamespaceAdopted = "NamespaceAdopted"
	// ReasonNamespaceConflict: a namespace of the region's name exists and
	// belongs to something else; the operator will not take it over.
	ReasonNamespaceConflict = "NamespaceConflict"
	// ReasonNamespaceTerminating: the region namespace is being deleted.
	ReasonNamespaceTerminating = "NamespaceTerminating"
	// ReasonChildConflict: an object the region needs exists and is not
	// managed by the operator.
	ReasonChildConflict = "ChildConflict"

	// ReasonAvailable: every desired replica is updated and ready.
	ReasonAvailable = "Available"
	// ReasonRollingOut: replicas are being created or updated.
	ReasonRollingOut = "RollingOut"

	// ReasonCompiled: the policy bundle was compiled and stored.
	ReasonCompiled = "Compiled"
	// ReasonCompileFailed: the policy bundle could not be compiled or stored.
	ReasonCompileFailed = "CompileFailed"

	// ReasonRetained: the region was deleted with deletionPolicy Retain; its
	// namespace and volumes were kept.
	ReasonRetained = "Retained"
	// ReasonDeleted: the region was deleted with deletionPolicy Delete.
	ReasonDeleted = "Deleted"

	// ReasonPeersFound: every region in spec.peers exists.
	ReasonPeersFound = "PeersFound"
	// ReasonPeersMissing: a region in spec.peers does not exist.
	ReasonPeersMissing = "PeersMissing"
	// ReasonIdentityMissing (GatewayIdentity=False, and so Ready=False):
	// spec.gateway.identity lacks what the gateway needs to verify tokens,
	// so its readiness probe never passes.
	ReasonIdentityMissing = "IdentityMissing"
	// ReasonIdentityConfigured (GatewayIdentity=True): issuer, audience and
	// keys are set.
	ReasonIdentityConfigured = "IdentityConfigured"

	// ReasonAssured: every IG Framework requirement is assured now.
	ReasonAssured = "Assured"
	// ReasonNotAssured: a requirement has no counted Assured record.
	ReasonNotAssured = "NotAssured"
	// ReasonAssuranceLapsed: a requirement's review date has passed.
	ReasonAssuranceLapsed = "AssuranceLapsed"
	// ReasonAssurancePending: every requirement is assured, with effect
	// from a time still to come.
	ReasonAssurancePending = "AssurancePending"
	// ReasonAssuranceReviewDue: assured, and a review date falls within
	// the alert window (events only).
	ReasonAssuranceReviewDue = "AssuranceReviewDue"
)

// Labels, annotations and finalizers the operator sets.
const (
	// LabelRegion names the region an object belongs to. On a namespace it
	// marks the namespace as that region's.
	LabelRegion = "shcr.io/region"
	// LabelRetained marks a namespace or volume claim kept after its region
	// was deleted with deletionPolicy Retain.
	LabelRetained = "shcr.io/retained"
	// AnnotationRetainedAt records when a namespace or claim was retained.
	AnnotationRetainedAt = "shcr.io/retained-at"
	// AnnotationAppliedHash is the hash of the configuration the operator
	// last applied to a child; with a field-by-field comparison it lets a
	// no-op reconcile skip the write.
	AnnotationAppliedHash = "shcr.io/applied-hash"

	// RegionFinalizer guards the deletion of a region's data.
	RegionFinalizer = "shcr.io/region-protection"
)

// Condition types of the namespaced kinds.
const (
	// MemberOrganisation: the governance gate.
	ConditionAdmitted = "Admitted"
	// MemberOrganisation: the connector's credentials Secret has the keys it needs.
	ConditionCredentialsFound = "CredentialsFound"
	// MemberOrganisation: the connector Deployment is Available.
	ConditionConnectorAvailable = "ConnectorAvailable"
	// DataSharingAgreement: every controller party has approved.
	ConditionApproved = "Approved"
	// DataSharingAgreement: the terms can hold (not Invalid, not Suspended).
	ConditionTermsValid = "TermsValid"
	// DataSharingAgreement: the phase is Active.
	ConditionActive = "Active"
	// DataSharingAgreement: a CrossRegion agreement is confirmed by its peer region.
	ConditionPeerConfirmed = "PeerConfirmed"
	// DataSharingAgreement: the approved version's terms hash is in the
	// region's agreement ledger (ConfigMap agreement-ledger), and matches.
	// A version grants nothing until it is.
	ConditionRecorded = "Recorded"
	// AccessPolicy: the policy grants something under an Active agreement.
	ConditionInForce = "InForce"
	// AccessPolicy: part of the policy exceeds the agreement and is not enforced.
	ConditionScopeNarrowed = "ScopeNarrowed"
	// AccessPolicy: part of the policy is accepted but does nothing, or less
	// than it says (reason PolicyWarnings; the message names each field).
	ConditionWarnings = "Warnings"
)

// Reasons of the namespaced kinds.
const (
	ReasonAdmitted           = "Admitted"
	ReasonSuspended          = "Suspended"
	ReasonDSPTNotMet         = "DSPTNotMet"
	ReasonDSPTExpired        = "DSPTExpired"
	ReasonCredentialsFound   = "CredentialsFound"
	ReasonCredentialsMissing = "CredentialsMissing"
	ReasonNoConnector        = "NoConnector"
	// ReasonNothingToProvide: an admitted Provider that no Active agreement
	// lets provide any category yet runs no connector (ConnectorAvailable
	// True: nothing is missing); it gets one when an agreement grants it a
	// category, and loses it when none does any more.
	ReasonNothingToProvide = "NothingToProvide"
	ReasonNotAdmitted      = "NotAdmitted"
	ReasonNotInRegion      = "NotInRegion"
	ReasonDuplicateODSCode = "DuplicateODSCode"

	ReasonApproved          = "Approved"
	ReasonAwaitingApprovals = "AwaitingApprovals"
	ReasonTermsHold         = "TermsHold" // TermsValid=True: nothing makes the terms unable to hold
	ReasonPeerConfirmed     = "PeerConfirmed"
	ReasonPeerMismatch      = "PeerMismatch"
	// ReasonProcessorDueDiligence: a Processor party of the terms has no
	// satisfactory due diligence recorded; the agreement is Invalid.
	ReasonProcessorDueDiligence = "ProcessorDueDiligenceMissing"
	ReasonNotCrossRegion        = "NotCrossRegion"
	ReasonNotSignatory          = "NotSignatory"
	ReasonRecorded              = "Recorded"
	ReasonNotYetApproved        = "NotYetApproved"
	ReasonLedgerMismatch        = "LedgerMismatch"
	// ReasonDuplicateVersion: another object in the namespace already
	// holds the agreementId and version (TermsValid=False, phase Invalid).
	ReasonDuplicateVersion = "DuplicateVersion"

	ReasonInForce            = "InForce"
	ReasonAgreementNotActive = "AgreementNotActive"
	// ReasonAgreementNotFound: AccessPolicy InForce=False, no version of the
	// named agreement exists in the region.
	ReasonAgreementNotFound = "AgreementNotFound"
	// ReasonPolicyWarnings, ReasonNoWarnings: AccessPolicy Warnings.
	ReasonPolicyWarnings = "PolicyWarnings"
	ReasonNoWarnings     = "NoWarnings"
	ReasonWithinScope    = "WithinScope"
	ReasonNarrowed       = "Narrowed"
	ReasonNothingGranted = "NothingGranted"
)
