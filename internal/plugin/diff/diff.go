/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package diff is the "diff" verb: the effect on access of proposed
// MemberOrganisations, DataSharingAgreements and AccessPolicies, before they
// are applied. It overlays the proposed objects on what the cluster holds,
// compiles both with policy.Compile, and reports who gains or loses which
// category of whose records, under which agreement — so that a GitOps pull
// request can be gated on whether it widens access.
package diff

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/shcr-io/shcr-operator/internal/plugin/accessmatrix"
	"github.com/shcr-io/shcr-operator/internal/plugin/cli"
	"github.com/shcr-io/shcr-operator/internal/plugin/regionstate"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

// ErrWidened is returned, after the report is written, when anyone gains
// any access. kubectl-shcr exits with ExitWidened for it.
var ErrWidened = errors.New("the proposed change widens access")

// ExitWidened is the exit code of kubectl-shcr diff when access widens.
const ExitWidened = 3

// Result is the effect of a proposal on a region's access.
type Result struct {
	Region    string    `json:"region"`
	Namespace string    `json:"namespace"`
	At        time.Time `json:"at"`
	// Files and Objects are how many files and objects were read; Ignored
	// how many documents were of other kinds.
	Files   int `json:"files"`
	Objects int `json:"objects"`
	Ignored int `json:"ignored"`
	// Gained and Lost count accesses: (organisation, role, category, source).
	Gained  int      `json:"gained"`
	Lost    int      `json:"lost"`
	Widens  bool     `json:"widens"`
	Changes []Change `json:"changes"`
}

type options struct {
	global  *cli.Global
	files   []string
	deletes []string
	at      cli.Time
	output  *cli.Output
}

// NewCommand returns the diff verb.
func NewCommand(g *cli.Global) *cobra.Command {
	o := &options{global: g, output: cli.NewOutput(cli.FormatTable, cli.FormatJSON, cli.FormatYAML)}
	cmd := &cobra.Command{
		Use:   "diff (-f <file or directory>... | --delete <kind/name>...)",
		Short: "Who gains or loses which access if proposed objects are applied; exit code 3 when access widens",
		Long: "diff overlays the proposed MemberOrganisations, DataSharingAgreements and AccessPolicies on what\n" +
			"the region holds (same name replaces, a new name adds, --delete removes), compiles both with the\n" +
			"operator's compiler and compares the access matrices, now (or at --at) and at every later\n" +
			"instant a grant starts or ends. It exits with code 3 when anyone gains anything.",
		Example: "  kubectl shcr diff --region thames-valley -f regions/thames-valley/\n" +
			"  kubectl shcr diff --region thames-valley -f policy.yaml --delete accesspolicy/social-care-staff\n" +
			"  kubectl shcr diff --region thames-valley --delete member/old-practice",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), time.Now())
		},
	}
	cmd.Flags().StringSliceVarP(&o.files, "filename", "f", nil, "files or directories (read recursively) of proposed objects")
	cmd.Flags().StringSliceVar(&o.deletes, "delete", nil, "objects the change deletes, as kind/name (accesspolicy/x, dsa/x, member/x)")
	cmd.Flags().Var(&o.at, "at", "compare from this RFC 3339 time instead of now")
	cmd.Flags().VarP(o.output, "output", "o", o.output.Usage())
	cmd.MarkFlagsOneRequired("filename", "delete")
	return cmd
}

func (o *options) run(ctx context.Context, w io.Writer, now time.Time) error {
	target, err := o.global.Target()
	if err != nil {
		return err
	}
	deleted, err := parseDeletions(o.deletes)
	if err != nil {
		return err
	}
	p, err := readProposal(o.files, target.Namespace)
	if err != nil {
		return err
	}
	c, err := o.global.Client()
	if err != nil {
		return err
	}
	live, err := regionstate.Load(ctx, c, target)
	if err != nil {
		return err
	}
	next, err := p.apply(live, deleted)
	if err != nil {
		return err
	}
	if err := next.LoadPeers(ctx, c); err != nil {
		return err
	}
	r := evaluate(live, next, p, o.at.Or(now))
	if err := cli.Print(w, o.output.String(), r, r.table); err != nil {
		return err
	}
	if r.Widens {
		return ErrWidened
	}
	return nil
}

// evaluate compares the access of the live and the proposed state.
func evaluate(live, next *regionstate.State, p *proposal, at time.Time) Result {
	before := live.PolicyInput(regionstate.AsOperator)
	after := next.PolicyInput(p.converter(next.Region, at))
	axes := accessmatrix.AxesOf(before).Merge(accessmatrix.AxesOf(after))
	r := Result{
		Region: live.Region, Namespace: live.Namespace, At: at,
		Files: p.files, Objects: p.count(), Ignored: p.ignored,
		Changes: compare(policy.Compile(before), policy.Compile(after), axes, at),
	}
	for _, c := range r.Changes {
		if c.Change == Gains {
			r.Gained += len(c.Sources)
		} else {
			r.Lost += len(c.Sources)
		}
	}
	r.Widens = r.Gained > 0
	return r
}

// summary is the one-line verdict.
func (r Result) summary() string {
	verdict := "access does not widen"
	if r.Widens {
		verdict = "ACCESS WIDENS"
	}
	return fmt.Sprintf("%s: %d gained, %d lost (organisation, role, category, source) in %s from %s",
		verdict, r.Gained, r.Lost, r.Namespace, cli.FormatTime(r.At))
}

func (r Result) table(w io.Writer) error {
	if _, err := fmt.Fprintf(w, "Proposed: %d object(s) from %d file(s), %d document(s) of other kinds ignored\n\n",
		r.Objects, r.Files, r.Ignored); err != nil {
		return err
	}
	if len(r.Changes) > 0 {
		t := cli.NewTable(w, "CHANGE", "ORGANISATION", "ROLE", "CATEGORY", "SOURCES", "AGREEMENT", "POLICY", "FROM")
		for _, c := range r.Changes {
			t.Row(c.Change, c.Organisation, c.Role, c.Category, cli.List(c.Sources),
				c.Agreement+" v"+strconv.Itoa(int(c.AgreementVersion)), c.Policy, cli.FormatTime(c.From))
		}
		if err := t.Flush(); err != nil {
			return err
		}
		if _, err := fmt.Fprintln(w); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, r.summary())
	return err
}
