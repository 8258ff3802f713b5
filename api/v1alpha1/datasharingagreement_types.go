/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AgreementPhase is the derived lifecycle phase of a DataSharingAgreement.
// +kubebuilder:validation:Enum=Draft;Pending;Active;Expired;Suspended;Superseded;Invalid
type AgreementPhase string

const (
	// PhaseDraft: a controller party has not yet approved the terms.
	PhaseDraft AgreementPhase = "Draft"
	// PhasePending: approved, but effectiveFrom is still to come (or the
	// peer region has not yet confirmed a cross-region agreement).
	PhasePending AgreementPhase = "Pending"
	// PhaseActive: approved and in force; its parties share.
	PhaseActive AgreementPhase = "Active"
	// PhaseExpired: endsOn has passed.
	PhaseExpired AgreementPhase = "Expired"
	// PhaseSuspended: spec.suspended is set.
	PhaseSuspended AgreementPhase = "Suspended"
	// PhaseSuperseded: a later approved version of the agreement has taken effect.
	PhaseSuperseded AgreementPhase = "Superseded"
	// PhaseInvalid: the terms cannot hold, for example no controller party is
	// an Admitted member.
	PhaseInvalid AgreementPhase = "Invalid"
)

// PartyRole is a party's role under UK GDPR.
// +kubebuilder:validation:Enum=Controller;JointController;Processor
type PartyRole string

const (
	PartyController      PartyRole = "Controller"
	PartyJointController PartyRole = "JointController"
	PartyProcessor       PartyRole = "Processor"
)

// Purpose is what the shared data is used for.
// +kubebuilder:validation:Enum=DirectCare;Other
type Purpose string

const (
	// PurposeDirectCare is individual care of the person (HL7 TREAT). Only
	// direct-care agreements grant access through the gateway.
	PurposeDirectCare Purpose = "DirectCare"
	// PurposeOther is any other purpose; it needs its own lawful basis stated
	// in lawfulBasis.otherPurpose, and grants nothing through the gateway.
	PurposeOther Purpose = "Other"
)

// Journey is Journey 1 (within one region) or Journey 2 (across regions).
// +kubebuilder:validation:Enum=WithinRegion;CrossRegion
type Journey string

const (
	JourneyWithinRegion Journey = "WithinRegion"
	JourneyCrossRegion  Journey = "CrossRegion"
)

// SignatoryRole is the office of the person who approved an agreement.
// +kubebuilder:validation:Enum=CaldicottGuardian;SIRO;DPO
type SignatoryRole string

// DataSharingAgreementSpec is one version of a data sharing agreement.
// +kubebuilder:validation:XValidation:rule="!has(self.supersedes) || self.supersedes < self.version",message="spec.supersedes: must be an earlier version than spec.version"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.approvals) || size(oldSelf.approvals) == 0 || self.terms == oldSelf.terms",message="spec.terms: immutable once any approval exists; agree changed terms as a new version (spec.version+1 with spec.supersedes)"
// +kubebuilder:validation:XValidation:rule="!has(self.approvals) || self.approvals.all(a, self.terms.parties.exists(p, p.odsCode == a.organisation && (p.role == 'Controller' || p.role == 'JointController')))",message="spec.approvals: each approval must come from a Controller or JointController party of the terms"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.approvals) || (has(self.approvals) && oldSelf.approvals.all(a, self.approvals.exists(b, b == a)))",message="spec.approvals: append-only; an approval cannot be changed or removed"
type DataSharingAgreementSpec struct {
	// AgreementID identifies the agreement across its versions, for example
	// "TVS-DSA-001".
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.agreementId is immutable"
	// +required
	AgreementID string `json:"agreementId"`

	// Version of the agreement, starting at 1. Changed terms are a new
	// object with the next version.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.version is immutable"
	// +required
	Version int32 `json:"version"`

	// Supersedes is the version this one replaces. When this version takes
	// effect, the earlier one becomes Superseded.
	// +kubebuilder:validation:Minimum=1
	// +optional
	Supersedes *int32 `json:"supersedes,omitempty"`

	// Title is the agreement's human title.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	// +required
	Title string `json:"title"`

	// Terms are what the parties agreed. Immutable once approved.
	// +required
	Terms AgreementTerms `json:"terms"`

	// Approvals are the signatures of the controller parties, append-only.
	// The agreement takes effect only when every Controller and
	// JointController party has approved.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	Approvals []Approval `json:"approvals,omitempty"`

	// Suspended stops all sharing under this version at once, for example
	// while a breach is investigated.
	// +optional
	Suspended bool `json:"suspended,omitempty"`

	// SuspensionReason records why the agreement is suspended.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	SuspensionReason string `json:"suspensionReason,omitempty"`

	// Rationale is why this version was agreed (for example why its terms
	// changed) and the minutes or paper that record the decision. It is
	// shown in history, the evidence pack and the decision log; it does not
	// change what is shared.
	// +optional
	Rationale *DecisionRationale `json:"rationale,omitempty"`
}

