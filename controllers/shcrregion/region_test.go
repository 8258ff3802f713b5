/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package shcrregion

import (
	"context"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/policy"
	"github.com/shcr-io/shcr-operator/internal/specs"
	"github.com/shcr-io/shcr-operator/test/fixtures"
	"github.com/shcr-io/shcr-operator/test/writes"
)

// newRegion is a valid region named name, changed by mods.
func newRegion(name string, mods ...func(*shcrv1alpha1.ShCRRegion)) *shcrv1alpha1.ShCRRegion {
	r := &shcrv1alpha1.ShCRRegion{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: shcrv1alpha1.ShCRRegionSpec{
			DisplayName: "Test region " + name,
			ICBCode:     "QU9",
			Admins: []rbacv1.Subject{{
				Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: name + "-admins",
			}},
			Gateway: shcrv1alpha1.GatewaySpec{Identity: fixtures.GatewayIdentity(name)},
		},
	}
	for _, m := range mods {
		m(r)
	}
	return r
}

func createRegion(t *testing.T, region *shcrv1alpha1.ShCRRegion) *shcrv1alpha1.ShCRRegion {
	t.Helper()
	if err := k8sClient.Create(suiteCtx, region); err != nil {
		t.Fatalf("creating region: %v", err)
	}
	return region
}

func getRegion(t *testing.T, name string) *shcrv1alpha1.ShCRRegion {
	t.Helper()
	r := &shcrv1alpha1.ShCRRegion{}
	if err := k8sClient.Get(suiteCtx, client.ObjectKey{Name: name}, r); err != nil {
		t.Fatalf("getting region %s: %v", name, err)
	}
	return r
}

func conditionIs(t *testing.T, name, conditionType string, status metav1.ConditionStatus, reason string) func() (bool, string) {
	return func() (bool, string) {
		r := &shcrv1alpha1.ShCRRegion{}
		if err := k8sClient.Get(suiteCtx, client.ObjectKey{Name: name}, r); err != nil {
			return false, err.Error()
		}
		c := meta.FindStatusCondition(r.Status.Conditions, conditionType)
		if c == nil {
			return false, conditionType + " not set"
		}
		if c.Status != status || (reason != "" && c.Reason != reason) {
			return false, fmt.Sprintf("%s=%s reason %s: %s", c.Type, c.Status, c.Reason, c.Message)
		}
		return true, ""
	}
}

// markWorkloadsAvailable plays the part of the controller-manager, which
// envtest does not run: it reports the region's StatefulSet and Deployment as
// fully rolled out.
func markWorkloadsAvailable(t *testing.T, region string) {
	t.Helper()
	ns := shcrv1alpha1.NamespaceFor(region)
	sts := &appsv1.StatefulSet{}
	waitFor(t, "the record service StatefulSet", func() (bool, string) {
		err := k8sClient.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: specs.RecordServiceName}, sts)
		return err == nil, fmt.Sprint(err)
	})
	fixtures.StatefulSetRolledOut(sts)
	if err := k8sClient.Status().Update(suiteCtx, sts); err != nil {
		t.Fatalf("updating StatefulSet status: %v", err)
	}
	if specs.GatewayIsStatefulSet(getRegion(t, region)) {
		markGatewayStatefulSetAvailable(t, region)
		return
	}
	deploy := &appsv1.Deployment{}
	waitFor(t, "the gateway Deployment", func() (bool, string) {
		err := k8sClient.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: specs.GatewayName}, deploy)
		return err == nil, fmt.Sprint(err)
	})
	fixtures.RolledOut(deploy)
	if err := k8sClient.Status().Update(suiteCtx, deploy); err != nil {
		t.Fatalf("updating Deployment status: %v", err)
	}
}

// markGatewayStatefulSetAvailable reports the gateway's StatefulSet (the
// File audit sink) as fully rolled out.
func markGatewayStatefulSetAvailable(t *testing.T, region string) {
	t.Helper()
	sts := &appsv1.StatefulSet{}
	waitFor(t, "the gateway StatefulSet", func() (bool, string) {
		err := k8sClient.Get(suiteCtx, client.ObjectKey{Namespace: shcrv1alpha1.NamespaceFor(region), Name: specs.GatewayName}, sts)
		return err == nil, fmt.Sprint(err)
	})
	fixtures.StatefulSetRolledOut(sts)
	if err := k8sClient.Status().Update(suiteCtx, sts); err != nil {
		t.Fatalf("updating the gateway StatefulSet status: %v", err)
	}
}

