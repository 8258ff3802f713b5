/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package accessmatrix is the "access-matrix" verb: for a region, which
// organisation's staff in which role may read which category of records,
// from which source organisations, under which agreement version and
// policy, and since when. It compiles the region's objects with
// policy.Compile and decides each cell with policy.Decide, the functions
// the operator and the gateway run.
package accessmatrix

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/shcr-io/shcr-operator/internal/plugin/cli"
	"github.com/shcr-io/shcr-operator/internal/plugin/regionstate"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

// Matrix is a region's access matrix at one instant.
type Matrix struct {
	Region    string    `json:"region"`
	Namespace string    `json:"namespace"`
	At        time.Time `json:"at"`
	// Source, when set, is the one organisation whose records were
	// considered; otherwise a cell is allowed when any source may be read.
	Source string `json:"source,omitempty"`
	Cells  []Cell `json:"cells"`
}

// compute compiles a region's input and evaluates its matrix at an instant,
// for the records of one source organisation when source is not empty.
func compute(target cli.Target, in policy.Input, at time.Time, source string) Matrix {
	axes := AxesOf(in)
	if source != "" {
		axes.Sources = []string{source}
	}
	return Matrix{
		Region: target.Region, Namespace: target.Namespace, At: at, Source: source,
		Cells: Evaluate(policy.Compile(in), axes, at),
	}
}

type options struct {
	global *cli.Global
	at     cli.Time
	source string
	output *cli.Output
}

// NewCommand returns the access-matrix verb.
func NewCommand(g *cli.Global) *cobra.Command {
	o := &options{global: g, output: cli.NewOutput(cli.FormatTable, cli.FormatJSON, cli.FormatYAML)}
	cmd := &cobra.Command{
		Use:   "access-matrix",
		Short: "Organisation × role × category: allowed or not, from which sources, under which agreement and policy",
		Long: "access-matrix decides, for every consumer organisation, every role an AccessPolicy names and every\n" +
			"data category, a read with purpose TREAT and a legitimate relationship, no sensitive labels and\n" +
			"no break-glass. A cell is allowed when at least one provider organisation's records of that\n" +
			"category may be read; --source fixes the provider.",
		Example: "  kubectl shcr access-matrix --region thames-valley\n" +
			"  kubectl shcr access-matrix -n shcr-thames-valley --source K84001 --at 2026-10-01T00:00:00Z",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), time.Now())
		},
	}
	cmd.Flags().Var(&o.at, "at", "decide at this RFC 3339 time instead of now")
	cmd.Flags().StringVar(&o.source, "source", "", "only records from this provider organisation (ODS code)")
	cmd.Flags().VarP(o.output, "output", "o", o.output.Usage())
	return cmd
}

func (o *options) run(ctx context.Context, w io.Writer, now time.Time) error {
	target, err := o.global.Target()
	if err != nil {
		return err
	}
	c, err := o.global.Client()
	if err != nil {
		return err
	}
	state, err := regionstate.Load(ctx, c, target)
	if err != nil {
		return err
	}
	m := compute(target, state.PolicyInput(regionstate.AsOperator), o.at.Or(now), o.source)
	return cli.Print(w, o.output.String(), m, m.table)
}

func (m Matrix) table(w io.Writer) error {
	sources := "records from any provider"
	if m.Source != "" {
		sources = "records from " + m.Source
	}
	if _, err := fmt.Fprintf(w, "Access in %s at %s: read, purpose TREAT, legitimate relationship asserted, %s\n\n",
		m.Namespace, cli.FormatTime(m.At), sources); err != nil {
		return err
	}
	t := cli.NewTable(w, "ORGANISATION", "ROLE", "CATEGORY", "ACCESS", "AGREEMENT", "POLICY", "SOURCES", "IN FORCE", "REASON")
	for _, c := range m.Cells {
		if !c.Allowed {
			t.Row(c.Organisation, c.Role, c.Category, "deny", cli.None, cli.None, cli.None, cli.None, c.Reason)
			continue
		}
		for _, g := range c.Grants {
			t.Row(c.Organisation, c.Role, c.Category, "allow", g.Agreement+" v"+strconv.Itoa(int(g.AgreementVersion)),
				g.Policy, cli.List(g.Sources), cli.FormatWindow(g.ValidFrom, g.ValidUntil), "")
		}
	}
	return t.Flush()
}
