/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package shcrregion

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// auditClaim creates the claim the StatefulSet controller would create for
// the gateway's first replica with the File sink (envtest runs no
// controllers), labelled as the claim template says.
func auditClaim(t *testing.T, region string) *corev1.PersistentVolumeClaim {
	t.Helper()
	return firstReplicaClaim(t, region, specs.GatewayAuditVolume+"-"+specs.GatewayName+"-0", specs.ComponentGateway)
}

func fileSink(storage *shcrv1alpha1.StorageSpec) func(*shcrv1alpha1.ShCRRegion) {
	return func(r *shcrv1alpha1.ShCRRegion) {
		r.Spec.Audit.Sink = shcrv1alpha1.AuditSinkFile
		r.Spec.Audit.Storage = storage
	}
}

func TestFileSinkRunsTheGatewayAsAStatefulSetWithAnAuditVolume(t *testing.T) {
	region := readyRegion(t, "audit-file", fileSink(&shcrv1alpha1.StorageSpec{Size: resource.MustParse("20Gi")}))
	ns := shcrv1alpha1.NamespaceFor(region.Name)

	sts := &appsv1.StatefulSet{}
	mustGet(t, client.ObjectKey{Namespace: ns, Name: specs.GatewayName}, sts)
	if owner := metav1.GetControllerOf(sts); owner == nil || owner.UID != region.UID {
		t.Errorf("the gateway StatefulSet is not owned by the region: %v", owner)
	}
	claim := sts.Spec.VolumeClaimTemplates[0]
	if got := claim.Spec.Resources.Requests[corev1.ResourceStorage]; claim.Name != specs.GatewayAuditVolume || got.Cmp(resource.MustParse("20Gi")) != 0 {
		t.Errorf("claim template %s of %s, want %s of 20Gi", claim.Name, got.String(), specs.GatewayAuditVolume)
	}
	if sts.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
		t.Errorf("audit volume claims must outlive the StatefulSet")
	}
	args := sts.Spec.Template.Spec.Containers[0].Args
	for _, want := range []string{"--audit-sink=File", "--audit-dir=" + specs.GatewayAuditDir, "--audit-retention-days=2922"} {
		if !slices.Contains(args, want) {
			t.Errorf("gateway args %v lack %s", args, want)
		}
	}
	if err := k8sClient.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: specs.GatewayName}, &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
		t.Errorf("with the File sink there must be no gateway Deployment: %v", err)
	}
	if c := getRegion(t, region.Name); !conditionTrue(c, shcrv1alpha1.ConditionGatewayAvailable) {
		t.Errorf("GatewayAvailable must follow the StatefulSet: %v", c.Status.Conditions)
	}
}

func conditionTrue(r *shcrv1alpha1.ShCRRegion, conditionType string) bool {
	for _, c := range r.Status.Conditions {
		if c.Type == conditionType {
			return c.Status == metav1.ConditionTrue
		}
	}
	return false
}

// A change of sink converges: the workload of the other kind is removed,
// GatewayAvailable follows the new one, and the audit volumes are kept.
func TestSwitchingTheAuditSinkReplacesTheGatewayWorkloadAndKeepsTheAudit(t *testing.T) {
	region := readyRegion(t, "audit-switch")
	ns := shcrv1alpha1.NamespaceFor(region.Name)
	key := client.ObjectKey{Namespace: ns, Name: specs.GatewayName}

	region.Spec.Audit.Sink = shcrv1alpha1.AuditSinkFile
	if err := k8sClient.Update(suiteCtx, region); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the gateway Deployment removed for the File sink", func() (bool, string) {
		err := k8sClient.Get(suiteCtx, key, &appsv1.Deployment{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	waitFor(t, "GatewayAvailable False until the StatefulSet rolls out",
		conditionIs(t, region.Name, shcrv1alpha1.ConditionGatewayAvailable, metav1.ConditionFalse, shcrv1alpha1.ReasonRollingOut))
	markGatewayStatefulSetAvailable(t, region.Name)
	waitFor(t, "GatewayAvailable from the StatefulSet",
		conditionIs(t, region.Name, shcrv1alpha1.ConditionGatewayAvailable, metav1.ConditionTrue, shcrv1alpha1.ReasonAvailable))
	claim := auditClaim(t, region.Name)

	region = getRegion(t, region.Name)
	region.Spec.Audit.Sink = shcrv1alpha1.AuditSinkStdout
	if err := k8sClient.Update(suiteCtx, region); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the gateway StatefulSet removed for the Stdout sink", func() (bool, string) {
		err := k8sClient.Get(suiteCtx, key, &appsv1.StatefulSet{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	markWorkloadsAvailable(t, region.Name)
	waitFor(t, "region Ready on the Deployment again",
		conditionIs(t, region.Name, shcrv1alpha1.ConditionReady, metav1.ConditionTrue, shcrv1alpha1.ReasonReady))
	mustGet(t, client.ObjectKeyFromObject(claim), claim)
	if !claim.DeletionTimestamp.IsZero() {
		t.Errorf("a change of sink must keep the audit volume")
	}
}

func TestDeleteWithRetainKeepsTheAuditVolumes(t *testing.T) {
	region := readyRegion(t, "audit-retain", fileSink(nil))
	ns := shcrv1alpha1.NamespaceFor(region.Name)
	claim := auditClaim(t, region.Name)

	if err := k8sClient.Delete(suiteCtx, region); err != nil {
		t.Fatal(err)
	}
	waitGone(t, &shcrv1alpha1.ShCRRegion{ObjectMeta: metav1.ObjectMeta{Name: region.Name}})
	waitGone(t, &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: specs.GatewayName}})
	mustGet(t, client.ObjectKeyFromObject(claim), claim)
	if !claim.DeletionTimestamp.IsZero() || claim.Labels[shcrv1alpha1.LabelRetained] != "true" || len(claim.OwnerReferences) != 0 {
		t.Errorf("the audit claim must be kept, ownerless and marked retained: labels %v owners %v deleting=%v",
			claim.Labels, claim.OwnerReferences, claim.DeletionTimestamp)
	}
}

// spec.audit.storage is refused where the product would ignore it, and
// cannot be changed where the StatefulSet could not follow.
func TestAuditStorageIsOnlyForTheFileSinkAndImmutable(t *testing.T) {
	stdout := newRegion("audit-storage-stdout", func(r *shcrv1alpha1.ShCRRegion) {
		r.Spec.Audit.Storage = &shcrv1alpha1.StorageSpec{Size: resource.MustParse("5Gi")}
	})
	err := k8sClient.Create(suiteCtx, stdout)
	if err == nil || !strings.Contains(err.Error(), "spec.audit.storage: only the File sink") {
		t.Errorf("storage with the Stdout sink: %v, want it refused naming spec.audit.storage", err)
	}

	createRegion(t, newRegion("audit-storage", fileSink(&shcrv1alpha1.StorageSpec{Size: resource.MustParse("5Gi")})))
	// The operator writes the region too (finalizer, status): retry on conflict.
	for err = apierrors.NewConflict(schema.GroupResource{}, "", nil); apierrors.IsConflict(err); {
		region := getRegion(t, "audit-storage")
		region.Spec.Audit.Storage = &shcrv1alpha1.StorageSpec{Size: resource.MustParse("50Gi"), StorageClassName: ptr.To("other")}
		err = k8sClient.Update(suiteCtx, region)
	}
	if err == nil || !strings.Contains(err.Error(), "spec.audit.storage is immutable") {
		t.Errorf("resizing the audit storage: %v, want it refused as immutable", err)
	}
}