func readyRegion(t *testing.T, name string, mods ...func(*shcrv1alpha1.ShCRRegion)) *shcrv1alpha1.ShCRRegion {
	t.Helper()
	createRegion(t, newRegion(name, mods...))
	markWorkloadsAvailable(t, name)
	waitFor(t, "region Ready", conditionIs(t, name, shcrv1alpha1.ConditionReady, metav1.ConditionTrue, shcrv1alpha1.ReasonReady))
	return getRegion(t, name)
}

// children lists every object a region owns, as empty objects to read into.
func children(region string) []client.Object {
	ns := shcrv1alpha1.NamespaceFor(region)
	key := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }
	return []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ResourceQuota{ObjectMeta: key(specs.QuotaName)},
		&corev1.LimitRange{ObjectMeta: key(specs.LimitRangeName)},
		&corev1.ServiceAccount{ObjectMeta: key(specs.ComponentRecordService)},
		&corev1.ServiceAccount{ObjectMeta: key(specs.ComponentGateway)},
		&rbacv1.Role{ObjectMeta: key(specs.AdminRoleName)},
		&rbacv1.RoleBinding{ObjectMeta: key(specs.AdminRoleName)},
		&networkingv1.NetworkPolicy{ObjectMeta: key(specs.NetworkPolicyDefaultDeny)},
		&networkingv1.NetworkPolicy{ObjectMeta: key(specs.NetworkPolicyDNS)},
		&networkingv1.NetworkPolicy{ObjectMeta: key(specs.NetworkPolicyRecordIn)},
		&networkingv1.NetworkPolicy{ObjectMeta: key(specs.NetworkPolicyRecordOut)},
		&networkingv1.NetworkPolicy{ObjectMeta: key(specs.NetworkPolicyGatewayIn)},
		&networkingv1.NetworkPolicy{ObjectMeta: key(specs.NetworkPolicyGatewayOut)},
		&networkingv1.NetworkPolicy{ObjectMeta: key(specs.NetworkPolicyConnectorOut)},
		&networkingv1.NetworkPolicy{ObjectMeta: key(specs.NetworkPolicyGatewayFromOperator)},
		&policyv1.PodDisruptionBudget{ObjectMeta: key(specs.ComponentRecordService)},
		&policyv1.PodDisruptionBudget{ObjectMeta: key(specs.ComponentGateway)},
		&corev1.Service{ObjectMeta: key(specs.RecordServiceName)},
		&corev1.Service{ObjectMeta: key(specs.RecordServicePodsName)},
		&corev1.Service{ObjectMeta: key(specs.GatewayName)},
		&appsv1.StatefulSet{ObjectMeta: key(specs.RecordServiceName)},
		&appsv1.Deployment{ObjectMeta: key(specs.GatewayName)},
		&corev1.ConfigMap{ObjectMeta: key(specs.PolicyBundleName)},
	}
}

