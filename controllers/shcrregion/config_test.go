/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package shcrregion

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/apply"
	"github.com/shcr-io/shcr-operator/internal/conditions"
	"github.com/shcr-io/shcr-operator/internal/specs"
	"github.com/shcr-io/shcr-operator/test/writes"
)

// managerConfig is the configuration of the suite's manager (built by
// kube.NewManager, as the operator's), envConfig the one it was given, and
// managerCache its cache.
var (
	managerConfig, envConfig *rest.Config
	managerCache             cache.Cache
)

// The operator's manager asks its API server for uncompressed answers
// (kube.NewManager), and leaves the configuration it was given as it was;
// every test of this suite runs against its watches.
func TestManagerAsksForUncompressedAnswers(t *testing.T) {
	if !managerConfig.DisableCompression {
		t.Errorf("the manager's client asks for compressed answers")
	}
	if envConfig.DisableCompression {
		t.Errorf("the configuration the manager was given was changed")
	}
}

// The availability of a Deployment the cache holds as metadata: known
// without a read once the operator's own apply created it (the API
// server's answer names no status writer), read once its status is
// written, and forgotten once the cache sees the Deployment deleted.
func TestDeploymentAvailabilityFollowsTheDeployment(t *testing.T) {
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "deployments-followed"}}
	if err := k8sClient.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	api := &writes.Reads{Reader: mgrReader}
	d := &conditions.Deployments{Cache: mgrClient, API: api}
	if err := d.ForgetDeleted(ctx, managerCache); err != nil {
		t.Fatal(err)
	}
	applier := &apply.Applier{Client: mgrClient, APIReader: mgrReader, Written: d.Written}
	labels := map[string]string{specs.LabelManagedBy: specs.ManagedBy, "app": "x"}
	deploy := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "connector-x", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}},
		},
	}
	if _, err := applier.Apply(ctx, deploy); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(deploy)
	waitFor(t, "the created Deployment known without a read", func() (bool, string) {
		status, reason, msg, err := d.Availability(ctx, key)
		if err != nil {
			return false, err.Error()
		}
		return msg == "the Deployment controller has not yet seen the latest spec" && status == metav1.ConditionFalse &&
			reason == shcrv1alpha1.ReasonRollingOut, string(status) + " " + reason + ": " + msg
	})
	if n := api.Count(); n != 0 {
		t.Errorf("the Deployment the apply created was read %d times", n)
	}

	// The Deployment controller's part, which envtest does not run.
	live := &appsv1.Deployment{}
	if err := k8sClient.Get(ctx, key, live); err != nil {
		t.Fatal(err)
	}
	live.Status = appsv1.DeploymentStatus{ObservedGeneration: live.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"}}}
	if err := k8sClient.Status().Update(ctx, live); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the Deployment read once its status was written", func() (bool, string) {
		status, reason, msg, err := d.Availability(ctx, key)
		if err != nil {
			return false, err.Error()
		}
		return status == metav1.ConditionTrue && d.Remembered() == 1, string(status) + " " + reason + ": " + msg
	})
	if n := api.Count(); n < 1 {
		t.Errorf("the Deployment's written status was never read")
	}

	if err := k8sClient.Delete(ctx, deploy); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deleted Deployment forgotten", func() (bool, string) {
		return d.Remembered() == 0, "still remembered"
	})
}
