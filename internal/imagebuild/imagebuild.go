/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package imagebuild builds the operator's OCI images (manager, record
// gateway, connector) with no container engine: each binary is built by the
// Go toolchain and laid on an empty base with go-containerregistry. The
// images are reproducible: a fixed creation time, tar entries in name order
// with fixed owners and times, and binaries without build ids or paths, so
// two builds of one commit give the same digests.
package imagebuild

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// User is the numeric user and group every image runs as.
const User = 65532

// DefaultRegistry is where released images live (the chart's default).
const DefaultRegistry = "ghcr.io/shcr-io"

// SBOMDir is where an image holds its SPDX document, <workload>.spdx.json.
const SBOMDir = "/usr/share/sbom"

// Workload is one image: a binary of this module and its repository name.
type Workload struct {
	// Name is the binary's name and the image's entrypoint, /<Name>.
	Name string
	// Package is the Go package of the binary, relative to the module root.
	Package string
	// Repository is the image's repository under the registry.
	Repository string
}

// Workloads are the images the operator's chart and regions use.
var Workloads = []Workload{
	{Name: "manager", Package: "./cmd/manager", Repository: "shcr-operator"},
	{Name: "gateway", Package: "./cmd/gateway", Repository: "shcr-gateway"},
	{Name: "connector", Package: "./cmd/connector", Repository: "shcr-connector"},
}

// Options says what to build and where.
type Options struct {
	// ModuleRoot is the directory holding go.mod.
	ModuleRoot string
	// Platforms are os/arch pairs such as linux/amd64; each image is an
	// index with one manifest per platform.
	Platforms []string
	// Tag is the image tag, normally the chart's appVersion.
	Tag string
	// Registry prefixes the repositories (host[:port][/path]).
	Registry string
	// CABundle is the PEM file copied to /etc/ssl/certs/ca-certificates.crt.
	CABundle string
	// Created is every timestamp in the images; the Unix epoch when zero.
	Created time.Time
	// WorkDir holds the built binaries.
	WorkDir string
}

// Built is one built image.
type Built struct {
	Workload Workload
	// Reference is registry/repository:tag.
	Reference string
	Index     v1.ImageIndex
	Digest    v1.Hash
	// SBOMs are the SPDX documents, one per platform, in Options.Platforms order.
	SBOMs [][]byte
}

// Reference is the reference of a workload's image under opts.
func Reference(opts Options, w Workload) string {
	reg := strings.TrimSuffix(opts.Registry, "/")
	if reg == "" {
		reg = DefaultRegistry
	}
	return reg + "/" + w.Repository + ":" + opts.Tag
}

// Build builds one workload's image for every platform.
func Build(ctx context.Context, opts Options, w Workload) (*Built, error) {
	if opts.Tag == "" || len(opts.Platforms) == 0 {
		return nil, fmt.Errorf("imagebuild: a tag and at least one platform are needed")
	}
	created := opts.Created
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	created = created.UTC().Truncate(time.Second)
	base, err := baseLayer(opts.CABundle, created)
	if err != nil {
		return nil, err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	out := &Built{Workload: w, Reference: Reference(opts, w)}
	for _, platform := range opts.Platforms {
		osName, arch, ok := strings.Cut(platform, "/")
		if !ok {
			return nil, fmt.Errorf("imagebuild: platform %q is not os/arch", platform)
		}
		bin := filepath.Join(opts.WorkDir, osName+"-"+arch, w.Name)
		if err := goBuild(ctx, opts.ModuleRoot, w.Package, osName, arch, bin); err != nil {
			return nil, err
		}
		sbom, err := SPDX(bin, w, opts.Tag, created)
		if err != nil {
			return nil, err
		}
		img, err := image(w, osName, arch, opts.Tag, created, base, bin, sbom)
		if err != nil {
			return nil, err
		}
		out.SBOMs = append(out.SBOMs, sbom)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: osName, Architecture: arch},
		}})
	}
	out.Index = idx
	if out.Digest, err = idx.Digest(); err != nil {
		return nil, err
	}
	return out, nil
}

// goBuild builds a static binary with no build id, VCS stamp or local paths.
func goBuild(ctx context.Context, root, pkg, osName, arch, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w -buildid=", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+osName, "GOARCH="+arch, "GOFLAGS=-mod=readonly")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("imagebuild: go build %s for %s/%s: %v\n%s", pkg, osName, arch, err, b)
	}
	return nil
}

