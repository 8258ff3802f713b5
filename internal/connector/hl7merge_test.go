/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// serveSearch answers GET [base]/Type?subject=..&_tag=.. over the stored
// records, as the record service does for the HL7v2 merge.
func (rs *recordService) serveSearch(w http.ResponseWriter, r *http.Request) {
	resourceType := strings.TrimPrefix(r.URL.Path, "/fhir/")
	q := r.URL.Query()
	rs.mu.Lock()
	var keys []string
	for k := range rs.store {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	entries := []any{}
	for _, k := range keys {
		res := rs.store[k]
		subject, _ := res["subject"].(map[string]any)
		if res["resourceType"] != resourceType || (q.Has("subject") && subject["reference"] != q.Get("subject")) ||
			(q.Has("_tag") && !hasODSTag(res, strings.TrimPrefix(q.Get("_tag"), SystemODS+"|"))) {
			continue
		}
		entries = append(entries, map[string]any{"resource": deepCopy(res), "search": map[string]any{"mode": "match"}})
	}
	rs.mu.Unlock()
	w.Header().Set("Content-Type", "application/fhir+json")
	_ = json.NewEncoder(w).Encode(map[string]any{"resourceType": "Bundle", "type": "searchset", "entry": entries})
}

// A merge (A40) of a prior record without an NHS number into the surviving
// patient moves the prior patient's records to the survivor, naming its
// NHS number, so the gateway finds them by it and applies its objection;
// the prior Patient carries the surviving NHS number too. Another
// organisation's records of a patient with the same record id are left.
func TestMLLPMergeMovesThePriorPatientsRecords(t *testing.T) {
	h := newMLLPHarness(t, policy.CategoryDemographics, policy.CategoryInpatientStays)
	priorPID := seg("PID", map[int]string{1: "1", 3: "K777777^^^RHW^MR", 5: "OKONKWO^ADA", 7: "19700101", 8: "F"})
	wantAck(t, h.send(adt("A01", "P1", priorPID, pv1("I", "V30", nil)), 1<<20), "AA", "P1")
	wantAck(t, h.send(adt("A01", "P2", priorPID, pv1("I", "V31", nil)), 1<<20), "AA", "P2")
	prior := recordKey("Patient", hashID("pat", systemLocalPrefix+testODS+"/RHW", "K777777"))
	for _, v := range []string{"V30", "V31"} {
		if subject := fmt.Sprint(h.records.get(encounterKey(v))["subject"]); strings.Contains(subject, "identifier") {
			t.Fatalf("the prior patient's Encounter names an NHS number before the merge: %s", subject)
		}
	}
	// Another organisation's Encounter of the prior patient's record id.
	other := encounter("x1", "IMP", at(1))
	other["id"], other["subject"] = "XYZ-x1", map[string]any{"reference": prior}
	other["meta"] = map[string]any{"tag": []any{map[string]any{"system": SystemODS, "code": "XYZ"}}}
	h.records.mu.Lock()
	h.records.store["Encounter/XYZ-x1"] = other
	h.records.mu.Unlock()

	wantAck(t, h.send(adt("A40", "M1", pid(), "MRG|K777777^^^RHW^MR"), 1<<20), "AA", "M1")
	want := "map[identifier:map[system:" + SystemNHSNumber + " value:" + testNHS + "] reference:" + patientKey() + "]"
	for _, v := range []string{"V30", "V31"} {
		enc := h.records.get(encounterKey(v))
		if got := fmt.Sprint(enc["subject"]); got != want {
			t.Errorf("after the merge %s.subject = %s, want %s", v, got, want)
		}
		if !hasODSTag(enc, testODS) {
			t.Errorf("the moved Encounter lost its provenance: %v", enc["meta"])
		}
	}
	if got := fmt.Sprint(h.records.get("Encounter/XYZ-x1")["subject"]); got != "map[reference:"+prior+"]" {
		t.Errorf("another organisation's record was moved: %s", got)
	}
	priorPatient := h.records.get(prior)
	if ids := fmt.Sprint(priorPatient["identifier"]); !strings.Contains(ids, testNHS) || priorPatient["active"] != false {
		t.Errorf("the prior Patient = %v, want inactive, carrying the surviving NHS number", priorPatient)
	}
	if links := fmt.Sprint(h.records.get(patientKey())["link"]); !strings.Contains(links, testNHS) || !strings.Contains(links, prior) {
		t.Errorf("the surviving Patient's link = %s, want the prior patient named with the NHS number", links)
	}
	// The merge sent again finds nothing more to move.
	wantAck(t, h.send(adt("A40", "M1", pid(), "MRG|K777777^^^RHW^MR"), 1<<20), "AA", "M1")
}
