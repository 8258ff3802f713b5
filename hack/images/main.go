/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Command images builds the manager, record gateway and connector images
// with no container engine (make images), writes them to an OCI image
// layout with their SBOMs and digests, and pushes them when -registry is set.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/shcr-io/shcr-operator/internal/imagebuild"
)

func main() {
	var (
		out, registry, tag, platforms, caBundle string
		push                                    bool
	)
	flag.StringVar(&out, "out", ".images", "Directory for the OCI layout (oci/), the SBOMs (sbom/) and digests.txt; replaced on each run.")
	flag.StringVar(&registry, "registry", "", "Registry (host[:port][/path]) to name the images under and push them to; empty names them under "+imagebuild.DefaultRegistry+" and pushes nothing.")
	flag.StringVar(&tag, "tag", "", "Image tag; the chart's appVersion when empty.")
	flag.StringVar(&platforms, "platforms", "linux/"+runtime.GOARCH, "Comma-separated os/arch pairs; each image is an index of them.")
	flag.StringVar(&caBundle, "ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "PEM CA bundle to install at /etc/ssl/certs/ca-certificates.crt.")
	flag.BoolVar(&push, "push", true, "Push to -registry when it is set.")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, out, registry, tag, platforms, caBundle, push); err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out, registry, tag, platforms, caBundle string, push bool) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	if tag == "" {
		if tag, err = imagebuild.ChartAppVersion(filepath.Join(root, "charts", "shcr-operator", "Chart.yaml")); err != nil {
			return err
		}
	}
	work, err := os.MkdirTemp("", "shcr-images-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(work) }()
	opts := imagebuild.Options{
		ModuleRoot: root, Platforms: strings.Split(platforms, ","), Tag: tag,
		Registry: registry, CABundle: caBundle, WorkDir: work,
	}
	images, err := imagebuild.BuildAll(ctx, opts)
	if err != nil {
		return err
	}
	if err := imagebuild.WriteOutput(out, images); err != nil {
		return err
	}
	for _, b := range images {
		fmt.Printf("%s@%s\n", b.Reference, b.Digest)
	}
	if registry != "" && push {
		if err := imagebuild.Push(ctx, images); err != nil {
			return err
		}
		fmt.Println("pushed to", registry)
	}
	return nil
}
