/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// kubectl-shcr is a kubectl plugin for auditors and platform teams: who can
// see what, under which signed agreement, since when. Put it on PATH and
// run "kubectl shcr".
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/shcr-io/shcr-operator/internal/plugin/accessmatrix"
	"github.com/shcr-io/shcr-operator/internal/plugin/agreements"
	"github.com/shcr-io/shcr-operator/internal/plugin/auditverify"
	"github.com/shcr-io/shcr-operator/internal/plugin/breakglass"
	"github.com/shcr-io/shcr-operator/internal/plugin/cli"
	"github.com/shcr-io/shcr-operator/internal/plugin/decisions"
	"github.com/shcr-io/shcr-operator/internal/plugin/diff"
	"github.com/shcr-io/shcr-operator/internal/plugin/evidence"
	"github.com/shcr-io/shcr-operator/internal/plugin/explain"
	"github.com/shcr-io/shcr-operator/internal/plugin/history"
)

func main() {
	g := cli.NewGlobal()
	root := cli.NewRootCommand(g)
	root.AddCommand(
		agreements.NewCommand(g),
		history.NewCommand(g),
		decisions.NewCommand(g),
		accessmatrix.NewCommand(g),
		explain.NewCommand(g),
		diff.NewCommand(g),
		evidence.NewCommand(g),
		auditverify.NewCommand(g),
		breakglass.NewCommand(g),
	)
	err := root.Execute()
	switch {
	case err == nil:
	case errors.Is(err, diff.ErrWidened):
		os.Exit(diff.ExitWidened) // the report, summary line included, is already written
	case errors.Is(err, auditverify.ErrTampered):
		os.Exit(auditverify.ExitTampered) // the findings are already written
	default:
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}
