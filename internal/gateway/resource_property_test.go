/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// TestGatewayDecidesOnGeneratedResources reads generated resources that
// put patients, labels and contained resources in every place R4 allows
// (subject, patient, performer, author, participants, focus, link,
// extensions, elements R4 does not define, contained Patients and
// Observations with their own subjects; references by identifier only, by
// literal only (also as a bare string), both agreeing and both
// disagreeing; labels in
// meta.security, securityLabel, confidentiality and Consent provisions, in
// any case and spacing and in shapes R4 does not allow) and checks every
// answer against an oracle worked out from the generator's description of
// the resource, not from the gateway's reading of it: a resource is shared
// exactly when every patient it names is identified by one valid NHS
// number, consistently, and does not object; it is about one patient
// unless it is an Appointment, or about none when it is a clinical
// contact; and policy.Decide allows its category and every contained one,
// with its labels as the oracle reads them. One seed is fixed, one is
// new on each run (logged, to reproduce a failure).
func TestGatewayDecidesOnGeneratedResources(t *testing.T) {
	random := rand.Uint64()
	for _, seed := range []uint64{20261204, random} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Logf("seed %d", seed)
			checkGeneratedResources(t, rand.New(rand.NewPCG(seed, seed)), 400)
		})
	}
}

func checkGeneratedResources(t *testing.T, rng *rand.Rand, n int) {
	in := labelInput()
	h := newHarness(t, func(s *setup) { s.input = &in; s.audit = discard{} })
	bundle := policy.Compile(in)
	shared, singlePatientShared, sensitiveShared := 0, 0, 0
	for i := range n {
		g := generateResource(rng, i)
		c := generatedCaller(rng)
		h.records.answerWith(g.json())
		resp := h.get(t, "/"+g.Type+"/"+g.ID, c.claims().sign(t))
		want, why := g.oracle(bundle, c)
		got := resp.status == http.StatusOK
		if got != want || (resp.status != http.StatusOK && resp.status != http.StatusForbidden) {
			t.Errorf("resource %d read by %+v: status %d, oracle allows: %v (%s)\n%s", i, c, resp.status, want, why, g.json())
		}
		if got {
			shared++
			if len(g.patients()) == 1 {
				singlePatientShared++
			}
			if g.sensitive() {
				sensitiveShared++
			}
		}
	}
	// The rule is not "withhold everything": ordinary resources about one
	// patient are shared, and sensitive ones by break-glass.
	if shared < n/10 || singlePatientShared < n/20 || sensitiveShared == 0 {
		t.Errorf("of %d resources %d were shared, %d about one patient, %d sensitive; the generated data hardly tests sharing",
			n, shared, singlePatientShared, sensitiveShared)
	}
}

// genResource is a generated resource, described as the oracle reads it.
type genResource struct {
	Type, ID string
	// Source is its ODS tag, or empty.
	Source string
	// OwnNHS is a Patient's NHS number; empty for none.
	OwnNHS string
	// Mentions are the places that name a patient.
	Mentions []genMention
	// Contained are its contained resources.
	Contained []genContained
	// Labels are its labels, wherever they are.
	Labels []genLabel
	// Class is an Encounter's class.
	Class string
	// members are its JSON members other than resourceType, id and meta,
	// by name; arrays hold their elements.
	members map[string][]string
	order   []string
	arrays  map[string]bool
}

// genMention is one mention of a patient: its form, the patient it names
// by identifier (NHS) and the literal reference it names them by (Key).
type genMention struct {
	Form, NHS, Key string
	// In is the contained resource it is in, or -1.
	In int
}

// The forms of a mention.
const (
	formIdentifier = "identifier"   // a Reference with only an identifier
	formTyped      = "typed"        // type Patient and an identifier
	formBoth       = "both"         // literal and identifier of the same patient
	formClash      = "clash"        // literal of another patient, identifier of this one
	formLiteral    = "literal"      // literal only, of a patient named elsewhere, maybe
	formString     = "string"       // a literal reference written as a bare string
	formFresh      = "fresh"        // literal only, of a patient named nowhere else
	formTypeOnly   = "type-only"    // type Patient and a display
	formBare       = "bare"         // an Identifier, not in a Reference
	formLocal      = "local"        // a reference to a contained Patient
	formLocalClash = "local-clash"  // a reference to a contained Patient, with another identifier
	formLocalAgree = "local-agrees" // a reference to a contained Patient, with its identifier
)

