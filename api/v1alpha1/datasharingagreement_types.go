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
	PhaseDraft      AgreementPhase = "Draft"
	PhasePending    AgreementPhase = "Pending"
	PhaseActive     AgreementPhase = "Active"
	PhaseExpired    AgreementPhase = "Expired"
	PhaseSuspended  AgreementPhase = "Suspended"
	PhaseSuperseded AgreementPhase = "Superseded"
	PhaseInvalid    AgreementPhase = "Invalid"
)

// DataSharingAgreementSpec is one version of a signed data sharing agreement.
type DataSharingAgreementSpec struct {
	// AgreementID identifies the agreement across its versions, for example
	// "TVS-DSA-001".
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.agreementId is immutable"
	// +required
	AgreementID string `json:"agreementId"`

	// Version of the agreement, starting at 1. A change of terms is a new
	// object with the next version.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.version is immutable"
	// +required
	Version int32 `json:"version"`

	// Title is the agreement's human title.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	// +required
	Title string `json:"title"`
}

// DataSharingAgreementStatus is the observed state of a DataSharingAgreement.
type DataSharingAgreementStatus struct {
	// Phase is derived from approvals, dates and membership; a convenience,
	// the conditions are authoritative.
	// +optional
	Phase AgreementPhase `json:"phase,omitempty"`

	// Conditions describe the agreement's lifecycle.
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
