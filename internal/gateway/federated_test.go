/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shcr-io/shcr-operator/internal/gpconnect"
	"github.com/shcr-io/shcr-operator/internal/gpconnect/gpconnecttest"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

// The region's ASID as a GP Connect consumer, and its practices'.
const (
	regionASID = "200000000115"
	b86ASID    = "918999198738"
	k84ASID    = "918999198739"
)

// gpPractices are the fixture's GP practices served by GP Connect
// stand-ins: B86001, under the agreement in force, and K84001, whose
// agreement has expired.
type gpPractices struct {
	b86, k84 *gpconnecttest.Server
	file     string
}

// stu3Allergy is an STU3 AllergyIntolerance of the stand-in's patient,
// with security labels.
func stu3Allergy(id string, labels ...string) map[string]any {
	r := map[string]any{
		"resourceType": "AllergyIntolerance", "id": id, "clinicalStatus": "active", "verificationStatus": "confirmed",
		"code":    map[string]any{"text": "penicillin"},
		"patient": map[string]any{"reference": "Patient/pat-1"},
	}
	if len(labels) > 0 {
		var security []any
		for _, l := range labels {
			security = append(security, map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": l})
		}
		r["meta"] = map[string]any{"security": security}
	}
	return r
}

func stu3Statement(id string) map[string]any {
	return map[string]any{
		"resourceType": "MedicationStatement", "id": id, "status": "active",
		"medicationCodeableConcept": map[string]any{"text": "amoxicillin"},
		"subject":                   map[string]any{"reference": "Patient/pat-1"},
	}
}

// newGPPractices starts the stand-ins with records for alice, bob and
// carol, and writes the GP Connect configuration naming them.
func newGPPractices(t *testing.T) *gpPractices {
	p := &gpPractices{
		b86: gpconnecttest.New(t, "B86001", b86ASID, regionASID),
		k84: gpconnecttest.New(t, "K84001", k84ASID, regionASID),
	}
	p.b86.Add(alice, stu3Allergy("a1"), stu3Allergy("a-hiv", "HIV"), stu3Statement("s1"))
	p.b86.Add(bob, stu3Allergy("b1"))
	p.b86.Add(carol, stu3Allergy("c1"))
	p.k84.Add(alice, stu3Allergy("k1"))
	p.file = filepath.Join(t.TempDir(), "gpconnect.json")
	writeFile(t, p.file, mustJSON(gpconnect.File{ASID: regionASID, Practices: []gpconnect.Practice{
		{ODSCode: "B86001", ASID: b86ASID, Endpoint: p.b86.Base().String()},
		{ODSCode: "K84001", ASID: k84ASID, Endpoint: p.k84.Base().String()},
	}}))
	return p
}

func withGPConnect(file string) func(*setup) {
	return func(s *setup) {
		s.config = func(c *Config) { c.GPConnectFile = file; c.GPConnectTimeout = 5 * time.Second }
	}
}

// searchEntries searches and gives the entries' resources by type/id and
// the OperationOutcome issues of the Bundle.
func searchEntries(t *testing.T, h *harness, path, token string) (map[string]map[string]any, []outcomeIssue) {
	t.Helper()
	resp := h.get(t, path, token)
	if resp.status != http.StatusOK {
		t.Fatalf("status %d: %s", resp.status, resp.body)
	}
	var b struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			Resource map[string]any `json:"resource"`
			Search   struct {
				Mode string `json:"mode"`
			} `json:"search"`
		} `json:"entry"`
	}
	must(t, json.Unmarshal(resp.body, &b))
	if b.ResourceType != "Bundle" || b.Type != "searchset" {
		t.Fatalf("not a searchset: %s", resp.body)
	}
	resources := map[string]map[string]any{}
	var issues []outcomeIssue
	for _, e := range b.Entry {
		if e.Resource["resourceType"] == "OperationOutcome" {
			if e.Search.Mode != "outcome" {
				t.Errorf("OperationOutcome entry in search mode %q", e.Search.Mode)
			}
			var oo operationOutcome
			must(t, json.Unmarshal(mustJSON(e.Resource), &oo))
			issues = append(issues, oo.Issue...)
			continue
		}
		resources[e.Resource["resourceType"].(string)+"/"+e.Resource["id"].(string)] = e.Resource
	}
	return resources, issues
}