type genContained struct {
	Type, ID string
	// NHS is a contained Patient's NHS number, or empty.
	NHS string
	// members are its JSON members.
	members []string
}

// genLabel is a security label: its code as the oracle reads it (upper
// case, trimmed), or malformed.
type genLabel struct {
	Code      string
	Malformed bool
}

// canonicalKey is the literal reference of a patient, by NHS number.
func canonicalKey(nhs string) string { return "Patient/k-" + nhs }

var genPatients = []string{alice, alice, alice, alice, bob, carol, dave, "1234567890"}

func generateResource(rng *rand.Rand, i int) *genResource {
	g := &genResource{
		Type:    pick(rng, "Observation", "Observation", "MedicationRequest", "DiagnosticReport", "Appointment", "Patient", "Patient", "Practitioner", "Organization", "DocumentReference", "Composition", "Consent", "Encounter", "EpisodeOfCare"),
		ID:      fmt.Sprintf("g-%d", i),
		Source:  pick(rng, "B86001", "B86001", "B86001", "B86001", "RTH", "RR8", ""),
		members: map[string][]string{}, arrays: map[string]bool{},
	}
	clinicalContact := g.Type == "Practitioner" || g.Type == "Organization"
	main := pick(rng, alice, alice, alice, alice, alice, alice, bob, carol, dave, "1234567890")
	switch g.Type {
	case "Patient":
		if rng.IntN(8) > 0 {
			g.OwnNHS = main
			g.ID = "k-" + main
			g.add("identifier", true, `{"system":"https://example.org/mrn","value":"M1"}`, nhsID(main))
		}
		g.add("name", true, `{"family":"Generated"}`)
	case "Encounter":
		g.Class = pick(rng, "AMB", "IMP")
		g.add("class", false, `{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"`+g.Class+`"}`)
	case "Consent":
		g.add("scope", false, `{"coding":[{"system":"`+systemConsentScope+`","code":"adr"}]}`)
	}
	// The main patient, where the type names it, most of the time well.
	if !clinicalContact && g.Type != "Patient" && rng.IntN(10) > 0 {
		form := formBoth
		if rng.IntN(4) == 0 {
			form = pick(rng, formIdentifier, formTyped, formBoth, formLiteral, formFresh, formTypeOnly)
		}
		g.mention(rng, form, main, mainPlace(g.Type), -1)
	}
	// Further mentions, anywhere, in a fraction of the resources.
	for range extraCount(rng) {
		nhs := main
		if rng.IntN(2) == 0 {
			nhs = pick(rng, genPatients...)
		}
		form := pick(rng, formIdentifier, formTyped, formBoth, formBoth, formClash, formLiteral, formLiteral, formString, formFresh, formTypeOnly, formBare)
		place := pick(rng, "performer", "author", "focus", "extension", "nested-extension", "unknown", "Subject-cased", "contained")
		if g.Type == "Appointment" {
			place = pick(rng, place, "participant")
		}
		if g.Type == "Patient" {
			place = pick(rng, place, "link")
		}
		g.mention(rng, form, nhs, place, -1)
	}
	// Contained resources.
	for range max(0, rng.IntN(5)-2) {
		g.contain(rng, main)
	}
	// Labels.
	for range max(0, rng.IntN(5)-2) {
		g.label(rng)
	}
	return g
}

