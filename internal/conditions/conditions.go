/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package conditions sets status conditions and records an Event for every
// condition that changes, the same way for every kind.
package conditions

import (
	"errors"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// Set sets a condition stamped with the object's generation; the transition
// time changes only when the status does.
func Set(conds *[]metav1.Condition, generation int64, conditionType string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(conds, metav1.Condition{
		Type: conditionType, Status: status, Reason: reason, Message: message, ObservedGeneration: generation,
	})
}

// Bool is metav1.ConditionTrue or metav1.ConditionFalse.
func Bool(b bool) metav1.ConditionStatus {
	if b {
		return metav1.ConditionTrue
	}
	return metav1.ConditionFalse
}

// RecordTransitions records an Event, reason as the condition's, for each
// condition whose status or reason changed between before and after.
// Reconciling, and Stalled=False, are bookkeeping and make no Event; nor do
// the steps of a normal convergence (see eventWorthy), so that a region of
// thousands of organisations is not onboarded with thousands of Events.
func RecordTransitions(rec events.EventRecorder, obj runtime.Object, before, after []metav1.Condition) {
	if rec == nil {
		return
	}
	readyNow := becameGood(meta.FindStatusCondition(before, shcrv1alpha1.ConditionReady), meta.FindStatusCondition(after, shcrv1alpha1.ConditionReady))
	for _, c := range after {
		if c.Type == shcrv1alpha1.ConditionReconciling || (c.Type == shcrv1alpha1.ConditionStalled && c.Status == metav1.ConditionFalse) {
			continue
		}
		old := meta.FindStatusCondition(before, c.Type)
		if old != nil && old.Status == c.Status && old.Reason == c.Reason || !eventWorthy(old, c, readyNow) {
			continue
		}
		eventType := corev1.EventTypeNormal
		if !good(c) {
			eventType = corev1.EventTypeWarning
		}
		rec.Eventf(obj, nil, eventType, c.Reason, c.Type, "%s=%s: %s", c.Type, c.Status, c.Message)
	}
}

// DeploymentAvailability says whether the Deployment has rolled out its
// latest spec and is Available.
func DeploymentAvailability(d *appsv1.Deployment) (metav1.ConditionStatus, string, string) {
	if d.Name == "" {
		return metav1.ConditionFalse, shcrv1alpha1.ReasonRollingOut, "the Deployment is not yet in the cache"
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	available := false
	for _, c := range s.Conditions {
		if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
			available = true
		}
	}
	switch {
	case s.ObservedGeneration < d.Generation:
		return metav1.ConditionFalse, shcrv1alpha1.ReasonRollingOut, "the Deployment controller has not yet seen the latest spec"
	case s.UpdatedReplicas < want:
		return metav1.ConditionFalse, shcrv1alpha1.ReasonRollingOut, fmt.Sprintf("%d of %d replicas updated", s.UpdatedReplicas, want)
	case !available || s.AvailableReplicas < want:
		return metav1.ConditionFalse, shcrv1alpha1.ReasonRollingOut, fmt.Sprintf("%d of %d replicas available", s.AvailableReplicas, want)
	}
	return metav1.ConditionTrue, shcrv1alpha1.ReasonAvailable, fmt.Sprintf("%d of %d replicas available", s.AvailableReplicas, want)
}

// converging says whether a reason means the operator is still converging
// (shcrv1alpha1.ReasonClasses): Reconciling stays True.
func converging(reason string) bool {
	c := shcrv1alpha1.ClassOf(reason)
	return c == shcrv1alpha1.ClassProgressing || c == shcrv1alpha1.ClassRetrying
}

// silent says whether a reason makes no Event of its own
// (shcrv1alpha1.ReasonClasses): progress and waiting, which a normal
// onboarding passes through; their status shows them, and their end makes
// the Event.
func silent(reason string) bool {
	c := shcrv1alpha1.ClassOf(reason)
	return c == shcrv1alpha1.ClassProgressing || c == shcrv1alpha1.ClassWaiting
}

// good says whether a condition is in its healthy state: True, except for
// the abnormal-true ones (Stalled, ScopeNarrowed).
func good(c metav1.Condition) bool {
	if c.Type == shcrv1alpha1.ConditionStalled || c.Type == shcrv1alpha1.ConditionScopeNarrowed || c.Type == shcrv1alpha1.ConditionWarnings {
		return c.Status == metav1.ConditionFalse
	}
	return c.Status == metav1.ConditionTrue
}

// becameGood says whether a condition reached its healthy state in this
// update.
func becameGood(old, c *metav1.Condition) bool {
	return c != nil && good(*c) && (old == nil || !good(*old))
}

// eventWorthy says whether a condition's change from old (nil when it
// first appears) to c deserves an Event. Waiting for something else does
// not: its end does. Nor does a condition that first appears healthy, or
// becomes healthy as Ready does (readyNow): Ready's Event tells it. An
// agreement's Active is its legal effect and always has its own Event.
func eventWorthy(old *metav1.Condition, c metav1.Condition, readyNow bool) bool {
	switch {
	case c.Type == shcrv1alpha1.ConditionReady || c.Type == shcrv1alpha1.ConditionActive:
		return !silent(c.Reason)
	case silent(c.Reason):
		return false
	case good(c):
		return old != nil && !readyNow
	}
	return true
}

// Summarise sets Ready from the conditions it summarises (parts) and the
// reconcile's outcome, and Reconciling and Stalled for kstatus: Stalled when
// the reconcile ended in a terminal error, Reconciling while converging or
// retrying. It returns whether observedGeneration may be set (the reconcile
// succeeded). A Ready set to InvalidSpec by this reconcile is kept.
func Summarise(conds *[]metav1.Condition, generation int64, parts []string, reconcileErr error, readyMessage string) bool {
	set := func(t string, s metav1.ConditionStatus, reason, msg string) {
		Set(conds, generation, t, s, reason, msg)
	}
	stalled := errors.Is(reconcileErr, reconcile.TerminalError(nil))
	ready := meta.FindStatusCondition(*conds, shcrv1alpha1.ConditionReady)
	if stalled && ready != nil && ready.ObservedGeneration == generation && ready.Status == metav1.ConditionFalse &&
		ready.Reason != shcrv1alpha1.ReasonNotReady {
		set(shcrv1alpha1.ConditionStalled, metav1.ConditionTrue, ready.Reason, ready.Message)
		set(shcrv1alpha1.ConditionReconciling, metav1.ConditionFalse, ready.Reason, "")
		return false
	}

	var waiting []string
	var first *metav1.Condition
	progressing := reconcileErr != nil
	for _, t := range parts {
		c := meta.FindStatusCondition(*conds, t)
		switch {
		case c == nil:
			waiting = append(waiting, t+" is unknown")
			progressing = true
		case c.Status != metav1.ConditionTrue:
			waiting = append(waiting, fmt.Sprintf("%s: %s", t, c.Message))
			if first == nil {
				first = c
			}
			progressing = progressing || converging(c.Reason)
		}
	}
	if len(waiting) == 0 && reconcileErr == nil {
		set(shcrv1alpha1.ConditionReady, metav1.ConditionTrue, shcrv1alpha1.ReasonReady, readyMessage)
		set(shcrv1alpha1.ConditionReconciling, metav1.ConditionFalse, shcrv1alpha1.ReasonReconciled, "")
		set(shcrv1alpha1.ConditionStalled, metav1.ConditionFalse, shcrv1alpha1.ReasonReconciled, "")
		return true
	}
	if reconcileErr != nil && len(waiting) == 0 {
		waiting = append(waiting, "last reconcile failed: "+reconcileErr.Error())
	}
	reason := shcrv1alpha1.ReasonNotReady
	if first != nil {
		reason = first.Reason
	}
	message := strings.Join(waiting, "; ")
	set(shcrv1alpha1.ConditionReady, metav1.ConditionFalse, reason, message)
	if stalled {
		set(shcrv1alpha1.ConditionStalled, metav1.ConditionTrue, reason, message)
		set(shcrv1alpha1.ConditionReconciling, metav1.ConditionFalse, reason, "")
		return false
	}
	set(shcrv1alpha1.ConditionStalled, metav1.ConditionFalse, shcrv1alpha1.ReasonReconciled, "")
	if progressing {
		set(shcrv1alpha1.ConditionReconciling, metav1.ConditionTrue, shcrv1alpha1.ReasonProgressing, message)
	} else {
		set(shcrv1alpha1.ConditionReconciling, metav1.ConditionFalse, reason, "")
	}
	return reconcileErr == nil
}
