/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// ConditionRecordsPurged (MemberOrganisation) says whether the records the
// organisation provided in categories it may no longer provide have been
// removed from the region's record service. It appears with the first
// narrowing of the organisation's scope, and is not part of Ready.
const ConditionRecordsPurged = "RecordsPurged"

// Reasons of RecordsPurged.
const (
	// ReasonPurgePending: records are still to be removed, before the deadline.
	ReasonPurgePending = "PurgePending"
	// ReasonPurgeOverdue: records are still to be removed after the deadline.
	ReasonPurgeOverdue = "PurgeOverdue"
	// ReasonPurged: nothing the organisation provided outside its scope is
	// left in the record service.
	ReasonPurged = "Purged"
)

// PurgeStatus is the removal from the record service of the records an
// organisation provided in categories it may no longer provide (its
// agreements narrowed, suspended or expired, or it stopped being Admitted
// or a Provider). A Job the operator runs removes them; see
// docs/connector.md.
// It holds categories, times and counts, never a patient or record
// identifier.
type PurgeStatus struct {
	// Categories are the categories whose records are still to be removed;
	// empty once the purge has completed.
	// +listType=set
	// +optional
	Categories []DataCategory `json:"categories,omitempty"`

	// RequestedAt is when the operator saw the narrowing that the pending
	// categories come from.
	// +optional
	RequestedAt *metav1.Time `json:"requestedAt,omitempty"`

	// Deadline is when the pending categories must be gone: RequestedAt (or
	// the latest narrowing that added a category) plus the operator's purge
	// bound (--purge-bound, one hour by default). RecordsPurged turns
	// PurgeOverdue after it.
	// +optional
	Deadline *metav1.Time `json:"deadline,omitempty"`

	// CompletedAt is when the last purge completed: its Job, started once
	// the organisation's connector (where one runs) no longer forwarded the
	// categories, removed their records.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`

	// Job is the purge Job (in the region namespace) removing the pending
	// categories' records, or that removed them last; its log and the
	// AuditEvent it writes to the record service hold the counts.
	// +optional
	Job string `json:"job,omitempty"`

	// Attempts counts the Jobs of the pending purge that failed; their
	// logs say why.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
}