// generatedCaller is, half the time, a clinician who may see the
// generated records (sometimes breaking glass), otherwise a random caller.
func generatedCaller(rng *rand.Rand) randomCallerSpec {
	if rng.IntN(2) == 0 {
		return randomCaller(rng)
	}
	c := randomCallerSpec{Org: "RR8", Role: "R8000", Purpose: "TREAT", Relationship: true,
		IssuedAt: time.Unix(time.Now().Add(-time.Minute).Unix(), 0)}
	if rng.IntN(3) == 0 {
		c.BreakGlassReason = "patient deteriorating"
	}
	return c
}

func extraCount(rng *rand.Rand) int {
	if rng.IntN(4) > 0 {
		return 0
	}
	return 1 + rng.IntN(2)
}

// mainPlace is where a type names its patient.
func mainPlace(resourceType string) string {
	switch resourceType {
	case "Consent", "EpisodeOfCare":
		return "patient"
	case "Appointment":
		return "participant"
	}
	return "subject"
}

// add adds elements to member name; array says the member is an array.
func (g *genResource) add(name string, array bool, elements ...string) {
	if _, ok := g.members[name]; !ok {
		g.order = append(g.order, name)
	}
	g.members[name] = append(g.members[name], elements...)
	g.arrays[name] = array
}

// mention names a patient in form at place; in is the contained resource
// it is in, when place is "contained".
func (g *genResource) mention(rng *rand.Rand, form, nhs, place string, in int) {
	m := genMention{Form: form, NHS: nhs, In: in}
	var ref string
	switch form {
	case formIdentifier:
		ref = `{"identifier":` + nhsID(nhs) + `}`
	case formTyped:
		ref = `{"type":"Patient","identifier":` + nhsID(nhs) + `}`
	case formBoth:
		m.Key = canonicalKey(nhs)
		ref = `{"reference":"` + m.Key + `","identifier":` + nhsID(nhs) + `,"display":"x"}`
	case formClash:
		m.Key = canonicalKey(pick(rng, genPatients...))
		ref = `{"reference":"` + m.Key + `","identifier":` + nhsID(nhs) + `}`
	case formLiteral:
		m.Key = canonicalKey(nhs)
		ref = `{"reference":"` + pick(rng, m.Key, m.Key+"/_history/3") + `"}`
	case formString:
		m.Key = canonicalKey(nhs)
		ref = `"` + m.Key + `"`
	case formFresh:
		m.Key = fmt.Sprintf("Patient/unknown-%d", rng.IntN(1000))
		ref = `{"reference":"` + m.Key + `"}`
	case formTypeOnly:
		ref = `{"type":"Patient","display":"Someone"}`
	case formBare:
		ref = nhsID(nhs)
	case formLocal, formLocalAgree, formLocalClash:
		m.Key = "#" + g.Contained[in].ID
		switch form {
		case formLocal:
			ref = `{"reference":"` + m.Key + `"}`
		default:
			ref = `{"reference":"` + m.Key + `","identifier":` + nhsID(nhs) + `}`
		}
		m.In = -1
	}
	if place == "contained" {
		// A contained Observation with its own subject.
		id := fmt.Sprintf("cob%d", len(g.Contained))
		m.In = len(g.Contained)
		subject := ref
		if form == formBare {
			subject = `{"identifier":` + ref + `}`
			m.Form = formIdentifier
		}
		g.Contained = append(g.Contained, genContained{Type: "Observation", ID: id,
			members: []string{`"status":"final"`, `"subject":` + subject}})
		g.Mentions = append(g.Mentions, m)
		return
	}
	g.Mentions = append(g.Mentions, m)
	switch place {
	case "subject", "patient", "Subject-cased", "unknown":
		name := map[string]string{"subject": "subject", "patient": "patient", "Subject-cased": "SUBJECT", "unknown": "zzHidden"}[place]
		if _, taken := g.members[name]; taken || form == formBare {
			name = fmt.Sprintf("zzHidden%d", len(g.order))
			g.add(name, true, ref)
			return
		}
		g.add(name, false, ref)
	case "performer", "author", "focus":
		g.add(place, true, ref)
	case "participant":
		g.add("participant", true, `{"actor":`+ref+`,"status":"accepted"}`)
	case "link":
		g.add("link", true, `{"other":`+ref+`,"type":"seealso"}`)
	case "extension":
		if form == formBare {
			g.add("extension", true, `{"url":"https://example.org/id","valueIdentifier":`+ref+`}`)
			return
		}
		g.add("extension", true, `{"url":"https://example.org/ref","valueReference":`+ref+`}`)
	case "nested-extension":
		g.add("modifierExtensionX", true, `{"url":"a","extension":[{"url":"b","extension":[{"url":"c","valueReference":`+ref+`}]}]}`)
	}
}

