/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package integration

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// signer is a Kubernetes identity that tries to record an approval.
type signer struct {
	user   string
	groups []string
}

// addApproval adds an approval for ods to the agreement ns/name as the
// signer, sending recordedBy and recordedGroups as the signer's own (what the
// admission policy requires when no webhook stamps them).
func addApproval(t *testing.T, ns, name, ods string, as signer) error {
	t.Helper()
	c, err := op.As(as.user, as.groups...)
	if err != nil {
		t.Fatal(err)
	}
	// The operator writing status in between is a conflict: read again.
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		a := &shcrv1alpha1.DataSharingAgreement{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, a); err != nil {
			return err
		}
		a.Spec.Approvals = append(a.Spec.Approvals, shcrv1alpha1.Approval{
			Organisation: ods, Signatory: "Signatory of " + ods, Role: "CaldicottGuardian",
			Date: metav1.NewTime(time.Now().Truncate(time.Second)), RecordedBy: as.user,
		})
		return c.Update(ctx, a)
	})
}

// An approval is admitted only from a signatory of the organisation it
// approves for, with the operator's webhooks up: every other identity —
// region admins, other organisations' signatories, look-alike names — is
// refused by the API server.
func TestApprovalsOnlyFromTheOrganisationsSignatories(t *testing.T) {
	s := newScenario(t, "signers", "S")
	update(t, &shcrv1alpha1.MemberOrganisation{}, s.ns, "gp", func(m *shcrv1alpha1.MemberOrganisation) {
		m.Spec.Signatories = append(m.Spec.Signatories, shcrv1alpha1.Signatory{Kind: shcrv1alpha1.SignatoryGroup, Name: "gp-partners"})
	})
	create(t, agreement(s.ns, "signed", "SIGNED-001", 1, allButPreferences, time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0), s.gp, s.trust))

	gp := strings.ToLower(s.gp)
	for _, tc := range []struct {
		name string
		as   signer
	}{
		{"a region admin", signer{"admin@" + gp, []string{signatories}}},
		{"the other party's signatory", signer{"caldicott@" + strings.ToLower(s.trust), []string{signatories}}},
		{"a user named like the Group signatory", signer{"gp-partners", []string{signatories}}},
		{"a group named like the User signatory", signer{"someone", []string{signatories, "caldicott@" + gp}}},
		{"the User signatory's name in another case", signer{"CALDICOTT@" + gp, []string{signatories}}},
		{"the Group signatory's name in another case", signer{"someone", []string{signatories, "GP-Partners"}}},
	} {
		err := addApproval(t, s.ns, "signed", s.gp, tc.as)
		if err == nil || !strings.Contains(err.Error(), "may not approve for "+s.gp) {
			t.Errorf("%s: approving for %s: %v, want a refusal naming the organisation", tc.name, s.gp, err)
		}
	}
	// The Group was added just now: admitted once the operator has granted it.
	waitFor(t, "a member of a Group signatory admitted", func() (bool, string) {
		err := addApproval(t, s.ns, "signed", s.gp, signer{"partner@" + gp, []string{signatories, "gp-partners"}})
		return err == nil, errString(err)
	})
	if err := addApproval(t, s.ns, "signed", s.trust, signer{"caldicott@" + strings.ToLower(s.trust), []string{signatories}}); err != nil {
		t.Errorf("a User signatory must be admitted: %v", err)
	}
	waitPhase(t, s.ns, "signed", shcrv1alpha1.PhaseActive)
	a := getAgreement(t, s.ns, "signed")
	if a.Spec.Approvals[0].RecordedBy != "partner@"+gp || !strings.Contains(strings.Join(a.Spec.Approvals[0].RecordedGroups, ","), "gp-partners") {
		t.Errorf("the approval must record its requester and groups, got %q %v", a.Spec.Approvals[0].RecordedBy, a.Spec.Approvals[0].RecordedGroups)
	}
}