func TestRegionProvisionsEveryChildOwnedByTheRegion(t *testing.T) {
	region := readyRegion(t, "provision")
	ns := shcrv1alpha1.NamespaceFor(region.Name)

	for _, child := range children(region.Name) {
		if err := k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(child), child); err != nil {
			t.Errorf("%T %s: %v", child, child.GetName(), err)
			continue
		}
		owner := metav1.GetControllerOf(child)
		if owner == nil || owner.UID != region.UID || owner.Kind != "ShCRRegion" {
			t.Errorf("%T %s: controller owner is %v, want the region %s", child, child.GetName(), owner, region.UID)
		}
		if child.GetLabels()[specs.LabelManagedBy] != specs.ManagedBy || child.GetLabels()[shcrv1alpha1.LabelRegion] != region.Name {
			t.Errorf("%T %s: labels %v lack managed-by or region", child, child.GetName(), child.GetLabels())
		}
	}

	namespace := &corev1.Namespace{}
	mustGet(t, client.ObjectKey{Name: ns}, namespace)
	for k, v := range map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted",
		"pod-security.kubernetes.io/warn":    "restricted",
		shcrv1alpha1.LabelRegion:             region.Name,
	} {
		if namespace.Labels[k] != v {
			t.Errorf("namespace label %s = %q, want %q", k, namespace.Labels[k], v)
		}
	}

	quota := &corev1.ResourceQuota{}
	mustGet(t, client.ObjectKey{Namespace: ns, Name: specs.QuotaName}, quota)
	if got := quota.Spec.Hard[corev1.ResourceRequestsCPU]; got.Cmp(resource.MustParse("8")) != 0 {
		t.Errorf("default quota requests.cpu = %s, want 8", got.String())
	}
	if got := quota.Spec.Hard[corev1.ResourceRequestsStorage]; got.Cmp(resource.MustParse("200Gi")) != 0 {
		t.Errorf("default quota requests.storage = %s, want 200Gi", got.String())
	}

	sts := &appsv1.StatefulSet{}
	mustGet(t, client.ObjectKey{Namespace: ns, Name: specs.RecordServiceName}, sts)
	if got := sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage]; got.Cmp(resource.MustParse("10Gi")) != 0 {
		t.Errorf("record service volume = %s, want the default 10Gi", got.String())
	}
	if sts.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
		t.Errorf("volume claims must outlive the StatefulSet")
	}

	binding := &rbacv1.RoleBinding{}
	mustGet(t, client.ObjectKey{Namespace: ns, Name: specs.AdminRoleName}, binding)
	if len(binding.Subjects) != 1 || binding.Subjects[0].Name != "provision-admins" {
		t.Errorf("admin binding subjects = %v, want the group provision-admins", binding.Subjects)
	}

	bundle := &corev1.ConfigMap{}
	mustGet(t, client.ObjectKey{Namespace: ns, Name: specs.PolicyBundleName}, bundle)
	decoded, err := policy.Decode([]byte(bundle.Data[specs.PolicyBundleKey]))
	if err != nil {
		t.Fatalf("the stored bundle does not decode: %v", err)
	}
	if len(decoded.Grants) != 0 {
		t.Errorf("a region with no members must grant nothing, got %d grants", len(decoded.Grants))
	}
	if want := policy.Revision([]byte(bundle.Data[specs.PolicyBundleKey])); region.Status.PolicyBundle.Revision != want {
		t.Errorf("status bundle revision = %q, want %q", region.Status.PolicyBundle.Revision, want)
	}

	if region.Status.Namespace != ns || region.Status.ObservedGeneration != region.Generation {
		t.Errorf("status namespace=%q observedGeneration=%d, want %q and %d",
			region.Status.Namespace, region.Status.ObservedGeneration, ns, region.Generation)
	}
	if region.Status.Endpoints.Gateway == "" || region.Status.Endpoints.RecordService == "" {
		t.Errorf("status endpoints not reported: %+v", region.Status.Endpoints)
	}
	for _, c := range []string{shcrv1alpha1.ConditionReconciling, shcrv1alpha1.ConditionStalled} {
		if got := meta.FindStatusCondition(region.Status.Conditions, c); got == nil || got.Status != metav1.ConditionFalse {
			t.Errorf("a Ready region must report %s=False, got %v", c, got)
		}
	}

	waitFor(t, "a Ready event on the region", func() (bool, string) {
		events := &eventsv1.EventList{}
		if err := k8sClient.List(suiteCtx, events); err != nil {
			return false, err.Error()
		}
		for _, e := range events.Items {
			if e.Regarding.UID == region.UID && e.Reason == shcrv1alpha1.ReasonReady {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d events, none Ready for the region", len(events.Items))
	})
}

// Every pod template the region creates is admitted by the API server's Pod
// Security Admission in the namespace that enforces "restricted".
func TestPodTemplatesPassRestrictedPodSecurity(t *testing.T) {
	region := readyRegion(t, "podsecurity")
	ns := shcrv1alpha1.NamespaceFor(region.Name)

	sts := &appsv1.StatefulSet{}
	mustGet(t, client.ObjectKey{Namespace: ns, Name: specs.RecordServiceName}, sts)
	deploy := &appsv1.Deployment{}
	mustGet(t, client.ObjectKey{Namespace: ns, Name: specs.GatewayName}, deploy)

	for name, tmpl := range map[string]corev1.PodTemplateSpec{"record-service": sts.Spec.Template, "gateway": deploy.Spec.Template} {
		for _, c := range tmpl.Spec.Containers {
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
				t.Errorf("%s container %s has no requests or limits: %+v", name, c.Name, c.Resources)
			}
			if c.SecurityContext == nil || !ptr.Deref(c.SecurityContext.ReadOnlyRootFilesystem, false) {
				t.Errorf("%s container %s: root filesystem is not read-only", name, c.Name)
			}
		}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-psa-check", Labels: tmpl.Labels},
			Spec:       tmpl.Spec,
		}
		// The claim-backed volume of a StatefulSet pod does not exist here;
		// an emptyDir stands in for it, which restricted allows too.
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: specs.RecordServiceDataVolume,
			VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		if err := k8sClient.Create(suiteCtx, pod, client.DryRunAll); err != nil {
			t.Errorf("%s pod template refused in a restricted namespace: %v", name, err)
		}
	}

	// And the check is real: a privileged pod is refused there.
	bad := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "privileged"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "x", Image: "busybox", SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)},
		}}},
	}
	if err := k8sClient.Create(suiteCtx, bad, client.DryRunAll); err == nil || !strings.Contains(err.Error(), "violates PodSecurity") {
		t.Errorf("a privileged pod should violate PodSecurity in %s, got %v", ns, err)
	}
}

