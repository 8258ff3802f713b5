/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package imagecheck pushes the operator's images to an OCI registry of its
// own on loopback (go-containerregistry's registry package) and checks that
// the image references the chart renders for that registry resolve to the
// digests pushed. `make test-images` and the e2e suite both run it.
package imagecheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/shcr-io/shcr-operator/internal/imagebuild"
	"github.com/shcr-io/shcr-operator/internal/kube"
)

// Tag is the chart's appVersion, the tag the images are built with.
func Tag(root string) (string, error) {
	return imagebuild.ChartAppVersion(filepath.Join(root, "charts", "shcr-operator", "Chart.yaml"))
}

// Images are the images make images (or make test-images) wrote to dir,
// when they are there with the chart's tag; otherwise it builds them as
// make images does and writes them there, so one build serves the suites.
func Images(ctx context.Context, root, dir string) ([]*imagebuild.Built, error) {
	tag, err := Tag(root)
	if err != nil {
		return nil, err
	}
	if built, err := imagebuild.ReadOutput(dir); err == nil && hasTag(built, tag) {
		return built, nil
	}
	work, err := os.MkdirTemp("", "shcr-images-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(work) }()
	built, err := imagebuild.BuildAll(ctx, imagebuild.Options{
		ModuleRoot: root, Platforms: []string{"linux/amd64"}, Tag: tag,
		CABundle: "/etc/ssl/certs/ca-certificates.crt", WorkDir: work,
	})
	if err != nil {
		return nil, err
	}
	return built, imagebuild.WriteOutput(dir, built)
}

func hasTag(built []*imagebuild.Built, tag string) bool {
	for _, b := range built {
		if !strings.HasSuffix(b.Reference, ":"+tag) {
			return false
		}
	}
	return true
}

// PushAndResolve starts a registry on loopback, pushes built there under
// its address (as make images REGISTRY=... does), renders the chart with
// helm pointed at that registry, and checks that the manager's image and the
// --gateway-image and --connector-image it gives regions are the pushed
// references, and that each resolves to the pushed digest and, for
// linux/amd64, to the image built for it. The error names every mismatch.
func PushAndResolve(ctx context.Context, helm, root, tag string, built []*imagebuild.Built) error {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	prefix := strings.TrimPrefix(srv.URL, "http://") + "/shcr-io"
	var pushed []*imagebuild.Built
	for _, b := range built {
		c := *b
		c.Reference = imagebuild.Reference(imagebuild.Options{Registry: prefix, Tag: tag}, b.Workload)
		pushed = append(pushed, &c)
	}
	if err := imagebuild.Push(ctx, pushed); err != nil {
		return err
	}
	repo := func(w string) string { return prefix + "/" + w }
	cmd := exec.CommandContext(ctx, helm, "template", "shcr", filepath.Join(root, "charts", "shcr-operator"),
		"-n", "shcr-system", "--kube-version", "1.37.2",
		"--set", "image.repository="+repo("shcr-operator"),
		"--set", "regionImages.gateway.repository="+repo("shcr-gateway"),
		"--set", "regionImages.connector.repository="+repo("shcr-connector"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	rendered, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("helm template: %w\n%s", err, stderr.String())
	}
	refs, err := ChartImageReferences(rendered)
	if err != nil {
		return err
	}
	var errs []error
	for _, b := range pushed {
		if err := resolves(ctx, refs, b); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", b.Workload.Name, err))
		}
	}
	return errors.Join(errs...)
}

// resolves checks one pushed image against the chart's references.
func resolves(ctx context.Context, refs map[string]string, b *imagebuild.Built) error {
	ref, ok := refs[b.Workload.Name]
	if !ok {
		return errors.New("the chart renders no reference for it")
	}
	if ref != b.Reference {
		return fmt.Errorf("the chart renders %s, the build pushed %s", ref, b.Reference)
	}
	parsed, err := name.ParseReference(ref)
	if err != nil {
		return err
	}
	desc, err := remote.Head(parsed, remote.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("resolving %s: %w", ref, err)
	}
	if desc.Digest != b.Digest {
		return fmt.Errorf("%s resolves to %s, built %s", ref, desc.Digest, b.Digest)
	}
	// A kubelet on amd64 gets the image built for it.
	img, err := remote.Image(parsed, remote.WithContext(ctx), remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))
	if err != nil {
		return err
	}
	m, err := b.Index.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range m.Manifests {
		if d.Platform != nil && d.Platform.OS == "linux" && d.Platform.Architecture == "amd64" {
			if got, _ := img.Digest(); got != d.Digest {
				return fmt.Errorf("%s for linux/amd64 is %s, built %s", ref, got, d.Digest)
			}
			return nil
		}
	}
	return errors.New("the build has no linux/amd64 image")
}

// ChartImageReferences are the images in the chart's manager Deployment:
// its own (key manager) and the --gateway-image and --connector-image it
// gives regions (keys gateway and connector).
func ChartImageReferences(rendered []byte) (map[string]string, error) {
	objs, err := kube.DecodeObjects(rendered)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		var d appsv1.Deployment
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d); err != nil {
			return nil, err
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
	return out, nil
}
