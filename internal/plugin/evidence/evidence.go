/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package evidence is the "evidence" verb: an evidence pack for an
// information governance assurance panel — the agreement register, the
// record of processing, and for each of the eight requirements of the IG
// Framework for Shared Care Records what the cluster shows — in Markdown or
// HTML.
package evidence

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/plugin/accessmatrix"
	"github.com/shcr-io/shcr-operator/internal/plugin/cli"
	"github.com/shcr-io/shcr-operator/internal/plugin/regionstate"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

type options struct {
	global *cli.Global
	output *cli.Output
	// public writes the region's public transparency page instead.
	public bool
}

// NewCommand returns the evidence verb.
func NewCommand(g *cli.Global) *cobra.Command {
	o := &options{global: g, output: cli.NewOutput(FormatMarkdown, FormatHTML)}
	cmd := &cobra.Command{
		Use:   "evidence",
		Short: "An evidence pack for an IG assurance panel: register, record of processing, the eight IG requirements",
		Example: "  kubectl shcr evidence --region thames-valley > evidence.md\n" +
			"  kubectl shcr evidence --region thames-valley -o html > evidence.html",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), time.Now().UTC())
		},
	}
	cmd.Flags().VarP(o.output, "output", "o", o.output.Usage())
	cmd.Flags().BoolVar(&o.public, "public", false,
		"write the region's public transparency page (members, purposes, categories, lawful bases, agreements in force, how to object): no personal data")
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
	v, err := gather(ctx, c, target, now)
	if err != nil {
		return err
	}
	if o.public {
		return render(w, o.output.String(), v.public())
	}
	return render(w, o.output.String(), v.build())
}

// gather reads what the pack shows. A stored bundle that cannot be read is
// reported in the pack, not as an error: it is itself evidence.
func gather(ctx context.Context, c client.Reader, target cli.Target, now time.Time) (*view, error) {
	v := &view{region: &shcrv1alpha1.ShCRRegion{}, now: now}
	if err := c.Get(ctx, client.ObjectKey{Name: target.Region}, v.region); err != nil {
		return nil, fmt.Errorf("reading ShCRRegion %s (the evidence pack needs to read the cluster-scoped region): %w", target.Region, err)
	}
	var err error
	if v.state, err = regionstate.Load(ctx, c, target); err != nil {
		return nil, err
	}
	in := v.state.PolicyInput(regionstate.AsOperator)
	compiled := policy.Compile(in)
	if v.compiledRevision, err = regionstate.Revision(compiled); err != nil {
		return nil, err
	}
	v.enforced, v.storedErr = regionstate.StoredBundle(ctx, c, target.Namespace)
	if v.storedErr != nil {
		v.enforced = compiled
	} else if v.storedRevision, err = regionstate.Revision(v.enforced); err != nil {
		return nil, err
	}
	v.windows = policy.Windows(in.Agreements, in.Successors)
	v.access = accessmatrix.Evaluate(v.enforced, accessmatrix.AxesOf(in), now)
	return v, nil
}