func TestSpecChangesPropagate(t *testing.T) {
	region := readyRegion(t, "propagate")
	ns := shcrv1alpha1.NamespaceFor(region.Name)

	region.Spec.Gateway.Replicas = 4
	region.Spec.RecordService.Image = "example.org/fhir:2"
	region.Spec.Admins = append(region.Spec.Admins, rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "ig-lead@nhs.net"})
	region.Spec.Gateway.ClientNamespaces = []string{"portal"}
	region.Spec.Quota.Pods = 42
	if err := k8sClient.Update(suiteCtx, region); err != nil {
		t.Fatal(err)
	}

	waitFor(t, "the gateway scaled to 4", func() (bool, string) {
		d := &appsv1.Deployment{}
		mustGet(t, client.ObjectKey{Namespace: ns, Name: specs.GatewayName}, d)
		return *d.Spec.Replicas == 4, fmt.Sprint(*d.Spec.Replicas)
	})
	waitFor(t, "the record service image changed", func() (bool, string) {
		s := &appsv1.StatefulSet{}
		mustGet(t, client.ObjectKey{Namespace: ns, Name: specs.RecordServiceName}, s)
		return s.Spec.Template.Spec.Containers[0].Image == "example.org/fhir:2", s.Spec.Template.Spec.Containers[0].Image
	})
	waitFor(t, "the new admin bound", func() (bool, string) {
		b := &rbacv1.RoleBinding{}
		mustGet(t, client.ObjectKey{Namespace: ns, Name: specs.AdminRoleName}, b)
		return len(b.Subjects) == 2, fmt.Sprint(b.Subjects)
	})
	waitFor(t, "gateway ingress opened to the portal namespace", func() (bool, string) {
		np := &networkingv1.NetworkPolicy{}
		mustGet(t, client.ObjectKey{Namespace: ns, Name: specs.NetworkPolicyGatewayIn}, np)
		return len(np.Spec.Ingress) == 1 && len(np.Spec.Ingress[0].From) == 1, fmt.Sprint(np.Spec.Ingress)
	})
	waitFor(t, "quota pods updated", func() (bool, string) {
		q := &corev1.ResourceQuota{}
		mustGet(t, client.ObjectKey{Namespace: ns, Name: specs.QuotaName}, q)
		got := q.Spec.Hard[corev1.ResourcePods]
		return got.Value() == 42, got.String()
	})
	// A spec change makes the gateway roll out again: Ready drops until it is Available.
	waitFor(t, "region not Ready while the gateway rolls out", conditionIs(t, region.Name,
		shcrv1alpha1.ConditionGatewayAvailable, metav1.ConditionFalse, shcrv1alpha1.ReasonRollingOut))
	markWorkloadsAvailable(t, region.Name)
	waitFor(t, "region Ready again", conditionIs(t, region.Name, shcrv1alpha1.ConditionReady, metav1.ConditionTrue, ""))

	// Removing the admins leaves the binding with no one in it.
	region = getRegion(t, region.Name)
	region.Spec.Admins = nil
	if err := k8sClient.Update(suiteCtx, region); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "admins unbound", func() (bool, string) {
		b := &rbacv1.RoleBinding{}
		mustGet(t, client.ObjectKey{Namespace: ns, Name: specs.AdminRoleName}, b)
		return len(b.Subjects) == 0, fmt.Sprint(b.Subjects)
	})
}

