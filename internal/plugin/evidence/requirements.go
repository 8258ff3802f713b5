/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package evidence

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/plugin/accessmatrix"
	"github.com/shcr-io/shcr-operator/internal/plugin/cli"
	"github.com/shcr-io/shcr-operator/internal/plugin/history"
)

// requirements are the eight requirements of the Information Governance
// Framework for Shared Care Records, each with what the cluster shows.
func (v *view) requirements() []Section {
	sections := []Section{
		v.consistentPolicies(), v.dataFlows(), v.lawfulBasis(), v.accessControls(),
		v.objections(), v.cyberSecurity(), v.processors(), v.decisions(),
	}
	for i := range sections {
		sections[i].Title = fmt.Sprintf("IG requirement %d: %s", i+1, sections[i].Title)
	}
	return sections
}

func (v *view) consistentPolicies() Section {
	t := Table{Headers: []string{"Access policy", "Agreement", "Enforced version", "Roles", "Organisations", "In force", "Not enforced (beyond the agreement)"}}
	for i := range v.state.Policies {
		p := &v.state.Policies[i]
		t.Rows = append(t.Rows, []string{p.Name, p.Spec.AgreementID, strconv.Itoa(int(p.Status.AgreementVersion)),
			list(p.Spec.Subjects.Roles), orEvery(p.Spec.Subjects.Organisations),
			condition(p.Status.Conditions, shcrv1alpha1.ConditionInForce), list(p.Status.DroppedCategories)})
	}
	return Section{
		Title:      "Consistent IG policies",
		Checkpoint: "one set of rules, applied the same way to every organisation and every request",
		Notes: []string{
			fmt.Sprintf("%d access policies compile into one policy bundle; the region's gateway decides every request against it and nothing else. "+
				"A policy never grants more than its agreement: what exceeds it is listed as not enforced.", len(v.state.Policies)),
			v.bundleConsistency(),
		},
		Tables: []Table{t},
	}
}

// bundleConsistency says whether the stored bundle is what the objects
// compile to now.
func (v *view) bundleConsistency() string {
	switch {
	case v.storedErr != nil:
		return "The stored policy bundle could not be read (" + v.storedErr.Error() + "); the tables below are compiled from the objects."
	case v.storedRevision == v.compiledRevision:
		return "The stored policy bundle (revision " + v.storedRevision + ") is exactly what the objects compile to now."
	default:
		return "The stored policy bundle (revision " + v.storedRevision + ") differs from what the objects compile to now (revision " +
			v.compiledRevision + "): the operator has not yet caught up with a change. Check the ShCRRegion's PolicyCompiled condition."
	}
}

func (v *view) dataFlows() Section {
	parties := Table{Caption: "Parties and their roles", Headers: []string{"Agreement", "Party", "Role", "Shares now"}}
	for i := range v.state.Agreements {
		a := &v.state.Agreements[i]
		for _, p := range a.Status.Parties {
			parties.Rows = append(parties.Rows, []string{versionName(a), p.ODSCode, string(p.Role), sharesNow(a, p)})
		}
	}
	flows := Table{Caption: "Flows the enforced policy allows", Headers: []string{"Agreement", "Policy", "From (providers)", "To (consumers)", "Roles", "Categories", "In force"}}
	for _, g := range v.enforced.Grants {
		flows.Rows = append(flows.Rows, []string{fmt.Sprintf("%s v%d", g.Agreement, g.AgreementVersion), g.Policy,
			list(g.Providers), list(g.Consumers), list(g.Roles), list(g.Categories), cli.FormatWindow(g.ValidFrom, g.ValidUntil)})
	}
	return Section{
		Title:      "Known data flows with controller/processor at each step",
		Checkpoint: "every flow is known, with the controller or processor responsible at each step",
		Notes: []string{
			"Each provider remains the controller of the records it contributes, through its own connector, to the region's record service.",
			"The platform — record service and gateway in " + v.state.Namespace + " — processes the records for the controllers; " +
				"consumers' staff receive them only through the gateway, as the flows below allow.",
		},
		Tables: []Table{parties, flows},
	}
}

// sharesNow says whether a party shares under a version right now: only
// under an Active version, and only when the party itself is effective.
func sharesNow(a *shcrv1alpha1.DataSharingAgreement, p shcrv1alpha1.PartyStatus) string {
	switch {
	case a.Status.Phase != shcrv1alpha1.PhaseActive:
		return "no: the version is " + cli.OrNone(string(a.Status.Phase))
	case p.Effective:
		return "yes"
	default:
		return "no: " + cli.OrNone(p.Reason)
	}
}

