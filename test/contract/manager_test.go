/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package contract

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/kube"
	"github.com/shcr-io/shcr-operator/test/testenv"
)

// releaseNamespace is the namespace the chart is rendered for.
const releaseNamespace = "shcr-system"

// chart is the manager's Deployment as `helm template` renders it with the
// chart's defaults, and the objects it needs from the same rendering.
type chart struct {
	deployment *appsv1.Deployment
	// install are the ServiceAccount, RBAC and webhook certificate Secret,
	// created in the cluster as helm install would.
	install []*unstructured.Unstructured
	secrets map[string]*corev1.Secret
}

// renderChart renders the chart with the pinned helm (HELM).
func renderChart(t *testing.T) chart {
	t.Helper()
	helm := os.Getenv("HELM")
	if helm == "" {
		t.Fatal("HELM is not set: run with 'make test-contract'")
	}
	var stderr bytes.Buffer
	cmd := exec.Command(helm, "template", "shcr", filepath.Join(root, "charts", "shcr-operator"), "--namespace", releaseNamespace, "--kube-version", "1.37.2")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, stderr.String())
	}
	objs, err := kube.DecodeObjects(out)
	if err != nil {
		t.Fatal(err)
	}
	c := chart{secrets: map[string]*corev1.Secret{}}
	for _, o := range objs {
		switch o.GetKind() {
		case "Deployment":
			c.deployment = &appsv1.Deployment{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, c.deployment); err != nil {
				t.Fatal(err)
			}
		case "Secret":
			s := &corev1.Secret{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, s); err != nil {
				t.Fatal(err)
			}
			c.secrets[s.Name] = s
			c.install = append(c.install, o)
		case "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding":
			c.install = append(c.install, o)
		}
	}
	if c.deployment == nil {
		t.Fatal("the chart renders no Deployment")
	}
	return c
}

// managerCluster is an API server and etcd with the CRDs, no operator, and
// the chart's ServiceAccount, RBAC and Secret created in its namespace; the
// World gives the manager's pod a token of that ServiceAccount and the
// API server's address and CA, as the kubelet would.
func managerCluster(t *testing.T, ch chart) (*testenv.Cluster, World) {
	t.Helper()
	cluster, err := testenv.StartCluster(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cluster.Stop(); err != nil {
			t.Error(err)
		}
	})
	ctx := context.Background()
	if err := cluster.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: releaseNamespace}}); err != nil {
		t.Fatal(err)
	}
	for _, o := range ch.install {
		if err := cluster.Client.Create(ctx, o); err != nil {
			t.Fatalf("creating the chart's %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: releaseNamespace, Name: ch.deployment.Spec.Template.Spec.ServiceAccountName}}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptrTo[int64](3600)}}
	if err := cluster.Client.SubResource("token").Create(ctx, sa, req); err != nil {
		t.Fatalf("requesting a token for the chart's ServiceAccount %s: %v", sa.Name, err)
	}
	u, err := url.Parse(cluster.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	return cluster, World{
		ConfigMaps: map[string]*corev1.ConfigMap{}, Secrets: ch.secrets,
		Namespace: releaseNamespace, PodName: ch.deployment.Name + "-contract",
		ServiceAccount: &ServiceAccountToken{Token: req.Status.Token, CA: cluster.Config.CAData},
		APIServer:      u.Host,
	}
}

// runManager runs the manager's pod and holds it to its contract: its
// probes pass, and it does its work through the API server it was pointed
// at with the token it was given: it takes the leader election Lease and
// records the namespace of a region created for it.
func runManager(t *testing.T, img image, pod corev1.PodSpec, w World, cluster *testenv.Cluster, region string, bound time.Duration) error {
	t.Helper()
	c, err := start(t, img, pod, w)
	if err != nil {
		return err
	}
	defer c.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if err := c.WaitForProbes(ctx); err != nil {
		return err
	}
	if err := cluster.Client.Create(ctx, &shcrv1alpha1.ShCRRegion{
		ObjectMeta: metav1.ObjectMeta{Name: region}, Spec: shcrv1alpha1.ShCRRegionSpec{DisplayName: "Manager contract"},
	}); err != nil {
		return err
	}
	last := ""
	for {
		r := &shcrv1alpha1.ShCRRegion{}
		lease := &coordinationv1.Lease{}
		switch {
		case cluster.Client.Get(ctx, client.ObjectKey{Name: region}, r) == nil && r.Status.Namespace == shcrv1alpha1.NamespaceFor(region) &&
			cluster.Client.Get(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: "shcr-operator.shcr.io"}, lease) == nil &&
			lease.Spec.HolderIdentity != nil:
			return nil
		default:
			last = fmt.Sprintf("region status namespace %q, lease holder %v", r.Status.Namespace, lease.Spec.HolderIdentity)
		}
		select {
		case <-c.Exited():
			return fmt.Errorf("the manager exited after passing its probes:\n%s", c.Log())
		case <-ctx.Done():
			return fmt.Errorf("the manager did not reconcile region %s through the API server (%s); log:\n%s", region, last, c.Log())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// The manager's Deployment from the chart runs from the built image as the
// chart's user, with the chart's exact args and env, its webhook
// certificate Secret and the service account token the kubelet mounts,
// against a real API server given as KUBERNETES_SERVICE_HOST/PORT: it
// passes its probes and does its work with the chart's RBAC. Broken on
// purpose (certificates mounted elsewhere, no token), it fails, saying how.
func TestManagerFromTheChart(t *testing.T) {
	imgs := builtImages(t)
	ch := renderChart(t)
	cluster, world := managerCluster(t, ch)
	pod := ch.deployment.Spec.Template.Spec

	t.Run("as rendered", func(t *testing.T) {
		if err := runManager(t, imgs["manager"], pod, world, cluster, "manager-contract", 2*time.Minute); err != nil {
			t.Fatal(err)
		}
	})

	broken := func(mod func(*corev1.PodSpec)) corev1.PodSpec {
		p := *pod.DeepCopy()
		mod(&p)
		return p
	}
	cases := []struct {
		name string
		pod  corev1.PodSpec
		want []string
	}{
		{"webhook certificates mounted at another path", broken(func(p *corev1.PodSpec) {
			i := slices.IndexFunc(p.Containers[0].VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == "webhook-certs" })
			if i < 0 {
				t.Fatal("the chart's manager mounts no webhook-certs volume")
			}
			p.Containers[0].VolumeMounts[i].MountPath = "/etc/webhook-certs"
		}), []string{"exited", "tls.crt"}},
		{"no service account token mounted", broken(func(p *corev1.PodSpec) {
			p.AutomountServiceAccountToken = ptrTo(false)
		}), []string{"exited", "in-cluster"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := runManager(t, imgs["manager"], tc.pod, world, cluster, fmt.Sprintf("manager-broken-%d", i), 30*time.Second)
			if err == nil {
				t.Fatal("the broken spec passed the contract")
			}
			if !containsAll(err.Error(), tc.want...) {
				t.Errorf("the failure should say %q:\n%v", strings.Join(tc.want, `" and "`), err)
			}
		})
	}
}