func TestDeletedOrEditedChildrenAreRestored(t *testing.T) {
	region := readyRegion(t, "restore")
	ns := shcrv1alpha1.NamespaceFor(region.Name)

	cm := &corev1.ConfigMap{}
	mustGet(t, client.ObjectKey{Namespace: ns, Name: specs.PolicyBundleName}, cm)
	original := cm.Data[specs.PolicyBundleKey]
	cm.Data[specs.PolicyBundleKey] = `{"version":"shcr.io/policy-bundle/v1","region":"restore","grants":[{"agreement":"forged","policy":"forged"}]}`
	if err := k8sClient.Update(suiteCtx, cm); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a forged bundle replaced by the compiled one", func() (bool, string) {
		mustGet(t, client.ObjectKey{Namespace: ns, Name: specs.PolicyBundleName}, cm)
		return cm.Data[specs.PolicyBundleKey] == original, cm.Data[specs.PolicyBundleKey]
	})

	deny := &networkingv1.NetworkPolicy{}
	mustGet(t, client.ObjectKey{Namespace: ns, Name: specs.NetworkPolicyDefaultDeny}, deny)
	if err := k8sClient.Delete(suiteCtx, deny); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the default-deny policy recreated", func() (bool, string) {
		np := &networkingv1.NetworkPolicy{}
		err := k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(deny), np)
		return err == nil && np.UID != deny.UID, fmt.Sprint(err)
	})

	deploy := &appsv1.Deployment{}
	mustGet(t, client.ObjectKey{Namespace: ns, Name: specs.GatewayName}, deploy)
	deploy.Spec.Replicas = ptr.To[int32](7)
	deploy.Spec.Template.Spec.Containers[0].Image = "attacker.example/gateway:evil"
	if err := k8sClient.Update(suiteCtx, deploy); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the hand-edited gateway restored", func() (bool, string) {
		mustGet(t, client.ObjectKey{Namespace: ns, Name: specs.GatewayName}, deploy)
		img := deploy.Spec.Template.Spec.Containers[0].Image
		return *deploy.Spec.Replicas == 2 && img == specs.WithGatewayImage(region, specs.DefaultGatewayImage).Spec.Gateway.Image,
			fmt.Sprintf("replicas %d image %s", *deploy.Spec.Replicas, img)
	})

	role := &rbacv1.Role{}
	mustGet(t, client.ObjectKey{Namespace: ns, Name: specs.AdminRoleName}, role)
	role.Rules = append(role.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}})
	if err := k8sClient.Update(suiteCtx, role); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the widened admin role narrowed again", func() (bool, string) {
		mustGet(t, client.ObjectKey{Namespace: ns, Name: specs.AdminRoleName}, role)
		for _, rule := range role.Rules {
			for _, res := range rule.Resources {
				if res == "secrets" {
					return false, "secrets still granted"
				}
			}
		}
		return true, ""
	})
}

