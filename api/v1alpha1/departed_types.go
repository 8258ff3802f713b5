/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// ConditionDepartedRecordsPurged (ShCRRegion) says whether the records of
// the organisations that left the region (their MemberOrganisation
// deleted) are gone from the record service. It is not part of Ready: a
// pending purge does not stop the region serving.
const ConditionDepartedRecordsPurged = "DepartedRecordsPurged"

// Reasons of DepartedRecordsPurged.
const (
	// ReasonDepartedPurgesPending: records of organisations that left are
	// still to be removed, before the deadline.
	ReasonDepartedPurgesPending = "DepartedPurgesPending"
	// ReasonDepartedPurgesOverdue: records of an organisation that left are
	// still to be removed after the deadline.
	ReasonDepartedPurgesOverdue = "DepartedPurgesOverdue"
	// ReasonDepartedPurged: no records of an organisation that left remain
	// to be removed.
	ReasonDepartedPurged = "DepartedPurged"
)

// DepartedPurge is the removal from the record service of the records an
// organisation that left the region provided. It holds categories, times
// and counts, never a patient or record identifier.
type DepartedPurge struct {
	// ODSCode is the departed organisation's ODS code.
	ODSCode string `json:"odsCode"`

	// Categories are every category the organisation provided; their
	// records are removed.
	// +listType=set
	Categories []DataCategory `json:"categories"`

	// RequestedAt is when the region saw that the organisation had left.
	RequestedAt metav1.Time `json:"requestedAt"`

	// Deadline is when the records must be gone: RequestedAt (or the
	// latest departure that added a category) plus the operator's purge
	// bound (--purge-bound). DepartedRecordsPurged turns
	// DepartedPurgesOverdue after it.
	Deadline metav1.Time `json:"deadline"`

	// Job is the purge Job (in the region namespace) removing the records;
	// its log and the AuditEvent it writes to the record service hold the
	// counts.
	// +optional
	Job string `json:"job,omitempty"`

	// Attempts counts the Jobs of this purge that failed; their logs say
	// why.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
}
