/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package explain is the "explain" verb: whether a member of staff may read
// a category of records, and why, decided by policy.Decide — the gateway's
// own decision function — against the bundle the operator stored for the
// gateway, or against one compiled from the region's objects.
package explain

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/plugin/accessmatrix"
	"github.com/shcr-io/shcr-operator/internal/plugin/cli"
	"github.com/shcr-io/shcr-operator/internal/plugin/regionstate"
	"github.com/shcr-io/shcr-operator/internal/policy"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// Report is a request and the decision for each source organisation.
type Report struct {
	Region    string    `json:"region"`
	Namespace string    `json:"namespace"`
	At        time.Time `json:"at"`
	// PolicyFrom says which bundle decided: the stored one or one compiled
	// from the objects; Revision is that bundle's revision.
	PolicyFrom string     `json:"policyFrom"`
	Revision   string     `json:"revision"`
	Request    Request    `json:"request"`
	Decisions  []Decision `json:"decisions"`
}

// Request is what was asked, apart from the source organisation.
type Request struct {
	Organisation           string `json:"organisation"`
	Role                   string `json:"role"`
	Category               string `json:"category"`
	Action                 string `json:"action"`
	PurposeOfUse           string `json:"purposeOfUse"`
	LegitimateRelationship bool   `json:"legitimateRelationship"`
	BreakGlassReason       string `json:"breakGlassReason,omitempty"`
}

// Decision is the decision for the records of one source organisation.
type Decision struct {
	Source           string     `json:"source"`
	Allow            bool       `json:"allow"`
	BreakGlass       bool       `json:"breakGlass,omitempty"`
	Agreement        string     `json:"agreement,omitempty"`
	AgreementVersion int32      `json:"agreementVersion,omitempty"`
	Policy           string     `json:"policy,omitempty"`
	ValidFrom        *time.Time `json:"validFrom,omitempty"`
	ValidUntil       *time.Time `json:"validUntil,omitempty"`
	Reasons          []string   `json:"reasons"`
}

type options struct {
	global         *cli.Global
	request        Request
	source         string
	noRelationship bool
	at             cli.Time
	fromObjects    bool
	output         *cli.Output
}

// NewCommand returns the explain verb.
func NewCommand(g *cli.Global) *cobra.Command {
	o := &options{global: g, output: cli.NewOutput(cli.FormatTable, cli.FormatJSON, cli.FormatYAML)}
	cmd := &cobra.Command{
		Use:   "explain --org <ODS> --role <Rxxxx> --category <category>",
		Short: "Whether staff of an organisation in a role may read a category of records, and why",
		Long: "explain decides a request with policy.Decide, as the region's gateway does, against the policy\n" +
			"bundle the operator stored for the gateway (ConfigMap policy-bundle), or, with --from-objects,\n" +
			"against a bundle compiled from the region's objects. Without --source it decides for every\n" +
			"provider organisation the bundle names.",
		Example: "  kubectl shcr explain --region thames-valley --org RTH --role R8000 --category Medications --source K84001\n" +
			"  kubectl shcr explain --region thames-valley --org RTH --role R8000 --category TestResults \\\n" +
			"      --purpose ETREAT --break-glass-reason \"unconscious patient in ED\" --no-relationship",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), time.Now())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.request.Organisation, "org", "", "ODS code of the caller's organisation")
	f.StringVar(&o.request.Role, "role", "", "the caller's national RBAC role code, such as R8000")
	f.StringVar(&o.request.Category, "category", "", "data category of the records: "+strings.Join(policy.Categories, ", "))
	f.StringVar(&o.source, "source", "", "ODS code of the organisation the records came from (default: every provider in the bundle)")
	f.StringVar(&o.request.PurposeOfUse, "purpose", policy.PurposeTreat, "purpose of use: TREAT, or ETREAT (only via break-glass)")
	f.StringVar(&o.request.Action, "action", policy.ActionRead, "read or search")
	f.StringVar(&o.request.BreakGlassReason, "break-glass-reason", "", "ask for a break-glass override, starting now (or at --at), for this reason")
	f.BoolVar(&o.noRelationship, "no-relationship", false, "the caller does not assert a legitimate relationship with the patient")
	f.Var(&o.at, "at", "decide at this RFC 3339 time instead of now")
	f.BoolVar(&o.fromObjects, "from-objects", false, "compile the bundle from the region's objects instead of reading the stored one")
	f.VarP(o.output, "output", "o", o.output.Usage())
	for _, name := range []string{"org", "role", "category"} {
		_ = cmd.MarkFlagRequired(name) // the flags exist: cannot fail
	}
	return cmd
}

