/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package contract

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/imagebuild"
	"github.com/shcr-io/shcr-operator/internal/policy"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

func TestMain(m *testing.M) {
	if os.Getenv(ProbeEnv) != "" {
		Probe()
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "the contract test runs workloads in their own mount and network namespaces: run it as root (make test-contract)")
		os.Exit(1)
	}
	code := m.Run()
	if imagesDir != "" {
		_ = os.RemoveAll(imagesDir)
	}
	os.Exit(code)
}

var root, _ = filepath.Abs(filepath.Join("..", ".."))

// image is a workload's built image: its root filesystem, extracted once,
// and its config.
type image struct {
	rootfs string
	config v1.Config
}

var (
	imagesOnce sync.Once
	images     map[string]image
	imagesErr  error
	imagesDir  string
)

// builtImages builds the gateway and connector images as make images does
// and extracts their filesystems.
func builtImages(t *testing.T) map[string]image {
	t.Helper()
	imagesOnce.Do(func() {
		imagesDir, imagesErr = os.MkdirTemp("", "shcr-contract-")
		if imagesErr != nil {
			return
		}
		images = map[string]image{}
		opts := imagebuild.Options{ModuleRoot: root, Platforms: []string{"linux/amd64"}, Tag: "contract",
			CABundle: "/etc/ssl/certs/ca-certificates.crt", WorkDir: filepath.Join(imagesDir, "bin")}
		for _, w := range imagebuild.Workloads {
			if w.Name == "manager" {
				continue
			}
			b, err := imagebuild.Build(context.Background(), opts, w)
			if err != nil {
				imagesErr = err
				return
			}
			m, _ := b.Index.IndexManifest()
			img, err := b.Index.Image(m.Manifests[0].Digest)
			if err != nil {
				imagesErr = err
				return
			}
			cfg, err := img.ConfigFile()
			if err != nil {
				imagesErr = err
				return
			}
			dir := filepath.Join(imagesDir, w.Name)
			if imagesErr = ExtractRootFS(img, dir); imagesErr != nil {
				return
			}
			images[w.Name] = image{rootfs: dir, config: cfg.Config}
		}
	})
	if imagesErr != nil {
		t.Fatal(imagesErr)
	}
	return images
}

// run starts the pod from a fresh copy of the image's filesystem and waits
// for its probes.
func run(t *testing.T, img image, pod corev1.PodSpec, w World, bound time.Duration) error {
	t.Helper()
	work := t.TempDir()
	rootfs := filepath.Join(work, "rootfs")
	if out, err := exec.Command("cp", "-a", img.rootfs, rootfs).CombinedOutput(); err != nil {
		t.Fatalf("copying the root filesystem: %v\n%s", err, out)
	}
	c, err := Start(rootfs, work, pod, img.config, w)
	if err != nil {
		return err
	}
	defer c.Stop()
	// The bound stands for the kubelet's failure thresholds: the workloads
	// here pass their probes in about a second, so a spec that has not in
	// the bound is one the kubelet would never see Ready.
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	return c.WaitForProbes(ctx)
}

// gatewayRegion is a region whose gateway verifies tokens with keys from a
// ConfigMap, as the samples configure it.
func gatewayRegion() *shcrv1alpha1.ShCRRegion {
	r := &shcrv1alpha1.ShCRRegion{}
	r.Name, r.UID = "contract", "uid-contract"
	r.Spec.Gateway = shcrv1alpha1.GatewaySpec{Replicas: 2, Identity: shcrv1alpha1.GatewayIdentity{
		Issuer: "https://issuer.example.nhs.uk", Audience: "contract",
		JWKS: &shcrv1alpha1.ConfigMapKeyReference{Name: "keys", Key: "jwks.json"},
	}}
	r.Spec.Audit.Sink = shcrv1alpha1.AuditSinkStdout
	return r
}

