/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package conditions

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

func cond(t, reason string, status metav1.ConditionStatus) metav1.Condition {
	return metav1.Condition{Type: t, Status: status, Reason: reason}
}

// A new organisation's normal onboarding makes one Event (Ready); problems
// and changes of a condition already reported make one each.
func TestRecordTransitionsOnlyWhatIsWorthAnEvent(t *testing.T) {
	T, F := metav1.ConditionTrue, metav1.ConditionFalse
	cases := []struct {
		name          string
		before, after []metav1.Condition
		want          []string // "<type> <reason>" of each Event, in order
	}{{
		name: "first reconcile of a new organisation: waiting for its connector",
		after: []metav1.Condition{
			cond(shcrv1alpha1.ConditionAdmitted, "StandardsMet", T), cond(shcrv1alpha1.ConditionCredentialsFound, "Found", T),
			cond(shcrv1alpha1.ConditionConnectorAvailable, shcrv1alpha1.ReasonRollingOut, F),
			cond(shcrv1alpha1.ConditionReady, shcrv1alpha1.ReasonRollingOut, F),
			cond(shcrv1alpha1.ConditionReconciling, shcrv1alpha1.ReasonProgressing, T),
		},
	}, {
		name: "its connector becomes available",
		before: []metav1.Condition{
			cond(shcrv1alpha1.ConditionConnectorAvailable, shcrv1alpha1.ReasonRollingOut, F), cond(shcrv1alpha1.ConditionReady, shcrv1alpha1.ReasonRollingOut, F),
		},
		after: []metav1.Condition{
			cond(shcrv1alpha1.ConditionConnectorAvailable, shcrv1alpha1.ReasonAvailable, T), cond(shcrv1alpha1.ConditionReady, shcrv1alpha1.ReasonReady, T),
		},
		want: []string{"Normal Ready"},
	}, {
		name: "a policy created before its agreement is Active, then in force",
		after: []metav1.Condition{
			cond(shcrv1alpha1.ConditionInForce, shcrv1alpha1.ReasonAgreementNotActive, F),
			cond(shcrv1alpha1.ConditionScopeNarrowed, shcrv1alpha1.ReasonWithinScope, F),
			cond(shcrv1alpha1.ConditionReady, shcrv1alpha1.ReasonAgreementNotActive, F),
		},
	}, {
		name:   "the connector recovers while the organisation stays Ready",
		before: []metav1.Condition{cond(shcrv1alpha1.ConditionConnectorAvailable, shcrv1alpha1.ReasonApplyFailed, F), cond(shcrv1alpha1.ConditionReady, shcrv1alpha1.ReasonReady, T)},
		after:  []metav1.Condition{cond(shcrv1alpha1.ConditionConnectorAvailable, shcrv1alpha1.ReasonAvailable, T), cond(shcrv1alpha1.ConditionReady, shcrv1alpha1.ReasonReady, T)},
		want:   []string{"Normal Available"},
	}, {
		name:   "a policy's scope narrowed by a new agreement version",
		before: []metav1.Condition{cond(shcrv1alpha1.ConditionScopeNarrowed, shcrv1alpha1.ReasonWithinScope, F)},
		after:  []metav1.Condition{cond(shcrv1alpha1.ConditionScopeNarrowed, "Narrowed", T)},
		want:   []string{"Warning Narrowed"},
	}, {
		name:  "an organisation refused at once, and an agreement active at once",
		after: []metav1.Condition{cond(shcrv1alpha1.ConditionAdmitted, "DSPTNotMet", F), cond(shcrv1alpha1.ConditionActive, "Active", T)},
		want:  []string{"Warning DSPTNotMet", "Normal Active"},
	}, {
		name:   "a failed apply is a problem, not a rollout",
		before: []metav1.Condition{cond(shcrv1alpha1.ConditionConnectorAvailable, shcrv1alpha1.ReasonAvailable, T)},
		after:  []metav1.Condition{cond(shcrv1alpha1.ConditionConnectorAvailable, shcrv1alpha1.ReasonApplyFailed, F)},
		want:   []string{"Warning ApplyFailed"},
	}, {
		name:   "admission lost",
		before: []metav1.Condition{cond(shcrv1alpha1.ConditionAdmitted, "StandardsMet", T)},
		after:  []metav1.Condition{cond(shcrv1alpha1.ConditionAdmitted, "DSPTExpired", F)},
		want:   []string{"Warning DSPTExpired"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := events.NewFakeRecorder(10)
			RecordTransitions(rec, &corev1.ConfigMap{}, tc.before, tc.after)
			close(rec.Events)
			var got []string
			for e := range rec.Events {
				f := strings.Fields(e)
				got = append(got, f[0]+" "+f[1])
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("events %q, want %q", got, tc.want)
			}
		})
	}
}
