/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// fhirResource is the part of a resource the tests read from the
// gateway's answers.
type fhirResource struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
}

// dave is a patient who does not object, a second patient for the
// resources about more than one.
var dave = withCheckDigit("485777345")

// resourceJSON writes a resource of type typ with id, from B86001, with
// the members given as JSON text.
func resourceJSON(typ, id string, members ...string) string {
	parts := append([]string{
		fmt.Sprintf(`"resourceType":%q,"id":%q`, typ, id),
		`"meta":{"versionId":"1","tag":[{"system":"` + SystemODS + `","code":"B86001"}]}`,
	}, members...)
	return "{" + strings.Join(parts, ",") + "}"
}

// containedJSON is a contained resource of type typ with id.
func containedJSON(typ, id string, members ...string) string {
	return "{" + strings.Join(append([]string{fmt.Sprintf(`"resourceType":%q,"id":%q`, typ, id)}, members...), ",") + "}"
}

// nhsID is an Identifier in the NHS number system.
func nhsID(nhs string) string {
	return `{"system":"` + SystemNHSNumber + `","value":"` + nhs + `"}`
}

// patientRef is a Reference to the patient with an NHS number, literal
// (Patient/<literal>) and by identifier; an empty literal or nhs leaves
// that part out.
func patientRef(literal, nhs string) string {
	var parts []string
	if literal != "" {
		parts = append(parts, `"reference":"Patient/`+literal+`"`)
	}
	if nhs != "" {
		parts = append(parts, `"identifier":`+nhsID(nhs))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// resourceCase is a resource the record service answers a read with, and
// what the gateway must decide on it.
type resourceCase struct {
	name     string
	resource string
	// allowed is whether a clinician treating the patient is given it;
	// reason is part of the audit event's reason.
	allowed bool
	reason  string
	// breakGlassAllowed is whether a clinician breaking glass is given it;
	// only label cases say.
	breakGlassAllowed *bool
}

// labelInput is the fixture policy with discharge letters granted too, so
// that DocumentReference and Composition labels can be tried.
func labelInput() policy.Input {
	in := testInput()
	in.Policies[0].Grants[0].Categories = append(in.Policies[0].Grants[0].Categories, policy.CategoryDischargeLetters)
	return in
}

// readCases reads each case's resource through the gateway, answered by
// the record service as it is written, and checks the answer and its
// audit event: no NHS number is in the reason.
func readCases(t *testing.T, cases []resourceCase) {
	t.Helper()
	in := labelInput()
	h := newHarness(t, func(s *setup) { s.input = &in })
	token := clinician().sign(t)
	breakGlass := clinician().breakingGlass("patient deteriorating", time.Minute).sign(t)
	for _, c := range cases {
		var named fhirResource
		must(t, json.Unmarshal([]byte(c.resource), &named))
		path := "/" + named.ResourceType + "/" + named.ID
		h.records.answerWith(c.resource)
		resp := h.get(t, path, token)
		if got := resp.status == http.StatusOK; got != c.allowed || (resp.status != http.StatusOK && resp.status != http.StatusForbidden) {
			t.Errorf("%s: status %d, want allowed=%v: %s", c.name, resp.status, c.allowed, resp.body)
		}
		events := h.audit.take(t)
		if len(events) != 1 {
			t.Errorf("%s: %d audit events, want 1", c.name, len(events))
			continue
		}
		desc := events[0].OutcomeDesc
		if !strings.Contains(desc, c.reason) {
			t.Errorf("%s: audit reason %q, want one containing %q", c.name, desc, c.reason)
		}
		for _, nhs := range []string{alice, bob, carol, dave} {
			if strings.Contains(desc, nhs) || strings.Contains(string(resp.body), nhs) && !c.allowed {
				t.Errorf("%s: the reason or refusal discloses an NHS number: %q %s", c.name, desc, resp.body)
			}
		}
		if c.breakGlassAllowed != nil {
			resp := h.get(t, path, breakGlass)
			if got := resp.status == http.StatusOK; got != *c.breakGlassAllowed {
				t.Errorf("%s: breaking glass, status %d, want allowed=%v", c.name, resp.status, *c.breakGlassAllowed)
			}
			h.audit.take(t)
		}
	}
}

// TestReadDecidesOnEveryPatient reads resources that name patients in
// every place R4 allows and in places it does not define, and shares only
// those whose every patient is identified by one valid NHS number, named
// consistently, and does not object; a second patient withholds every
// type but Appointment, and a type outside the patient compartment may
// carry no patient at all.
func TestReadDecidesOnEveryPatient(t *testing.T) {
	readCases(t, patientCases(t))
}

// TestSearchDecidesOnEveryPatient searches for observations, answered with
// a page of every Observation of patientCases, and passes on exactly those
// a read passes on, each audited with its reason.
func TestSearchDecidesOnEveryPatient(t *testing.T) {
	var observations []resourceCase
	var entries []string
	for _, c := range patientCases(t) {
		if strings.HasPrefix(c.resource, `{"resourceType":"Observation"`) {
			observations = append(observations, c)
			entries = append(entries, `{"resource":`+c.resource+`,"search":{"mode":"match"}}`)
		}
	}
	h := newHarness(t)
	h.records.answerWith(`{"resourceType":"Bundle","type":"searchset","entry":[` + strings.Join(entries, ",") + `]}`)
	resp := h.get(t, "/Observation?subject:identifier="+SystemNHSNumber+"|"+alice, clinician().sign(t))
	if resp.status != http.StatusOK {
		t.Fatalf("status = %d: %s", resp.status, resp.body)
	}
	_, got := resp.bundle(t)
	outcomes := map[string]string{}
	for _, e := range h.audit.take(t) {
		outcomes[e.Entity[len(e.Entity)-1].What.Reference] = e.OutcomeDesc
	}
	var want []string
	for _, c := range observations {
		var named fhirResource
		must(t, json.Unmarshal([]byte(c.resource), &named))
		key := named.ResourceType + "/" + named.ID
		if c.allowed {
			want = append(want, key)
		}
		desc, ok := outcomes[key]
		// The search names alice: a resource about an objecting patient
		// (not alice) is withheld first for being about someone else.
		if ok && strings.Contains(c.reason, "upheld objection") && strings.Contains(desc, "not about the one patient the search was scoped to") {
			continue
		}
		if !ok || !strings.Contains(desc, c.reason) {
			t.Errorf("%s: audit reason %q, want one containing %q", c.name, desc, c.reason)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("entries %v, want %v", got, want)
	}
}

// patientCases are resources that name patients in every place R4 allows
// and in places it does not define, with what a clinician treating the
// patient is given.
func patientCases(t *testing.T) []resourceCase {
	t.Helper()
	if !ValidNHSNumber(dave) || slices.Contains([]string{alice, bob, carol}, dave) {
		t.Fatalf("dave %s must be a fourth valid NHS number", dave)
	}
	const (
		unidentified = "does not identify its patient"
		invalid      = "does not hold a valid NHS number"
		inconsistent = "different NHS numbers"
		mismatch     = "points at another resource"
		many         = "more than one patient"
		unresolved   = "does not contain"
		objection    = "upheld objection"
		notPatient   = "is not patient data"
		allowedBy    = "allowed by policy"
	)
	obs := func(id string, members ...string) string {
		return resourceJSON("Observation", id, append([]string{`"status":"final"`}, members...)...)
	}
	subject := func(ref string) string { return `"subject":` + ref }
	cases := []resourceCase{
		// Shared: every patient identified, once, consistently.
		{name: "identifier and literal", resource: obs("o1", subject(patientRef("pa", alice))), allowed: true, reason: allowedBy},
		{name: "identifier only", resource: obs("o2", subject(patientRef("", alice))), allowed: true, reason: allowedBy},
		{name: "type and identifier", resource: obs("o3", subject(`{"type":"Patient","identifier":`+nhsID(alice)+`}`)), allowed: true, reason: allowedBy},
		{name: "same patient literal elsewhere", resource: obs("o4", subject(patientRef("pa", alice)), `"performer":[{"reference":"Patient/pa"}]`), allowed: true, reason: allowedBy},
		{name: "versioned literal", resource: obs("o5", subject(`{"reference":"Patient/pa/_history/2","identifier":`+nhsID(alice)+`}`), `"performer":[{"reference":"Patient/pa"}]`), allowed: true, reason: allowedBy},
		{name: "absolute literal with identifier", resource: obs("o6", subject(`{"reference":"https://records.example/fhir/Patient/pa","identifier":`+nhsID(alice)+`}`)), allowed: true, reason: allowedBy},
		{name: "contained patient by local reference", resource: obs("o7", `"contained":[`+containedJSON("Patient", "p1", `"identifier":[`+nhsID(alice)+`]`)+`]`, subject(`{"reference":"#p1"}`)), allowed: true, reason: allowedBy},
		{name: "contained patient and identifier agree", resource: obs("o8", `"contained":[`+containedJSON("Patient", "p1", `"identifier":[`+nhsID(alice)+`]`)+`]`, subject(`{"reference":"#p1","identifier":`+nhsID(alice)+`}`)), allowed: true, reason: allowedBy},
		{name: "same patient in an extension", resource: obs("o9", subject(patientRef("pa", alice)), `"extension":[{"url":"https://example.org/x","valueReference":`+patientRef("pa", alice)+`}]`), allowed: true, reason: allowedBy},
		{name: "contained observation about the same patient", resource: resourceJSON("DiagnosticReport", "dr1", `"status":"final"`, `"contained":[`+containedJSON("Observation", "c1", subject(patientRef("", alice)))+`]`, subject(patientRef("pa", alice))), allowed: true, reason: allowedBy},
		{name: "same patient as a string", resource: obs("o11", subject(patientRef("pa", alice)), `"note":[{"text":"Patient/pa"}]`), allowed: true, reason: allowedBy},
		{name: "text mentioning a patient", resource: obs("o12", subject(patientRef("pa", alice)), `"note":[{"text":"seen with Patient/other today"}]`), allowed: true, reason: allowedBy},
		{name: "non-patient references", resource: obs("o10", subject(patientRef("pa", alice)), `"performer":[{"reference":"Practitioner/1","type":"Practitioner"},{"reference":"Organization/2"}]`), allowed: true, reason: allowedBy},
		{name: "patient with its NHS number", resource: resourceJSON("Patient", "pa", `"identifier":[{"system":"https://example.org/mrn","value":"X1"},`+nhsID(alice)+`]`, `"generalPractitioner":[{"reference":"Practitioner/1"}]`), allowed: true, reason: allowedBy},
		{name: "appointment for two patients", resource: resourceJSON("Appointment", "a1", `"status":"booked"`, `"participant":[{"actor":`+patientRef("pa", alice)+`},{"actor":`+patientRef("pd", dave)+`},{"actor":{"reference":"Practitioner/1"}}]`), allowed: true, reason: allowedBy},
		{name: "practitioner", resource: resourceJSON("Practitioner", "pr1", `"name":[{"family":"Who"}]`), allowed: true, reason: allowedBy},

		// Unidentified.
		{name: "literal only", resource: obs("u1", subject(`{"reference":"Patient/123"}`)), reason: unidentified},
		{name: "type only", resource: obs("u2", subject(`{"type":"Patient","display":"Alice"}`)), reason: unidentified},
		{name: "display only", resource: obs("u3", subject(`{"display":"Alice"}`)), reason: unidentified},
		{name: "conditional literal", resource: obs("u4", subject(`{"reference":"Patient?identifier=x"}`)), reason: unidentified},
		{name: "second patient literal only", resource: obs("u5", subject(patientRef("pa", alice)), `"performer":[{"reference":"Patient/other"}]`), reason: unidentified},
		{name: "contained patient without NHS number", resource: obs("u6", `"contained":[`+containedJSON("Patient", "p1")+`]`, subject(`{"reference":"#p1"}`)), reason: unidentified},
		{name: "patient without NHS number", resource: resourceJSON("Patient", "pa", `"identifier":[{"system":"https://example.org/mrn","value":"X1"}]`), reason: unidentified},
		{name: "patient linked to another", resource: resourceJSON("Patient", "pa", `"identifier":[`+nhsID(alice)+`]`, `"link":[{"other":{"reference":"Patient/old"},"type":"replaces"}]`), reason: unidentified},
		{name: "subject written as a string", resource: obs("u7", `"subject":"Patient/123"`), reason: unidentified},
		{name: "second patient as a string in an unknown element", resource: obs("u8", subject(patientRef("pa", alice)), `"zz":["https://host/fhir/Patient/other"]`), reason: unidentified},
		{name: "appointment second patient unidentified", resource: resourceJSON("Appointment", "a2", `"participant":[{"actor":`+patientRef("pa", alice)+`},{"actor":{"reference":"Patient/x"}}]`), reason: unidentified},
		// Invalid NHS numbers.
		{name: "check digit fails", resource: obs("i1", subject(patientRef("pa", "1234567890"))), reason: invalid},
		{name: "spaced NHS number", resource: obs("i2", subject(patientRef("pa", alice[:3]+" "+alice[3:6]+" "+alice[6:]))), reason: invalid},
		{name: "NHS number only in an extension", resource: obs("i3", subject(`{"identifier":{"system":"`+SystemNHSNumber+`","_value":{"extension":[]}}}`)), reason: invalid},
		{name: "NHS number as a number", resource: obs("i4", subject(`{"identifier":{"system":"`+SystemNHSNumber+`","value":`+alice+`}}`)), reason: invalid},
		{name: "NHS system in another case, bad value", resource: obs("i5", subject(`{"identifier":{"system":"`+strings.ToUpper(SystemNHSNumber)+` ","value":"x"}}`)), reason: invalid},
		{name: "patient with a bad second NHS number", resource: resourceJSON("Patient", "pa", `"identifier":[`+nhsID(alice)+`,`+nhsID("1234567890")+`]`), reason: invalid},
		// Inconsistent.
		{name: "contained patient disagrees with identifier", resource: obs("c1", `"contained":[`+containedJSON("Patient", "p1", `"identifier":[`+nhsID(dave)+`]`)+`]`, subject(`{"reference":"#p1","identifier":`+nhsID(alice)+`}`)), reason: inconsistent},
		{name: "one literal two identifiers", resource: obs("c2", subject(patientRef("pa", alice)), `"performer":[`+patientRef("pa", dave)+`]`), reason: inconsistent},
		{name: "patient with two NHS numbers", resource: resourceJSON("Patient", "pa", `"identifier":[`+nhsID(alice)+`,`+nhsID(dave)+`]`), reason: inconsistent},
		{name: "patient referred to with another number", resource: resourceJSON("Patient", "pa", `"identifier":[`+nhsID(alice)+`]`, `"extension":[{"url":"https://example.org/x","valueReference":`+patientRef("pa", dave)+`}]`), reason: inconsistent},
		{name: "reference named twice", resource: obs("c3", subject(`{"reference":"Patient/pa","Reference":"Patient/pb","identifier":`+nhsID(alice)+`}`)), reason: "names its target twice"},
		{name: "local reference to a non-patient with NHS number", resource: obs("c4", `"contained":[`+containedJSON("Practitioner", "pr")+`]`, subject(`{"reference":"#pr","identifier":`+nhsID(alice)+`}`)), reason: mismatch},
		{name: "practitioner literal with NHS number", resource: obs("c5", subject(`{"reference":"Practitioner/1","identifier":`+nhsID(alice)+`}`)), reason: mismatch},
		{name: "practitioner type with patient literal", resource: obs("c6", subject(`{"reference":"Patient/pa","type":"Practitioner","identifier":`+nhsID(alice)+`}`)), reason: mismatch},
		{name: "unresolved local reference", resource: obs("c7", subject(patientRef("pa", alice)), `"performer":[{"reference":"#nowhere"}]`), reason: unresolved},
		// More than one patient.
		{name: "second patient as performer", resource: obs("m1", subject(patientRef("pa", alice)), `"performer":[`+patientRef("pd", dave)+`]`), reason: many},
		{name: "second patient in an extension", resource: obs("m2", subject(patientRef("pa", alice)), `"extension":[{"url":"https://example.org/x","valueReference":`+patientRef("", dave)+`}]`), reason: many},
		{name: "second patient in an unknown element", resource: obs("m3", subject(patientRef("pa", alice)), `"hiddenPatient":{"identifier":`+nhsID(dave)+`}`), reason: many},
		{name: "bare NHS identifier in an unknown element", resource: obs("m4", subject(patientRef("pa", alice)), `"otherIds":[[`+nhsID(dave)+`]]`), reason: many},
		{name: "NHS system in another case", resource: obs("m5", subject(patientRef("pa", alice)), `"focus":[{"identifier":{"system":" `+strings.ToUpper(SystemNHSNumber)+`","value":"`+dave+`"}}]`), reason: many},
		{name: "second patient by type and identifier", resource: obs("m6", subject(patientRef("pa", alice)), `"focus":[{"type":"Patient","identifier":`+nhsID(dave)+`}]`), reason: many},
		{name: "unreferenced contained patient", resource: obs("m7", `"contained":[`+containedJSON("Patient", "p2", `"identifier":[`+nhsID(dave)+`]`)+`]`, subject(patientRef("pa", alice))), reason: many},
		{name: "contained observation about another patient", resource: resourceJSON("DiagnosticReport", "dr2", `"status":"final"`, `"contained":[`+containedJSON("Observation", "c1", subject(patientRef("", dave)))+`]`, subject(patientRef("pa", alice))), reason: many},
		{name: "second patient in a nested element", resource: obs("m8", subject(patientRef("pa", alice)), `"component":[{"code":{"text":"x"},"valueString":"y","extension":[{"url":"u","extension":[{"url":"v","valueReference":`+patientRef("", dave)+`}]}]}]`), reason: many},
		{name: "second patient under Subject", resource: obs("m9", subject(patientRef("pa", alice)), `"Subject2":`+patientRef("", dave)), reason: many},
		{name: "patient with a related patient", resource: resourceJSON("Patient", "pa", `"identifier":[`+nhsID(alice)+`]`, `"link":[{"other":`+patientRef("pd", dave)+`}]`), reason: many},
		// Objections, of any patient found.
		{name: "objecting patient", resource: obs("x1", subject(patientRef("pb", bob))), reason: objection},
		{name: "objecting patient only in a contained patient", resource: obs("x2", `"contained":[`+containedJSON("Patient", "p1", `"identifier":[`+nhsID(bob)+`]`)+`]`, subject(`{"reference":"#p1"}`)), reason: objection},
		{name: "appointment with an objecting patient", resource: resourceJSON("Appointment", "a3", `"participant":[{"actor":`+patientRef("pa", alice)+`},{"actor":`+patientRef("pb", bob)+`}]`), reason: objection},
		// Categories of contained resources.
		{name: "contained category not granted", resource: obs("g1", subject(patientRef("pa", alice)), `"contained":[`+containedJSON("EpisodeOfCare", "e1", `"patient":`+patientRef("", alice))+`]`), reason: "InpatientStays"},
		{name: "contained governance resource", resource: obs("g2", subject(patientRef("pa", alice)), `"contained":[`+containedJSON("Provenance", "pv")+`]`), reason: "no data category"},
		// Types outside the patient compartment.
		{name: "practitioner with a contained patient", resource: resourceJSON("Practitioner", "n1", `"contained":[`+containedJSON("Patient", "p1", `"identifier":[`+nhsID(alice)+`]`)+`]`), reason: notPatient},
		{name: "organization with a patient extension", resource: resourceJSON("Organization", "n2", `"extension":[{"url":"u","valueReference":`+patientRef("pa", alice)+`}]`), reason: notPatient},
		{name: "medication with a contained observation", resource: resourceJSON("Medication", "n3", `"contained":[`+containedJSON("Observation", "c1", subject(patientRef("pa", alice)))+`]`), reason: notPatient},
		{name: "practitioner role with a patient literal", resource: resourceJSON("PractitionerRole", "n4", `"note":{"reference":"Patient/pa"}`), reason: notPatient},
		// Unreadable, with an NHS number where the error would name it.
		{name: "NHS number as a member named twice", resource: obs("r1", subject(patientRef("pa", alice)), `"`+dave+`":1,"`+dave+`":2`), reason: "cannot be decided on"},
		{name: "NHS number in a contained member named twice", resource: obs("r2", subject(patientRef("pa", alice)), `"contained":[{"resourceType":"Observation","x":{"`+dave+`":1,"`+dave+`":2}}]`), reason: "cannot be decided on"},
		{name: "practitioner with an NHS number", resource: resourceJSON("Practitioner", "n5", `"identifier":[`+nhsID(alice)+`]`), reason: notPatient},
		// Patient data without a patient named is still patient data.
		{name: "practitioner containing an observation without subject", resource: resourceJSON("Practitioner", "n6", `"contained":[`+containedJSON("Observation", "c1", `"status":"final"`, `"valueString":"positive"`)+`]`), reason: notPatient},
		{name: "organization containing an allergy without patient", resource: resourceJSON("Organization", "n7", `"contained":[`+containedJSON("AllergyIntolerance", "c1", `"code":{"text":"penicillin"}`)+`]`), reason: notPatient},
		{name: "practitioner role containing an encounter", resource: resourceJSON("PractitionerRole", "n8", `"contained":[`+containedJSON("Encounter", "c1", `"class":{"code":"AMB"}`)+`]`), reason: notPatient},
		{name: "organization containing a contained patient's demographics", resource: resourceJSON("Organization", "n9", `"contained":[`+containedJSON("RelatedPerson", "c1", `"name":[{"family":"Who"}]`)+`]`), reason: notPatient},
		{name: "practitioner containing a practitioner role", resource: resourceJSON("Practitioner", "n10", `"contained":[`+containedJSON("PractitionerRole", "c1", `"code":[{"text":"GP"}]`)+`]`), allowed: true, reason: allowedBy},
		{name: "organization containing a medication", resource: resourceJSON("Organization", "n11", `"contained":[`+containedJSON("Medication", "c1", `"code":{"text":"paracetamol"}`)+`]`), allowed: true, reason: allowedBy},
	}
	return cases
}

// TestReadFindsSensitiveLabelsWherever reads resources labelled in every
// place R4 carries confidentiality or sensitivity, in every shape and
// spelling, and shares a sensitive one only by break-glass; a label that
// cannot be read counts as sensitive, and non-sensitive labels still let
// the resource be shared.
func TestReadFindsSensitiveLabelsWherever(t *testing.T) {
	yes := true
	subject := `"subject":` + patientRef("pa", alice)
	obs := func(id string, members ...string) string {
		return resourceJSON("Observation", id, append([]string{`"status":"final"`, subject}, members...)...)
	}
	labelled := func(id, security string) string {
		return `{"resourceType":"Observation","id":"` + id + `","meta":{"tag":[{"system":"` + SystemODS +
			`","code":"B86001"}],"security":` + security + `},"status":"final",` + subject + `}`
	}
	doc := func(id string, members ...string) string {
		return resourceJSON("DocumentReference", id, append([]string{`"status":"current"`, subject}, members...)...)
	}
	composition := func(id string, members ...string) string {
		return resourceJSON("Composition", id, append([]string{`"status":"final"`, subject, `"title":"Discharge"`}, members...)...)
	}
	consent := func(id string, provision string) string {
		return resourceJSON("Consent", id, `"status":"active"`, `"patient":`+patientRef("pa", alice),
			`"scope":{"coding":[{"system":"`+systemConsentScope+`","code":"adr"}]}`, `"provision":`+provision)
	}
	sensitive := func(name, resource string) resourceCase {
		return resourceCase{name: name, resource: resource, reason: "sensitive", breakGlassAllowed: &yes}
	}
	shared := func(name, resource string) resourceCase {
		return resourceCase{name: name, resource: resource, allowed: true, reason: "allowed by policy", breakGlassAllowed: &yes}
	}
	cases := []resourceCase{
		shared("normal", labelled("s0", `[{"code":"N"}]`)),
		shared("normal lower case", labelled("s1", `[{"system":"x","code":" n "}]`)),
		shared("no labels", labelled("s2", `[]`)),
		sensitive("restricted", labelled("l1", `[{"code":"R"}]`)),
		sensitive("lower case", labelled("l2", `[{"code":"r"}]`)),
		sensitive("surrounding space", labelled("l3", `[{"code":" HIV\t"}]`)),
		sensitive("mixed case", labelled("l4", `[{"code":"Psy"}]`)),
		sensitive("invisible formatting", labelled("l5", `[{"code":"\u200bsex\ufeff"}]`)),
		sensitive("non-breaking space", labelled("l6", `[{"code":"\u00a0ETH"}]`)),
		sensitive("one of several", labelled("l7", `[{"code":"N"},{"code":"gender"}]`)),
		sensitive("one coding not an object", labelled("l8", `[{"code":"N"},"R"]`)),
		sensitive("not a list", labelled("l9", `{"code":"R"}`)),
		sensitive("a string", labelled("l10", `"N"`)),
		sensitive("null", labelled("l11", `null`)),
		sensitive("code a number", labelled("l12", `[{"code":7}]`)),
		sensitive("code an object", labelled("l13", `[{"code":{"value":"N"}}]`)),
		sensitive("no code", labelled("l14", `[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","display":"normal"}]`)),
		sensitive("empty code", labelled("l15", `[{"code":""}]`)),
		sensitive("code only in an extension", labelled("l16", `[{"_code":{"extension":[]}}]`)),
		sensitive("a CodeableConcept", labelled("l17", `[{"coding":[{"code":"v"}]}]`)),
		sensitive("contained resource's label", obs("l18", `"contained":[`+containedJSON("Observation", "c1", `"meta":{"security":[{"code":"sti"}]}`)+`]`)),
		sensitive("contained resource's misshapen label", obs("l19", `"contained":[`+containedJSON("Observation", "c1", `"meta":{"security":{"code":"N"}}`)+`]`)),
		sensitive("meta in another case", `{"resourceType":"Observation","id":"l20","META":{"tag":[{"system":"`+SystemODS+`","code":"B86001"}],"Security":[{"Code":"top"}]},`+subject+`}`),
		sensitive("label in an unknown element", obs("l21", `"extension":[{"url":"u","securityLabel":[{"code":"IVF"}]}]`)),
		{name: "resource embedded outside contained", resource: obs("l22", `"extension":[{"url":"u","valueResource":{"resourceType":"Observation","meta":{"security":[{"code":"R"}]}}}]`),
			reason: "outside contained", breakGlassAllowed: new(bool)},
		sensitive("meta in an unknown element", obs("l23", `"zz":{"meta":{"security":[{"code":"R"}]}}`)),

		shared("document normal", doc("d0", `"securityLabel":[{"coding":[{"code":"N"}]}]`)),
		sensitive("document label", doc("d1", `"securityLabel":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"HIV"}]}]`)),
		sensitive("document label lower case", doc("d2", `"securityLabel":[{"coding":[{"code":"v "}]}]`)),
		sensitive("document label text only", doc("d3", `"securityLabel":[{"text":"restricted"}]`)),
		sensitive("document label empty coding", doc("d4", `"securityLabel":[{"coding":[]}]`)),
		sensitive("document label not a list", doc("d5", `"securityLabel":{"coding":[{"code":"N"}]}`)),
		sensitive("document label code a number", doc("d6", `"securityLabel":[{"coding":[{"code":1}]}]`)),
		sensitive("document label coding not a list", doc("d7", `"securityLabel":[{"coding":{"code":"N"}}]`)),
		sensitive("document label in another case", doc("d8", `"SecurityLabel":[{"coding":[{"code":"R"}]}]`)),

		shared("composition normal", composition("k0", `"confidentiality":"N"`)),
		sensitive("composition restricted", composition("k1", `"confidentiality":"R"`)),
		sensitive("composition lower case", composition("k2", `"confidentiality":" v"`)),
		sensitive("composition confidentiality a number", composition("k3", `"confidentiality":1`)),
		sensitive("composition confidentiality a Coding", composition("k4", `"confidentiality":{"code":"N"}`)),
		sensitive("composition confidentiality empty", composition("k5", `"confidentiality":""`)),
		sensitive("composition section entry contained", composition("k6", `"section":[{"title":"Results","entry":[{"reference":"#c1"}]}]`,
			`"contained":[`+containedJSON("Observation", "c1", subject, `"meta":{"security":[{"code":"PSY"}]}`)+`]`)),
		sensitive("section confidentiality (not R4, still counts)", composition("k7", `"section":[{"title":"x","confidentiality":"R"}]`)),

		// A confidentiality code that is none of U, L, M, N, R and V, in
		// Composition.confidentiality or in the v3 Confidentiality system,
		// cannot be read: it counts as restricted, never as absent.
		sensitive("composition restricted written out", composition("k8", `"confidentiality":"restricted"`)),
		sensitive("composition very restricted written out", composition("k9", `"confidentiality":"very restricted"`)),
		sensitive("composition unknown code", composition("k10", `"confidentiality":"X"`)),
		sensitive("composition section written out", composition("k11", `"section":[{"title":"x","confidentiality":"Restricted"}]`)),
		shared("composition low", composition("k12", `"confidentiality":" l "`)),
		sensitive("confidentiality system, code written out", labelled("l24", `[{"system":"`+systemConfidentiality+`","code":"restricted"}]`)),
		sensitive("confidentiality system in another case, unknown code", labelled("l25", `[{"code":"secret","system":" `+strings.ToUpper(systemConfidentiality)+`"}]`)),
		sensitive("document label in the confidentiality system, unknown code", doc("d9", `"securityLabel":[{"coding":[{"system":"`+systemConfidentiality+`","code":"normal"}]}]`)),
		shared("confidentiality system, normal", labelled("s3", `[{"code":"n","system":"`+systemConfidentiality+`"}]`)),
		// Any other system's codes are read as they are: a sensitive code
		// counts in any system, an unknown one is no label of the gateway's.
		sensitive("sensitive code in an unknown system", labelled("l26", `[{"system":"https://example.org/labels","code":"hiv"}]`)),
		shared("unknown code in another system", labelled("s4", `[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"HTEST"}]`)),
		// A label with two codes (as "code" and "Code") cannot be read, nor
		// a Coding that holds codings of its own.
		sensitive("label with two codes", labelled("l27", `[{"code":"N","Code":"N"}]`)),
		sensitive("document label coding holding codings", doc("d10", `"securityLabel":[{"coding":[{"code":"N","coding":[{"code":"R"}]}]}]`)),
		sensitive("document label coding holding normal codings", doc("d11", `"securityLabel":[{"coding":[{"code":"N","Coding":[{"code":"N"}]}]}]`)),

		shared("consent provision normal", consent("p0", `{"type":"permit","securityLabel":[{"code":"N"}]}`)),
		sensitive("consent provision label", consent("p1", `{"type":"permit","securityLabel":[{"code":"ETH"}]}`)),
		sensitive("nested consent provision label", consent("p2", `{"type":"permit","provision":[{"type":"deny","securityLabel":[{"code":"sdv"}]}]}`)),
	}
	readCases(t, cases)
}
