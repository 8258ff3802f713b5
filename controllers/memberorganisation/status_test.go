/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package memberorganisation

import (
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/governance"
	"github.com/shcr-io/shcr-operator/test/fixtures"
)

func newMember(roles ...shcrv1alpha1.OrganisationRole) *shcrv1alpha1.MemberOrganisation {
	return &shcrv1alpha1.MemberOrganisation{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shcr-r", Name: "gp", Generation: 6},
		Spec:       shcrv1alpha1.MemberOrganisationSpec{ODSCode: "K84001", Roles: roles},
	}
}

// condition finds a condition set for the current generation.
func condition(t *testing.T, m *shcrv1alpha1.MemberOrganisation, conditionType string) *metav1.Condition {
	t.Helper()
	return fixtures.Condition(t, m.Status.Conditions, conditionType, m.Generation)
}

// An organisation is admitted only when its governance admits it and its
// connector's credentials are present; only then does status say until
// when, and an expiry from an earlier admission never stays behind.
func TestMarkAdmission(t *testing.T) {
	expires := time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC)
	admitted := governance.Admission{Admitted: true, Reason: shcrv1alpha1.ReasonAdmitted, Message: "DSPT met", ExpiresAt: expires}
	cases := []struct {
		name          string
		admission     governance.Admission
		credentialsOK bool
		want          bool
		status        metav1.ConditionStatus
		reason        string
	}{
		{"admitted", admitted, true, true, metav1.ConditionTrue, shcrv1alpha1.ReasonAdmitted},
		{"admitted, credentials missing", admitted, false, false, metav1.ConditionFalse, shcrv1alpha1.ReasonCredentialsMissing},
		{"DSPT not met", governance.Admission{Reason: shcrv1alpha1.ReasonDSPTNotMet, Message: "not met"}, true, false,
			metav1.ConditionFalse, shcrv1alpha1.ReasonDSPTNotMet},
		{"DSPT expired, credentials missing too", governance.Admission{Reason: shcrv1alpha1.ReasonDSPTExpired, Message: "expired"}, false, false,
			metav1.ConditionFalse, shcrv1alpha1.ReasonDSPTExpired},
		{"suspended", governance.Admission{Reason: shcrv1alpha1.ReasonSuspended, Message: "suspended"}, true, false,
			metav1.ConditionFalse, shcrv1alpha1.ReasonSuspended},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newMember(shcrv1alpha1.RoleProvider)
			m.Status.AdmissionExpiresAt = &metav1.Time{Time: expires.AddDate(-1, 0, 0)}
			if got := markAdmission(m, tc.admission, tc.credentialsOK); got != tc.want {
				t.Errorf("admitted %v, want %v", got, tc.want)
			}
			c := condition(t, m, shcrv1alpha1.ConditionAdmitted)
			if c.Status != tc.status || c.Reason != tc.reason {
				t.Errorf("Admitted %s %s, want %s %s (%s)", c.Status, c.Reason, tc.status, tc.reason, c.Message)
			}
			if tc.reason != shcrv1alpha1.ReasonCredentialsMissing && c.Message != tc.admission.Message {
				t.Errorf("Admitted %q, want the admission's message %q", c.Message, tc.admission.Message)
			}
			switch got := m.Status.AdmissionExpiresAt; {
			case tc.want && (got == nil || !got.Time.Equal(expires)):
				t.Errorf("admissionExpiresAt %v, want %v", got, expires)
			case !tc.want && got != nil:
				t.Errorf("admissionExpiresAt %v kept for an organisation not admitted", got)
			}
		})
	}
}

