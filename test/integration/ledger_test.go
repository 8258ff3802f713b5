/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/governance"
	"github.com/shcr-io/shcr-operator/internal/plugin/cli"
	"github.com/shcr-io/shcr-operator/internal/plugin/history"
	"github.com/shcr-io/shcr-operator/test/testenv"
)

// An approved version cannot be rewritten by deleting and re-creating it:
// the Active v1 cannot be deleted until suspended; once deleted, a v1
// re-created with wider terms and approved again is Invalid, naming the
// ledger's hash, and grants nothing; the ledger itself cannot be edited or
// deleted by a region admin, even one given write access to ConfigMaps;
// and the history still shows the deleted version.
func TestAnApprovedVersionCannotBeRewritten(t *testing.T) {
	s := newScenario(t, "ledger", "V")
	checkApprovedVersionCannotBeRewritten(t, s, func(name string) { approve(t, s, name) })
}

// The same with the operator's webhooks down, as during an outage: the
// rules are the API server's own (ValidatingAdmissionPolicies) and the
// reconciler's, so every refusal above still holds. Each party's Caldicott
// Guardian records their own approval (no webhook stamps recordedBy).
func TestAnApprovedVersionCannotBeRewrittenWithoutWebhooks(t *testing.T) {
	s := newScenarioWithCodes(t, "ledger-down", "Y7G01", "Y7T", "Y7C")
	withoutWebhooks(t, s.ns)
	checkApprovedVersionCannotBeRewritten(t, s, func(name string) {
		for _, ods := range []string{s.gp, s.trust, s.council} {
			if err := addApproval(t, s.ns, name, ods, signer{testenv.Signer(ods), []string{signatories}}); err != nil {
				t.Fatalf("approval of %s for %s without webhooks: %v", name, ods, err)
			}
		}
	})
}