// Who may sign is itself guarded: a region admin can neither add themself
// to an organisation's signatories nor onboard an organisation with
// signatories; a current signatory may hand over.
func TestOnlySignatoriesOrTheRegionOwnerSetSignatories(t *testing.T) {
	s := newScenario(t, "handover", "U")
	admin, err := op.As("admin@"+strings.ToLower(s.gp), signatories)
	if err != nil {
		t.Fatal(err)
	}
	m := &shcrv1alpha1.MemberOrganisation{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: "gp"}, m); err != nil {
		t.Fatal(err)
	}
	// The operator writing status in between is a conflict: read again.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: "gp"}, m); err != nil {
			return err
		}
		m.Spec.Signatories = append(m.Spec.Signatories, shcrv1alpha1.Signatory{Kind: shcrv1alpha1.SignatoryUser, Name: "admin@" + strings.ToLower(s.gp)})
		return admin.Update(ctx, m)
	})
	if err == nil || !strings.Contains(err.Error(), "may not set who signs for") {
		t.Errorf("a region admin adding themself as signatory: %v, want refused", err)
	}
	newcomer := member(s.ns, "newcomer", "U99", shcrv1alpha1.OrganisationType("Pharmacy"))
	newcomer.Spec.Signatories = []shcrv1alpha1.Signatory{{Kind: shcrv1alpha1.SignatoryUser, Name: "admin@" + strings.ToLower(s.gp)}}
	if err := admin.Create(ctx, newcomer); err == nil || !strings.Contains(err.Error(), "may not set who signs for") {
		t.Errorf("a region admin onboarding an organisation with signatories: %v, want refused", err)
	}
	// The GP's Caldicott Guardian hands over to a successor.
	cg, err := op.As("caldicott@"+strings.ToLower(s.gp), signatories)
	if err != nil {
		t.Fatal(err)
	}
	err = updateAs(cg, m, s.ns, "gp", func(m *shcrv1alpha1.MemberOrganisation) {
		m.Spec.Signatories = []shcrv1alpha1.Signatory{{Kind: shcrv1alpha1.SignatoryUser, Name: "successor@" + strings.ToLower(s.gp)}}
	})
	if err != nil {
		t.Errorf("a signatory handing over must be admitted: %v", err)
	}
}

// withoutWebhooks removes the operator's admission webhooks for the rest of
// the test, as during an outage, and waits until the API server no longer
// calls them: an agreement naming a non-member, which the webhook refuses,
// is then admitted.
func withoutWebhooks(t *testing.T, ns string) {
	t.Helper()
	mutating := &admissionv1.MutatingWebhookConfigurationList{}
	validating := &admissionv1.ValidatingWebhookConfigurationList{}
	if err := k8s.List(ctx, mutating); err != nil {
		t.Fatal(err)
	}
	if err := k8s.List(ctx, validating); err != nil {
		t.Fatal(err)
	}
	var saved []client.Object
	for i := range mutating.Items {
		saved = append(saved, &mutating.Items[i])
	}
	for i := range validating.Items {
		saved = append(saved, &validating.Items[i])
	}
	for _, obj := range saved {
		keep := obj.DeepCopyObject().(client.Object)
		if err := k8s.Delete(ctx, obj); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			keep.SetResourceVersion("")
			keep.SetUID("")
			if err := k8s.Create(ctx, keep); err != nil {
				t.Errorf("restoring webhook %s: %v", keep.GetName(), err)
			}
		})
	}
	probe := agreement(ns, "webhook-probe", "PROBE-001", 1, allButPreferences, time.Now(), time.Now().AddDate(1, 0, 0), "ZP999", "ZQ999")
	waitFor(t, "the webhooks gone", func() (bool, string) {
		err := k8s.Create(ctx, probe.DeepCopy())
		return err == nil, errString(err)
	})
}