func keysOf(m map[string]map[string]any) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// A granted category is read from the GP practice at the moment of care,
// beside the record service's; what the policy withholds (a sensitive
// label without break-glass) is withheld; every GP resource decided on is
// audited with the practice as its source; a practice whose agreement has
// expired is not asked.
func TestFederatedSearchShowsGrantedGPRecords(t *testing.T) {
	gp := newGPPractices(t)
	h := newHarness(t, withGPConnect(gp.file))
	got, issues := searchEntries(t, h, "/AllergyIntolerance?"+patientQuery("AllergyIntolerance", alice), clinician().sign(t))
	want := []string{"AllergyIntolerance/B86001-a1", "AllergyIntolerance/allergy-alice"}
	if !slices.Equal(keysOf(got), want) {
		t.Fatalf("entries %v, want %v (issues %+v, refused %v)", keysOf(got), want, issues, gp.b86.Refused())
	}
	if len(issues) != 0 {
		t.Errorf("issues %+v, want none", issues)
	}
	gpAllergy := got["AllergyIntolerance/B86001-a1"]
	if meta := gpAllergy["meta"].(map[string]any); meta["source"] != gp.b86.Base().String() {
		t.Errorf("meta.source = %v", meta["source"])
	}
	if gp.k84.Served() != 0 || len(gp.k84.Refused()) != 0 {
		t.Error("the practice whose agreement expired was asked for the patient's record")
	}
	// One decision per GP resource, both naming B86001; the HIV one denied.
	var gpEvents []auditEvent
	for _, e := range h.audit.take(t) {
		res := e.Entity[len(e.Entity)-1]
		if strings.HasPrefix(res.What.Reference, "AllergyIntolerance/B86001-") {
			gpEvents = append(gpEvents, e)
			if !slices.Contains(res.Detail, auditDetail{Type: "sourceOrganisation", ValueString: "B86001"}) {
				t.Errorf("event for %s does not name the GP: %+v", res.What.Reference, res.Detail)
			}
			if e.Entity[0].What.Identifier == nil || e.Entity[0].What.Identifier.Value != alice {
				t.Errorf("event for %s does not name the patient", res.What.Reference)
			}
		}
	}
	outcomes := map[string]string{}
	for _, e := range gpEvents {
		outcomes[e.Entity[len(e.Entity)-1].What.Reference] = e.Outcome
	}
	if outcomes["AllergyIntolerance/B86001-a1"] != auditOutcomeSuccess || outcomes["AllergyIntolerance/B86001-a-hiv"] != auditOutcomeMinorFailure || len(outcomes) != 2 {
		t.Errorf("GP decisions %v: want a1 allowed, a-hiv denied", outcomes)
	}

	// Medications: the statement.
	got, _ = searchEntries(t, h, "/MedicationStatement?"+patientQuery("MedicationStatement", alice), clinician().sign(t))
	if _, ok := got["MedicationStatement/B86001-s1"]; !ok {
		t.Errorf("the GP's MedicationStatement is not shown: %v", keysOf(got))
	}
}

// Break-glass shows the sensitive GP record, as it would a record service
// one.
func TestFederatedSearchBreakGlass(t *testing.T) {
	gp := newGPPractices(t)
	h := newHarness(t, withGPConnect(gp.file))
	token := clinician().with(claims{"purpose_of_use": policy.PurposeEmergencyTreat}).breakingGlass("unconscious in ED", time.Minute).sign(t)
	got, _ := searchEntries(t, h, "/AllergyIntolerance?"+patientQuery("AllergyIntolerance", alice), token)
	if _, ok := got["AllergyIntolerance/B86001-a-hiv"]; !ok {
		t.Fatalf("break-glass did not show the sensitive GP record: %v", keysOf(got))
	}
}

// An ungranted category is neither shown nor asked of the practice; an
// objecting patient's GP record is neither shown nor asked for.
func TestFederatedSearchWithholds(t *testing.T) {
	t.Run("ungranted category", func(t *testing.T) {
		gp := newGPPractices(t)
		input := testInput()
		input.Policies[0].Grants = []policy.PolicyGrant{{Categories: []string{policy.CategoryMedications}}}
		h := newHarness(t, withGPConnect(gp.file), func(s *setup) { s.input = &input })
		got, issues := searchEntries(t, h, "/AllergyIntolerance?"+patientQuery("AllergyIntolerance", alice), clinician().sign(t))
		if len(got) != 0 || len(issues) != 0 || gp.b86.Served() != 0 {
			t.Fatalf("entries %v, issues %+v, practice served %d: want nothing", keysOf(got), issues, gp.b86.Served())
		}
		// The granted one is still read.
		got, _ = searchEntries(t, h, "/MedicationStatement?"+patientQuery("MedicationStatement", alice), clinician().sign(t))
		if _, ok := got["MedicationStatement/B86001-s1"]; !ok {
			t.Errorf("granted GP medication not shown: %v", keysOf(got))
		}
	})
	t.Run("objecting patient", func(t *testing.T) {
		gp := newGPPractices(t)
		h := newHarness(t, withGPConnect(gp.file))
		got, issues := searchEntries(t, h, "/AllergyIntolerance?"+patientQuery("AllergyIntolerance", bob), clinician().sign(t))
		if len(got) != 0 || len(issues) != 0 || gp.b86.Served() != 0 {
			t.Fatalf("entries %v, issues %+v, practice served %d: want nothing for an objecting patient", keysOf(got), issues, gp.b86.Served())
		}
		// carol objects only to RTH's data: her GP record is shown.
		got, _ = searchEntries(t, h, "/AllergyIntolerance?"+patientQuery("AllergyIntolerance", carol), clinician().sign(t))
		if _, ok := got["AllergyIntolerance/B86001-c1"]; !ok {
			t.Errorf("carol's GP record not shown: %v", keysOf(got))
		}
	})
}

