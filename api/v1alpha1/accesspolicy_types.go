/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Action is a FHIR interaction a grant allows.
// +kubebuilder:validation:Enum=read;search
type Action string

const (
	// ActionRead covers FHIR read, vread and history of one resource.
	ActionRead Action = "read"
	// ActionSearch covers FHIR search.
	ActionSearch Action = "search"
)

// PurposeOfUse is an HL7 v3 PurposeOfUse code a caller may assert.
// +kubebuilder:validation:Enum=TREAT;ETREAT
type PurposeOfUse string

const (
	// PurposeTreat is treatment: direct care.
	PurposeTreat PurposeOfUse = "TREAT"
	// PurposeEmergencyTreat is emergency treatment, allowed only through break-glass.
	PurposeEmergencyTreat PurposeOfUse = "ETREAT"
)

// AccessPolicySpec grants staff of member organisations access to records
// under a data sharing agreement. The effective grant is always the
// intersection with the agreement's active version: a policy can never
// grant more than was agreed.
type AccessPolicySpec struct {
	// AgreementID is the DataSharingAgreement this policy grants under; the
	// policy follows whichever version of it is Active.
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`
	// +required
	AgreementID string `json:"agreementId"`

	// Subjects are the staff the policy grants to.
	// +required
	Subjects Subjects `json:"subjects"`

	// Grants are the categories and actions allowed.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	// +required
	Grants []Grant `json:"grants"`

	// PurposesOfUse the caller may assert. Only TREAT (direct care) grants
	// ordinary access; ETREAT works only through break-glass.
	// +kubebuilder:default={TREAT}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=2
	// +listType=set
	// +optional
	PurposesOfUse []PurposeOfUse `json:"purposesOfUse,omitempty"`

	// RequireLegitimateRelationship allows access only when the caller
	// asserts a legitimate relationship with the patient.
	// +kubebuilder:default=true
	// +optional
	RequireLegitimateRelationship *bool `json:"requireLegitimateRelationship,omitempty"`

	// BreakGlass allows an audited emergency override for some roles.
	// +optional
	BreakGlass *BreakGlass `json:"breakGlass,omitempty"`

	// SensitiveData says whether records with sensitive security labels are
	// shared: Exclude (the default), BreakGlassOnly, or Allow. It never
	// exceeds what the agreement allows.
	// +kubebuilder:default=Exclude
	// +optional
	SensitiveData SensitiveDataMode `json:"sensitiveData,omitempty"`
}

// Subjects select staff by organisation and national RBAC role.
type Subjects struct {
	// Organisations are the ODS codes of the parties whose staff are
	// granted; empty means every party of the agreement.
	// +kubebuilder:validation:MaxItems=500
	// +kubebuilder:validation:items:Pattern=`^[A-Z0-9]{3,6}$`
	// +listType=set
	// +optional
	Organisations []string `json:"organisations,omitempty"`

	// Roles are national RBAC role codes, for example R8000 (Clinical
	// Practitioner Access Role). R8008 (admin) roles never get clinical data.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:Pattern=`^R[0-9]{4}$`
	// +kubebuilder:validation:items:XValidation:rule="self != 'R8008'",message="R8008 (admin access role) may not be granted clinical data"
	// +listType=set
	// +required
	Roles []string `json:"roles"`
}

// Grant allows actions on categories.
type Grant struct {
	// Categories the grant covers.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=10
	// +listType=set
	// +required
	Categories []DataCategory `json:"categories"`

	// Actions allowed.
	// +kubebuilder:default={read,search}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=2
	// +listType=set
	// +optional
	Actions []Action `json:"actions,omitempty"`
}

// BreakGlass is an emergency override: an allowed role, giving a reason, may
// see what ordinary rules would hide, for a limited time, with every access
// audited as an emergency override, counted per organisation in the
// gateway's shcr_gateway_break_glass_total metric (the ShCRBreakGlassUsed
// alert), and listed by "kubectl shcr break-glass" for the Caldicott
// Guardian's review.
type BreakGlass struct {
	// AllowedRoles are the national RBAC role codes that may break glass.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:Pattern=`^R[0-9]{4}$`
	// +kubebuilder:validation:items:XValidation:rule="self != 'R8008'",message="R8008 (admin access role) may not break glass"
	// +listType=set
	// +required
	AllowedRoles []string `json:"allowedRoles"`

	// MaxDuration is how long one override lasts, at most 24h.
	// +kubebuilder:default="1h"
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) > duration('0s') && duration(self) <= duration('24h')",message="must be a duration between 0s and 24h written like 1h, 30m or 1h30m"
	// +optional
	MaxDuration string `json:"maxDuration,omitempty"`
}

// EffectiveGrant is a grant as it is enforced: the policy's grant
// intersected with the active agreement.
type EffectiveGrant struct {
	// Categories enforced.
	// +listType=set
	Categories []DataCategory `json:"categories"`
	// Actions enforced.
	// +listType=set
	Actions []Action `json:"actions"`
}

// AccessPolicyStatus is the observed state of an AccessPolicy.
type AccessPolicyStatus struct {
	// Conditions: Ready (the policy is in force under an Active agreement)
	// and ScopeNarrowed (part of the policy exceeds the agreement and is not
	// enforced).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// AgreementVersion is the version of the agreement the policy is
	// enforced under.
	// +optional
	AgreementVersion int32 `json:"agreementVersion,omitempty"`

	// RolesDisplay is spec.subjects.roles, comma-separated, for the Roles
	// printer column (a column's JSONPath writes a list as JSON). Display
	// only: nothing reads it.
	// +optional
	RolesDisplay string `json:"rolesDisplay,omitempty"`

	// EffectiveGrants are what is enforced.
	// +listType=atomic
	// +optional
	EffectiveGrants []EffectiveGrant `json:"effectiveGrants,omitempty"`

	// DroppedCategories are categories the policy names that the agreement
	// does not cover; they are not enforced.
	// +listType=set
	// +optional
	DroppedCategories []DataCategory `json:"droppedCategories,omitempty"`

	// ObservedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// AccessPolicy says which roles of which member organisations may read which
// categories of records, for which purposes, under an agreement.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ap;accesspol,categories=shcr
// +kubebuilder:printcolumn:name="Agreement",type=string,JSONPath=`.spec.agreementId`
// +kubebuilder:printcolumn:name="Version",type=integer,JSONPath=`.status.agreementVersion`
// +kubebuilder:printcolumn:name="Roles",type=string,JSONPath=`.status.rolesDisplay`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Narrowed",type=string,JSONPath=`.status.conditions[?(@.type=="ScopeNarrowed")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AccessPolicy struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is a standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the policy as written.
	// +required
	Spec AccessPolicySpec `json:"spec"`

	// status is the observed state of the policy.
	// +optional
	Status AccessPolicyStatus `json:"status,omitzero"`
}

// AccessPolicyList is a list of AccessPolicies.
// +kubebuilder:object:root=true
type AccessPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []AccessPolicy `json:"items"`
}

func init() {
	register(&AccessPolicy{}, &AccessPolicyList{})
}