func (o *options) run(ctx context.Context, w io.Writer, now time.Time) error {
	if err := o.validate(); err != nil {
		return err
	}
	target, err := o.global.Target()
	if err != nil {
		return err
	}
	bundle, from, err := o.bundle(ctx, target)
	if err != nil {
		return err
	}
	revision, err := regionstate.Revision(bundle)
	if err != nil {
		return err
	}
	o.request.LegitimateRelationship = !o.noRelationship
	r := Report{Region: target.Region, Namespace: target.Namespace, At: o.at.Or(now), PolicyFrom: from, Revision: revision, Request: o.request}
	r.Decisions = decide(bundle, r.Request, o.sources(bundle), r.At)
	if err := o.addAgreementTimes(ctx, target, r); err != nil {
		return err
	}
	return cli.Print(w, o.output.String(), r, r.print)
}

// addAgreementTimes adds to each denial the agreements that would cover the
// request but have ended or not yet begun (agreementTimes).
func (o *options) addAgreementTimes(ctx context.Context, target cli.Target, r Report) error {
	if !slices.ContainsFunc(r.Decisions, func(d Decision) bool { return !d.Allow }) {
		return nil
	}
	c, err := o.global.Client()
	if err != nil {
		return err
	}
	state, err := regionstate.Load(ctx, c, target)
	if err != nil {
		return err
	}
	for i := range r.Decisions {
		if d := &r.Decisions[i]; !d.Allow {
			d.Reasons = append(d.Reasons, agreementTimes(state, r.Request, d.Source, r.At)...)
		}
	}
	return nil
}

func (o *options) validate() error {
	switch {
	case !slices.Contains(policy.Categories, o.request.Category):
		return fmt.Errorf("--category %q is not a data category: use one of %s", o.request.Category, strings.Join(policy.Categories, ", "))
	case o.request.PurposeOfUse != policy.PurposeTreat && o.request.PurposeOfUse != policy.PurposeEmergencyTreat:
		return fmt.Errorf("--purpose %q: use TREAT, or ETREAT for emergency treatment (only via break-glass)", o.request.PurposeOfUse)
	case o.request.Action != policy.ActionRead && o.request.Action != policy.ActionSearch:
		return fmt.Errorf("--action %q: use read or search", o.request.Action)
	}
	return nil
}

// bundle returns the bundle to decide against and says where it came from.
func (o *options) bundle(ctx context.Context, target cli.Target) (policy.Bundle, string, error) {
	c, err := o.global.Client()
	if err != nil {
		return policy.Bundle{}, "", err
	}
	if o.fromObjects {
		state, err := regionstate.Load(ctx, c, target)
		if err != nil {
			return policy.Bundle{}, "", err
		}
		return policy.Compile(state.PolicyInput(regionstate.AsOperator)), "compiled from the region's objects (--from-objects)", nil
	}
	b, err := regionstate.StoredBundle(ctx, c, target.Namespace)
	return b, fmt.Sprintf("ConfigMap %s/%s, the bundle the gateway enforces", target.Namespace, specs.PolicyBundleName), err
}

// sources are --source, or else every provider the bundle names.
func (o *options) sources(b policy.Bundle) []string {
	if o.source != "" {
		return []string{o.source}
	}
	var providers []string
	for _, g := range b.Grants {
		providers = append(providers, g.Providers...)
	}
	slices.Sort(providers)
	return slices.Compact(providers)
}

// decide decides the request for the records of each source at an instant.
// A break-glass override, when a reason is given, starts at that instant.
func decide(b policy.Bundle, r Request, sources []string, at time.Time) []Decision {
	req := policy.Request{
		CallerODS: r.Organisation, Role: r.Role, PurposeOfUse: r.PurposeOfUse, LegitimateRelationship: r.LegitimateRelationship,
		BreakGlassReason: r.BreakGlassReason, Action: r.Action, Category: r.Category,
	}
	if r.BreakGlassReason != "" {
		req.BreakGlassStarted = at
	}
	if len(sources) == 0 {
		sources = []string{""} // no provider: the decision says why nothing is shared
	}
	windows := accessmatrix.Windows(b)
	decider := policy.NewDecider(b)
	out := make([]Decision, 0, len(sources))
	for _, source := range sources {
		req.SourceODS = source
		d := decider.Decide(req, at)
		decision := Decision{
			Source: source, Allow: d.Allow, BreakGlass: d.BreakGlass, Agreement: d.Agreement,
			AgreementVersion: d.AgreementVersion, Policy: d.Policy, Reasons: d.Reasons(),
		}
		if w, ok := windows[policy.AgreementKey{ID: d.Agreement, Version: d.AgreementVersion}]; ok && d.Allow {
			decision.ValidFrom, decision.ValidUntil = &w.From, &w.Until
		}
		out = append(out, decision)
	}
	return out
}

