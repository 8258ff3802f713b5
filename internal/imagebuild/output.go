/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package imagebuild

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"sigs.k8s.io/yaml"
)

// BuildAll builds every workload's image.
func BuildAll(ctx context.Context, opts Options) ([]*Built, error) {
	var out []*Built
	for _, w := range Workloads {
		b, err := Build(ctx, opts, w)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// WriteOutput replaces dir with the images' OCI layout (dir/oci), their
// SBOMs (dir/sbom/<repository>-<os>-<arch>.spdx.json) and dir/digests.txt,
// one reference@digest a line.
func WriteOutput(dir string, images []*Built) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := WriteLayout(filepath.Join(dir, "oci"), images); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "sbom"), 0o755); err != nil {
		return err
	}
	var digests strings.Builder
	for _, b := range images {
		fmt.Fprintf(&digests, "%s@%s\n", b.Reference, b.Digest)
		m, err := b.Index.IndexManifest()
		if err != nil {
			return err
		}
		for i, sbom := range b.SBOMs {
			p := m.Manifests[i].Platform
			name := fmt.Sprintf("%s-%s-%s.spdx.json", b.Workload.Repository, p.OS, p.Architecture)
			if err := os.WriteFile(filepath.Join(dir, "sbom", name), sbom, 0o644); err != nil {
				return err
			}
		}
	}
	return os.WriteFile(filepath.Join(dir, "digests.txt"), []byte(digests.String()), 0o644)
}

// ChartAppVersion is the appVersion of the chart at path: the release's tag.
func ChartAppVersion(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(data, &chart); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if chart.AppVersion == "" {
		return "", fmt.Errorf("%s: no appVersion", path)
	}
	return chart.AppVersion, nil
}

// ReadOutput reads back the images WriteOutput wrote to dir (dir/oci): each
// index under its reference, matched to its workload by repository.
func ReadOutput(dir string) ([]*Built, error) {
	idx, err := layout.ImageIndexFromPath(filepath.Join(dir, "oci"))
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []*Built
	for _, d := range m.Manifests {
		ref := d.Annotations["org.opencontainers.image.ref.name"]
		var w *Workload
		for i := range Workloads {
			if strings.Contains(ref, "/"+Workloads[i].Repository+":") {
				w = &Workloads[i]
			}
		}
		if w == nil {
			return nil, fmt.Errorf("imagebuild: %s in %s is none of the workloads' images", ref, dir)
		}
		child, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("imagebuild: %s: %w", ref, err)
		}
		out = append(out, &Built{Workload: *w, Reference: ref, Index: child, Digest: d.Digest})
	}
	if len(out) != len(Workloads) {
		return nil, fmt.Errorf("imagebuild: %s holds %d images, want %d", dir, len(out), len(Workloads))
	}
	return out, nil
}