// withoutValidatingWebhook removes one of the operator's validating
// webhooks, by name, for the rest of the test; the caller waits for the
// API server to stop calling it by retrying what it refused.
func withoutValidatingWebhook(t *testing.T, name string) {
	t.Helper()
	list := &admissionv1.ValidatingWebhookConfigurationList{}
	if err := k8s.List(ctx, list); err != nil {
		t.Fatal(err)
	}
	for i := range list.Items {
		cfg := &list.Items[i]
		kept := slices.DeleteFunc(slices.Clone(cfg.Webhooks), func(w admissionv1.ValidatingWebhook) bool { return w.Name == name })
		if len(kept) == len(cfg.Webhooks) {
			continue
		}
		original := slices.Clone(cfg.Webhooks)
		cfg.Webhooks = kept
		if err := k8s.Update(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		key := client.ObjectKeyFromObject(cfg)
		t.Cleanup(func() {
			live := &admissionv1.ValidatingWebhookConfiguration{}
			if err := k8s.Get(ctx, key, live); err != nil {
				t.Errorf("restoring webhook %s: %v", name, err)
				return
			}
			live.Webhooks = original
			if err := k8s.Update(ctx, live); err != nil {
				t.Errorf("restoring webhook %s: %v", name, err)
			}
		})
		return
	}
	t.Fatalf("no validating webhook named %s", name)
}

// With the operator's webhooks down the API server still refuses a
// non-signatory's approval; an approval the policy cannot check (for an ODS
// code that no member held when it was recorded) is admitted but never
// counted, and the agreement's status says so, naming the organisation.
func TestApprovalsWithoutWebhooks(t *testing.T) {
	s := newScenario(t, "unhooked", "T")
	withoutWebhooks(t, s.ns)

	create(t, agreement(s.ns, "early", "EARLY-001", 1, allButPreferences, time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0), s.gp, "T77", s.trust))
	create(t, accessPolicy(s.ns, "early-clinicians", "EARLY-001", []string{"R8000"}, nil, allButPreferences...))
	gp := strings.ToLower(s.gp)
	mallory := signer{"admin@" + gp, []string{signatories}}
	waitFor(t, "a non-signatory's approval refused", func() (bool, string) {
		err := addApproval(t, s.ns, "early", s.gp, mallory)
		return err != nil && strings.Contains(err.Error(), "may not approve for "+s.gp), errString(err)
	})
	if err := addApproval(t, s.ns, "early", s.gp, signer{"caldicott@" + gp, []string{signatories}}); err != nil {
		t.Fatalf("a signatory's approval must be admitted without webhooks: %v", err)
	}
	// Nor can anyone claim groups they are not in, which would count once
	// such a group signs for the organisation: not even a signatory, whose
	// approval for its own organisation passes every other check.
	caldicott := signer{"caldicott@" + gp, []string{signatories}}
	forger, err := op.As(caldicott.user, caldicott.groups...)
	if err != nil {
		t.Fatal(err)
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		forged := getAgreement(t, s.ns, "early")
		forged.Spec.Approvals = append(forged.Spec.Approvals, shcrv1alpha1.Approval{Organisation: s.gp, Signatory: "X", Role: "DPO",
			Date: metav1.NewTime(time.Now().Truncate(time.Second)), RecordedBy: caldicott.user, RecordedGroups: []string{"t77-signers"}})
		return forger.Update(ctx, forged)
	})
	if err == nil || !strings.Contains(err.Error(), "must be recorded by the user adding it") {
		t.Errorf("recordedGroups the requester is not in: %v, want refused", err)
	}
	// T77 is no member: nobody holds the permission to approve for it, so
	// the API server refuses every approval for it, whoever sends it.
	if err := addApproval(t, s.ns, "early", "T77", mallory); err == nil || !strings.Contains(err.Error(), "may not approve for T77") {
		t.Errorf("approving for a code no member holds: %v, want refused naming it", err)
	}
	// T77 joins, with its own signatory, who may approve once the operator
	// has granted it (a second or so after the organisation is created).
	late := member(s.ns, "late", "T77", shcrv1alpha1.OrganisationType("Hospice"))
	create(t, credentials(s.ns, late.Spec.Connector.CredentialsSecretRef.Name))
	create(t, late)
	waitCondition(t, &shcrv1alpha1.MemberOrganisation{}, s.ns, "late", shcrv1alpha1.ConditionAdmitted, metav1.ConditionTrue)
	waitFor(t, "T77's signatory's approval admitted", func() (bool, string) {
		err := addApproval(t, s.ns, "early", "T77", signer{"caldicott@t77", []string{signatories}})
		return err == nil, errString(err)
	})
	// T77's signatory hands over before the version is approved by every
	// party: the approval already stored stays in the spec but no longer
	// counts (its recorder is not a signatory any more).
	cg, err := op.As("caldicott@t77", signatories)
	if err != nil {
		t.Fatal(err)
	}
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		m := &shcrv1alpha1.MemberOrganisation{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: "late"}, m); err != nil {
			return err
		}
		m.Spec.Signatories = []shcrv1alpha1.Signatory{{Kind: shcrv1alpha1.SignatoryUser, Name: "successor@t77"}}
		return cg.Update(ctx, m)
	}); err != nil {
		t.Fatalf("T77's signatory handing over: %v", err)
	}
	if err := addApproval(t, s.ns, "early", s.trust, signer{"caldicott@" + strings.ToLower(s.trust), []string{signatories}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the approval recorded by a signatory who left not counted", func() (bool, string) {
		a := getAgreement(t, s.ns, "early")
		c := meta.FindStatusCondition(a.Status.Conditions, shcrv1alpha1.ConditionApproved)
		if c == nil || c.ObservedGeneration != a.Generation {
			return false, "not reconciled"
		}
		return c.Status == metav1.ConditionFalse && c.Reason == shcrv1alpha1.ReasonNotSignatory &&
				strings.Contains(c.Message, "T77") && !strings.Contains(c.Message, "caldicott@t77") &&
				a.Status.Phase == shcrv1alpha1.PhaseDraft,
			fmt.Sprintf("%s %s %s: %s", a.Status.Phase, c.Status, c.Reason, c.Message)
	})
	if g := bundleGrantsFor(t, s.region, "EARLY-001"); g != 0 {
		t.Errorf("the bundle holds %d grants under EARLY-001, want none", g)
	}
	// The departed signatory's grant goes too.
	waitFor(t, "the departed signatory refused", func() (bool, string) {
		err := addApproval(t, s.ns, "early", "T77", signer{"caldicott@t77", []string{signatories}})
		return err != nil && strings.Contains(err.Error(), "may not approve for T77"), errString(err)
	})
	// The organisation's new signatory approves: now it counts.
	waitFor(t, "T77's new signatory's approval admitted", func() (bool, string) {
		err := addApproval(t, s.ns, "early", "T77", signer{"successor@t77", []string{signatories}})
		return err == nil, errString(err)
	})
	waitPhase(t, s.ns, "early", shcrv1alpha1.PhaseActive)
	waitFor(t, "grants under EARLY-001 once its signatories approved", func() (bool, string) {
		n := bundleGrantsFor(t, s.region, "EARLY-001")
		return n > 0, fmt.Sprintf("%d grants", n)
	})
}