// gatewayWorld is the ConfigMaps the operator and the region's admin make:
// the compiled (empty) policy bundle and the issuer's keys.
func gatewayWorld(t *testing.T, region *shcrv1alpha1.ShCRRegion) World {
	t.Helper()
	encoded, err := policy.Compile(policy.Input{Region: region.Name}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	stored, err := policy.Store(encoded)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	return World{ConfigMaps: map[string]*corev1.ConfigMap{
		specs.PolicyBundleName: specs.PolicyBundleConfigMap(region, stored),
		"keys":                 {Data: map[string]string{"jwks.json": string(jwks)}},
	}}
}

func connectorMember() *shcrv1alpha1.MemberOrganisation {
	m := &shcrv1alpha1.MemberOrganisation{}
	m.Name, m.Namespace, m.UID = "gp", shcrv1alpha1.NamespaceFor("contract"), "uid-gp"
	m.Spec.ODSCode = "A81001"
	m.Spec.Connector = &shcrv1alpha1.ConnectorSpec{
		Kind: shcrv1alpha1.ConnectorKind("FHIR"), Endpoint: "https://fhir.gp.example.nhs.uk/R4", NetworkRanges: []string{"192.0.2.0/24"},
		CredentialsSecretRef: shcrv1alpha1.LocalSecretReference{Name: "gp-creds"}, Mode: shcrv1alpha1.ConnectorMode("Pull"), Schedule: "15m",
	}
	return m
}

func connectorWorld(member *shcrv1alpha1.MemberOrganisation) World {
	return World{
		ConfigMaps: map[string]*corev1.ConfigMap{
			specs.ConnectorName(member): specs.ConnectorConfigMap("contract", member, []string{"Medications"}),
		},
		Secrets: map[string]*corev1.Secret{
			"gp-creds": {Data: map[string][]byte{"client-id": []byte("id"), "client-secret": []byte("secret")}},
		},
	}
}

// The gateway and connector Deployments the operator writes start from the
// built images, as the images' non-root user, with a read-only root
// filesystem, and pass their own probes.
func TestWorkloadsPassTheirProbes(t *testing.T) {
	imgs := builtImages(t)
	region := gatewayRegion()
	member := connectorMember()
	cases := []struct {
		name  string
		image string
		pod   corev1.PodSpec
		world World
	}{
		{"gateway Deployment", "gateway", specs.GatewayDeployment(region).Spec.Template.Spec, gatewayWorld(t, region)},
		{"connector Deployment", "connector", specs.ConnectorDeployment("contract", member).Spec.Template.Spec, connectorWorld(member)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := run(t, imgs[tc.image], tc.pod, tc.world, time.Minute); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A pod spec broken on purpose (a flag, a path, a port, a probe, a missing
// volume source, a region without identity) fails the contract, naming it.
func TestBrokenSpecsFailTheContract(t *testing.T) {
	imgs := builtImages(t)
	region := gatewayRegion()
	gw := func(mod func(*appsv1.Deployment)) corev1.PodSpec {
		d := specs.GatewayDeployment(region)
		mod(d)
		return d.Spec.Template.Spec
	}
	replaceArg := func(d *appsv1.Deployment, prefix, value string) {
		args := d.Spec.Template.Spec.Containers[0].Args
		for i, a := range args {
			if strings.HasPrefix(a, prefix) {
				args[i] = prefix + value
			}
		}
	}
	noIdentity := gatewayRegion()
	noIdentity.Spec.Gateway.Identity = shcrv1alpha1.GatewayIdentity{}
	cases := []struct {
		name  string
		pod   corev1.PodSpec
		world World
		want  string
	}{
		{"bundle flag pointing elsewhere", gw(func(d *appsv1.Deployment) { replaceArg(d, "--bundle-dir=", "/etc/shcr/policy") }),
			gatewayWorld(t, region), "readiness probe"},
		{"bundle mounted at another path", gw(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].VolumeMounts[0].MountPath = "/etc/shcr/other"
		}), gatewayWorld(t, region), "readiness probe"},
		{"listening on another port", gw(func(d *appsv1.Deployment) { replaceArg(d, "--listen=", ":9090") }),
			gatewayWorld(t, region), "probe GET http://127.0.0.1:8080"},
		{"readiness probe on a path the gateway does not serve as ready", gw(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].ReadinessProbe.HTTPGet.Path = "/ready"
		}), gatewayWorld(t, region), "readiness probe GET http://127.0.0.1:8080/ready"},
		{"an unknown flag", gw(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Args = append(d.Spec.Template.Spec.Containers[0].Args, "--bundle=/x")
		}), gatewayWorld(t, region), "exited"},
		{"the issuer's keys missing", gw(func(*appsv1.Deployment) {}),
			World{ConfigMaps: map[string]*corev1.ConfigMap{specs.PolicyBundleName: gatewayWorld(t, region).ConfigMaps[specs.PolicyBundleName]}},
			"ConfigMap keys does not exist"},
		{"a region without spec.gateway.identity", specs.GatewayDeployment(noIdentity).Spec.Template.Spec,
			gatewayWorld(t, noIdentity), "readiness probe"},
		{"running as root", gw(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.SecurityContext.RunAsUser = ptrTo[int64](0)
		}), gatewayWorld(t, region), "non-root user"},
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

func ptrTo[T any](v T) *T { return &v }