// AgreementTerms are the substance of a data sharing agreement (ICO Data
// Sharing Code, Annex B).
// +kubebuilder:validation:XValidation:rule="self.endsOn > self.effectiveFrom",message="spec.terms.endsOn: must be after effectiveFrom"
// +kubebuilder:validation:XValidation:rule="self.parties.exists(p, p.role == 'Controller' || p.role == 'JointController')",message="spec.terms.parties: at least one party must be a Controller or JointController"
// +kubebuilder:validation:XValidation:rule="self.purpose == 'DirectCare' || (has(self.lawfulBasis.otherPurpose) && size(self.lawfulBasis.otherPurpose) > 0)",message="spec.terms.lawfulBasis.otherPurpose: required when the purpose is not DirectCare"
// +kubebuilder:validation:XValidation:rule="(self.journey == 'CrossRegion') == has(self.peerRegion)",message="spec.terms.peerRegion: required for a CrossRegion journey and only then"
// +kubebuilder:validation:XValidation:rule="!has(self.reviewDate) || (self.reviewDate > self.effectiveFrom && self.reviewDate <= self.endsOn)",message="spec.terms.reviewDate: must fall between effectiveFrom and endsOn"
type AgreementTerms struct {
	// Parties to the agreement, each a member organisation by ODS code.
	// +kubebuilder:validation:MinItems=2
	// +kubebuilder:validation:MaxItems=200
	// +listType=map
	// +listMapKey=odsCode
	// +required
	Parties []Party `json:"parties"`

	// Purpose of the sharing.
	// +kubebuilder:default=DirectCare
	// +optional
	Purpose Purpose `json:"purpose,omitempty"`

	// LawfulBasis under UK GDPR.
	// +required
	LawfulBasis LawfulBasis `json:"lawfulBasis"`

	// DataCategories that may be shared.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=10
	// +listType=set
	// +required
	DataCategories []DataCategory `json:"dataCategories"`

	// SensitiveData says whether records with sensitive security labels are
	// shared: Exclude (the default), BreakGlassOnly, or Allow.
	// +kubebuilder:default=Exclude
	// +optional
	SensitiveData SensitiveDataMode `json:"sensitiveData,omitempty"`

	// RetentionDays is how long a receiving party may keep what it was shown.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=36500
	// +optional
	RetentionDays int32 `json:"retentionDays,omitempty"`

	// EffectiveFrom is when sharing may start.
	// +required
	EffectiveFrom metav1.Time `json:"effectiveFrom"`

	// EndsOn is when sharing stops, to the second.
	// +required
	EndsOn metav1.Time `json:"endsOn"`

	// ReviewDate is when the agreement is due for review.
	// +optional
	ReviewDate *metav1.Time `json:"reviewDate,omitempty"`

	// DPIAReference identifies the Data Protection Impact Assessment.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	// +required
	DPIAReference string `json:"dpiaReference"`

	// Journey is WithinRegion (Journey 1) or CrossRegion (Journey 2).
	// +kubebuilder:default=WithinRegion
	// +optional
	Journey Journey `json:"journey,omitempty"`

	// PeerRegion is the other ShCRRegion of a CrossRegion agreement. It must
	// hold the same agreement (same agreementId, version and terms hash) and
	// list this region in spec.peers.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=58
	// +optional
	PeerRegion string `json:"peerRegion,omitempty"`
}

