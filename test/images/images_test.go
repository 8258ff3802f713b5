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
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/shcr-io/shcr-operator/internal/imagebuild"
	"github.com/shcr-io/shcr-operator/test/imagecheck"
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
		// make test writes this build where make images does, for the
		// e2e suite to push rather than build again.
		if dir := os.Getenv("IMAGES_DIR"); dir != "" && firstErr == nil {
			firstErr = imagebuild.WriteOutput(dir, firstBuild)
		}
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

// The images pushed to a registry on loopback resolve from the references
// the chart renders for that registry (imagecheck, which the e2e suite runs
// too).
func TestChartImageReferencesResolveToTheBuiltDigests(t *testing.T) {
	helm := os.Getenv("HELM")
	if helm == "" {
		t.Fatal("HELM is not set: run with 'make test-images'")
	}
	if err := imagecheck.PushAndResolve(context.Background(), helm, root, options(t, "").Tag, first(t)); err != nil {
		t.Fatal(err)
	}
}

// The references the chart renders are the chart's appVersion under the
// default registry, and a broken reference fails the check, naming it.
func TestPushAndResolveFailsOnAMismatch(t *testing.T) {
	helm := os.Getenv("HELM")
	if helm == "" {
		t.Fatal("HELM is not set: run with 'make test-images'")
	}
	built := first(t)
	wrong := []*imagebuild.Built{}
	for _, b := range built {
		c := *b
		if c.Workload.Name == "gateway" {
			c.Digest = built[0].Digest // the manager's digest under the gateway's name
		}
		wrong = append(wrong, &c)
	}
	err := imagecheck.PushAndResolve(context.Background(), helm, root, options(t, "").Tag, wrong)
	if err == nil || !strings.Contains(err.Error(), "gateway:") || strings.Contains(err.Error(), "connector:") {
		t.Fatalf("want a failure naming the gateway only, got: %v", err)
	}
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
