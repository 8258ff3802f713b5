/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package auditverify is "kubectl shcr audit verify": it checks the hash
// chain of a record gateway's audit files (internal/auditlog) and says
// where any line or file was edited, removed, inserted or moved.
package auditverify

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/shcr-io/shcr-operator/internal/auditlog"
	"github.com/shcr-io/shcr-operator/internal/plugin/cli"
)

// ErrTampered is returned, after the report is written, when the audit
// trail does not verify. kubectl-shcr exits with ExitTampered for it.
var ErrTampered = errors.New("the audit trail does not verify")

// ExitTampered is the exit code of kubectl shcr audit verify when the audit
// trail does not verify.
const ExitTampered = 4

type options struct {
	open    bool
	head    string
	anchors []string
	output  *cli.Output
}

// NewCommand returns the "audit" command with its "verify" verb.
func NewCommand(*cli.Global) *cobra.Command {
	audit := &cobra.Command{
		Use:   "audit",
		Short: "Work with a record gateway's audit trail",
		Args:  cobra.NoArgs,
	}
	audit.AddCommand(newVerify())
	return audit
}

func newVerify() *cobra.Command {
	o := &options{output: cli.NewOutput(cli.FormatTable, cli.FormatJSON, cli.FormatYAML)}
	cmd := &cobra.Command{
		Use:   "verify <directory or file>...",
		Short: "Check an audit trail's hash chain; exit code 4 when a line or file was edited, removed, inserted or moved",
		Long: "verify reads the audit files a gateway with the File audit sink writes (audit-<UTC time>-<sequence>.jsonl,\n" +
			"copied off its volume) and checks their sha256 chain: every line carries the hash of its content and of\n" +
			"the line before, every file continues from the last hash of the file before it, and files deleted by\n" +
			"retention are recorded in the chain. It names the file and line of every edit, removal, insertion or\n" +
			"reordering, and every missing file, and exits with code 4 when it finds any.\n\n" +
			"A log must end with the closing record its gateway writes when it stops: otherwise lines or files\n" +
			"removed from its very end could not be told from lines never written. A log copied from a running\n" +
			"gateway ends open: --open accepts that, and --head then requires the log to end at a hash kept\n" +
			"elsewhere. A chain alone cannot show a log rewritten, hashes and all, by someone who can write the\n" +
			"volume: --anchor requires a hash the gateway logged earlier (\"Audit log head\", at start, hourly\n" +
			"and at stop, shipped off the node) to be the hash of some line.",
		Example: "  kubectl cp shcr-tvs/record-gateway-0:/var/log/shcr ./audit-tvs-0\n" +
			"  kubectl shcr audit verify ./audit-tvs-0\n" +
			"  kubectl shcr audit verify --open --anchor sha256:93ab... --anchor sha256:0d4e... ./audit-tvs-0",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.OutOrStdout(), args)
		},
	}
	cmd.Flags().BoolVar(&o.open, "open", false, "accept a log without the closing record at its end (copied from a running gateway); its end is then unproven but for --head")
	cmd.Flags().StringVar(&o.head, "head", "", "require the log to end at this hash (sha256:<64 hex digits>)")
	cmd.Flags().StringArrayVar(&o.anchors, "anchor", nil, "require this hash, logged earlier by the gateway, to be the hash of some line (repeatable)")
	cmd.Flags().VarP(o.output, "output", "o", o.output.Usage())
	return cmd
}

func (o *options) run(w io.Writer, paths []string) error {
	if o.head != "" {
		if _, err := auditlog.ParseHash(o.head); err != nil {
			return fmt.Errorf("--head: %w", err)
		}
	}
	var anchors []auditlog.Hash
	for _, a := range o.anchors {
		h, err := auditlog.ParseHash(a)
		if err != nil {
			return fmt.Errorf("--anchor: %w", err)
		}
		anchors = append(anchors, h)
	}
	r, err := auditlog.Verify(paths, anchors...)
	if err != nil {
		return err
	}
	if o.head != "" && r.Head != o.head {
		r.Findings = append(r.Findings, auditlog.Finding{File: r.HeadFile, Line: r.HeadLine,
			Message: fmt.Sprintf("the log ends at %s, not at the --head given: lines or files were removed from its end, or added", r.Head)})
	}
	if !o.open && !r.Closed && r.Files > 0 {
		r.Findings = append(r.Findings, auditlog.Finding{File: r.HeadFile, Line: r.HeadLine,
			Message: "the log does not end with the closing record: lines or files were removed from its end, or its gateway is running or did not stop cleanly (--open accepts that)"})
	}
	if err := cli.Print(w, o.output.String(), r, func(w io.Writer) error { return table(w, r) }); err != nil {
		return err
	}
	if !r.OK() {
		return ErrTampered
	}
	return nil
}

// table writes the findings, then a summary line.
func table(w io.Writer, r auditlog.Report) error {
	for _, f := range r.Findings {
		if _, err := fmt.Fprintln(w, f.String()); err != nil {
			return err
		}
	}
	state := "open (no closing record at its end)"
	if r.Closed {
		state = "closed"
	}
	verdict := "verified"
	if !r.OK() {
		verdict = fmt.Sprintf("NOT VERIFIED: %d finding(s)", len(r.Findings))
	}
	_, err := fmt.Fprintf(w, "%s: %d file(s), %d line(s), %d event(s); %s; head %s at %s:%d\n",
		verdict, r.Files, r.Lines, r.Events, state, r.Head, r.HeadFile, r.HeadLine)
	return err
}
