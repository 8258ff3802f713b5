/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package contract

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/shcr-io/shcr-operator/internal/imagebuild"
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
	if operator != nil {
		if err := operator.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the operator's envtest:", err)
		}
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

// builtImages builds the manager, gateway and connector images as make
// images does and extracts their filesystems.
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

// start starts the pod from a fresh copy of the image's filesystem.
func start(t *testing.T, img image, pod corev1.PodSpec, w World) (*Container, error) {
	t.Helper()
	work := t.TempDir()
	rootfs := filepath.Join(work, "rootfs")
	if out, err := exec.Command("cp", "-a", img.rootfs, rootfs).CombinedOutput(); err != nil {
		t.Fatalf("copying the root filesystem: %v\n%s", err, out)
	}
	return Start(rootfs, work, pod, img.config, w)
}

// run starts the pod and waits for its probes.
func run(t *testing.T, img image, pod corev1.PodSpec, w World, bound time.Duration) error {
	t.Helper()
	c, err := start(t, img, pod, w)
	if err != nil {
		return err
	}
	defer c.Stop()
	// The bound stands for the kubelet's failure thresholds: the workloads
	// here pass their probes in a few seconds, so a spec that has not in
	// the bound is one the kubelet would never see Ready.
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	return c.WaitForProbes(ctx)
}

func ptrTo[T any](v T) *T { return &v }

// containsAll says whether s contains every one of parts.
func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
