/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package history is the "history" verb: the version chain of one
// agreement, with each version's terms hash recomputed and checked against
// the one the operator recorded and against the region's agreement ledger,
// its approvals, and what changed in the terms from one version to the
// next. Versions the ledger records whose object was deleted are listed
// too, marked as deleted.
package history

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/governance"
	"github.com/shcr-io/shcr-operator/internal/plugin/agreements"
	"github.com/shcr-io/shcr-operator/internal/plugin/cli"
)

// The outcomes of checking a version's terms hash.
const (
	HashMatches     = "matches status"
	HashMismatch    = "MISMATCH"
	HashNotRecorded = "not recorded yet"
)

// The outcomes of checking a version against the agreement ledger.
const (
	LedgerMatches  = "matches ledger"
	LedgerMismatch = "LEDGER MISMATCH"
	LedgerAbsent   = "not in ledger"
	// PhaseDeleted is the phase shown for a version the ledger records
	// whose object no longer exists.
	PhaseDeleted = "Deleted"
)

// History is the version chain of one agreement.
type History struct {
	AgreementID string      `json:"agreementId"`
	Namespace   string      `json:"namespace"`
	Versions    []Version   `json:"versions"`
	Amendments  []Amendment `json:"amendments"`
}

// Version is one version of the agreement.
type Version struct {
	agreements.Entry
	Supersedes  *int32     `json:"supersedes,omitempty"`
	ActiveSince *time.Time `json:"activeSince,omitempty"`
	// ComputedTermsHash is governance.TermsHash of the terms, recomputed
	// here; TermsHashCheck compares it with status.termsHash.
	ComputedTermsHash string `json:"computedTermsHash"`
	TermsHashCheck    string `json:"termsHashCheck"`
	// Deleted is true for a version the agreement ledger records whose
	// object has been deleted: only the ledger's entry remains.
	Deleted bool `json:"deleted"`
	// Ledger is the agreement ledger's entry for this version, if any;
	// LedgerCheck compares its terms hash with the computed one.
	Ledger      *governance.LedgerEntry `json:"ledger,omitempty"`
	LedgerCheck string                  `json:"ledgerCheck"`
}

// Amendment is what changed in the terms from one version to the next.
type Amendment struct {
	From    int32    `json:"from"`
	To      int32    `json:"to"`
	Changes []Change `json:"changes"`
}

type options struct {
	global *cli.Global
	output *cli.Output
}

// NewCommand returns the history verb.
func NewCommand(g *cli.Global) *cobra.Command {
	o := &options{global: g, output: cli.NewOutput(cli.FormatTable, cli.FormatJSON, cli.FormatYAML)}
	cmd := &cobra.Command{
		Use:     "history <agreementId>",
		Short:   "The versions of one agreement: terms hashes checked, phases, approvals and what changed",
		Example: "  kubectl shcr history TVS-DSA-001 --region thames-valley",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), args[0])
		},
	}
	cmd.Flags().VarP(o.output, "output", "o", o.output.Usage())
	return cmd
}

func (o *options) run(ctx context.Context, w io.Writer, agreementID string) error {
	target, err := o.global.Target()
	if err != nil {
		return err
	}
	c, err := o.global.Client()
	if err != nil {
		return err
	}
	h, err := load(ctx, c, target, agreementID)
	if err != nil {
		return err
	}
	return cli.Print(w, o.output.String(), h, h.table)
}

// Load builds the history of one agreement in a region, as the verb shows it.
func Load(ctx context.Context, c client.Reader, target cli.Target, agreementID string) (*History, error) {
	return load(ctx, c, target, agreementID)
}