// contain adds a contained resource: a Patient (referenced or not), an
// Observation, or a resource whose category is not granted or that has
// none.
func (g *genResource) contain(rng *rand.Rand, main string) {
	index := len(g.Contained)
	switch rng.IntN(5) {
	case 0, 1:
		c := genContained{Type: "Patient", ID: fmt.Sprintf("cp%d", index)}
		if rng.IntN(6) > 0 {
			c.NHS = pick(rng, main, main, main, pick(rng, genPatients...))
			c.members = append(c.members, `"identifier":[`+nhsID(c.NHS)+`]`)
		}
		g.Contained = append(g.Contained, c)
		if rng.IntN(4) > 0 {
			form := pick(rng, formLocal, formLocal, formLocalAgree, formLocalClash)
			nhs := c.NHS
			if form == formLocalClash {
				nhs = pick(rng, genPatients...)
			}
			if form != formLocal && nhs == "" {
				nhs = main
			}
			g.mention(rng, form, nhs, pick(rng, "performer", "focus", "extension", "unknown"), index)
		}
	case 2:
		g.Contained = append(g.Contained, genContained{Type: "Observation", ID: fmt.Sprintf("co%d", index),
			members: []string{`"status":"final"`}})
	case 3:
		g.Contained = append(g.Contained, genContained{Type: pick(rng, "Specimen", "Practitioner", "Medication"), ID: fmt.Sprintf("cs%d", index)})
	default:
		g.Contained = append(g.Contained, genContained{Type: pick(rng, "EpisodeOfCare", "Provenance"), ID: fmt.Sprintf("cx%d", index)})
	}
}

// label adds a security label in a place R4 puts one.
func (g *genResource) label(rng *rand.Rand) {
	code := pick(rng, "N", "N", "L", "M", "R", "V", "HIV", "PSY", "ETH", "SEX", "IVF", "GENDER")
	spelt := code
	switch rng.IntN(4) {
	case 0:
		spelt = strings.ToLower(code)
	case 1:
		spelt = strings.ToLower(code[:1]) + code[1:]
	}
	spelt = pick(rng, "", "", " ", "\\t", "\\u00a0") + spelt + pick(rng, "", "", " ", "\\n")
	l := genLabel{Code: code}
	coding := `{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"` + spelt + `"}`
	switch rng.IntN(8) {
	case 0:
		l = genLabel{Malformed: true}
		coding = pick(rng, `{"code":1}`, `{"system":"x"}`, `{"code":""}`, `"R"`, `{"code":{"c":"N"}}`, `{"code":"N","Code":"N"}`)
	case 1:
		// In the v3 Confidentiality system only U, L, M, N, R and V are
		// codes; anything else there cannot be read.
		l = genLabel{Malformed: true}
		coding = `{"system":"` + systemConfidentiality + `","code":"` + pick(rng, "restricted", "normal", "X", "very restricted") + `"}`
	case 2:
		coding = `{"system":"` + systemConfidentiality + `","code":"` + spelt + `"}`
	}
	g.Labels = append(g.Labels, l)
	switch place := rng.IntN(4); {
	case place == 1 && g.Type == "DocumentReference":
		g.add("securityLabel", true, `{"coding":[`+coding+`]}`)
	case place == 1 && g.Type == "Composition" && !l.Malformed && !g.arrays["confidentiality"] && len(g.members["confidentiality"]) == 0:
		g.add("confidentiality", false, `"`+spelt+`"`)
	case place == 1 && g.Type == "Consent" && len(g.members["provision"]) == 0:
		g.add("provision", false, `{"type":"permit","provision":[{"type":"deny","securityLabel":[`+coding+`]}]}`)
	case place == 2 && len(g.Contained) > 0:
		c := &g.Contained[rng.IntN(len(g.Contained))]
		c.members = append(c.members, `"meta":{"security":[`+coding+`]}`)
		if strings.Count(strings.Join(c.members, ","), `"meta"`) > 1 {
			// One meta per resource: put it on the resource instead.
			c.members = c.members[:len(c.members)-1]
			g.add("security", true, coding)
		}
	default:
		g.add("security", true, coding)
	}
}

