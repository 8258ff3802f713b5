/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package contract

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/specs"
	"github.com/shcr-io/shcr-operator/test/fixtures"
	"github.com/shcr-io/shcr-operator/test/testenv"
)

// The regions and organisation the operator is given here. ODS codes start
// with this suite's prefix, Y6.
const (
	regionName       = "contract"
	fileRegionName   = "contract-file"
	noIdentityRegion = "contract-noid"
	memberODS        = "Y6G01"
)

var (
	operatorOnce sync.Once
	operator     *testenv.Operator
	workloads    *written
	operatorErr  error
)

// written is what the operator wrote to the API server, read back from it:
// each workload's pod spec and the ConfigMaps and Secrets it refers to.
type written struct {
	gateway, gatewayFile, connector, noIdentity workload
}

// workload is a pod spec read from the cluster and the world it runs in.
type workload struct {
	kind, name string
	pod        corev1.PodSpec
	world      World
}

// clusterWorkloads starts the whole operator on envtest (once), gives it a
// region with a complete gateway identity (Stdout audit sink: a Deployment),
// one with the File sink (a StatefulSet), one without identity, and an
// admitted member organisation, and reads back the Deployments and
// StatefulSet it writes with their ConfigMaps and Secrets.
func clusterWorkloads(t *testing.T) *written {
	t.Helper()
	operatorOnce.Do(func() {
		operator, operatorErr = testenv.StartOperator(root)
		if operatorErr != nil {
			return
		}
		if operatorErr = fixtures.CreateAssurancePanelRBAC(context.Background(), operator.Client); operatorErr != nil {
			return
		}
		workloads = onboard(t, operator)
	})
	if operatorErr != nil {
		t.Fatal(operatorErr)
	}
	if workloads == nil {
		t.Fatal("onboarding the contract regions failed (see the first test)")
	}
	return workloads
}

func onboard(t *testing.T, op *testenv.Operator) *written {
	ctx := context.Background()
	from, review := time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0)
	op.CreateRegion(t, regionName, "Contract", from, review)
	op.CreateRegion(t, fileRegionName, "Contract (File audit sink)", from, review)
	update(t, op, fileRegionName, func(r *shcrv1alpha1.ShCRRegion) { r.Spec.Audit.Sink = shcrv1alpha1.AuditSinkFile })
	op.Create(t, &shcrv1alpha1.ShCRRegion{
		ObjectMeta: metav1.ObjectMeta{Name: noIdentityRegion},
		Spec:       shcrv1alpha1.ShCRRegionSpec{DisplayName: "Contract without identity"},
	})

	ns := shcrv1alpha1.NamespaceFor(regionName)
	member := fixtures.Member(ns, "gp", memberODS, "GPPractice")
	op.Create(t, fixtures.Credentials(ns, member.Spec.Connector.CredentialsSecretRef.Name))
	op.Create(t, member)
	op.WaitCondition(t, &shcrv1alpha1.MemberOrganisation{}, ns, member.Name, shcrv1alpha1.ConditionAdmitted, metav1.ConditionTrue)
	// The GP runs a connector once an Active agreement lets it provide.
	peer := fixtures.Member(ns, "trust", "Y6T01", "NHSTrust")
	op.Create(t, fixtures.Credentials(ns, peer.Spec.Connector.CredentialsSecretRef.Name))
	op.Create(t, peer)
	op.Share(t, ns, "contract-share", "Y6-DSA-001", memberODS, "Y6T01")

	for _, r := range []string{regionName, fileRegionName, noIdentityRegion} {
		op.WaitCondition(t, &shcrv1alpha1.ShCRRegion{}, "", r, shcrv1alpha1.ConditionPolicyCompiled, metav1.ConditionTrue)
	}
	w := &written{
		gateway:     readWorkload(ctx, t, op, &appsv1.Deployment{}, ns, specs.GatewayName),
		gatewayFile: readWorkload(ctx, t, op, &appsv1.StatefulSet{}, shcrv1alpha1.NamespaceFor(fileRegionName), specs.GatewayName),
		connector:   readWorkload(ctx, t, op, &appsv1.Deployment{}, ns, specs.ConnectorName(member)),
		noIdentity:  readWorkload(ctx, t, op, &appsv1.Deployment{}, shcrv1alpha1.NamespaceFor(noIdentityRegion), specs.GatewayName),
	}
	return w
}