// load builds the history of one agreement from its versions in the region
// and the region's agreement ledger.
func load(ctx context.Context, c client.Reader, target cli.Target, agreementID string) (*History, error) {
	list := &shcrv1alpha1.DataSharingAgreementList{}
	if err := c.List(ctx, list, client.InNamespace(target.Namespace)); err != nil {
		return nil, fmt.Errorf("listing DataSharingAgreements in %s: %w", target.Namespace, err)
	}
	ledger, err := readLedger(ctx, c, target.Namespace, agreementID)
	if err != nil {
		return nil, err
	}
	versions := slices.DeleteFunc(list.Items, func(a shcrv1alpha1.DataSharingAgreement) bool {
		return a.Spec.AgreementID != agreementID
	})
	if len(versions) == 0 && len(ledger) == 0 {
		return nil, fmt.Errorf("no DataSharingAgreement in %s has agreementId %q: 'kubectl shcr agreements -n %s' lists them",
			target.Namespace, agreementID, target.Namespace)
	}
	slices.SortFunc(versions, func(x, y shcrv1alpha1.DataSharingAgreement) int {
		return cmp.Or(cmp.Compare(x.Spec.Version, y.Spec.Version), cmp.Compare(x.Name, y.Name))
	})
	h := &History{AgreementID: agreementID, Namespace: target.Namespace, Versions: []Version{}, Amendments: []Amendment{}}
	present := map[int32]bool{}
	for i := range versions {
		v := newVersion(&versions[i], target.Region)
		v.Ledger, v.LedgerCheck = checkLedger(ledger, v.Version, v.ComputedTermsHash)
		present[v.Version] = true
		h.Versions = append(h.Versions, v)
		if i > 0 {
			prev, cur := &versions[i-1], &versions[i]
			h.Amendments = append(h.Amendments, Amendment{
				From: prev.Spec.Version, To: cur.Spec.Version, Changes: DiffTerms(&prev.Spec.Terms, &cur.Spec.Terms),
			})
		}
	}
	for version, entry := range ledger {
		if !present[version] {
			h.Versions = append(h.Versions, deletedVersion(target.Namespace, agreementID, version, entry))
		}
	}
	slices.SortStableFunc(h.Versions, func(x, y Version) int { return cmp.Compare(x.Version, y.Version) })
	return h, nil
}

// readLedger reads the agreement ledger's entries for one agreement, by
// version. No ledger yet means no entries; an entry that does not decode is
// an error, never skipped.
func readLedger(ctx context.Context, c client.Reader, namespace, agreementID string) (map[int32]governance.LedgerEntry, error) {
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: governance.LedgerName}, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading the agreement ledger (ConfigMap %s/%s): %w", namespace, governance.LedgerName, err)
	}
	out := map[int32]governance.LedgerEntry{}
	for key, value := range cm.Data {
		id, version, ok := governance.ParseLedgerKey(key)
		if !ok || id != agreementID {
			continue
		}
		entry, err := governance.DecodeLedgerEntry(value)
		if err != nil {
			return nil, fmt.Errorf("the agreement ledger's entry %s: %w", key, err)
		}
		out[version] = entry
	}
	return out, nil
}

// checkLedger compares a version's computed terms hash with the ledger.
func checkLedger(ledger map[int32]governance.LedgerEntry, version int32, computed string) (*governance.LedgerEntry, string) {
	entry, ok := ledger[version]
	switch {
	case !ok:
		return nil, LedgerAbsent
	case entry.TermsHash != computed:
		return &entry, LedgerMismatch
	}
	return &entry, LedgerMatches
}

// deletedVersion is a version only the ledger still records.
func deletedVersion(namespace, agreementID string, version int32, entry governance.LedgerEntry) Version {
	return Version{
		Entry: agreements.Entry{
			Namespace: namespace, Name: entry.Object, AgreementID: agreementID, Version: version, Title: entry.Title,
			Phase: PhaseDeleted, TermsHash: entry.TermsHash,
			Parties: []agreements.Party{}, Categories: []string{}, Approvals: []agreements.Approval{},
		},
		ComputedTermsHash: entry.TermsHash, TermsHashCheck: HashNotRecorded,
		Deleted: true, Ledger: &entry, LedgerCheck: LedgerMatches,
	}
}

func newVersion(a *shcrv1alpha1.DataSharingAgreement, region string) Version {
	v := Version{Entry: agreements.NewEntry(a), Supersedes: a.Spec.Supersedes}
	v.ComputedTermsHash, v.TermsHashCheck = CheckTermsHash(a, region)
	if a.Status.ActiveSince != nil {
		since := a.Status.ActiveSince.UTC()
		v.ActiveSince = &since
	}
	return v
}

// CheckTermsHash recomputes the terms hash of an agreement held in region
// and compares it with the one the operator recorded: HashMatches,
// HashMismatch or HashNotRecorded.
func CheckTermsHash(a *shcrv1alpha1.DataSharingAgreement, region string) (computed, check string) {
	computed = governance.TermsHash(&a.Spec.Terms, region)
	switch a.Status.TermsHash {
	case "":
		return computed, HashNotRecorded
	case computed:
		return computed, HashMatches
	default:
		return computed, HashMismatch
	}
}