func (v *view) lawfulBasis() Section {
	t := Table{Headers: []string{"Agreement", "Purpose", "Article 6", "Article 9", "Sensitive data", "Terms hash (recomputed)", "Check"}}
	for i := range v.state.Agreements {
		a := &v.state.Agreements[i]
		computed, check := history.CheckTermsHash(a, v.state.Region)
		t.Rows = append(t.Rows, []string{versionName(a), purpose(&a.Spec.Terms), a.Spec.Terms.LawfulBasis.Article6,
			a.Spec.Terms.LawfulBasis.Article9, string(a.Spec.Terms.SensitiveData), computed, check})
	}
	return Section{
		Title:      "Lawful basis and transparency",
		Checkpoint: "a lawful basis for each purpose, stated and published",
		Notes: []string{
			"Only DirectCare agreements grant access through the gateway; any other purpose needs its own stated basis and grants nothing here.",
			"The terms hash is recomputed from the terms held in the cluster and compared with the one the operator recorded; " +
				"it is the value to compare with the signed document.",
		},
		Tables: []Table{t},
	}
}

func (v *view) accessControls() Section {
	t := Table{Caption: "Effective access at " + cli.FormatTime(v.now) + " (read, purpose TREAT, legitimate relationship asserted)",
		Headers: []string{"Organisation", "Role", "Categories allowed", "Under"}}
	for _, row := range summarise(v.access) {
		t.Rows = append(t.Rows, []string{row.organisation, row.role, list(row.categories), list(row.under)})
	}
	return Section{
		Title:      "Access controls and records management",
		Checkpoint: "role-based access, deny by default, every access recorded and the records kept",
		Notes: []string{
			"Deny by default: only the grants of the enforced bundle allow anything. The admin role R8008 never gets clinical data.",
			auditNote(v.region.Spec.Audit),
			breakGlassNote,
		},
		Tables: []Table{t},
	}
}

// auditNote says where the audit trail goes and what keeps it, from the
// region's spec.audit and what the gateway does with it.
func auditNote(audit shcrv1alpha1.AuditSpec) string {
	const every = "Every decision, allowed or denied, is audited as a FHIR AuditEvent"
	if audit.Sink == shcrv1alpha1.AuditSinkFile {
		return fmt.Sprintf("%s to hash-chained files on each gateway replica's volume (spec.audit.sink File); "+
			"the gateway deletes a file once its newest event is older than %d days and records the deletion in the chain. "+
			"kubectl shcr audit verify checks the chain.", every, audit.RetentionDays)
	}
	return fmt.Sprintf("%s to the gateway's standard output (spec.audit.sink %s) for the cluster's log pipeline. "+
		"The platform keeps no copy: how long the pipeline keeps it is configured there, not here "+
		"(spec.audit.retentionDays, %d days, is not enforced with this sink).", every, cli.OrNone(string(audit.Sink)), audit.RetentionDays)
}

// breakGlassNote is what the gateway does with a break-glass access.
const breakGlassNote = "A break-glass access is audited as an emergency override with the stated reason, " +
	"logged as a warning and counted per organisation in the gateway's shcr_gateway_break_glass_total metric; " +
	"the ShCRBreakGlassUsed alert rule shipped with the operator fires on it where Prometheus scrapes the gateways. " +
	"kubectl shcr break-glass lists each one from the audit files for review."

func (v *view) objections() Section {
	return Section{
		Title:      "Patient objections considered",
		Checkpoint: "a patient's objection is recorded, considered and, when upheld, enforced",
		Notes: []string{
			v.objectionRegister(),
			"The gateway applies an upheld objection (UK GDPR Article 21) before any access decision; break-glass does not lift it.",
			"A Consent that records an objection is governance: it is never shared as data.",
			"The national data opt-out does not apply to direct care.",
			"Gateway: " + condition(v.region.Status.Conditions, shcrv1alpha1.ConditionGatewayAvailable) + ", serving " +
				cli.OrNone(v.region.Status.Endpoints.Gateway) + ".",
		},
	}
}

// objectionRegister says where the gateway reads upheld objections from.
// The register holds patients' NHS numbers, so it is named, not read.
func (v *view) objectionRegister() string {
	ref := v.region.Spec.Gateway.Objections
	if ref == nil {
		return "No objection register is configured (spec.gateway.objections is unset): the gateway applies no objections."
	}
	return fmt.Sprintf("Objection register: key %s of ConfigMap %s/%s, which the gateway reloads when it changes. "+
		"Its entries are patients' NHS numbers and are not copied into this pack.", ref.Key, v.state.Namespace, ref.Name)
}

func (v *view) cyberSecurity() Section {
	t := Table{Headers: []string{"Organisation", "ODS", "DSPT status", "Assessed on", "Admitted", "Admission expires"}}
	for i := range v.state.Members {
		m := &v.state.Members[i]
		expires := cli.None
		if m.Status.AdmissionExpiresAt != nil {
			expires = cli.FormatDate(m.Status.AdmissionExpiresAt.Time)
		}
		t.Rows = append(t.Rows, []string{m.Spec.Name, m.Spec.ODSCode, string(m.Spec.Governance.DSPT.Status),
			m.Spec.Governance.DSPT.AssessedOn, condition(m.Status.Conditions, shcrv1alpha1.ConditionAdmitted), expires})
	}
	return Section{
		Title:      "Cyber security guidance (DSPT)",
		Checkpoint: "every organisation meets current cyber security guidance: the Data Security and Protection Toolkit",
		Notes: []string{"Only DSPT Standards Met or Exceeded, assessed within the last 12 months, admits an organisation; " +
			"one that is not admitted shares and receives nothing."},
		Tables: []Table{t},
	}
}