// update changes the region name as cluster admin, retrying conflicts.
func update(t *testing.T, op *testenv.Operator, name string, change func(*shcrv1alpha1.ShCRRegion)) {
	t.Helper()
	fixtures.WaitFor(t, "updating region "+name, 30*time.Second, func() (bool, string) {
		r := &shcrv1alpha1.ShCRRegion{}
		if err := op.Client.Get(context.Background(), client.ObjectKey{Name: name}, r); err != nil {
			return false, err.Error()
		}
		change(r)
		err := op.Client.Update(context.Background(), r)
		return err == nil, fmt.Sprint(err)
	})
}

// readWorkload waits for the operator's Deployment or StatefulSet ns/name
// and reads it, and the ConfigMaps and Secrets its pod refers to, from the
// API server. A StatefulSet's claim templates become fresh empty volumes,
// as a new claim's volume is.
func readWorkload(ctx context.Context, t *testing.T, op *testenv.Operator, obj client.Object, ns, name string) workload {
	t.Helper()
	fixtures.WaitFor(t, fmt.Sprintf("%T %s/%s written", obj, ns, name), 30*time.Second, func() (bool, string) {
		err := op.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj)
		return err == nil, fmt.Sprint(err)
	})
	var pod corev1.PodSpec
	kind := "Deployment"
	switch o := obj.(type) {
	case *appsv1.Deployment:
		pod = o.Spec.Template.Spec
	case *appsv1.StatefulSet:
		kind = "StatefulSet"
		pod = o.Spec.Template.Spec
		for _, c := range o.Spec.VolumeClaimTemplates {
			pod.Volumes = append(pod.Volumes, corev1.Volume{Name: c.Name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		}
	}
	return workload{kind: kind, name: ns + "/" + name, pod: pod, world: worldOf(ctx, t, op.Client, ns, name+"-contract", pod)}
}

// worldOf reads the ConfigMaps and Secrets pod refers to from namespace ns;
// one that does not exist is left out, so the run says the pod would never
// start.
func worldOf(ctx context.Context, t *testing.T, c client.Client, ns, podName string, pod corev1.PodSpec) World {
	t.Helper()
	w := World{ConfigMaps: map[string]*corev1.ConfigMap{}, Secrets: map[string]*corev1.Secret{}, Namespace: ns, PodName: podName}
	get := func(name string, obj client.Object) bool {
		err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj)
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		return err == nil
	}
	configMap := func(name string) {
		if cm := (&corev1.ConfigMap{}); get(name, cm) {
			w.ConfigMaps[name] = cm
		}
	}
	secret := func(name string) {
		if s := (&corev1.Secret{}); get(name, s) {
			w.Secrets[name] = s
		}
	}
	for _, v := range pod.Volumes {
		switch {
		case v.ConfigMap != nil:
			configMap(v.ConfigMap.Name)
		case v.Secret != nil:
			secret(v.Secret.SecretName)
		}
	}
	for _, ctr := range pod.Containers {
		for _, e := range ctr.Env {
			switch {
			case e.ValueFrom == nil:
			case e.ValueFrom.ConfigMapKeyRef != nil:
				configMap(e.ValueFrom.ConfigMapKeyRef.Name)
			case e.ValueFrom.SecretKeyRef != nil:
				secret(e.ValueFrom.SecretKeyRef.Name)
			}
		}
	}
	return w
}