// A practice that cannot be read degrades to an OperationOutcome in the
// Bundle: never a silent gap, never a failed search, never GP data
// without a decision.
func TestFederatedSearchDegrades(t *testing.T) {
	gp := newGPPractices(t)
	h := newHarness(t, withGPConnect(gp.file))
	gp.b86.Down.Store(true)
	got, issues := searchEntries(t, h, "/AllergyIntolerance?"+patientQuery("AllergyIntolerance", alice), clinician().sign(t))
	if _, ok := got["AllergyIntolerance/allergy-alice"]; !ok || len(got) != 1 {
		t.Errorf("entries %v: want the record service's only", keysOf(got))
	}
	if len(issues) != 1 || issues[0].Severity != "warning" || !strings.Contains(issues[0].Diagnostics, "B86001") ||
		!strings.Contains(issues[0].Diagnostics, "503") || strings.Contains(issues[0].Diagnostics, alice) {
		t.Errorf("issues %+v: want one warning naming the practice and its status", issues)
	}

	// A resource that cannot be mapped is withheld and said so; the rest
	// of the practice's answer is shown.
	gp.b86.Down.Store(false)
	unmappable := stu3Allergy("c-bad")
	unmappable["clinicalStatus"] = "remission"
	gp.b86.Add(carol, unmappable)
	got, issues = searchEntries(t, h, "/AllergyIntolerance?"+patientQuery("AllergyIntolerance", carol), clinician().sign(t))
	if _, ok := got["AllergyIntolerance/B86001-c1"]; !ok || len(issues) != 1 || !strings.Contains(issues[0].Diagnostics, "1 resource(s) are not included") {
		t.Errorf("entries %v, issues %+v: want carol's mapped allergy and one warning", keysOf(got), issues)
	}

	// A wrong ASID in the configuration: the practice refuses, and says so.
	writeFile(t, gp.file, mustJSON(gpconnect.File{ASID: "200000000999", Practices: []gpconnect.Practice{
		{ODSCode: "B86001", ASID: b86ASID, Endpoint: gp.b86.Base().String()}}}))
	gp.b86.Down.Store(false)
	h.gateway.reload(t.Context())
	_, issues = searchEntries(t, h, "/AllergyIntolerance?"+patientQuery("AllergyIntolerance", alice), clinician().sign(t))
	if len(issues) != 1 || !strings.Contains(issues[0].Diagnostics, "BAD_REQUEST") {
		t.Errorf("issues %+v: want the practice's refusal", issues)
	}

	// A configuration that does not load.
	writeFile(t, gp.file, []byte(`{"asid":"x","practices":[{"odsCode":"b86001","asid":"1","endpoint":"ftp://x"}]}`))
	h.gateway.reload(t.Context())
	_, issues = searchEntries(t, h, "/AllergyIntolerance?"+patientQuery("AllergyIntolerance", alice), clinician().sign(t))
	if len(issues) != 1 || !strings.Contains(issues[0].Diagnostics, "not loaded") {
		t.Errorf("issues %+v: want the configuration's failure", issues)
	}
}

// A search with parameters GP Connect cannot apply says GP records are not
// included; search pages and reads never ask practices.
func TestFederatedSearchOnlyByPatient(t *testing.T) {
	gp := newGPPractices(t)
	h := newHarness(t, withGPConnect(gp.file))
	got, issues := searchEntries(t, h, "/AllergyIntolerance?_sort=date&"+patientQuery("AllergyIntolerance", alice), clinician().sign(t))
	if _, ok := got["AllergyIntolerance/B86001-a1"]; ok || len(issues) != 1 || !strings.Contains(issues[0].Diagnostics, "_sort") {
		t.Errorf("entries %v, issues %+v: want no GP record and a warning naming _sort", keysOf(got), issues)
	}
	if gp.b86.Served() != 0 {
		t.Error("the practice was asked")
	}
	h.get(t, "/AllergyIntolerance/allergy-alice", clinician().sign(t))
	if gp.b86.Served() != 0 {
		t.Error("a read asked the practice")
	}
}