// A refused organisation (outside a region, a duplicate ODS code, a spec
// the rules refuse) is neither Admitted nor Ready, keeps nothing it could
// provide or consume, and is Stalled with the refusal's reason.
func TestMarkRefused(t *testing.T) {
	for _, reason := range []string{shcrv1alpha1.ReasonNotInRegion, shcrv1alpha1.ReasonDuplicateODSCode, shcrv1alpha1.ReasonInvalidSpec} {
		t.Run(reason, func(t *testing.T) {
			m := newMember(shcrv1alpha1.RoleProvider, shcrv1alpha1.RoleConsumer)
			m.Status.ProvidesCategories = []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryMedications}
			m.Status.ConsumesCategories = []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryAllergies}
			m.Status.AdmissionExpiresAt = &metav1.Time{Time: time.Now()}
			setCondition(m, shcrv1alpha1.ConditionAdmitted, metav1.ConditionTrue, shcrv1alpha1.ReasonAdmitted, "was admitted")
			markRefused(m, reason, "why: "+reason)
			for _, conditionType := range []string{shcrv1alpha1.ConditionAdmitted, shcrv1alpha1.ConditionReady} {
				if c := condition(t, m, conditionType); c.Status != metav1.ConditionFalse || c.Reason != reason || c.Message != "why: "+reason {
					t.Errorf("%s %+v, want False %s", conditionType, c, reason)
				}
			}
			if m.Status.ProvidesCategories != nil || m.Status.ConsumesCategories != nil || m.Status.AdmissionExpiresAt != nil {
				t.Errorf("a refused organisation keeps %+v", m.Status)
			}
			summarise(m, reconcile.TerminalError(errors.New("why: "+reason)))
			if c := condition(t, m, shcrv1alpha1.ConditionStalled); c.Status != metav1.ConditionTrue || c.Reason != reason {
				t.Errorf("Stalled %+v, want True %s", c, reason)
			}
			if m.Status.ObservedGeneration != 0 {
				t.Errorf("observedGeneration %d after a refused reconcile", m.Status.ObservedGeneration)
			}
		})
	}
}

// Status names the connector kind and mode the operator runs only for an
// admitted Provider with a connector and a category to provide (Pull when
// the spec names no mode), and keeps what the connector last reported.
func TestShowKindAndMode(t *testing.T) {
	lag := int64(12)
	cases := []struct {
		name      string
		roles     []shcrv1alpha1.OrganisationRole
		connector *shcrv1alpha1.ConnectorSpec
		admitted  bool
		kind      shcrv1alpha1.ConnectorKind
		mode      shcrv1alpha1.ConnectorMode
		nothing   bool // no category to provide yet
	}{
		{"a provider pulling by default", []shcrv1alpha1.OrganisationRole{shcrv1alpha1.RoleProvider},
			&shcrv1alpha1.ConnectorSpec{Kind: shcrv1alpha1.ConnectorFHIR}, true, shcrv1alpha1.ConnectorFHIR, shcrv1alpha1.ConnectorPull, false},
		{"a provider receiving pushes", []shcrv1alpha1.OrganisationRole{shcrv1alpha1.RoleConsumer, shcrv1alpha1.RoleProvider},
			&shcrv1alpha1.ConnectorSpec{Kind: shcrv1alpha1.ConnectorHL7v2, Mode: shcrv1alpha1.ConnectorPush}, true,
			shcrv1alpha1.ConnectorHL7v2, shcrv1alpha1.ConnectorPush, false},
		{"not admitted", []shcrv1alpha1.OrganisationRole{shcrv1alpha1.RoleProvider},
			&shcrv1alpha1.ConnectorSpec{Kind: shcrv1alpha1.ConnectorFHIR}, false, "", "", false},
		{"a consumer only", []shcrv1alpha1.OrganisationRole{shcrv1alpha1.RoleConsumer},
			&shcrv1alpha1.ConnectorSpec{Kind: shcrv1alpha1.ConnectorFHIR}, true, "", "", false},
		{"no connector", []shcrv1alpha1.OrganisationRole{shcrv1alpha1.RoleProvider}, nil, true, "", "", false},
		{"a provider with nothing to provide yet", []shcrv1alpha1.OrganisationRole{shcrv1alpha1.RoleProvider},
			&shcrv1alpha1.ConnectorSpec{Kind: shcrv1alpha1.ConnectorFHIR}, true, "", "", true},
		{"a GP Connect practice with nothing to provide yet", []shcrv1alpha1.OrganisationRole{shcrv1alpha1.RoleProvider},
			&shcrv1alpha1.ConnectorSpec{Kind: shcrv1alpha1.ConnectorGPConnect}, true, shcrv1alpha1.ConnectorGPConnect, shcrv1alpha1.ConnectorPull, true},
	}
	for _, tc := range cases {
		for _, reported := range []bool{false, true} {
			m := newMember(tc.roles...)
			m.Spec.Connector = tc.connector
			if !tc.nothing {
				m.Status.ProvidesCategories = []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryMedications}
			}
			if reported {
				m.Status.Connector = &shcrv1alpha1.ConnectorStatus{Circuit: "closed", LagSeconds: &lag}
			}
			showKindAndMode(m, tc.admitted)
			got := m.Status.Connector
			switch {
			case tc.kind == "" && !reported && got != nil:
				t.Errorf("%s: connector status %+v where the operator runs none", tc.name, got)
			case tc.kind == "" && reported && (got.Kind != "" || got.Mode != ""):
				t.Errorf("%s: kind %s mode %s where the operator runs none", tc.name, got.Kind, got.Mode)
			case tc.kind != "" && (got == nil || got.Kind != tc.kind || got.Mode != tc.mode):
				t.Errorf("%s: connector status %+v, want %s %s", tc.name, got, tc.kind, tc.mode)
			case reported && (got.Circuit != "closed" || got.LagSeconds != &lag):
				t.Errorf("%s: the connector's report was lost: %+v", tc.name, got)
			}
		}
	}
}