// json is the resource's FHIR JSON.
func (g *genResource) json() string {
	meta := `"versionId":"1"`
	if g.Source != "" {
		meta += `,"tag":[{"system":"` + SystemODS + `","code":"` + g.Source + `"}]`
	}
	if security := g.members["security"]; len(security) > 0 {
		meta += `,"security":[` + strings.Join(security, ",") + `]`
	}
	parts := []string{fmt.Sprintf(`"resourceType":%q`, g.Type), fmt.Sprintf(`"id":%q`, g.ID), `"meta":{` + meta + `}`}
	for _, name := range g.order {
		if name == "security" {
			continue
		}
		value := strings.Join(g.members[name], ",")
		if g.arrays[name] {
			value = "[" + value + "]"
		}
		parts = append(parts, fmt.Sprintf("%q:%s", name, value))
	}
	if len(g.Contained) > 0 {
		var contained []string
		for _, c := range g.Contained {
			contained = append(contained, containedJSON(c.Type, c.ID, c.members...))
		}
		parts = append(parts, `"contained":[`+strings.Join(contained, ",")+`]`)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// patients are the valid NHS numbers the resource names.
func (g *genResource) patients() []string {
	var out []string
	add := func(nhs string) {
		if ValidNHSNumber(nhs) && !slices.Contains(out, nhs) {
			out = append(out, nhs)
		}
	}
	add(g.OwnNHS)
	for _, c := range g.Contained {
		add(c.NHS)
	}
	for _, m := range g.Mentions {
		switch m.Form {
		case formIdentifier, formTyped, formBoth, formClash, formBare, formLocalAgree, formLocalClash:
			add(m.NHS)
		}
	}
	return out
}

// sensitive reports whether the oracle reads a sensitive label.
func (g *genResource) sensitive() bool {
	return policy.IsSensitive(g.labelCodes())
}

func (g *genResource) labelCodes() []string {
	var codes []string
	for _, l := range g.Labels {
		if l.Malformed {
			codes = append(codes, "V")
		} else {
			codes = append(codes, l.Code)
		}
	}
	return codes
}

// patientProblem is why the resource must be withheld for its patients,
// or empty: from the spec, each patient is named by one valid NHS number
// through the literal references that name it.
func (g *genResource) patientProblem() string {
	bound := map[string][]string{}
	bind := func(key, nhs string) { bound[key] = appendNew(bound[key], nhs) }
	var needed []string
	problem := ""
	note := func(p string) {
		if problem == "" {
			problem = p
		}
	}
	anyPatient := false
	if g.Type == "Patient" {
		anyPatient = true
		if g.OwnNHS == "" {
			note("patient without NHS number")
		} else {
			bind(canonicalKey(g.OwnNHS), g.OwnNHS)
		}
	}
	for _, c := range g.Contained {
		if c.Type != "Patient" {
			continue
		}
		anyPatient = true
		if c.NHS == "" {
			note("contained patient without NHS number")
		} else {
			bind("#"+c.ID, c.NHS)
		}
	}
	for _, m := range g.Mentions {
		anyPatient = true
		hasNHS := m.Form != formLiteral && m.Form != formString && m.Form != formFresh && m.Form != formTypeOnly && m.Form != formLocal
		if hasNHS && !ValidNHSNumber(m.NHS) {
			note("invalid NHS number")
			continue
		}
		switch {
		case m.Form == formTypeOnly:
			note("type only")
		case m.Key != "" && hasNHS:
			bind(m.Key, m.NHS)
		case m.Key != "":
			needed = append(needed, m.Key)
		}
	}
	for key, numbers := range bound {
		if len(slices.DeleteFunc(slices.Clone(numbers), func(n string) bool { return !ValidNHSNumber(n) })) != len(numbers) {
			note("invalid NHS number")
		}
		if len(numbers) > 1 {
			note("one literal, several NHS numbers: " + key)
		}
	}
	for _, key := range needed {
		if len(bound[key]) == 0 {
			note("literal only, not identified: " + key)
		}
	}
	// Patient data needs no patient named in it: a contained Observation
	// without a subject is still someone's record.
	containsPatientData := false
	for _, c := range g.Contained {
		category, ok := policy.CategoryOf(c.Type, "")
		containsPatientData = containsPatientData || (ok && category != policy.CategoryClinicalContacts && c.Type != "Medication")
	}
	patients := g.patients()
	switch {
	case slices.Contains(nonPatientTypes, g.Type) && (anyPatient || containsPatientData):
		note("patient data in a type outside the patient compartment")
	case len(patients) > 1 && g.Type != "Appointment":
		note("more than one patient")
	}
	for _, nhs := range patients {
		if oracleObjects(nhs, g.Source) {
			note("objection")
		}
	}
	return problem
}

// oracle is whether caller c may read the resource, and why not.
func (g *genResource) oracle(b policy.Bundle, c randomCallerSpec) (bool, string) {
	if problem := g.patientProblem(); problem != "" {
		return false, problem
	}
	categories := []string{}
	for _, r := range append([]genContained{{Type: g.Type}}, g.Contained...) {
		class := ""
		if r.Type == "Encounter" {
			class = g.Class
		}
		category, ok := policy.CategoryOf(r.Type, class)
		if !ok {
			return false, "no category: " + r.Type
		}
		categories = append(categories, category)
	}
	if len(g.patients()) == 0 && categories[0] != policy.CategoryClinicalContacts {
		return false, "no patient"
	}
	if g.Source == "" {
		return false, "no source"
	}
	for _, category := range categories {
		req := policy.Request{
			CallerODS: c.Org, Role: c.Role, PurposeOfUse: c.Purpose, LegitimateRelationship: c.Relationship,
			BreakGlassReason: c.BreakGlassReason, BreakGlassStarted: c.IssuedAt,
			Action: policy.ActionRead, Category: category, SourceODS: g.Source, SecurityLabels: g.labelCodes(),
		}
		if d := policy.Decide(b, req, time.Now()); !d.Allow {
			return false, "policy: " + strings.Join(d.Reasons(), "; ")
		}
	}
	return true, "allowed"
}

// FuzzInspect checks the reading of any resource against a plain reading
// of the same JSON (encoding/json into maps): a resource the gateway would
// decide on with no reason to withhold it has every valid NHS number the
// JSON holds in the NHS number system among its patients, one patient
// unless it is an Appointment, and is sensitive whenever a security label,
// securityLabel or confidentiality anywhere holds a sensitive code in any
// case and spacing; a reference to a Patient never goes unnoticed.
func FuzzInspect(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 40 {
		f.Add([]byte(generateResource(rng, i).json()))
	}
	for _, seed := range []string{
		resourceJSON("Observation", "o", `"subject":`+patientRef("pa", alice)),
		resourceJSON("Observation", "o", `"subject":`+patientRef("pa", alice), `"performer":[`+patientRef("pd", dave)+`]`),
		resourceJSON("Observation", "o", `"contained":[`+containedJSON("Patient", "p1", `"identifier":[`+nhsID(alice)+`]`)+`]`, `"subject":{"reference":"#p1"}`),
		resourceJSON("Observation", "o", `"subject":{"reference":"Patient/1"}`),
		resourceJSON("Observation", "o", `"subject":{"reference":"#p1","Reference":"#p2"}`),
		resourceJSON("Practitioner", "p", `"extension":[{"url":"u","valueReference":{"type":"Patient"}}]`),
		resourceJSON("DocumentReference", "d", `"subject":`+patientRef("", alice), `"securityLabel":[{"coding":[{"code":" hiv "}]}]`),
		resourceJSON("Composition", "c", `"subject":`+patientRef("", alice), `"confidentiality":"r"`),
		`{"resourceType":"Observation","META":{"Security":[{"Code":"\u00a0psy"}]},"subject":` + patientRef("", alice) + `}`,
		`{"resourceType":"Observation","meta":{"security":"R"},"subject":{"identifier":{"system":" ` + strings.ToUpper(SystemNHSNumber) + `","value":"` + alice + `"}}}`,
		`{"resourceType":"Appointment","participant":[{"actor":` + patientRef("a", alice) + `},{"actor":` + patientRef("b", dave) + `}]}`,
		`{"resourceType":"Consent","scope":{"coding":[{"system":"` + systemConsentScope + `","code":"adr"}]},"patient":` + patientRef("", alice) + `,"provision":{"provision":[{"securityLabel":[{"code":"ETH"}]}]}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		facts, err := inspect(data)
		if err != nil {
			return
		}
		var plain any
		if json.Unmarshal(data, &plain) != nil {
			t.Fatalf("read a resource encoding/json refuses: %q", data)
		}
		seen := plainReading{}
		seen.walk(plain, "")
		if seen.sensitive && !policy.IsSensitive(facts.Labels) {
			t.Fatalf("a sensitive label was missed: labels %v in %s", facts.Labels, data)
		}
		if seen.patientReference && facts.Unshareable == "" && len(facts.Patients) == 0 {
			t.Fatalf("a patient reference was missed: %+v in %s", facts, data)
		}
		if facts.Unshareable != "" {
			return
		}
		for _, nhs := range seen.nhs {
			if !slices.Contains(facts.Patients, nhs) {
				t.Fatalf("NHS number %s was missed: %+v in %s", nhs, facts, data)
			}
		}
		if len(facts.Patients) > 1 && facts.ResourceType != "Appointment" {
			t.Fatalf("shareable %s about %d patients: %s", facts.ResourceType, len(facts.Patients), data)
		}
		if len(seen.invalidNHS) > 0 {
			t.Fatalf("an invalid NHS number %q did not withhold the resource: %s", seen.invalidNHS, data)
		}
	})
}

// plainReading is what a plain walk of a resource's decoded JSON finds.
type plainReading struct {
	nhs, invalidNHS             []string
	sensitive, patientReference bool
}

// walk visits value, the value of member name.
func (p *plainReading) walk(value any, name string) {
	labelled := strings.EqualFold(name, "security") || strings.EqualFold(name, "securityLabel") || strings.EqualFold(name, "confidentiality")
	switch v := value.(type) {
	case map[string]any:
		var system, nhsValue any
		for k, member := range v {
			switch {
			case strings.EqualFold(k, "system"):
				system = member
			case strings.EqualFold(k, "value"):
				nhsValue = member
			case strings.EqualFold(k, "reference"):
				if s, ok := member.(string); ok && strings.HasPrefix(strings.TrimSpace(s), "Patient/") {
					p.patientReference = true
				}
			}
			childName := k
			if labelled && (strings.EqualFold(k, "coding") || strings.EqualFold(k, "code")) {
				childName = name
			}
			p.walk(member, childName)
		}
		if s, ok := system.(string); ok && strings.EqualFold(strings.TrimSpace(s), SystemNHSNumber) {
			if n, ok := nhsValue.(string); ok && ValidNHSNumber(n) {
				p.nhs = append(p.nhs, n)
			} else {
				p.invalidNHS = append(p.invalidNHS, fmt.Sprint(nhsValue))
			}
		}
	case []any:
		for _, element := range v {
			p.walk(element, name)
		}
	case string:
		if labelled && policy.IsSensitive([]string{strings.ToUpper(strings.TrimSpace(v))}) {
			p.sensitive = true
		}
	}
}