// agreementTimes says, for a request denied at an instant, which agreement
// versions of the region would cover it but are not in force then: those
// whose end has passed and those whose start is still to come, and when. A
// version covers the request when the caller and the source (any, without
// --source) are among its parties and one of its policies names the role
// for the caller.
// The compiled bundle no longer holds an ended agreement's grants once its
// parties stop sharing, so this reads the objects.
func agreementTimes(state *regionstate.State, r Request, source string, at time.Time) []string {
	var reasons []string
	for i := range state.Agreements {
		a := &state.Agreements[i]
		if !hasParty(a, r.Organisation) || source != "" && !hasParty(a, source) || !grantsRole(state.Policies, a.Spec.AgreementID, r.Role, r.Organisation) {
			continue
		}
		version := fmt.Sprintf("agreement %s version %d (phase %s)", a.Spec.AgreementID, a.Spec.Version, a.Status.Phase)
		switch {
		case !at.Before(a.Spec.Terms.EndsOn.Time):
			reasons = append(reasons, fmt.Sprintf("%s ended at %s: nothing is shared under it after that", version, cli.FormatTime(a.Spec.Terms.EndsOn.Time)))
		case at.Before(a.Spec.Terms.EffectiveFrom.Time):
			reasons = append(reasons, fmt.Sprintf("%s has not yet begun: it takes effect at %s", version, cli.FormatTime(a.Spec.Terms.EffectiveFrom.Time)))
		}
	}
	return reasons
}

// hasParty says whether the organisation is a party to the agreement.
func hasParty(a *shcrv1alpha1.DataSharingAgreement, ods string) bool {
	return slices.ContainsFunc(a.Spec.Terms.Parties, func(p shcrv1alpha1.Party) bool { return p.ODSCode == ods })
}

// grantsRole says whether a policy under the agreement names the role for
// the caller's organisation.
func grantsRole(policies []shcrv1alpha1.AccessPolicy, agreementID, role, caller string) bool {
	return slices.ContainsFunc(policies, func(p shcrv1alpha1.AccessPolicy) bool {
		return p.Spec.AgreementID == agreementID && slices.Contains(p.Spec.Subjects.Roles, role) &&
			(len(p.Spec.Subjects.Organisations) == 0 || slices.Contains(p.Spec.Subjects.Organisations, caller))
	})
}

func (r Report) print(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Policy:   %s, revision %.12s\n", r.PolicyFrom, r.Revision)
	fmt.Fprintf(&b, "At:       %s\n", cli.FormatTime(r.At))
	fmt.Fprintf(&b, "Request:  %s\n", r.Request)
	for _, d := range r.Decisions {
		b.WriteString("\n" + d.String())
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// String writes the request for people.
func (r Request) String() string {
	s := fmt.Sprintf("staff of %s in role %s %s %s, purpose %s, ", r.Organisation, r.Role, r.Action, r.Category, r.PurposeOfUse)
	if r.LegitimateRelationship {
		s += "legitimate relationship asserted"
	} else {
		s += "no legitimate relationship asserted"
	}
	if r.BreakGlassReason != "" {
		s += fmt.Sprintf(", break-glass requested (%q)", r.BreakGlassReason)
	}
	return s
}

// String writes the decision for people, reasons last.
func (d Decision) String() string {
	var b strings.Builder
	verdict := "DENY"
	switch {
	case d.Allow && d.BreakGlass:
		verdict = "ALLOW (break-glass emergency override, audited)"
	case d.Allow:
		verdict = "ALLOW"
	}
	fmt.Fprintf(&b, "Records from %s: %s\n", cli.OrNone(d.Source), verdict)
	if d.Allow {
		fmt.Fprintf(&b, "  agreement  %s version %d", d.Agreement, d.AgreementVersion)
		if d.ValidFrom != nil {
			fmt.Fprintf(&b, ", in force %s", cli.FormatWindow(*d.ValidFrom, *d.ValidUntil))
		}
		fmt.Fprintf(&b, "\n  policy     %s\n", d.Policy)
	}
	b.WriteString("  reasons\n")
	for _, reason := range d.Reasons {
		fmt.Fprintf(&b, "    - %s\n", reason)
	}
	return b.String()
}