// A reconcile of a region whose children already match writes nothing: no
// apply, no status patch, no event.
func TestNoOpReconcileMakesZeroWrites(t *testing.T) {
	region := readyRegion(t, "noop")
	counted := &writes.Counter{}
	r := &Reconciler{Client: counted.Wrap(mgrClient), APIReader: mgrReader}
	r.applier, r.deployments = newApplier(r), newDeployments(r)

	// Let the manager's own reconciles settle, then reconcile twice more by hand.
	waitFor(t, "the region to settle", func() (bool, string) {
		counted.Reset()
		before := managerOps.Count()
		if _, err := r.Reconcile(suiteCtx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(region)}); err != nil {
			return false, err.Error()
		}
		return counted.Count() == 0 && managerOps.Count() == before, fmt.Sprintf("%d writes", counted.Count())
	})
	for i := range 2 {
		if _, err := r.Reconcile(suiteCtx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(region)}); err != nil {
			t.Fatal(err)
		}
		if n := counted.Count(); n != 0 {
			t.Fatalf("reconcile %d of an unchanged region made %d API writes, want 0", i+1, n)
		}
	}
}

func TestNamespaceOwnedBySomethingElseIsNotTakenOver(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: shcrv1alpha1.NamespaceFor("squatted"), Labels: map[string]string{"team": "other"}}}
	if err := k8sClient.Create(suiteCtx, ns); err != nil {
		t.Fatal(err)
	}
	createRegion(t, newRegion("squatted"))
	waitFor(t, "region stalled on the namespace conflict",
		conditionIs(t, "squatted", shcrv1alpha1.ConditionStalled, metav1.ConditionTrue, shcrv1alpha1.ReasonNamespaceConflict))
	waitFor(t, "Ready=False", conditionIs(t, "squatted", shcrv1alpha1.ConditionReady, metav1.ConditionFalse, ""))

	mustGet(t, client.ObjectKeyFromObject(ns), ns)
	if ns.Labels[specs.LabelManagedBy] != "" || len(ns.OwnerReferences) != 0 || ns.Labels["pod-security.kubernetes.io/enforce"] != "" {
		t.Errorf("the foreign namespace was changed: labels %v owners %v", ns.Labels, ns.OwnerReferences)
	}
	for _, child := range children("squatted")[1:] {
		if err := k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(child), child); !apierrors.IsNotFound(err) {
			t.Errorf("%T %s was created in a namespace the region does not own (err %v)", child, child.GetName(), err)
		}
	}
}

func TestInvalidSpecCaughtByTheReconcilerStallsTheRegion(t *testing.T) {
	createRegion(t, newRegion("badresources", func(r *shcrv1alpha1.ShCRRegion) {
		r.Spec.Gateway.Resources = &corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
		}
	}))
	waitFor(t, "InvalidSpec", conditionIs(t, "badresources", shcrv1alpha1.ConditionReady, metav1.ConditionFalse, shcrv1alpha1.ReasonInvalidSpec))
	r := getRegion(t, "badresources")
	c := meta.FindStatusCondition(r.Status.Conditions, shcrv1alpha1.ConditionReady)
	if !strings.Contains(c.Message, "spec.gateway.resources.requests[memory]") {
		t.Errorf("the message should name the field, got %q", c.Message)
	}
	if s := meta.FindStatusCondition(r.Status.Conditions, shcrv1alpha1.ConditionStalled); s == nil || s.Status != metav1.ConditionTrue {
		t.Errorf("an invalid spec must be Stalled, got %v", s)
	}
	ns := &corev1.Namespace{}
	if err := k8sClient.Get(suiteCtx, client.ObjectKey{Name: shcrv1alpha1.NamespaceFor("badresources")}, ns); !apierrors.IsNotFound(err) {
		t.Errorf("an invalid region must create nothing, namespace: %v", err)
	}
}

func mustGet(t *testing.T, key client.ObjectKey, obj client.Object) {
	t.Helper()
	if err := k8sClient.Get(context.Background(), key, obj); err != nil {
		t.Fatalf("getting %T %s: %v", obj, key, err)
	}
}