// Party is one organisation party to an agreement.
// +kubebuilder:validation:XValidation:rule="!has(self.dueDiligence) || self.role == 'Processor'",message="dueDiligence: recorded only for a Processor party"
type Party struct {
	// ODSCode of the organisation.
	// +kubebuilder:validation:Pattern=`^[A-Z0-9]{3,6}$`
	// +kubebuilder:validation:MaxLength=6
	// +required
	ODSCode string `json:"odsCode"`

	// Role of the organisation under UK GDPR.
	// +required
	Role PartyRole `json:"role"`

	// DueDiligence is the due diligence done on a Processor party (the IG
	// Framework's requirement for processors and sub-processors). An
	// agreement with a Processor party without it is Invalid: it never
	// takes effect, and the reason names the party.
	// +optional
	DueDiligence *ProcessorDueDiligence `json:"dueDiligence,omitempty"`
}

// ProcessorDueDiligence is the due diligence recorded for a processor.
type ProcessorDueDiligence struct {
	// DSPTStatus is the processor's Data Security and Protection Toolkit
	// result when it was assessed; only StandardsMet or StandardsExceeded
	// satisfy due diligence.
	// +required
	DSPTStatus DSPTStatus `json:"dsptStatus"`

	// ContractReference names the processing contract (UK GDPR Art 28).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	// +required
	ContractReference string `json:"contractReference"`

	// AssessedOn is the date the due diligence was done (YYYY-MM-DD).
	// +kubebuilder:validation:Format=date
	// +required
	AssessedOn string `json:"assessedOn"`
}

// LawfulBasis is the UK GDPR basis for processing.
type LawfulBasis struct {
	// Article6 is the Article 6(1) condition, for example "6(1)(e)" (public task).
	// +kubebuilder:validation:Enum="6(1)(a)";"6(1)(b)";"6(1)(c)";"6(1)(d)";"6(1)(e)";"6(1)(f)"
	// +required
	Article6 string `json:"article6,omitempty"`

	// Article9 is the Article 9(2) condition for special category data, for
	// example "9(2)(h)" (health or social care).
	// +kubebuilder:validation:Enum="9(2)(a)";"9(2)(b)";"9(2)(c)";"9(2)(d)";"9(2)(e)";"9(2)(f)";"9(2)(g)";"9(2)(h)";"9(2)(i)";"9(2)(j)"
	// +required
	Article9 string `json:"article9,omitempty"`

	// OtherPurpose states the lawful basis for a purpose other than direct care.
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	OtherPurpose string `json:"otherPurpose,omitempty"`
}

// Approval is one controller party's signature on the terms.
type Approval struct {
	// Organisation is the ODS code of the approving party; it must be a
	// Controller or JointController of the terms.
	// +kubebuilder:validation:Pattern=`^[A-Z0-9]{3,6}$`
	// +kubebuilder:validation:MaxLength=6
	// +required
	Organisation string `json:"organisation"`

	// Signatory is the name of the person who signed.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	// +required
	Signatory string `json:"signatory"`

	// Role is the signatory's office.
	// +required
	Role SignatoryRole `json:"role"`

	// Date the signature was given.
	// +required
	Date metav1.Time `json:"date"`

	// RecordedBy is the Kubernetes identity that added this approval. The
	// admission webhook sets it from the request's user; any value the
	// client sends is replaced. An approval without it does not count.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	RecordedBy string `json:"recordedBy,omitempty"`

	// Rationale is why the signatory approved, and where it is minuted.
	// Display-only: shown in history, the evidence pack and the decision log.
	// +optional
	Rationale *DecisionRationale `json:"rationale,omitempty"`

	// RecordedGroups are the Kubernetes groups of the identity that added
	// this approval, stamped with RecordedBy (a value the client sends is
	// replaced, and refused when the webhook is down and it is not the
	// requester's groups). The approval counts only while RecordedBy, or one
	// of these groups, is a signatory of the organisation.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=256
	// +listType=atomic
	// +optional
	RecordedGroups []string `json:"recordedGroups,omitempty"`
}