// image is one platform's image: the base layer, the binary, the SBOM.
func image(w Workload, osName, arch, tag string, created time.Time, base v1.Layer, bin string, sbom []byte) (v1.Image, error) {
	binary, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	app, err := layer(created, []file{{name: w.Name, mode: 0o555, data: binary}})
	if err != nil {
		return nil, err
	}
	sbomLayer, err := layer(created, []file{
		{name: "usr/", dir: true}, {name: "usr/share/", dir: true}, {name: "usr/share/sbom/", dir: true},
		{name: strings.TrimPrefix(SBOMDir, "/") + "/" + w.Name + ".spdx.json", mode: 0o444, data: sbom},
	})
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: arch,
		OS:           osName,
		Created:      v1.Time{Time: created},
		Config: v1.Config{
			User:       fmt.Sprintf("%d:%d", User, User),
			Entrypoint: []string{"/" + w.Name},
			WorkingDir: "/",
			Env:        []string{"PATH=/"},
			Labels: map[string]string{
				"org.opencontainers.image.title":    w.Repository,
				"org.opencontainers.image.version":  tag,
				"org.opencontainers.image.source":   "https://github.com/shcr-io/shcr-operator",
				"org.opencontainers.image.licenses": "Apache-2.0",
			},
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	adds := []mutate.Addendum{
		{Layer: base, History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "shcr-images: passwd, group, CA certificates, /tmp"}},
		{Layer: app, History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "shcr-images: /" + w.Name}},
		{Layer: sbomLayer, History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "shcr-images: SPDX SBOM"}},
	}
	return mutate.Append(img, adds...)
}

// baseLayer holds what a static Go binary needs from a root filesystem: the
// user and group it runs as, CA certificates for TLS, and /tmp.
func baseLayer(caBundle string, created time.Time) (v1.Layer, error) {
	ca, err := os.ReadFile(caBundle)
	if err != nil {
		return nil, fmt.Errorf("imagebuild: CA bundle: %w", err)
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", User, User)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", User)
	return layer(created, []file{
		{name: "etc/", dir: true},
		{name: "etc/group", mode: 0o444, data: []byte(group)},
		{name: "etc/passwd", mode: 0o444, data: []byte(passwd)},
		{name: "etc/ssl/", dir: true},
		{name: "etc/ssl/certs/", dir: true},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o444, data: ca},
		{name: "home/", dir: true},
		{name: "home/nonroot/", dir: true, uid: User},
		{name: "tmp/", dir: true, mode: 0o1777},
	})
}

// file is one tar entry.
type file struct {
	name string
	dir  bool
	mode int64
	uid  int
	data []byte
}

// layer writes files as an uncompressed tar in name order, every entry owned
// by uid (root unless set) with the fixed time, and wraps it as an OCI layer.
func layer(created time.Time, files []file) (v1.Layer, error) {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b file) int { return strings.Compare(a.name, b.name) })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{
			Name: f.name, Mode: f.mode, Uid: f.uid, Gid: f.uid, ModTime: created,
			Format: tar.FormatUSTAR, Typeflag: tar.TypeReg, Size: int64(len(f.data)),
		}
		if f.dir {
			h.Typeflag, h.Size = tar.TypeDir, 0
			if h.Mode == 0 {
				h.Mode = 0o755
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// WriteLayout writes the images to an OCI image layout at dir (replacing
// what was there), each index annotated with its reference.
func WriteLayout(dir string, images []*Built) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	for _, b := range images {
		if err := p.AppendIndex(b.Index, layout.WithAnnotations(map[string]string{
			"org.opencontainers.image.ref.name": b.Reference,
		})); err != nil {
			return err
		}
	}
	return nil
}

// Push writes each image to its reference's registry, with the credentials
// of the default keychain (docker config) if any.
func Push(ctx context.Context, images []*Built) error {
	for _, b := range images {
		ref, err := name.ParseReference(b.Reference)
		if err != nil {
			return err
		}
		if err := remote.WriteIndex(ref, b.Index, remote.WithContext(ctx),
			remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
			return fmt.Errorf("imagebuild: pushing %s: %w", b.Reference, err)
		}
	}
	return nil
}