// What the CRD's rules let through but a child (or the kubelet) would refuse
// stalls the region naming its own field, before anything is created: a
// digest the image grammar allows in form but not in length, and an admin
// user of another API group.
func TestUnparseableImagesAndSubjectsStallTheRegionBeforeAnythingIsCreated(t *testing.T) {
	cases := []struct {
		region string
		mod    func(*shcrv1alpha1.ShCRRegion)
		field  string
	}{
		{"badimage-rs", func(r *shcrv1alpha1.ShCRRegion) {
			r.Spec.RecordService.Image = "hapiproject/hapi@sha256:" + strings.Repeat("a", 40)
		}, "spec.recordService.image"},
		{"badimage-gw", func(r *shcrv1alpha1.ShCRRegion) {
			r.Spec.Gateway.Image = "ghcr.io/shcr-io/shcr-gateway@sha512:" + strings.Repeat("b", 64)
		}, "spec.gateway.image"},
		{"badsubject", func(r *shcrv1alpha1.ShCRRegion) {
			r.Spec.Admins = []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: "example.org", Name: "someone"}}
		}, "spec.admins[0].apiGroup"},
	}
	for _, tc := range cases {
		t.Run(tc.region, func(t *testing.T) {
			createRegion(t, newRegion(tc.region, tc.mod))
			waitFor(t, "InvalidSpec", conditionIs(t, tc.region, shcrv1alpha1.ConditionReady, metav1.ConditionFalse, shcrv1alpha1.ReasonInvalidSpec))
			r := getRegion(t, tc.region)
			if c := meta.FindStatusCondition(r.Status.Conditions, shcrv1alpha1.ConditionReady); !strings.Contains(c.Message, tc.field) {
				t.Errorf("the message should name %s, got %q", tc.field, c.Message)
			}
			if s := meta.FindStatusCondition(r.Status.Conditions, shcrv1alpha1.ConditionStalled); s == nil || s.Status != metav1.ConditionTrue {
				t.Errorf("an invalid spec must be Stalled, got %v", s)
			}
			ns := &corev1.Namespace{}
			if err := k8sClient.Get(suiteCtx, client.ObjectKey{Name: shcrv1alpha1.NamespaceFor(tc.region)}, ns); !apierrors.IsNotFound(err) {
				t.Errorf("an invalid region must create nothing, namespace: %v", err)
			}
		})
	}
}

// A peer that does not exist is reported, and the report follows the peer
// region as it appears and goes away.
func TestPeersThatDoNotExistAreReported(t *testing.T) {
	createRegion(t, newRegion("peering", func(r *shcrv1alpha1.ShCRRegion) { r.Spec.Peers = []string{"peer-later", "peer-never"} }))
	waitFor(t, "PeersFound=False", conditionIs(t, "peering", shcrv1alpha1.ConditionPeersFound, metav1.ConditionFalse, shcrv1alpha1.ReasonPeersMissing))
	c := meta.FindStatusCondition(getRegion(t, "peering").Status.Conditions, shcrv1alpha1.ConditionPeersFound)
	if !strings.Contains(c.Message, "spec.peers") || !strings.Contains(c.Message, "peer-later, peer-never") {
		t.Errorf("the message should name the field and both missing peers, got %q", c.Message)
	}

	later := createRegion(t, newRegion("peer-later"))
	waitFor(t, "only peer-never missing", func() (bool, string) {
		c := meta.FindStatusCondition(getRegion(t, "peering").Status.Conditions, shcrv1alpha1.ConditionPeersFound)
		if c == nil || c.Status != metav1.ConditionFalse || strings.Contains(c.Message, "peer-later") || !strings.Contains(c.Message, "peer-never") {
			return false, fmt.Sprintf("%v", c)
		}
		return true, ""
	})
	never := createRegion(t, newRegion("peer-never"))
	waitFor(t, "PeersFound=True", conditionIs(t, "peering", shcrv1alpha1.ConditionPeersFound, metav1.ConditionTrue, shcrv1alpha1.ReasonPeersFound))

	if err := k8sClient.Delete(suiteCtx, later); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "PeersFound=False after the peer's deletion", func() (bool, string) {
		c := meta.FindStatusCondition(getRegion(t, "peering").Status.Conditions, shcrv1alpha1.ConditionPeersFound)
		if c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "peer-later") {
			return false, fmt.Sprintf("%v", c)
		}
		return true, ""
	})
	_ = k8sClient.Delete(suiteCtx, never)
}
