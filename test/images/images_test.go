/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package images builds the operator's images as `make images` does (no
// container engine), proves two builds give the same digests, looks inside
// them (user, entrypoint, SBOM), pushes them to a real OCI registry on
// loopback (go-containerregistry's registry package) and checks that the
// image references the chart renders resolve to the digests built.
// `make test-images` runs it with HELM set to the pinned helm.
package images

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/shcr-io/shcr-operator/internal/imagebuild"
	"github.com/shcr-io/shcr-operator/internal/kube"
)

var root, _ = filepath.Abs(filepath.Join("..", ".."))

// options are the build options of every test here, with a registry prefix
// (set per test) and a work directory of the test's own.
func options(t *testing.T, registryPrefix string) imagebuild.Options {
	t.Helper()
	tag, err := imagebuild.ChartAppVersion(filepath.Join(root, "charts", "shcr-operator", "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return imagebuild.Options{
		ModuleRoot: root, Platforms: []string{"linux/amd64"}, Tag: tag, Registry: registryPrefix,
		CABundle: "/etc/ssl/certs/ca-certificates.crt", WorkDir: t.TempDir(),
	}
}

var (
	firstOnce  sync.Once
	firstBuild []*imagebuild.Built
	firstErr   error
)

// first is one build of every image, shared by the tests (registry prefix
// 127.0.0.1:0 is replaced per test by re-tagging, never rebuilt).
func first(t *testing.T) []*imagebuild.Built {
	t.Helper()
	firstOnce.Do(func() {
		firstBuild, firstErr = imagebuild.BuildAll(context.Background(), options(t, ""))
	})
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	return firstBuild
}

func TestTwoBuildsGiveTheSameDigests(t *testing.T) {
	a := first(t)
	b, err := imagebuild.BuildAll(context.Background(), options(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if a[i].Digest != b[i].Digest {
			t.Errorf("%s: first build %s, second %s", a[i].Reference, a[i].Digest, b[i].Digest)
		}
	}
	// The layouts written from the two builds are byte for byte the same.
	dirA, dirB := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	if err := imagebuild.WriteOutput(dirA, a); err != nil {
		t.Fatal(err)
	}
	if err := imagebuild.WriteOutput(dirB, b); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"oci/index.json", "digests.txt", "sbom/shcr-gateway-linux-amd64.spdx.json"} {
		x, _ := os.ReadFile(filepath.Join(dirA, f))
		y, _ := os.ReadFile(filepath.Join(dirB, f))
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Errorf("%s differs between two builds (or is empty)", f)
		}
	}
	// The layout holds each image under its reference.
	idx, err := layout.ImageIndexFromPath(filepath.Join(dirA, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, d := range m.Manifests {
		refs = append(refs, d.Annotations["org.opencontainers.image.ref.name"]+"@"+d.Digest.String())
	}
	for _, b := range a {
		if !slices.Contains(refs, b.Reference+"@"+b.Digest.String()) {
			t.Errorf("the layout does not hold %s@%s: %v", b.Reference, b.Digest, refs)
		}
	}
}

func TestImagesRunAsNonRootWithTheirSBOM(t *testing.T) {
	for _, b := range first(t) {
		t.Run(b.Workload.Name, func(t *testing.T) {
			img := platformImage(t, b.Index)
			cfg, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Config.User != "65532:65532" || !slices.Equal(cfg.Config.Entrypoint, []string{"/" + b.Workload.Name}) {
				t.Errorf("user %q entrypoint %v", cfg.Config.User, cfg.Config.Entrypoint)
			}
			if cfg.Created.Unix() != 0 {
				t.Errorf("created %v, want the fixed epoch", cfg.Created)
			}
			files := filesOf(t, img)
			if !strings.Contains(string(files["etc/passwd"]), "nonroot:x:65532:65532:") {
				t.Errorf("/etc/passwd has no user 65532: %q", files["etc/passwd"])
			}
			if !bytes.Contains(files["etc/ssl/certs/ca-certificates.crt"], []byte("BEGIN CERTIFICATE")) {
				t.Error("no CA certificates")
			}
			if len(files[b.Workload.Name]) == 0 {
				t.Errorf("no /%s binary", b.Workload.Name)
			}
			var sbom struct {
				SPDXVersion string `json:"spdxVersion"`
				Packages    []struct {
					Name         string `json:"name"`
					VersionInfo  string `json:"versionInfo"`
					ExternalRefs []struct {
						Locator string `json:"referenceLocator"`
					} `json:"externalRefs"`
				} `json:"packages"`
			}
			raw := files["usr/share/sbom/"+b.Workload.Name+".spdx.json"]
			if err := json.Unmarshal(raw, &sbom); err != nil {
				t.Fatalf("SBOM: %v", err)
			}
			if sbom.SPDXVersion != "SPDX-2.3" || len(sbom.Packages) < 3 {
				t.Fatalf("SBOM %s with %d packages", sbom.SPDXVersion, len(sbom.Packages))
			}
			var purls []string
			for _, p := range sbom.Packages {
				for _, r := range p.ExternalRefs {
					purls = append(purls, r.Locator)
				}
			}
			// Every binary links the Prometheus client; the SBOM must name it with its version.
			if !slices.ContainsFunc(purls, func(p string) bool { return strings.HasPrefix(p, "pkg:golang/github.com/prometheus/client_golang@v") }) {
				t.Errorf("the SBOM does not list the Prometheus client: %v", purls)
			}
			if !slices.ContainsFunc(purls, func(p string) bool { return strings.HasPrefix(p, "pkg:golang/stdlib@go1.") }) {
				t.Errorf("the SBOM does not list the Go standard library: %v", purls)
			}
		})
	}
}

func TestChartImageReferencesResolveToTheBuiltDigests(t *testing.T) {
	helm := os.Getenv("HELM")
	if helm == "" {
		t.Fatal("HELM is not set: run with 'make test-images'")
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	prefix := strings.TrimPrefix(srv.URL, "http://") + "/shcr-io"
	built := first(t)
	// Name the built indexes under the loopback registry and push them as
	// make images REGISTRY=... does.
	var pushed []*imagebuild.Built
	for _, b := range built {
		c := *b
		c.Reference = imagebuild.Reference(imagebuild.Options{Registry: prefix, Tag: options(t, "").Tag}, b.Workload)
		pushed = append(pushed, &c)
	}
	if err := imagebuild.Push(context.Background(), pushed); err != nil {
		t.Fatal(err)
	}
	repo := func(w string) string { return prefix + "/" + w }
	rendered, err := exec.Command(helm, "template", "shcr", filepath.Join(root, "charts", "shcr-operator"),
		"-n", "shcr-system", "--kube-version", "1.37.2",
		"--set", "image.repository="+repo("shcr-operator"),
		"--set", "regionImages.gateway.repository="+repo("shcr-gateway"),
		"--set", "regionImages.connector.repository="+repo("shcr-connector")).Output()
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	refs := chartImageReferences(t, rendered)
	for _, b := range pushed {
		ref, ok := refs[b.Workload.Name]
		if !ok {
			t.Errorf("the chart renders no %s image", b.Workload.Name)
			continue
		}
		if ref != b.Reference {
			t.Errorf("the chart renders %s, the build pushed %s", ref, b.Reference)
		}
		parsed, err := name.ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		desc, err := remote.Head(parsed)
		if err != nil {
			t.Fatalf("resolving %s: %v", ref, err)
		}
		if desc.Digest != b.Digest {
			t.Errorf("%s resolves to %s, built %s", ref, desc.Digest, b.Digest)
		}
		// And a kubelet on amd64 gets the image built for it.
		img, err := remote.Image(parsed, remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := platformImage(t, b.Index).Digest()
		if got, _ := img.Digest(); got != want {
			t.Errorf("%s for linux/amd64 is %s, built %s", ref, got, want)
		}
	}
}

// chartImageReferences are the images in the chart's manager Deployment:
// its own and the --gateway-image and --connector-image it gives regions.
func chartImageReferences(t *testing.T, rendered []byte) map[string]string {
	t.Helper()
	objs, err := kube.DecodeObjects(rendered)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		var d appsv1.Deployment
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d); err != nil {
			t.Fatal(err)
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Name != "manager" {
				continue
			}
			out["manager"] = c.Image
			for _, a := range c.Args {
				if v, ok := strings.CutPrefix(a, "--gateway-image="); ok {
					out["gateway"] = v
				}
				if v, ok := strings.CutPrefix(a, "--connector-image="); ok {
					out["connector"] = v
				}
			}
		}
	}
	return out
}

// platformImage is the index's only image.
func platformImage(t *testing.T, idx v1.ImageIndex) v1.Image {
	t.Helper()
	m, err := idx.IndexManifest()
	if err != nil || len(m.Manifests) != 1 {
		t.Fatalf("index: %v, %d manifests", err, len(m.Manifests))
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// filesOf is the image's flattened filesystem, regular files by path.
func filesOf(t *testing.T, img v1.Image) map[string][]byte {
	t.Helper()
	rc := mutate.Extract(img)
	defer func() { _ = rc.Close() }()
	out := map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			out[strings.TrimPrefix(h.Name, "/")] = data
		}
	}
}
