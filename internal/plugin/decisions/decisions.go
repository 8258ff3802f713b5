/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package decisions is the decisions verb: a region's decision log, the
// documented decisions the IG Framework asks for (each assurance of the
// panel, each agreement version, each approval) with their rationale and
// the minutes or paper that record them, oldest first.
package decisions

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/plugin/agreements"
	"github.com/shcr-io/shcr-operator/internal/plugin/cli"
)

// Decision is one documented decision of a region.
type Decision struct {
	// When the decision was taken (an assurance's assuredAt, an approval's
	// date, a version's creation).
	When time.Time `json:"when"`
	// Kind is Assurance, AgreementVersion or Approval.
	Kind string `json:"kind"`
	// Subject is what was decided on: the requirement, or the agreement
	// and version.
	Subject string `json:"subject"`
	// Outcome is what was decided: Assured, NotAssured, agreed, approved.
	Outcome string `json:"outcome"`
	// By is who recorded it (the Kubernetes identity stamped at admission)
	// or, for an approval, the organisation and the signatory's office.
	By string `json:"by"`
	// Evidence is the evidence reference of an assurance, or the terms
	// hash of an agreement version.
	Evidence string `json:"evidence,omitempty"`
	// Rationale is "summary (minutes or paper)", empty when none was recorded.
	Rationale string `json:"rationale,omitempty"`
}

// Log is a region's decision log.
type Log struct {
	Region    string     `json:"region"`
	Decisions []Decision `json:"decisions"`
}

type options struct {
	global *cli.Global
	output *cli.Output
}

// NewCommand returns the decisions verb.
func NewCommand(g *cli.Global) *cobra.Command {
	o := &options{global: g, output: cli.NewOutput(cli.FormatTable, cli.FormatJSON, cli.FormatYAML)}
	cmd := &cobra.Command{
		Use:     "decisions",
		Short:   "A region's decision log: every assurance, agreement version and approval with its rationale and minutes",
		Example: "  kubectl shcr decisions --region thames-valley",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout())
		},
	}
	cmd.Flags().VarP(o.output, "output", "o", o.output.Usage())
	return cmd
}

func (o *options) run(ctx context.Context, w io.Writer) error {
	target, err := o.global.Target()
	if err != nil {
		return err
	}
	c, err := o.global.Client()
	if err != nil {
		return err
	}
	l, err := Load(ctx, c, target)
	if err != nil {
		return err
	}
	return cli.Print(w, o.output.String(), l, l.table)
}

// Load reads a region's decisions from its ShCRRegion and agreements.
func Load(ctx context.Context, c client.Reader, target cli.Target) (*Log, error) {
	region := &shcrv1alpha1.ShCRRegion{}
	if err := c.Get(ctx, client.ObjectKey{Name: target.Region}, region); err != nil {
		return nil, fmt.Errorf("reading ShCRRegion %s (its assurance records): %w", target.Region, err)
	}
	list := &shcrv1alpha1.DataSharingAgreementList{}
	if err := c.List(ctx, list, client.InNamespace(target.Namespace)); err != nil {
		return nil, fmt.Errorf("listing DataSharingAgreements in %s: %w", target.Namespace, err)
	}
	return Build(region, list.Items), nil
}

// Build makes the decision log of a region, oldest first.
func Build(region *shcrv1alpha1.ShCRRegion, items []shcrv1alpha1.DataSharingAgreement) *Log {
	l := &Log{Region: region.Name, Decisions: []Decision{}}
	for _, r := range region.Spec.Assurance.Requirements {
		l.Decisions = append(l.Decisions, Decision{
			When: r.AssuredAt.UTC(), Kind: "Assurance", Subject: string(r.Requirement), Outcome: string(r.Status),
			By: cli.OrNone(r.AssuredBy), Evidence: r.EvidenceReference, Rationale: agreements.RationaleText(&r.Rationale),
		})
	}
	for i := range items {
		a := &items[i]
		subject := a.Spec.AgreementID + " v" + strconv.Itoa(int(a.Spec.Version))
		l.Decisions = append(l.Decisions, Decision{
			When: a.CreationTimestamp.UTC(), Kind: "AgreementVersion", Subject: subject, Outcome: "agreed: " + a.Spec.Title,
			By: "the parties", Evidence: a.Status.TermsHash, Rationale: agreements.RationaleText(a.Spec.Rationale),
		})
		for _, ap := range a.Spec.Approvals {
			l.Decisions = append(l.Decisions, Decision{
				When: ap.Date.UTC(), Kind: "Approval", Subject: subject, Outcome: "approved",
				By: ap.Organisation + " (" + string(ap.Role) + ")", Rationale: agreements.RationaleText(ap.Rationale),
			})
		}
	}
	slices.SortStableFunc(l.Decisions, func(x, y Decision) int {
		return cmp.Or(x.When.Compare(y.When), cmp.Compare(x.Kind, y.Kind), cmp.Compare(x.Subject, y.Subject))
	})
	return l
}

func (l *Log) table(w io.Writer) error {
	if _, err := fmt.Fprintf(w, "Decision log of region %s: %d decisions\n\n", l.Region, len(l.Decisions)); err != nil {
		return err
	}
	t := cli.NewTable(w, "WHEN", "KIND", "SUBJECT", "OUTCOME", "BY", "EVIDENCE", "RATIONALE")
	for _, d := range l.Decisions {
		t.Row(cli.FormatTime(d.When), d.Kind, d.Subject, d.Outcome, d.By, cli.OrNone(d.Evidence), cli.OrNone(d.Rationale))
	}
	return t.Flush()
}
