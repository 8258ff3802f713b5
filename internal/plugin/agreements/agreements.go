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
	o := &options{global: g, output: cli.NewOutput(cli.FormatTable, cli.FormatWide, cli.FormatJSON, cli.FormatYAML)}
	cmd := &cobra.Command{
		Use:   "agreements",
		Short: "The register of data sharing agreements: parties, categories, phase, window, approvals, terms hash",
		Example: "  kubectl shcr agreements --region thames-valley\n" +
			"  kubectl shcr agreements -A --expiring 30d\n" +
			"  kubectl shcr agreements --region thames-valley -o wide   # every party, category, approval and the terms hash",
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
	return cli.Print(w, o.output.String(), entries, func(w io.Writer) error {
		if len(entries) == 0 {
			return o.none(w, namespace)
		}
		return o.table(w, entries)
	})
}

// none says that the register, or its expiring part, is empty.
func (o *options) none(w io.Writer, namespace string) error {
	where := "any region namespace"
	if namespace != "" {
		where = namespace
	}
	msg := "None: no DataSharingAgreement in " + where + "."
	if d := o.expiring.Value(); d > 0 {
		msg = fmt.Sprintf("None: no agreement in %s ends or is due for review within %s.", where, o.expiring.String())
	}
	_, err := fmt.Fprintln(w, msg)
	return err
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

// table writes the register: by default counts and dates that fit 120
// columns; with -o wide every party, category and approval, the window to
// the second and the terms hash.
func (o *options) table(w io.Writer, entries []Entry) error {
	wide := o.output.String() == cli.FormatWide
	headers := []string{"AGREEMENT", "VERSION", "PHASE", "PARTIES", "CATEGORIES", "ENDS", "REVIEW", "APPROVALS"}
	if wide {
		headers = []string{"AGREEMENT", "VERSION", "PARTIES", "CATEGORIES", "PHASE", "WINDOW", "REVIEW", "APPROVALS", "TERMS HASH"}
	}
	if o.allNamespaces {
		headers = append([]string{"NAMESPACE"}, headers...)
	}
	t := cli.NewTable(w, headers...)
	for _, e := range entries {
		row := []string{e.AgreementID, strconv.Itoa(int(e.Version)), cli.OrNone(e.Phase), strconv.Itoa(len(e.Parties)),
			strconv.Itoa(len(e.Categories)), cli.FormatDate(e.EndsOn), e.Review(), e.ApprovalCount()}
		if wide {
			row = []string{e.AgreementID, strconv.Itoa(int(e.Version)), e.PartyList(), cli.List(e.Categories),
				cli.OrNone(e.Phase), e.Window(), e.Review(), e.ApprovalList(), cli.ShortHash(e.TermsHash)}
		}
		if o.allNamespaces {
			row = append([]string{e.Namespace}, row...)
		}
		t.Row(row...)
	}
	return t.Flush()
}
