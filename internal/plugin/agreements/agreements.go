/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package agreements is the "agreements" verb: the register of data sharing
// agreements — who is party, which data, which phase, until when, who
// signed and who recorded it, and the terms hash.
package agreements

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
	"github.com/shcr-io/shcr-operator/internal/plugin/cli"
)

type options struct {
	global        *cli.Global
	allNamespaces bool
	expiring      cli.Duration
	output        *cli.Output
}

// NewCommand returns the agreements verb.
func NewCommand(g *cli.Global) *cobra.Command {
	o := &options{global: g, output: cli.NewOutput(cli.FormatTable, cli.FormatJSON, cli.FormatYAML)}
	cmd := &cobra.Command{
		Use:   "agreements",
		Short: "The register of data sharing agreements: parties, categories, phase, window, approvals, terms hash",
		Example: "  kubectl shcr agreements --region thames-valley\n" +
			"  kubectl shcr agreements -A --expiring 30d",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), time.Now())
		},
	}
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list the agreements of every region")
	cmd.Flags().Var(&o.expiring, "expiring",
		"only agreements whose endsOn or reviewDate falls within this long from now (30d, 720h, 1d12h)")
	cmd.Flags().VarP(o.output, "output", "o", o.output.Usage())
	return cmd
}

func (o *options) run(ctx context.Context, w io.Writer, now time.Time) error {
	c, err := o.global.Client()
	if err != nil {
		return err
	}
	namespace, err := o.namespace()
	if err != nil {
		return err
	}
	entries, err := list(ctx, c, namespace)
	if err != nil {
		return err
	}
	if d := o.expiring.Value(); d > 0 {
		entries = slices.DeleteFunc(entries, func(e Entry) bool { return !e.ExpiresWithin(now, d) })
	}
	return cli.Print(w, o.output.String(), entries, func(w io.Writer) error { return o.table(w, entries) })
}

// namespace is the namespace to list, "" for all of them.
func (o *options) namespace() (string, error) {
	if o.allNamespaces {
		if o.global.ExplicitNamespace() {
			return "", cli.ErrRegionWithAllNamespaces
		}
		return "", nil
	}
	target, err := o.global.Target()
	return target.Namespace, err
}

// list reads the register of a namespace ("" for every namespace), sorted
// by namespace, agreement and version.
func list(ctx context.Context, c client.Reader, namespace string) ([]Entry, error) {
	list := &shcrv1alpha1.DataSharingAgreementList{}
	if err := c.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("listing DataSharingAgreements: %w", err)
	}
	entries := make([]Entry, 0, len(list.Items))
	for i := range list.Items {
		entries = append(entries, NewEntry(&list.Items[i]))
	}
	slices.SortFunc(entries, func(x, y Entry) int {
		return cmp.Or(cmp.Compare(x.Namespace, y.Namespace), cmp.Compare(x.AgreementID, y.AgreementID), cmp.Compare(x.Version, y.Version))
	})
	return entries, nil
}

func (o *options) table(w io.Writer, entries []Entry) error {
	headers := []string{"AGREEMENT", "VERSION", "PARTIES", "CATEGORIES", "PHASE", "WINDOW", "REVIEW", "APPROVALS", "TERMS HASH"}
	if o.allNamespaces {
		headers = append([]string{"NAMESPACE"}, headers...)
	}
	t := cli.NewTable(w, headers...)
	for _, e := range entries {
		row := []string{e.AgreementID, strconv.Itoa(int(e.Version)), e.PartyList(), cli.List(e.Categories),
			cli.OrNone(e.Phase), e.Window(), e.Review(), e.ApprovalList(), cli.ShortHash(e.TermsHash)}
		if o.allNamespaces {
			row = append([]string{e.Namespace}, row...)
		}
		t.Row(row...)
	}
	return t.Flush()
}
