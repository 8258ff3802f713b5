/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package integration

import (
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// With the operator's mutating webhook gone (operator down, or bypassed), a
// client cannot put someone else's name on an approval: the admission
// policy inside the API server refuses it, and accepts only the requester.
func TestApprovalIdentityHoldsWithoutTheWebhook(t *testing.T) {
	s := newScenario(t, "identity", "L")
	create(t, agreement(s.ns, "unsigned", "UNSIGNED-001", 1, allButPreferences, time.Now(), time.Now().AddDate(1, 0, 0), s.gp, s.trust))

	hooks := &admissionv1.MutatingWebhookConfigurationList{}
	if err := k8s.List(ctx, hooks); err != nil {
		t.Fatal(err)
	}
	for i := range hooks.Items {
		saved := hooks.Items[i].DeepCopy()
		if err := k8s.Delete(ctx, &hooks.Items[i]); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			saved.ResourceVersion, saved.UID = "", ""
			if err := k8s.Create(ctx, saved); err != nil {
				t.Errorf("restoring the webhook: %v", err)
			}
		})
	}

	signer, err := op.As("caldicott@"+strings.ToLower(s.gp), signatories)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(recordedBy string) error {
		a := &shcrv1alpha1.DataSharingAgreement{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: "unsigned"}, a); err != nil {
			return err
		}
		a.Spec.Approvals = append(a.Spec.Approvals, shcrv1alpha1.Approval{Organisation: s.gp, Signatory: "CG", Role: "CaldicottGuardian",
			Date: metav1.NewTime(time.Now().Truncate(time.Second)), RecordedBy: recordedBy})
		return signer.Update(ctx, a)
	}
	// The webhook's removal reaches the API server's cache within a moment.
	waitFor(t, "a forged approval refused", func() (bool, string) {
		err := sign("the-medical-director")
		return err != nil && strings.Contains(err.Error(), "must be recorded by the user adding it"), errString(err)
	})
	if err := sign(""); err == nil {
		t.Errorf("an approval with no recordedBy must be refused while the webhook cannot fill it in")
	}
	if err := sign("caldicott@" + strings.ToLower(s.gp)); err != nil {
		t.Errorf("an approval recorded by its own signer must be accepted: %v", err)
	}
}