func (v *view) processors() Section {
	processors := Table{Caption: "Processor parties", Headers: []string{"Agreement", "Processor", "Member", "DSPT status", "Admitted"}}
	for i := range v.state.Agreements {
		a := &v.state.Agreements[i]
		for _, p := range a.Spec.Terms.Parties {
			if p.Role == shcrv1alpha1.PartyProcessor {
				processors.Rows = append(processors.Rows, v.processorRow(a, p.ODSCode))
			}
		}
	}
	contacts := Table{Caption: "Accountable contacts", Headers: []string{"Organisation", "ODS", "Data Protection Officer", "Caldicott Guardian", "ICO registration"}}
	for i := range v.state.Members {
		g := v.state.Members[i].Spec.Governance
		contacts.Rows = append(contacts.Rows, []string{v.state.Members[i].Spec.Name, v.state.Members[i].Spec.ODSCode,
			contact(g.DataProtectionOfficer), contact(g.CaldicottGuardian), cli.OrNone(g.ICORegistration)})
	}
	return Section{
		Title:      "Due diligence on processors",
		Checkpoint: "processors are chosen with due diligence and bound by the agreement",
		Notes:      []string{"The platform operator processes for the controllers; processor parties pass the same DSPT gate as every member."},
		Tables:     []Table{processors, contacts},
	}
}

func (v *view) processorRow(a *shcrv1alpha1.DataSharingAgreement, ods string) []string {
	m, ok := v.state.Member(ods)
	if !ok {
		return []string{versionName(a), ods, "not a member", cli.None, cli.None}
	}
	return []string{versionName(a), ods, m.Spec.Name, string(m.Spec.Governance.DSPT.Status), condition(m.Status.Conditions, shcrv1alpha1.ConditionAdmitted)}
}

func contact(c shcrv1alpha1.Contact) string {
	if c.Email == "" {
		return c.Name
	}
	return c.Name + " <" + c.Email + ">"
}

func (v *view) decisions() Section {
	t := Table{Caption: "Approvals", Headers: []string{"Agreement", "Organisation", "Signatory", "Role", "Date", "Recorded by"}}
	var awaiting, suspended int
	notes := []string{"Approvals are append-only. Recorded by is the Kubernetes identity that added the approval, set by the admission webhook; " +
		"an approval without it does not count."}
	for i := range v.state.Agreements {
		a := &v.state.Agreements[i]
		for _, ap := range a.Spec.Approvals {
			t.Rows = append(t.Rows, []string{versionName(a), ap.Organisation, ap.Signatory, string(ap.Role),
				cli.FormatDate(ap.Date.Time), cli.OrNone(ap.RecordedBy)})
		}
		if missing := a.Status.MissingApprovals; len(missing) > 0 {
			notes = append(notes, versionName(a)+" awaits the approval of "+strings.Join(missing, ", ")+".")
			awaiting++
		}
		if a.Spec.Suspended {
			notes = append(notes, versionName(a)+" is suspended: "+cli.OrNone(a.Spec.SuspensionReason)+".")
			suspended++
		}
	}
	notes = append(notes, fmt.Sprintf("Of %d agreement versions, %s and %s.", len(v.state.Agreements),
		count(awaiting, "awaits approvals", "await approvals", "none awaits an approval"),
		count(suspended, "is suspended", "are suspended", "none is suspended")))
	return Section{
		Title:      "Documented decisions",
		Checkpoint: "who decided what, when, and why, on the record",
		Notes:      notes,
		Tables:     []Table{t},
	}
}

// count writes "1 one", "n many" or none.
func count(n int, one, many, none string) string {
	switch n {
	case 0:
		return none
	case 1:
		return "1 " + one
	default:
		return fmt.Sprintf("%d %s", n, many)
	}
}

func orEvery(orgs []string) string {
	if len(orgs) == 0 {
		return "every party"
	}
	return list(orgs)
}

// accessRow is what one organisation's staff in one role may read.
type accessRow struct {
	organisation, role string
	categories, under  []string
}

// summarise gives, per organisation and role, the categories allowed and
// the agreement versions and policies allowing them.
func summarise(cells []accessmatrix.Cell) []accessRow {
	var rows []accessRow
	for _, c := range cells {
		if n := len(rows); n == 0 || rows[n-1].organisation != c.Organisation || rows[n-1].role != c.Role {
			rows = append(rows, accessRow{organisation: c.Organisation, role: c.Role})
		}
		row := &rows[len(rows)-1]
		if !c.Allowed {
			continue
		}
		row.categories = append(row.categories, c.Category)
		for _, g := range c.Grants {
			row.under = append(row.under, fmt.Sprintf("%s v%d %s", g.Agreement, g.AgreementVersion, g.Policy))
		}
	}
	for i := range rows {
		slices.Sort(rows[i].under)
		rows[i].under = slices.Compact(rows[i].under)
	}
	return rows
}
