/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/shcr-io/shcr-operator/test/imagecheck"
)

// The operator's images (make test's build in IMAGES_DIR, default .images,
// or built here once when it holds none of this chart's version) are pushed
// to a registry of this suite's own on loopback, and the image references
// the chart renders for that registry resolve to the pushed digests. kwok
// pulls no image: this is what says the release's references are real.
func TestImagesPushedToTheSuitesRegistryResolveFromTheChart(t *testing.T) {
	helm := os.Getenv("HELM")
	if helm == "" {
		t.Fatal("HELM is not set: run the e2e suite with 'make test-e2e'")
	}
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	dir := os.Getenv("IMAGES_DIR")
	if dir == "" {
		dir = filepath.Join(root, ".images")
	}
	ctx := context.Background()
	built, err := imagecheck.Images(ctx, root, dir)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := imagecheck.Tag(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := imagecheck.PushAndResolve(ctx, helm, root, tag, built); err != nil {
		t.Fatal(err)
	}
}
