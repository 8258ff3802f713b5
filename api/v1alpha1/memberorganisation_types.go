/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// OrganisationType is the kind of health or care organisation a member is.
// +kubebuilder:validation:Enum=GPPractice;NHSTrust;LocalAuthority;Community;Hospice;Pharmacy;Ambulance;Other
type OrganisationType string

// OrganisationRole is what an organisation does in the region.
// +kubebuilder:validation:Enum=Provider;Consumer
type OrganisationRole string

const (
	// RoleProvider organisations contribute records.
	RoleProvider OrganisationRole = "Provider"
	// RoleConsumer organisations' staff view records.
	RoleConsumer OrganisationRole = "Consumer"
)

// MemberOrganisationSpec is a health or care organisation taking part in a region.
type MemberOrganisationSpec struct {
	// ODSCode identifies the organisation (Organisation Data Service code,
	// 3 to 6 upper-case letters and digits, for example "B86001").
	// +kubebuilder:validation:Pattern=`^[A-Z0-9]{3,6}$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.odsCode is immutable: an ODS code is never reused, so a different code is a different organisation"
	// +required
	ODSCode string `json:"odsCode"`

	// Name is the organisation's registered name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	// +required
	Name string `json:"name"`

	// Type is the kind of organisation.
	// +required
	Type OrganisationType `json:"type"`

	// Roles say whether the organisation provides records, consumes them, or both.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=2
	// +listType=set
	// +required
	Roles []OrganisationRole `json:"roles"`

	// Suspended withdraws the organisation from sharing: it provides and
	// receives nothing until cleared.
	// +optional
	Suspended bool `json:"suspended,omitempty"`
}

// MemberOrganisationStatus is the observed state of a MemberOrganisation.
type MemberOrganisationStatus struct {
	// Conditions describe the organisation's admission and readiness.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ObservedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// MemberOrganisation is an organisation onboarded into the region whose
// namespace it lives in.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=member;members;org,categories=shcr
// +kubebuilder:printcolumn:name="ODS",type=string,JSONPath=`.spec.odsCode`
// +kubebuilder:printcolumn:name="Name",type=string,JSONPath=`.spec.name`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type MemberOrganisation struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is a standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the organisation as onboarded.
	// +required
	Spec MemberOrganisationSpec `json:"spec"`

	// status is the observed state of the organisation.
	// +optional
	Status MemberOrganisationStatus `json:"status,omitzero"`
}

// MemberOrganisationList is a list of MemberOrganisations.
// +kubebuilder:object:root=true
type MemberOrganisationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []MemberOrganisation `json:"items"`
}

func init() {
	register(&MemberOrganisation{}, &MemberOrganisationList{})
}