// PartyStatus is what a party of the agreement may do right now.
type PartyStatus struct {
	// ODSCode of the party.
	ODSCode string `json:"odsCode"`
	// Role of the party.
	Role PartyRole `json:"role"`
	// Effective is true when the party is an Admitted member and so shares
	// under this agreement.
	Effective bool `json:"effective"`
	// Reason says why a party is not effective (not a member, not
	// Admitted, suspended, ...).
	// +optional
	Reason string `json:"reason,omitempty"`
}

// DataSharingAgreementStatus is the observed state of a DataSharingAgreement.
type DataSharingAgreementStatus struct {
	// Phase is derived from approvals, dates, supersession and membership.
	// +optional
	Phase AgreementPhase `json:"phase,omitempty"`

	// TermsHash is the sha256 of the canonical form of spec.terms (see
	// docs/agreements.md): the evidence an auditor compares with the signed
	// document, and with the peer region for a CrossRegion agreement.
	// +optional
	TermsHash string `json:"termsHash,omitempty"`

	// ActiveSince is when this version became Active.
	// +optional
	ActiveSince *metav1.Time `json:"activeSince,omitempty"`

	// NextTransitionTime is when the phase will next change by the clock
	// alone (effectiveFrom, or endsOn, or a successor taking effect).
	// +optional
	NextTransitionTime *metav1.Time `json:"nextTransitionTime,omitempty"`

	// Parties says, per party, whether it shares right now.
	// +listType=map
	// +listMapKey=odsCode
	// +optional
	Parties []PartyStatus `json:"parties,omitempty"`

	// PartiesDisplay is every party as "ODS:Role", comma-separated, for
	// the Parties printer column (a column's JSONPath shows only the first
	// of a list). Display only: nothing reads it.
	// +optional
	PartiesDisplay string `json:"partiesDisplay,omitempty"`

	// MissingApprovals are the controller parties that have not yet approved.
	// +listType=set
	// +optional
	MissingApprovals []string `json:"missingApprovals,omitempty"`

	// Conditions: Ready (summarises Approved, Recorded and TermsValid, and
	// says what the phase means), Approved (every controller party's
	// approval recorded by one of its signatories), Recorded (the version's
	// terms hash is in the region's agreement ledger), TermsValid (the terms
	// can hold: not Invalid, not Suspended), Active (the phase is Active),
	// PeerConfirmed (CrossRegion agreements only: the peer region holds the
	// same version and terms), Reconciling and Stalled (kstatus).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ObservedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// DataSharingAgreement is a versioned, signed agreement between member
// organisations to share named categories of records for a stated purpose.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dsa;agreement;agreements,categories=shcr
// +kubebuilder:printcolumn:name="Agreement",type=string,JSONPath=`.spec.agreementId`
// +kubebuilder:printcolumn:name="Version",type=integer,JSONPath=`.spec.version`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Parties",type=string,JSONPath=`.status.partiesDisplay`
// +kubebuilder:printcolumn:name="Ends",type=string,JSONPath=`.spec.terms.endsOn`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DataSharingAgreement struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is a standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the agreement as drafted and signed.
	// +required
	Spec DataSharingAgreementSpec `json:"spec"`

	// status is the observed state of the agreement.
	// +optional
	Status DataSharingAgreementStatus `json:"status,omitzero"`
}

// DataSharingAgreementList is a list of DataSharingAgreements.
// +kubebuilder:object:root=true
type DataSharingAgreementList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []DataSharingAgreement `json:"items"`
}

func init() {
	register(&DataSharingAgreement{}, &DataSharingAgreementList{})
}