func (h *History) table(w io.Writer) error {
	if _, err := fmt.Fprintf(w, "Agreement %s in %s: %d version(s)\n\n", h.AgreementID, h.Namespace, len(h.Versions)); err != nil {
		return err
	}
	versions := cli.NewTable(w, "VERSION", "NAME", "PHASE", "SUPERSEDES", "WINDOW", "ACTIVE SINCE", "TERMS HASH", "CHECK", "LEDGER")
	for _, v := range h.Versions {
		if v.Deleted {
			versions.Row(strconv.Itoa(int(v.Version)), v.Name, PhaseDeleted+" (ledger only)", cli.None, cli.None, cli.None,
				cli.ShortHash(v.Ledger.TermsHash), cli.None, "approved "+cli.FormatTime(v.Ledger.RecordedAt))
			continue
		}
		versions.Row(strconv.Itoa(int(v.Version)), v.Name, cli.OrNone(v.Phase), supersedes(v.Supersedes), v.Window(),
			activeSince(v.ActiveSince), cli.ShortHash(v.ComputedTermsHash), v.check(), v.ledgerCheck())
	}
	if err := versions.Flush(); err != nil {
		return err
	}
	if err := h.approvalsTable(w); err != nil {
		return err
	}
	if err := h.amendments(w); err != nil {
		return err
	}
	return h.rationales(w)
}

// rationales lists the documented reasons for each version and approval.
func (h *History) rationales(w io.Writer) error {
	if _, err := fmt.Fprintln(w, "\nDecisions (rationale and minutes)"); err != nil {
		return err
	}
	t := cli.NewTable(w, "VERSION", "DECISION", "RATIONALE")
	for _, v := range h.Versions {
		t.Row(strconv.Itoa(int(v.Version)), "agreed", cli.OrNone(v.Rationale))
		for _, a := range v.Approvals {
			t.Row(strconv.Itoa(int(v.Version)), "approved by "+a.Organisation, cli.OrNone(a.Rationale))
		}
	}
	return t.Flush()
}

func (h *History) approvalsTable(w io.Writer) error {
	if _, err := fmt.Fprintln(w, "\nApprovals"); err != nil {
		return err
	}
	t := cli.NewTable(w, "VERSION", "ORGANISATION", "SIGNATORY", "ROLE", "DATE", "RECORDED BY")
	for _, v := range h.Versions {
		for _, a := range v.Approvals {
			t.Row(strconv.Itoa(int(v.Version)), a.Organisation, a.Signatory, a.Role, cli.FormatDate(a.Date), cli.OrNone(a.RecordedBy))
		}
	}
	return t.Flush()
}

func (h *History) amendments(w io.Writer) error {
	for _, a := range h.Amendments {
		if _, err := fmt.Fprintf(w, "\nChanges v%d → v%d\n", a.From, a.To); err != nil {
			return err
		}
		if len(a.Changes) == 0 {
			if _, err := fmt.Fprintln(w, "  the terms are unchanged"); err != nil {
				return err
			}
		}
		for _, c := range a.Changes {
			if _, err := fmt.Fprintf(w, "  %s\n", c); err != nil {
				return err
			}
		}
	}
	return nil
}

// check writes the terms hash check for a table; a mismatch names the
// hash the operator recorded.
func (v Version) check() string {
	if v.TermsHashCheck == HashMismatch {
		return HashMismatch + ": status has " + cli.ShortHash(v.TermsHash)
	}
	return v.TermsHashCheck
}

// ledgerCheck writes the ledger check for a table; a mismatch names the
// hash the ledger holds.
func (v Version) ledgerCheck() string {
	switch {
	case v.Ledger == nil:
		return v.LedgerCheck
	case v.LedgerCheck == LedgerMismatch:
		return LedgerMismatch + ": ledger has " + cli.ShortHash(v.Ledger.TermsHash)
	}
	return v.LedgerCheck + " (approved " + cli.FormatTime(v.Ledger.RecordedAt) + ")"
}

func supersedes(v *int32) string {
	if v == nil {
		return cli.None
	}
	return strconv.Itoa(int(*v))
}

func activeSince(t *time.Time) string {
	if t == nil {
		return cli.None
	}
	return cli.FormatTime(*t)
}