// The gateway (as a Deployment and as a StatefulSet) and the connector the
// operator writes to the API server start from the built images, as the
// images' non-root user, with a read-only root filesystem and exactly the
// volumes, args and env read back from the cluster, and pass their probes.
func TestWorkloadsFromTheClusterPassTheirProbes(t *testing.T) {
	imgs := builtImages(t)
	w := clusterWorkloads(t)
	cases := []struct {
		image string
		w     workload
	}{
		{"gateway", w.gateway},
		{"gateway", w.gatewayFile},
		{"connector", w.connector},
	}
	for _, tc := range cases {
		t.Run(tc.w.kind+" "+tc.w.name, func(t *testing.T) {
			if err := run(t, imgs[tc.image], tc.w.pod, tc.w.world, time.Minute); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A region without spec.gateway.identity: the gateway Deployment the
// operator writes for it fails its readiness probe on a real cluster, and
// the operator says so in the region's conditions (not Ready,
// IdentityMissing, naming the fields), where envtest and kwok would show
// the workload Available.
func TestRegionWithoutIdentityFailsAndSaysSo(t *testing.T) {
	imgs := builtImages(t)
	w := clusterWorkloads(t)
	err := run(t, imgs["gateway"], w.noIdentity.pod, w.noIdentity.world, 15*time.Second)
	if err == nil || !strings.Contains(err.Error(), "readiness probe") {
		t.Fatalf("the gateway of a region without identity should fail its readiness probe, got: %v", err)
	}
	operator.WaitCondition(t, &shcrv1alpha1.ShCRRegion{}, "", noIdentityRegion, shcrv1alpha1.ConditionReady, metav1.ConditionFalse)
	r := &shcrv1alpha1.ShCRRegion{}
	if err := operator.Client.Get(context.Background(), client.ObjectKey{Name: noIdentityRegion}, r); err != nil {
		t.Fatal(err)
	}
	for _, c := range r.Status.Conditions {
		if c.Type == shcrv1alpha1.ConditionGatewayIdentity &&
			(c.Reason != shcrv1alpha1.ReasonIdentityMissing || !containsAll(c.Message, "identity.issuer", "identity.audience", "jwks")) {
			t.Errorf("GatewayIdentity should be IdentityMissing naming the fields: %s %s", c.Reason, c.Message)
		}
	}
}

// A pod spec read from the cluster and broken on purpose (a flag, a path, a
// port, a probe, a missing volume source, the user) fails the contract,
// naming it.
func TestBrokenSpecsFailTheContract(t *testing.T) {
	imgs := builtImages(t)
	gateway := clusterWorkloads(t).gateway
	broken := func(mod func(*corev1.Container, *corev1.PodSpec)) corev1.PodSpec {
		pod := *gateway.pod.DeepCopy()
		mod(&pod.Containers[0], &pod)
		return pod
	}
	replaceArg := func(c *corev1.Container, prefix, value string) {
		for i, a := range c.Args {
			if strings.HasPrefix(a, prefix) {
				c.Args[i] = prefix + value
			}
		}
	}
	withoutKeys := gateway.world
	withoutKeys.ConfigMaps = map[string]*corev1.ConfigMap{}
	for name, cm := range gateway.world.ConfigMaps {
		if name != fixtures.GatewayKeysName {
			withoutKeys.ConfigMaps[name] = cm
		}
	}
	cases := []struct {
		name  string
		pod   corev1.PodSpec
		world World
		want  string
	}{
		{"bundle flag pointing elsewhere", broken(func(c *corev1.Container, _ *corev1.PodSpec) { replaceArg(c, "--bundle-dir=", "/etc/shcr/policy") }),
			gateway.world, "readiness probe"},
		{"bundle mounted at another path", broken(func(c *corev1.Container, _ *corev1.PodSpec) {
			c.VolumeMounts[0].MountPath = "/etc/shcr/other"
		}), gateway.world, "readiness probe"},
		{"listening on another port", broken(func(c *corev1.Container, _ *corev1.PodSpec) { replaceArg(c, "--listen=", ":9090") }),
			gateway.world, "probe GET http://127.0.0.1:8080"},
		{"readiness probe on a path the gateway does not serve as ready", broken(func(c *corev1.Container, _ *corev1.PodSpec) {
			c.ReadinessProbe.HTTPGet.Path = "/ready"
		}), gateway.world, "readiness probe GET http://127.0.0.1:8080/ready"},
		{"an unknown flag", broken(func(c *corev1.Container, _ *corev1.PodSpec) {
			c.Args = append(c.Args, "--bundle=/x")
		}), gateway.world, "exited"},
		{"the issuer's keys missing", gateway.pod, withoutKeys, "ConfigMap " + fixtures.GatewayKeysName + " does not exist"},
		{"running as root", broken(func(_ *corev1.Container, p *corev1.PodSpec) {
			p.SecurityContext.RunAsUser = ptrTo[int64](0)
		}), gateway.world, "non-root user"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := run(t, imgs["gateway"], tc.pod, tc.world, 15*time.Second)
			if err == nil {
				t.Fatal("the broken spec passed the contract")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("the failure should say %q:\n%v", tc.want, err)
			}
		})
	}
}