// bundleGrantsFor counts the grants the region's bundle holds under one agreement.
func bundleGrantsFor(t *testing.T, region, agreementID string) int {
	t.Helper()
	n := 0
	for _, g := range bundle(t, region).Grants {
		if g.Agreement == agreementID {
			n++
		}
	}
	return n
}

// A region admin cannot take an organisation's signatories grant: the API
// server's RBAC refuses a binding to it, new or edited, from anyone who does
// not already hold approve on that code. A binding a cluster admin edits by
// hand is put back to the spec's signatories by the operator.
func TestSignatoriesGrantCannotBeTakenByARegionAdmin(t *testing.T) {
	s := newScenarioWithCodes(t, "grant", "Z7G01", "Z7T", "Z7C")
	gp := strings.ToLower(s.gp)
	name := "shcr-signatories-gp" // the GP's MemberOrganisation is "gp"
	admin, err := op.As("admin@"+gp, signatories)
	if err != nil {
		t.Fatal(err)
	}
	granted := &rbacv1.RoleBinding{}
	waitFor(t, "the GP's signatories grant", func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: name}, granted)
		return err == nil, fmt.Sprint(err)
	})
	want := slices.Clone(granted.Subjects)
	if len(want) == 0 {
		t.Fatalf("the GP's grant binds no one: %+v", granted)
	}

	own := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "my-approvals"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "admin@" + gp}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
	}
	if err := admin.Create(ctx, own); !apierrors.IsForbidden(err) {
		t.Errorf("a region admin binding themself to the grant: %v, want forbidden", err)
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		b := &rbacv1.RoleBinding{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: name}, b); err != nil {
			return err
		}
		b.Subjects = append(b.Subjects, own.Subjects...)
		return admin.Update(ctx, b)
	})
	if !apierrors.IsForbidden(err) {
		t.Errorf("a region admin adding themself to the grant: %v, want forbidden", err)
	}

	// A cluster admin's hand edit is undone.
	update(t, &rbacv1.RoleBinding{}, s.ns, name, func(b *rbacv1.RoleBinding) { b.Subjects = append(b.Subjects, own.Subjects...) })
	waitFor(t, "the grant put back to the spec's signatories", func() (bool, string) {
		b := &rbacv1.RoleBinding{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: name}, b); err != nil {
			return false, err.Error()
		}
		return slices.Equal(b.Subjects, want), fmt.Sprint(b.Subjects)
	})
	create(t, agreement(s.ns, "grabbed", "GRAB-001", 1, allButPreferences, time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0), s.gp, s.trust))
	if err := addApproval(t, s.ns, "grabbed", s.gp, signer{"admin@" + gp, []string{signatories}}); err == nil || !strings.Contains(err.Error(), "may not approve for "+s.gp) {
		t.Errorf("the region admin approving for the GP: %v, want refused", err)
	}
}

