/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AccessPolicySpec grants staff of member organisations access to records
// under a data sharing agreement. The effective grant is always the
// intersection with the agreement's active version.
type AccessPolicySpec struct {
	// AgreementID is the DataSharingAgreement this policy grants under; the
	// policy follows the agreement's active version.
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`
	// +required
	AgreementID string `json:"agreementId"`
}

// AccessPolicyStatus is the observed state of an AccessPolicy.
type AccessPolicyStatus struct {
	// Conditions describe whether the policy is in force.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

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
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
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