// checkApprovedVersionCannotBeRewritten tries, as a region admin, to
// rewrite the scenario's Active v1; approveAll records every party's
// approval of an agreement.
func checkApprovedVersionCannotBeRewritten(t *testing.T, s *scenario, approveAll func(name string)) {
	t.Helper()
	v1 := getAgreement(t, s.ns, "dsa-v1")
	ledger := &corev1.ConfigMap{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: governance.LedgerName}, ledger); err != nil {
		t.Fatalf("the agreement ledger: %v", err)
	}
	key := governance.LedgerKey(s.agreementID, 1)
	entry, err := governance.DecodeLedgerEntry(ledger.Data[key])
	if err != nil || entry.TermsHash != v1.Status.TermsHash || entry.Object != "dsa-v1" {
		t.Fatalf("ledger entry %s = %+v (%v), want v1's terms hash %s", key, entry, err, v1.Status.TermsHash)
	}

	// A region admin, even one wrongly given every right on ConfigMaps.
	admin := configMapEditor(t, s)
	edits := []struct {
		name string
		do   func() error
	}{
		{"delete the ledger", func() error { return admin.Delete(ctx, ledger.DeepCopy()) }},
		{"change an entry", func() error {
			cm := ledger.DeepCopy()
			cm.Data[key] = governance.EncodeLedgerEntry(governance.LedgerEntry{TermsHash: "sha256:00", RecordedAt: time.Now(), Object: "dsa-v1"})
			return admin.Update(ctx, cm)
		}},
		{"remove an entry", func() error {
			cm := ledger.DeepCopy()
			delete(cm.Data, key)
			return admin.Update(ctx, cm)
		}},
		{"add an entry", func() error {
			cm := ledger.DeepCopy()
			cm.Data[governance.LedgerKey(s.agreementID, 2)] = cm.Data[key]
			return admin.Update(ctx, cm)
		}},
		{"relabel it", func() error {
			cm := ledger.DeepCopy()
			cm.Labels["shcr.io/tampered"] = "true"
			return admin.Update(ctx, cm)
		}},
	}
	for _, e := range edits {
		if err := e.do(); err == nil || !strings.Contains(err.Error(), "agreement-ledger") {
			t.Errorf("a region admin could %s: %v", e.name, err)
		}
	}
	if err := admin.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "x"}}); err != nil {
		t.Fatalf("the extra Role must let the admin write other ConfigMaps (else the refusals above prove nothing): %v", err)
	}

	// Deleting the Active v1 is refused until it is suspended.
	if err := admin.Delete(ctx, v1.DeepCopy()); err == nil || !strings.Contains(err.Error(), "suspend it first") {
		t.Fatalf("deleting the Active v1: %v, want refused", err)
	}
	update(t, &shcrv1alpha1.DataSharingAgreement{}, s.ns, "dsa-v1", func(a *shcrv1alpha1.DataSharingAgreement) {
		a.Spec.Suspended, a.Spec.SuspensionReason = true, "to be replaced"
	})
	waitPhase(t, s.ns, "dsa-v1", shcrv1alpha1.PhaseSuspended)
	if err := admin.Delete(ctx, v1.DeepCopy()); err != nil {
		t.Fatalf("deleting the suspended v1: %v", err)
	}
	// Deletion ends when the operator has released v1 (its finalizer); until
	// then v1 still holds its version and a second object is refused.
	waitFor(t, "the suspended v1 gone", func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: "dsa-v1"}, &shcrv1alpha1.DataSharingAgreement{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})

	// v1 again, with wider terms (Preferences too), approved by every party.
	wider := agreement(s.ns, "dsa-v1-again", s.agreementID, 1, append(allButPreferences, shcrv1alpha1.CategoryPreferences),
		time.Now().Add(-time.Hour), time.Now().AddDate(2, 0, 0), s.gp, s.trust, s.council)
	// The API server's admission policy reads agreements from its own
	// informer, which may still hold v1 a moment after it is gone.
	waitFor(t, "the rewritten v1 admitted once the API server has seen v1 go", func() (bool, string) {
		err := k8s.Create(ctx, wider.DeepCopy())
		if err != nil && !strings.Contains(err.Error(), "already holds agreement") {
			t.Fatalf("creating the rewritten v1: %v", err)
		}
		return err == nil, fmt.Sprint(err)
	})
	// The policy webhook judges by the versions in its cache, which may
	// still hold the old v1 a moment after it is gone.
	preferences := accessPolicy(s.ns, "preferences", s.agreementID, []string{"R8000"}, nil, shcrv1alpha1.CategoryPreferences)
	webhookVerdict(t, preferences, true, "")
	create(t, preferences)
	approveAll("dsa-v1-again")
	waitFor(t, "the rewritten v1 Invalid, naming the ledger's hash", func() (bool, string) {
		a := getAgreement(t, s.ns, "dsa-v1-again")
		c := meta.FindStatusCondition(a.Status.Conditions, shcrv1alpha1.ConditionRecorded)
		if c == nil {
			return false, string(a.Status.Phase)
		}
		return a.Status.Phase == shcrv1alpha1.PhaseInvalid && c.Reason == shcrv1alpha1.ReasonLedgerMismatch &&
				strings.Contains(c.Message, entry.TermsHash) && strings.Contains(c.Message, entry.RecordedAt.UTC().Format(time.RFC3339)),
			fmt.Sprintf("%s: %s", a.Status.Phase, c.Message)
	})
	for _, denied := range []access{
		{s.trust, "R8000", "Preferences", s.gp},
		{s.trust, "R8000", "Medications", s.gp},
	} {
		eventuallyDecides(t, s.region, denied, false, time.Time{})
	}
	if n := bundleGrantsFor(t, s.region, s.agreementID); n != 0 {
		t.Errorf("the bundle holds %d grants under the rewritten %s, want none", n, s.agreementID)
	}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(ledger), ledger); err != nil || ledger.Data[key] != governance.EncodeLedgerEntry(entry) {
		t.Errorf("the ledger's entry for v1 changed: %q (%v)", ledger.Data[key], err)
	}

	// The re-created v1 (not Active) may go; the history still shows v1.
	if err := admin.Delete(ctx, getAgreement(t, s.ns, "dsa-v1-again")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the history showing the deleted v1 from the ledger", func() (bool, string) {
		h, err := history.Load(ctx, k8s, cli.Target{Region: s.region, Namespace: s.ns}, s.agreementID)
		if err != nil {
			return false, err.Error()
		}
		if len(h.Versions) != 1 {
			return false, fmt.Sprintf("%d versions", len(h.Versions))
		}
		v := h.Versions[0]
		return v.Version == 1 && v.Deleted && v.Phase == history.PhaseDeleted && v.Ledger != nil && v.Ledger.TermsHash == entry.TermsHash,
			fmt.Sprintf("%+v", v)
	})
}

// configMapEditor is the GP's region admin, wrongly given every right on
// the ConfigMaps of the scenario's namespace: what admission policies on
// the operator's ConfigMaps must hold against.
func configMapEditor(t *testing.T, s *scenario) client.Client {
	t.Helper()
	adminUser := "admin@" + strings.ToLower(s.gp)
	create(t, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "configmap-editor"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"*"}}}})
	create(t, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "configmap-editor"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "configmap-editor"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: adminUser}}})
	admin, err := op.As(adminUser, signatories)
	if err != nil {
		t.Fatal(err)
	}
	return admin
}
