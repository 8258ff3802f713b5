/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package integration

import (
	"fmt"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/test/testenv"
)

// GitOps tools read the health of all four kinds correctly: kstatus (what
// Flux and kubectl-style waiters use) computes Current, InProgress and
// Failed, and the Argo CD health script shipped in the chart, executed by a
// Lua interpreter, says Healthy, Progressing and Degraded — on real status
// objects read back from the API server.
func TestGitOpsToolsReadHealth(t *testing.T) {
	s := newScenario(t, "health", "J")

	// A Consumer-only organisation is Ready without a connector.
	viewer := member(s.ns, "hospice", "J77001", "Hospice")
	viewer.Spec.Roles = []shcrv1alpha1.OrganisationRole{shcrv1alpha1.RoleConsumer}
	viewer.Spec.Connector = nil
	create(t, viewer)
	waitCondition(t, &shcrv1alpha1.MemberOrganisation{}, s.ns, "hospice", shcrv1alpha1.ConditionReady, metav1.ConditionTrue)

	// A region whose spec the reconciler refuses is Stalled. The region
	// webhook would refuse it at the door; with that webhook down (it fails
	// open) the region is stored and the reconciler must stall it.
	withoutValidatingWebhook(t, "vshcrregion.shcr.io")
	broken := &shcrv1alpha1.ShCRRegion{
		ObjectMeta: metav1.ObjectMeta{Name: "health-broken"},
		Spec: shcrv1alpha1.ShCRRegionSpec{DisplayName: "Broken", Gateway: shcrv1alpha1.GatewaySpec{Resources: &corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
		}}},
	}
	waitFor(t, "the broken region stored once its webhook is gone", func() (bool, string) {
		err := k8s.Create(ctx, broken.DeepCopy())
		return err == nil || apierrors.IsAlreadyExists(err), errString(err)
	})
	waitCondition(t, &shcrv1alpha1.ShCRRegion{}, "", "health-broken", shcrv1alpha1.ConditionStalled, metav1.ConditionTrue)
	// A provider whose connector is still rolling out (envtest runs no
	// Deployment controller) is Reconciling.
	waitCondition(t, &shcrv1alpha1.MemberOrganisation{}, s.ns, "gp", shcrv1alpha1.ConditionReconciling, metav1.ConditionTrue)

	// An agreement in each phase a GitOps repository can hold.
	now := time.Now()
	year := now.AddDate(1, 0, 0)
	phased := func(name, id string, version int32, from, until time.Time, approved bool, mod func(*shcrv1alpha1.DataSharingAgreement)) {
		a := agreement(s.ns, name, id, version, allButPreferences, from, until, s.gp, s.trust, s.council)
		mod(a)
		create(t, a)
		if approved {
			approve(t, s, name)
		}
	}
	same := func(*shcrv1alpha1.DataSharingAgreement) {}
	phased("draft", "HEALTH-DRAFT", 1, now, year, false, same)
	phased("pending", "HEALTH-PENDING", 1, year, year.AddDate(1, 0, 0), true, same)
	phased("expired", "HEALTH-EXPIRED", 1, now.Add(-2*time.Hour), now.Add(-time.Hour), true, same)
	phased("suspended", "HEALTH-SUSPENDED", 1, now.Add(-time.Hour), year, true, func(a *shcrv1alpha1.DataSharingAgreement) {
		a.Spec.Suspended, a.Spec.SuspensionReason = true, "paused by the parties"
	})
	phased("old", "HEALTH-SUPERSEDED", 1, now.Add(-2*time.Hour), year, true, same)
	waitPhase(t, s.ns, "old", shcrv1alpha1.PhaseActive)
	phased("new", "HEALTH-SUPERSEDED", 2, now.Add(-time.Hour), year, true, func(a *shcrv1alpha1.DataSharingAgreement) { a.Spec.Supersedes = new(int32(1)) })
	for name, phase := range map[string]shcrv1alpha1.AgreementPhase{
		"draft": shcrv1alpha1.PhaseDraft, "pending": shcrv1alpha1.PhasePending, "expired": shcrv1alpha1.PhaseExpired,
		"suspended": shcrv1alpha1.PhaseSuspended, "old": shcrv1alpha1.PhaseSuperseded, "new": shcrv1alpha1.PhaseActive,
	} {
		waitPhase(t, s.ns, name, phase)
		waitFor(t, name+" status for its phase", func() (bool, string) {
			a := getAgreement(t, s.ns, name)
			return a.Status.ObservedGeneration == a.Generation && meta.FindStatusCondition(a.Status.Conditions, shcrv1alpha1.ConditionReady).Reason != shcrv1alpha1.ReasonReady ||
				phase == shcrv1alpha1.PhaseActive, fmt.Sprint(a.Status.Conditions)
		})
	}

	script, err := os.ReadFile(filepath.Join("..", "..", "charts", "shcr-operator", "argocd", "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		obj     client.Object
		kstatus status.Status
		argo    string
	}{
		{&shcrv1alpha1.MemberOrganisation{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "hospice"}}, status.CurrentStatus, "Healthy"},
		{&shcrv1alpha1.DataSharingAgreement{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "dsa-v1"}}, status.CurrentStatus, "Healthy"},
		{&shcrv1alpha1.AccessPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: s.clinicians}}, status.CurrentStatus, "Healthy"},
		{&shcrv1alpha1.MemberOrganisation{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "gp"}}, status.InProgressStatus, "Progressing"},
		{&shcrv1alpha1.ShCRRegion{ObjectMeta: metav1.ObjectMeta{Name: s.region}}, status.InProgressStatus, "Progressing"},
		{&shcrv1alpha1.ShCRRegion{ObjectMeta: metav1.ObjectMeta{Name: "health-broken"}}, status.FailedStatus, "Degraded"},
		// Agreements by phase (docs/agreements.md, "GitOps health").
		{&shcrv1alpha1.DataSharingAgreement{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "draft"}}, status.InProgressStatus, "Progressing"},
		{&shcrv1alpha1.DataSharingAgreement{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "pending"}}, status.InProgressStatus, "Progressing"},
		{&shcrv1alpha1.DataSharingAgreement{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "new"}}, status.CurrentStatus, "Healthy"},
		{&shcrv1alpha1.DataSharingAgreement{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "expired"}}, status.FailedStatus, "Degraded"},
		{&shcrv1alpha1.DataSharingAgreement{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "old"}}, status.CurrentStatus, "Suspended"},
		{&shcrv1alpha1.DataSharingAgreement{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "suspended"}}, status.CurrentStatus, "Suspended"},
	}
	for _, tc := range cases {
		name := fmt.Sprintf("%T %s", tc.obj, tc.obj.GetName())
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(tc.obj), tc.obj); err != nil {
			t.Fatal(err)
		}
		u := toUnstructured(t, tc.obj)
		result, err := status.Compute(u)
		if err != nil {
			t.Fatalf("%s: kstatus: %v", name, err)
		}
		if result.Status != tc.kstatus {
			t.Errorf("%s: kstatus %s (%s), want %s; %+v", name, result.Status, result.Message, tc.kstatus, testenv.ConditionsOf(tc.obj))
		}
		health, message := argoHealth(t, string(script), u)
		if health != tc.argo {
			t.Errorf("%s: Argo CD health %s (%s), want %s", name, health, message, tc.argo)
		}
	}
}

func toUnstructured(t *testing.T, obj client.Object) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

// argoHealth runs an Argo CD health script the way Argo CD does: the object
// as the global obj, the returned table's status and message.
func argoHealth(t *testing.T, script string, u *unstructured.Unstructured) (string, string) {
	t.Helper()
	L := lua.NewState()
	defer L.Close()
	L.SetGlobal("obj", toLua(L, u.Object))
	if err := L.DoString(script); err != nil {
		t.Fatalf("health.lua: %v", err)
	}
	ret, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("health.lua returned %v, not a table", L.Get(-1))
	}
	return L.GetField(ret, "status").String(), L.GetField(ret, "message").String()
}

func toLua(L *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case map[string]any:
		t := L.NewTable()
		for k, val := range x {
			t.RawSetString(k, toLua(L, val))
		}
		return t
	case []any:
		t := L.NewTable()
		for _, val := range x {
			t.Append(toLua(L, val))
		}
		return t
	case string:
		return lua.LString(x)
	case bool:
		return lua.LBool(x)
	case int64:
		return lua.LNumber(x)
	case float64:
		return lua.LNumber(x)
	case nil:
		return lua.LNil
	}
	return lua.LString(fmt.Sprint(v))
}
