/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package breakglass is "kubectl shcr break-glass": the Caldicott
// Guardian's review of emergency overrides, read from a record gateway's
// audit files (internal/auditlog) — who broke glass, when, acting for which
// organisation, whose records were shown and the reason given. Patients'
// identifiers are in the audit trail but never in this report.
package breakglass

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/shcr-io/shcr-operator/internal/auditlog"
	"github.com/shcr-io/shcr-operator/internal/plugin/cli"
)

// emergencyOverrideStarted is the DICOM code of the AuditEvent subtype the
// gateway writes for an access allowed by break-glass.
const emergencyOverrideStarted = "110127"

// Access is one access allowed only by break-glass.
type Access struct {
	Time time.Time `json:"time"`
	// User is the user's identifier from the identity provider (the
	// token's subject), and Role their national RBAC role.
	User string `json:"user"`
	Role string `json:"role"`
	// Organisation is the ODS code of the organisation the user acts for.
	Organisation string `json:"organisation"`
	// RecordsOf are the ODS codes of the organisations whose records were
	// shown; Resource the FHIR resource type.
	RecordsOf []string `json:"recordsOf"`
	Resource  string   `json:"resource"`
	// Reason is the reason the user gave for breaking glass.
	Reason string `json:"reason"`
	// Source is the audit file and line the access was read from.
	Source string `json:"source"`
}

// Report is every break-glass access at or after Since.
type Report struct {
	Since    time.Time `json:"since"`
	Accesses []Access  `json:"accesses"`
}

type options struct {
	since  cli.Duration
	output *cli.Output
}

// NewCommand returns the break-glass verb.
func NewCommand(*cli.Global) *cobra.Command {
	o := &options{output: cli.NewOutput(cli.FormatTable, cli.FormatJSON, cli.FormatYAML)}
	cmd := &cobra.Command{
		Use:   "break-glass --since <duration> <directory or file>...",
		Short: "Break-glass accesses in a gateway's audit trail: who, when, for which organisation, whose records, why",
		Long: "break-glass reads the audit files a gateway with the File audit sink writes (copied off its volume, as for\n" +
			"'kubectl shcr audit verify') and lists every access allowed only by an emergency override since --since:\n" +
			"the user and role, the organisation they act for, the organisations whose records were shown, the resource\n" +
			"type and the reason given. Patients' identifiers are not printed. Verify the trail too: this report\n" +
			"reads the lines, it does not check the chain.",
		Example: "  kubectl cp shcr-tvs/record-gateway-0:/var/log/shcr ./audit-tvs-0\n" +
			"  kubectl shcr break-glass --since 24h ./audit-tvs-0",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.OutOrStdout(), args, time.Now())
		},
	}
	cmd.Flags().Var(&o.since, "since", "list accesses this long before now (24h, 7d, 1d12h)")
	_ = cmd.MarkFlagRequired("since") // the flag exists: cannot fail
	cmd.Flags().VarP(o.output, "output", "o", o.output.Usage())
	return cmd
}

func (o *options) run(w io.Writer, paths []string, now time.Time) error {
	r, err := Read(paths, now.Add(-o.since.Value()))
	if err != nil {
		return err
	}
	return cli.Print(w, o.output.String(), r, r.table)
}

// Read lists the break-glass accesses recorded at or after since in audit
// files (directories are read for their audit files).
func Read(paths []string, since time.Time) (Report, error) {
	r := Report{Since: since.UTC(), Accesses: []Access{}}
	err := auditlog.Read(paths, func(l auditlog.Line) error {
		a, ok, err := parse(l.Event)
		if err != nil {
			return fmt.Errorf("%s line %d: %w", l.File, l.Number, err)
		}
		if ok && !a.Time.Before(since) {
			a.Source = fmt.Sprintf("%s:%d", l.File, l.Number)
			r.Accesses = append(r.Accesses, a)
		}
		return nil
	})
	return r, err
}

// event is the part of an AuditEvent the report reads.
type event struct {
	Recorded time.Time `json:"recorded"`
	Subtype  []coding  `json:"subtype"`
	Agent    []struct {
		Type    concept   `json:"type"`
		Role    []concept `json:"role"`
		Who     reference `json:"who"`
		Purpose []struct {
			Text string `json:"text"`
		} `json:"purposeOfUse"`
	} `json:"agent"`
	Entity []struct {
		What struct {
			Type string `json:"type"`
		} `json:"what"`
		Detail []struct {
			Type        string `json:"type"`
			ValueString string `json:"valueString"`
		} `json:"detail"`
	} `json:"entity"`
}

type coding struct {
	Code string `json:"code"`
}

type concept struct {
	Coding []coding `json:"coding"`
}

type reference struct {
	Identifier struct {
		Value string `json:"value"`
	} `json:"identifier"`
}

func (c concept) has(code string) bool {
	return slices.ContainsFunc(c.Coding, func(x coding) bool { return x.Code == code })
}

// parse reads one AuditEvent; ok is false when it is not a break-glass
// access.
func parse(line []byte) (Access, bool, error) {
	var e event
	if err := json.Unmarshal(line, &e); err != nil {
		return Access{}, false, fmt.Errorf("not an AuditEvent: %w", err)
	}
	if !slices.ContainsFunc(e.Subtype, func(c coding) bool { return c.Code == emergencyOverrideStarted }) {
		return Access{}, false, nil
	}
	a := Access{Time: e.Recorded.UTC(), RecordsOf: []string{}}
	for _, ag := range e.Agent {
		switch {
		case ag.Type.has("IRCP"): // the user: information recipient
			a.User = ag.Who.Identifier.Value
			for _, r := range ag.Role {
				if len(r.Coding) > 0 {
					a.Role = r.Coding[0].Code
				}
			}
			for _, p := range ag.Purpose {
				if p.Text != "" {
					a.Reason = p.Text
				}
			}
		case ag.Type.has("PROV"): // the organisation the user acts for
			a.Organisation = ag.Who.Identifier.Value
		}
	}
	for _, en := range e.Entity {
		if en.What.Type != "" {
			a.Resource = en.What.Type
		}
		for _, d := range en.Detail {
			if d.Type == "sourceOrganisation" && d.ValueString != "" && !slices.Contains(a.RecordsOf, d.ValueString) {
				a.RecordsOf = append(a.RecordsOf, d.ValueString)
			}
		}
	}
	return a, true, nil
}

func (r Report) table(w io.Writer) error {
	if len(r.Accesses) == 0 {
		_, err := fmt.Fprintf(w, "None: no break-glass access recorded since %s.\n", cli.FormatTime(r.Since))
		return err
	}
	t := cli.NewTable(w, "TIME", "USER", "ROLE", "ORGANISATION", "RECORDS OF", "RESOURCE", "REASON")
	for _, a := range r.Accesses {
		t.Row(cli.FormatTime(a.Time), cli.OrNone(a.User), cli.OrNone(a.Role), cli.OrNone(a.Organisation),
			cli.List(a.RecordsOf), cli.OrNone(a.Resource), cli.OrNone(a.Reason))
	}
	return t.Flush()
}
