/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package v1alpha1

import (
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IGRequirement is one of the eight requirements of NHS England's
// Information Governance Framework for Shared Care Records (September 2021)
// that a region must have assured before it shares.
// +kubebuilder:validation:Enum=ConsistentIGPolicies;DataFlowsAndControllers;LawfulBasisAndTransparency;AccessControlsAndRecords;Objections;CyberSecurity;ProcessorDueDiligence;DocumentedDecisions
type IGRequirement string

// The eight requirements of the IG Framework, in the Framework's order.
const (
	// RequirementConsistentIGPolicies: a consistent approach to IG policies,
	// processes and systems across the members.
	RequirementConsistentIGPolicies IGRequirement = "ConsistentIGPolicies"
	// RequirementDataFlowsAndControllers: the flows of data are identified,
	// with the controllers and processors at each point.
	RequirementDataFlowsAndControllers IGRequirement = "DataFlowsAndControllers"
	// RequirementLawfulBasisAndTransparency: the legal basis of every
	// function is known, with transparency about purpose and process and
	// public engagement.
	RequirementLawfulBasisAndTransparency IGRequirement = "LawfulBasisAndTransparency"
	// RequirementAccessControlsAndRecords: access controls and records
	// management.
	RequirementAccessControlsAndRecords IGRequirement = "AccessControlsAndRecords"
	// RequirementObjections: patients' and service users' objections to
	// processing are considered.
	RequirementObjections IGRequirement = "Objections"
	// RequirementCyberSecurity: current published guidance on cyber security
	// for health and care is followed.
	RequirementCyberSecurity IGRequirement = "CyberSecurity"
	// RequirementProcessorDueDiligence: due diligence is done on processors
	// and sub-processors.
	RequirementProcessorDueDiligence IGRequirement = "ProcessorDueDiligence"
	// RequirementDocumentedDecisions: decision-making is documented to show
	// accountability.
	RequirementDocumentedDecisions IGRequirement = "DocumentedDecisions"
)

// IGRequirements lists the eight requirements in the Framework's order.
var IGRequirements = []IGRequirement{
	RequirementConsistentIGPolicies, RequirementDataFlowsAndControllers, RequirementLawfulBasisAndTransparency,
	RequirementAccessControlsAndRecords, RequirementObjections, RequirementCyberSecurity,
	RequirementProcessorDueDiligence, RequirementDocumentedDecisions,
}

// AssuranceStatus is what the panel recorded for a requirement. Lapsed is
// never recorded: the operator works it out from the review date.
type AssuranceStatus string

const (
	// AssuranceAssured: the panel is satisfied the requirement is met.
	AssuranceAssured AssuranceStatus = "Assured"
	// AssuranceNotAssured: the panel is not (or no longer) satisfied.
	AssuranceNotAssured AssuranceStatus = "NotAssured"
	// AssuranceLapsed: an Assured record whose review date has passed
	// (status only).
	AssuranceLapsed AssuranceStatus = "Lapsed"
)

// DecisionRationale is why a decision was taken and where it is minuted.
type DecisionRationale struct {
	// Summary is the decision's rationale in a sentence or two.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +required
	Summary string `json:"summary"`

	// Reference names the minutes or paper that record the decision, for
	// example "IG Board 2026-03-12 minute 7".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	// +required
	Reference string `json:"reference"`
}

// RegionAssurance is the region's IG Framework gate: its independent
// assurance panel and the panel's assurance of each requirement. Until every
// requirement is Assured and within its review date, the region shares
// nothing.
// +kubebuilder:validation:XValidation:rule="!has(self.requirements) || !has(self.panel) || size(self.panel) > 0 || size(self.requirements) == 0",message="spec.assurance.panel: name the independent assurance panel before recording assurances"
type RegionAssurance struct {
	// Panel is the region's independent assurance panel: the Users or
	// Groups (rbac.authorization.k8s.io) who may record assurances. It may
	// not include the region's admins. Its members need RBAC permission to
	// update this ShCRRegion, which the cluster's administrators grant.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:XValidation:rule="self.kind in ['User', 'Group']",message="kind must be User or Group: the assurance panel is people"
	// +listType=atomic
	// +optional
	Panel []rbacv1.Subject `json:"panel,omitempty"`

	// Requirements are the panel's assurance records, one per requirement
	// of the Framework. A requirement with no record is not assured.
	// +kubebuilder:validation:MaxItems=8
	// +listType=map
	// +listMapKey=requirement
	// +optional
	Requirements []RequirementAssurance `json:"requirements,omitempty"`
}

// RequirementAssurance is the panel's assurance of one requirement. Only a
// member of the panel may record or change it; the admission webhook and an
// admission policy stamp who did.
// +kubebuilder:validation:XValidation:rule="self.reviewDate > self.assuredAt",message="reviewDate: must be after assuredAt"
type RequirementAssurance struct {
	// Requirement is the Framework requirement assured.
	// +required
	Requirement IGRequirement `json:"requirement"`

	// Status is Assured or NotAssured. (Lapsed is shown in status once the
	// review date passes; it is not recorded here.)
	// +kubebuilder:validation:XValidation:rule="self in ['Assured', 'NotAssured']",message="must be Assured or NotAssured; Lapsed is worked out by the operator from reviewDate"
	// +kubebuilder:validation:MaxLength=16
	// +required
	Status AssuranceStatus `json:"status"`

	// AssuredAt is when the assurance takes effect: the region shares no
	// earlier than the latest assuredAt of its requirements, to the second.
	// +required
	AssuredAt metav1.Time `json:"assuredAt"`

	// ReviewDate is when the assurance lapses: the region stops sharing at
	// the earliest reviewDate of its requirements, to the second, unless the
	// panel has recorded a new assurance by then.
	// +required
	ReviewDate metav1.Time `json:"reviewDate"`

	// EvidenceReference names the evidence the panel assessed, for example
	// a document reference or the evidence pack's revision.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	// +required
	EvidenceReference string `json:"evidenceReference"`

	// Rationale is why the panel decided as it did, and where it is minuted.
	// +required
	Rationale DecisionRationale `json:"rationale"`

	// AssuredBy is the Kubernetes identity that recorded this assurance.
	// The admission webhook sets it from the request's user (any value the
	// client sends is replaced), and an admission policy refuses a record
	// whose assuredBy is not the requester. A record whose recorder is no
	// longer on the panel does not count.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	AssuredBy string `json:"assuredBy,omitempty"`

	// AssuredGroups are the Kubernetes groups of the identity that recorded
	// this assurance, stamped with AssuredBy.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=256
	// +listType=atomic
	// +optional
	AssuredGroups []string `json:"assuredGroups,omitempty"`
}

// RequirementAssuranceState is how the operator counts one requirement's
// assurance right now.
type RequirementAssuranceState struct {
	// Requirement is the Framework requirement.
	Requirement IGRequirement `json:"requirement"`
	// Status is Assured, NotAssured or Lapsed; a requirement with no record,
	// or whose record does not count, is NotAssured.
	Status AssuranceStatus `json:"status"`
	// Counted is true when the record counts towards the region's assurance.
	Counted bool `json:"counted"`
	// AssuredBy is who recorded it.
	// +optional
	AssuredBy string `json:"assuredBy,omitempty"`
	// ReviewDate is when it lapses.
	// +optional
	ReviewDate *metav1.Time `json:"reviewDate,omitempty"`
	// Message says why a record does not count.
	// +optional
	Message string `json:"message,omitempty"`
	// RecordDigest identifies the record the operator judged (sha256 of its
	// content), so that a record refused once stays refused and one
	// accepted once is not undone by facts that change later.
	// +optional
	RecordDigest string `json:"recordDigest,omitempty"`
	// Refused is true when the record contradicted a computed checkpoint
	// of its requirement when the operator first saw it: it never counts.
	// +optional
	Refused bool `json:"refused,omitempty"`
}

// ComputedCheckpoint is a checkpoint of the Framework the operator can
// check from the cluster itself, shown beside the panel's assurance. An
// Assured record of a requirement with an unmet checkpoint does not count.
type ComputedCheckpoint struct {
	// Name of the checkpoint, for example MembersDSPTCurrent.
	Name string `json:"name"`
	// Requirement the checkpoint belongs to.
	Requirement IGRequirement `json:"requirement"`
	// Met is true when the cluster shows the checkpoint met.
	Met bool `json:"met"`
	// Message says what was found.
	Message string `json:"message"`
}

// RegionAssuranceStatus is the region's IG Framework gate as the operator
// sees it.
type RegionAssuranceStatus struct {
	// Assured is true when every requirement is assured now.
	Assured bool `json:"assured"`
	// From and Until bound when the region is assured (and so may share).
	// +optional
	From *metav1.Time `json:"from,omitempty"`
	// +optional
	Until *metav1.Time `json:"until,omitempty"`
	// Requirements are the eight requirements, in the Framework's order.
	// +listType=map
	// +listMapKey=requirement
	// +optional
	Requirements []RequirementAssuranceState `json:"requirements,omitempty"`
	// Checkpoints are the computed checkpoints.
	// +listType=map
	// +listMapKey=name
	// +optional
	Checkpoints []ComputedCheckpoint `json:"checkpoints,omitempty"`
}