// Ready summarises Admitted, CredentialsFound and ConnectorAvailable: a
// connector rolling out is progress, missing credentials wait for a person,
// and a failed reconcile sets no observedGeneration.
func TestSummarise(t *testing.T) {
	allTrue := func(m *shcrv1alpha1.MemberOrganisation) {
		for _, c := range summarised {
			setCondition(m, c, metav1.ConditionTrue, "OK", "")
		}
	}
	cases := []struct {
		name                        string
		prepare                     func(*shcrv1alpha1.MemberOrganisation)
		err                         error
		ready, reconciling, stalled metav1.ConditionStatus
		observed                    bool
	}{
		{"all true", allTrue, nil, metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionFalse, true},
		{"connector rolling out", func(m *shcrv1alpha1.MemberOrganisation) {
			allTrue(m)
			setCondition(m, shcrv1alpha1.ConditionConnectorAvailable, metav1.ConditionFalse, shcrv1alpha1.ReasonRollingOut, "0 of 1")
		}, nil, metav1.ConditionFalse, metav1.ConditionTrue, metav1.ConditionFalse, true},
		{"credentials missing", func(m *shcrv1alpha1.MemberOrganisation) {
			allTrue(m)
			setCondition(m, shcrv1alpha1.ConditionCredentialsFound, metav1.ConditionFalse, shcrv1alpha1.ReasonCredentialsMissing, "no Secret")
		}, nil, metav1.ConditionFalse, metav1.ConditionFalse, metav1.ConditionFalse, true},
		{"nothing known yet", func(*shcrv1alpha1.MemberOrganisation) {}, nil,
			metav1.ConditionFalse, metav1.ConditionTrue, metav1.ConditionFalse, true},
		{"a write failed", allTrue, errors.New("conflict"), metav1.ConditionFalse, metav1.ConditionTrue, metav1.ConditionFalse, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newMember(shcrv1alpha1.RoleProvider)
			tc.prepare(m)
			summarise(m, tc.err)
			fixtures.Health(t, m.Status.Conditions, m.Generation, tc.ready, tc.reconciling, tc.stalled)
			if (m.Status.ObservedGeneration == m.Generation) != tc.observed {
				t.Errorf("observedGeneration %d, want set %v", m.Status.ObservedGeneration, tc.observed)
			}
		})
	}
}