// A GitOps apply may carry every party's approval in one request: each new
// approval is checked on its own (the API server allows two authorization
// checks per expression), so three at once are admitted from an identity
// that signs for all three, and refused, naming the organisation, from one
// that signs for only two.
func TestSeveralApprovalsInOneRequest(t *testing.T) {
	s := newScenarioWithCodes(t, "batch", "Z6G01", "Z6T", "Z6C")
	for _, name := range []string{"gp", "trust", "council"} {
		group := "joint-board"
		if name == "council" {
			group = "council-board"
		}
		update(t, &shcrv1alpha1.MemberOrganisation{}, s.ns, name, func(m *shcrv1alpha1.MemberOrganisation) {
			m.Spec.Signatories = append(m.Spec.Signatories,
				shcrv1alpha1.Signatory{Kind: shcrv1alpha1.SignatoryGroup, Name: group},
				shcrv1alpha1.Signatory{Kind: shcrv1alpha1.SignatoryGroup, Name: "all-boards"})
		})
	}
	withApprovals := func(name, user string, groups []string, codes ...string) *shcrv1alpha1.DataSharingAgreement {
		a := agreement(s.ns, name, strings.ToUpper(name), 1, allButPreferences, time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0), s.gp, s.trust, s.council)
		for _, code := range codes {
			a.Spec.Approvals = append(a.Spec.Approvals, shcrv1alpha1.Approval{Organisation: code, Signatory: "Board chair", Role: "CaldicottGuardian",
				Date: metav1.NewTime(time.Now().Truncate(time.Second)), RecordedBy: user, RecordedGroups: groups})
		}
		return a
	}
	// The groups were added just now: admitted once the operator has granted them.
	all := []string{signatories, "all-boards"}
	chair, err := op.As("chair@all-boards", all...)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three approvals in one request admitted", func() (bool, string) {
		err := chair.Create(ctx, withApprovals("three", "chair@all-boards", all, s.gp, s.trust, s.council))
		return err == nil, errString(err)
	})
	joint := []string{signatories, "joint-board"}
	board, err := op.As("chair@joint-board", joint...)
	if err != nil {
		t.Fatal(err)
	}
	err = board.Create(ctx, withApprovals("other", "chair@joint-board", joint, s.gp, s.trust, s.council))
	if err == nil || !strings.Contains(err.Error(), "may not approve for "+s.council) || strings.Contains(err.Error(), "cost") {
		t.Errorf("three approvals, one for an organisation the board does not sign for: %v, want refused naming %s", err, s.council)
	}
}
