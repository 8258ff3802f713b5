/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gpconnect_test

import (
	"encoding/json"
	"maps"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/shcr-io/shcr-operator/internal/gpconnect"
)

func allergy(id string, security []any) map[string]any {
	r := map[string]any{
		"resourceType": "AllergyIntolerance", "id": id,
		"clinicalStatus": "active", "verificationStatus": "confirmed", "type": "allergy",
		"category": []any{"medication"}, "criticality": "high",
		"code":         map[string]any{"coding": []any{map[string]any{"system": "http://snomed.info/sct", "code": "294505008", "display": "Amoxicillin allergy"}}},
		"patient":      map[string]any{"reference": "Patient/pat-1"},
		"assertedDate": "2020-01-02",
		"reaction":     []any{map[string]any{"manifestation": []any{map[string]any{"text": "rash"}}, "severity": "moderate"}},
		"extension":    []any{map[string]any{"url": "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-Encounter-1"}},
	}
	if security != nil {
		r["meta"] = map[string]any{"security": security}
	}
	return r
}

// problem is a GP Connect ProblemHeader: an STU3 Condition.
func problem(id string) map[string]any {
	return map[string]any{
		"resourceType": "Condition", "id": id, "clinicalStatus": "active",
		"meta": map[string]any{"profile": []any{"https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-ProblemHeader-Condition-1"}},
		"extension": []any{map[string]any{"url": "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-ActualProblem-1",
			"valueReference": map[string]any{"reference": "AllergyIntolerance/a1"}}},
		"category":      []any{map[string]any{"coding": []any{map[string]any{"system": "http://hl7.org/fhir/condition-category", "code": "problem-list-item", "display": "Problem List Item"}}}},
		"severity":      map[string]any{"coding": []any{map[string]any{"system": "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-ProblemSignificance-1", "code": "major"}}},
		"code":          map[string]any{"coding": []any{map[string]any{"system": "http://snomed.info/sct", "code": "38341003", "display": "Hypertension"}}},
		"subject":       map[string]any{"reference": "Patient/pat-1"},
		"context":       map[string]any{"reference": "Encounter/e1"},
		"asserter":      map[string]any{"reference": "Practitioner/prac-1"},
		"onsetDateTime": "2019-05-01", "assertedDate": "2019-05-02",
		"note": []any{map[string]any{"text": "home readings", "authorReference": map[string]any{"reference": "Practitioner/prac-1"}}},
	}
}

func statement(id string) map[string]any {
	return map[string]any{
		"resourceType": "MedicationStatement", "id": id, "status": "active",
		"medicationReference": map[string]any{"reference": "Medication/m1"},
		"subject":             map[string]any{"reference": "Patient/pat-1"},
		"effectivePeriod":     map[string]any{"start": "2021-03-01"},
		"dateAsserted":        "2021-03-01",
		"basedOn":             []any{map[string]any{"reference": "MedicationRequest/r1"}, map[string]any{"reference": "MedicationRequest/absent"}},
		"dosage":              []any{map[string]any{"text": "one daily", "doseQuantity": map[string]any{"value": json.Number("1"), "unit": "tablet"}}},
	}
}

func request(id string) map[string]any {
	return map[string]any{
		"resourceType": "MedicationRequest", "id": id, "status": "active", "intent": "plan",
		"medicationReference": map[string]any{"reference": "Medication/m1"},
		"subject":             map[string]any{"reference": "Patient/pat-1"},
		"authoredOn":          "2021-03-01",
		"requester":           map[string]any{"agent": map[string]any{"reference": "Practitioner/prac-1"}},
		"dispenseRequest":     map[string]any{"quantity": map[string]any{"value": json.Number("28")}, "numberOfRepeatsAllowed": json.Number("3")},
		"dosageInstruction":   []any{map[string]any{"text": "one daily", "doseRange": map[string]any{"low": map[string]any{"value": json.Number("1")}}}},
	}
}

func medication(security []any) map[string]any {
	m := map[string]any{"resourceType": "Medication", "id": "m1",
		"code": map[string]any{"coding": []any{map[string]any{"system": "http://snomed.info/sct", "code": "323509004"}}}}
	if security != nil {
		m["meta"] = map[string]any{"security": security}
	}
	return m
}

func answer(nhs string, resources ...map[string]any) []byte {
	entries := []any{map[string]any{"resource": map[string]any{"resourceType": "Patient", "id": "pat-1",
		"identifier": []any{map[string]any{"system": gpconnect.SystemNHSNumber, "value": nhs}}}}}
	for _, r := range resources {
		entries = append(entries, map[string]any{"resource": r})
	}
	data, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "collection", "entry": entries})
	return data
}

func provider() gpconnect.Provider {
	u, _ := url.Parse("https://gp.example.nhs.uk/Y3G01/STU3/1/gpconnect/structured/fhir")
	return gpconnect.Provider{ODS: "Y3G01", ASID: practiceASID, Base: u}
}

var all = []string{"Allergies", "Medications", "Problems"}

func mapOne(t *testing.T, r map[string]any, extra ...map[string]any) (map[string]any, gpconnect.Result) {
	t.Helper()
	res, err := gpconnect.Map(answer(nhsNumber, append(extra, r)...), provider(), nhsNumber, all)
	if err != nil {
		t.Fatal(err)
	}
	for _, mapped := range res.Resources {
		if mapped.ID != gpconnect.RecordID("Y3G01", r["id"].(string)) {
			continue
		}
		var out map[string]any
		if err := json.Unmarshal(mapped.JSON, &out); err != nil {
			t.Fatal(err)
		}
		return out, res
	}
	return nil, res
}

func get(m map[string]any, path string) any {
	var cur any = m
	for _, p := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[p]
		case []any:
			if len(c) == 0 {
				return nil
			}
			cur = c[0].(map[string]any)[p]
		default:
			return nil
		}
	}
	return cur
}

// STU3 shapes map to R4 shapes with the provenance and the patient by NHS
// number.
func TestMapSTU3ToR4(t *testing.T) {
	patient := map[string]any{"type": "Patient", "identifier": map[string]any{"system": gpconnect.SystemNHSNumber, "value": nhsNumber}}
	cases := []struct {
		name     string
		resource map[string]any
		extra    []map[string]any
		want     map[string]any
		absent   []string
	}{
		{"allergy", allergy("a1", nil), nil, map[string]any{
			"resourceType": "AllergyIntolerance", "id": "Y3G01-a1", "patient": patient,
			"clinicalStatus.coding.code":     "active",
			"clinicalStatus.coding.system":   "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
			"verificationStatus.coding.code": "confirmed",
			"recordedDate":                   "2020-01-02", "criticality": "high", "type": "allergy",
			"reaction.severity": "moderate", "meta.source": provider().Base.String(),
			"meta.tag.code": "Y3G01",
		}, []string{"assertedDate", "extension"}},
		{"allergy entered in error has no clinical status", with(allergy("a2", nil), "verificationStatus", "entered-in-error"), nil,
			map[string]any{"verificationStatus.coding.code": "entered-in-error"}, []string{"clinicalStatus"}},
		{"allergy keeps security labels", allergy("a3", []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}}), nil,
			map[string]any{"meta.security.code": "R"}, nil},
		{"statement", statement("s1"), []map[string]any{medication(nil), request("r1")}, map[string]any{
			"resourceType": "MedicationStatement", "id": "Y3G01-s1", "status": "active", "subject": patient,
			"medicationReference.reference": "#med", "contained.resourceType": "Medication", "contained.code.coding.code": "323509004",
			"dosage.doseAndRate.doseQuantity.unit": "tablet", "basedOn.reference": "MedicationRequest/Y3G01-r1",
		}, []string{"dosage.doseQuantity"}},
		{"statement not taken", with(statement("s2"), "taken", "n"), []map[string]any{medication(nil)},
			map[string]any{"status": "not-taken"}, []string{"taken"}},
		{"statement with a code", without(with(statement("s3"), "medicationCodeableConcept", map[string]any{"text": "aspirin"}), "medicationReference"), nil,
			map[string]any{"medicationCodeableConcept.text": "aspirin"}, []string{"contained"}},
		{"statement's sensitive Medication labels travel contained", statement("s4"), []map[string]any{medication([]any{map[string]any{"code": "HIV"}})},
			map[string]any{"contained.meta.security.code": "HIV"}, nil},
		{"problem", problem("c1"), nil, map[string]any{
			"resourceType": "Condition", "id": "Y3G01-c1", "subject": patient,
			"clinicalStatus.coding.code":   "active",
			"clinicalStatus.coding.system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
			"category.coding.system":       "http://terminology.hl7.org/CodeSystem/condition-category",
			"category.coding.code":         "problem-list-item", "category.coding.display": "Problem List Item",
			"code.coding.code": "38341003", "severity.coding.code": "major",
			"onsetDateTime": "2019-05-01", "recordedDate": "2019-05-02", "note.text": "home readings",
			"meta.tag.code": "Y3G01", "meta.source": provider().Base.String(),
		}, []string{"assertedDate", "extension", "context", "asserter", "verificationStatus", "note.authorReference", "meta.profile"}},
		{"problem resolved", with(with(problem("c2"), "clinicalStatus", "resolved"), "abatementDateTime", "2020-01-01"), nil,
			map[string]any{"clinicalStatus.coding.code": "resolved", "abatementDateTime": "2020-01-01"}, nil},
		{"problem confirmed", with(problem("c3"), "verificationStatus", "confirmed"), nil,
			map[string]any{"verificationStatus.coding.code": "confirmed",
				"verificationStatus.coding.system": "http://terminology.hl7.org/CodeSystem/condition-ver-status"}, nil},
		{"problem verification unknown has no R4 code", with(problem("c4"), "verificationStatus", "unknown"), nil,
			map[string]any{"clinicalStatus.coding.code": "active"}, []string{"verificationStatus"}},
		{"problem entered in error has no clinical status", with(problem("c5"), "verificationStatus", "entered-in-error"), nil,
			map[string]any{"verificationStatus.coding.code": "entered-in-error"}, []string{"clinicalStatus"}},
		{"problem keeps security labels", with(problem("c6"), "meta", map[string]any{"security": []any{map[string]any{"code": "PSY"}}}), nil,
			map[string]any{"meta.security.code": "PSY"}, nil},
		{"problem category of another system kept", with(problem("c7"), "category", []any{map[string]any{"coding": []any{map[string]any{"system": "http://snomed.info/sct", "code": "55607006"}}}}), nil,
			map[string]any{"category.coding.system": "http://snomed.info/sct", "category.coding.code": "55607006"}, nil},
		{"request", request("r2"), []map[string]any{medication(nil)}, map[string]any{
			"resourceType": "MedicationRequest", "status": "active", "intent": "plan",
			"dispenseRequest.numberOfRepeatsAllowed": float64(3), "dosageInstruction.doseAndRate.doseRange.low.value": float64(1),
		}, []string{"requester"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, res := mapOne(t, c.resource, c.extra...)
			if out == nil {
				t.Fatalf("not mapped: %+v", res.Withheld)
			}
			for path, want := range c.want {
				if got := get(out, path); !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %#v, want %#v", path, got, want)
				}
			}
			for _, path := range c.absent {
				if got := get(out, path); got != nil {
					t.Errorf("%s = %#v, want absent", path, got)
				}
			}
		})
	}
}

func with(r map[string]any, field string, value any) map[string]any {
	out := maps.Clone(r)
	out[field] = value
	return out
}

func without(r map[string]any, field string) map[string]any {
	out := maps.Clone(r)
	delete(out, field)
	return out
}

// A resource that cannot be mapped with certainty is withheld and said so;
// the others of the answer are still mapped.
func TestMapWithholdsUnknownShapes(t *testing.T) {
	cases := map[string]map[string]any{
		"Condition without code":              without(problem("x"), "code"),
		"Condition of another patient":        with(problem("x"), "subject", map[string]any{"reference": "Patient/pat-2"}),
		"Condition without subject":           without(problem("x"), "subject"),
		"Condition patient by identifier":     with(problem("x"), "subject", map[string]any{"identifier": map[string]any{"system": gpconnect.SystemNHSNumber, "value": nhsNumber}}),
		"Condition R4 status shape":           with(problem("x"), "clinicalStatus", map[string]any{"coding": []any{}}),
		"Condition unknown clinical status":   with(problem("x"), "clinicalStatus", "relapse"),
		"Condition R4 verification":           with(problem("x"), "verificationStatus", "unconfirmed"),
		"Condition unknown category code":     with(problem("x"), "category", []any{map[string]any{"coding": []any{map[string]any{"system": "http://hl7.org/fhir/condition-category", "code": "health-concern"}}}}),
		"Condition R4 category bad code":      with(problem("x"), "category", []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "problem"}}}}),
		"Condition category not a list":       with(problem("x"), "category", map[string]any{"text": "problem"}),
		"Condition category coding not list":  with(problem("x"), "category", []any{map[string]any{"coding": map[string]any{"code": "problem-list-item"}}}),
		"Condition abated but active":         with(problem("x"), "abatementDateTime", "2020-01-01"),
		"Condition abatementBoolean":          with(with(problem("x"), "clinicalStatus", "resolved"), "abatementBoolean", true),
		"Condition with a modifierExtension":  with(problem("x"), "modifierExtension", []any{map[string]any{"url": "https://example.org/negated", "valueBoolean": true}}),
		"Condition label without code":        with(problem("x"), "meta", map[string]any{"security": []any{map[string]any{"system": "s"}}}),
		"allergy with a modifierExtension":    with(allergy("x", nil), "modifierExtension", []any{map[string]any{"url": "https://example.org/x"}}),
		"Immunization (no category)":          {"resourceType": "Immunization", "id": "i1", "patient": map[string]any{"reference": "Patient/pat-1"}},
		"unknown type":                        {"resourceType": "Frobnicator", "id": "f1"},
		"allergy without id":                  without(allergy("x", nil), "id"),
		"allergy with a bad id":               with(allergy("x", nil), "id", "a/b"),
		"allergy of another patient":          with(allergy("x", nil), "patient", map[string]any{"reference": "Patient/pat-2"}),
		"allergy without patient":             without(allergy("x", nil), "patient"),
		"allergy patient by identifier":       with(allergy("x", nil), "patient", map[string]any{"identifier": map[string]any{"system": gpconnect.SystemNHSNumber, "value": nhsNumber}}),
		"allergy R4 status shape":             with(allergy("x", nil), "clinicalStatus", map[string]any{"coding": []any{}}),
		"allergy unknown clinical status":     with(allergy("x", nil), "clinicalStatus", "remission"),
		"allergy without verification":        without(allergy("x", nil), "verificationStatus"),
		"allergy unknown verification":        with(allergy("x", nil), "verificationStatus", "presumed"),
		"allergy unknown category":            with(allergy("x", nil), "category", []any{"medication", "plant"}),
		"allergy category not a list":         with(allergy("x", nil), "category", "food"),
		"allergy unknown criticality":         with(allergy("x", nil), "criticality", "severe"),
		"allergy reaction without symptom":    with(allergy("x", nil), "reaction", []any{map[string]any{"severity": "mild"}}),
		"allergy unknown severity":            with(allergy("x", nil), "reaction", []any{map[string]any{"manifestation": []any{map[string]any{}}, "severity": "fatal"}}),
		"label without code":                  allergy("x", []any{map[string]any{"system": "s"}}),
		"label not an object":                 allergy("x", []any{"R"}),
		"labels not a list":                   with(allergy("x", nil), "meta", map[string]any{"security": map[string]any{"code": "R"}}),
		"meta not an object":                  with(allergy("x", nil), "meta", "R"),
		"statement unknown status":            with(statement("x"), "status", "paused"),
		"statement unknown taken":             with(statement("x"), "taken", "maybe"),
		"statement without status":            without(statement("x"), "status"),
		"statement dangling medication":       with(statement("x"), "medicationReference", map[string]any{"reference": "Medication/none"}),
		"statement medication not Medication": with(statement("x"), "medicationReference", map[string]any{"reference": "Patient/pat-1"}),
		"statement without medication":        without(statement("x"), "medicationReference"),
		"statement dosage not a list":         with(statement("x"), "dosage", map[string]any{"text": "x"}),
		"request R4 intent":                   with(request("x"), "intent", "original-order"),
		"request without intent":              without(request("x"), "intent"),
		"request unknown status":              with(request("x"), "status", "suspended"),
		"request subject another patient":     with(request("x"), "subject", map[string]any{"reference": "Patient/other"}),
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			res, err := gpconnect.Map(answer(nhsNumber, medication(nil), allergy("good", nil), r), provider(), nhsNumber, all)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Resources) != 1 || res.Resources[0].ID != "Y3G01-good" {
				t.Fatalf("mapped %d resources, want only the good one", len(res.Resources))
			}
			if len(res.Withheld) != 1 || res.Withheld[0].Reason == "" {
				t.Fatalf("withheld %+v, want the one", res.Withheld)
			}
			if strings.Contains(res.Withheld[0].Reason+res.Withheld[0].Type, nhsNumber) {
				t.Fatalf("reason %q names the NHS number", res.Withheld[0].Reason)
			}
		})
	}
}

// An answer that is not a collection Bundle, or is about another patient
// or no patient, is refused whole.
func TestMapRefusesAnswers(t *testing.T) {
	cases := map[string][]byte{
		"not JSON":             []byte("<html>"),
		"null":                 []byte("null"),
		"two objects":          []byte(`{"resourceType":"Bundle","type":"collection"}{}`),
		"OperationOutcome":     []byte(`{"resourceType":"OperationOutcome","issue":[]}`),
		"type with a number":   []byte(`{"resourceType":"Bundle 9434765919","type":"collection"}`),
		"searchset":            []byte(`{"resourceType":"Bundle","type":"searchset","entry":[]}`),
		"entry not a list":     []byte(`{"resourceType":"Bundle","type":"collection","entry":{}}`),
		"entry no resource":    []byte(`{"resourceType":"Bundle","type":"collection","entry":[{}]}`),
		"another patient":      answer("9434765919", allergy("a1", nil)),
		"no patient":           mustJSON(map[string]any{"resourceType": "Bundle", "type": "collection", "entry": []any{map[string]any{"resource": allergy("a1", nil)}}}),
		"patient without NHS":  mustJSON(map[string]any{"resourceType": "Bundle", "type": "collection", "entry": []any{map[string]any{"resource": map[string]any{"resourceType": "Patient", "id": "pat-1"}}, map[string]any{"resource": allergy("a1", nil)}}}),
		"second patient other": mustJSON(map[string]any{"resourceType": "Bundle", "type": "collection", "entry": []any{map[string]any{"resource": map[string]any{"resourceType": "Patient", "id": "pat-1", "identifier": []any{map[string]any{"system": gpconnect.SystemNHSNumber, "value": nhsNumber}, map[string]any{"system": gpconnect.SystemNHSNumber, "value": "9434765919"}}}}}}),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			res, err := gpconnect.Map(body, provider(), nhsNumber, all)
			if err == nil {
				t.Fatalf("accepted: %+v", res)
			}
			if strings.Contains(err.Error(), nhsNumber) || strings.Contains(err.Error(), "9434765919") {
				t.Fatalf("error %q names an NHS number", err)
			}
		})
	}
}

// Only the categories asked for are given back.
func TestMapKeepsOnlyCategoriesAskedFor(t *testing.T) {
	body := answer(nhsNumber, allergy("a1", nil), medication(nil), statement("s1"), problem("c1"),
		map[string]any{"resourceType": "List", "id": "problems", "status": "current", "mode": "snapshot",
			"entry": []any{map[string]any{"item": map[string]any{"reference": "Condition/c1"}}}})
	for _, c := range []struct {
		categories []string
		want       []string
	}{
		{[]string{"Allergies"}, []string{"AllergyIntolerance"}},
		{[]string{"Medications"}, []string{"MedicationStatement"}},
		{[]string{"Problems"}, []string{"Condition"}},
		{nil, nil},
		{[]string{"Allergies", "Medications"}, []string{"AllergyIntolerance", "MedicationStatement"}},
		{[]string{"Allergies", "Medications", "Problems"}, []string{"AllergyIntolerance", "MedicationStatement", "Condition"}},
	} {
		res, err := gpconnect.Map(body, provider(), nhsNumber, c.categories)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range res.Resources {
			got = append(got, r.Type)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("categories %v: got %v, want %v", c.categories, got, c.want)
		}
	}
}

// The items GP Connect links to what was asked (a problem's test results)
// are neither mapped nor reported when their category was not asked for;
// asked for but not mapped from GP Connect, they are withheld and said so.
func TestMapLinkedItemsOfOtherCategories(t *testing.T) {
	observation := map[string]any{"resourceType": "Observation", "id": "o1", "subject": map[string]any{"reference": "Patient/pat-1"}}
	body := answer(nhsNumber, problem("c1"), observation, request("r1"), medication(nil))
	res, err := gpconnect.Map(body, provider(), nhsNumber, []string{"Problems"})
	if err != nil || len(res.Resources) != 1 || res.Resources[0].Type != "Condition" || len(res.Withheld) != 0 {
		t.Fatalf("Problems only: %+v, %v; want the Condition and nothing withheld", res, err)
	}
	res, err = gpconnect.Map(body, provider(), nhsNumber, []string{"Problems", "TestResults"})
	if err != nil || len(res.Resources) != 1 || len(res.Withheld) != 1 || res.Withheld[0].Type != "Observation" {
		t.Fatalf("Problems and TestResults: %+v, %v; want the Observation withheld", res, err)
	}
}

func TestRecordID(t *testing.T) {
	if got := gpconnect.RecordID("Y3G01", "a1"); got != "Y3G01-a1" {
		t.Fatal(got)
	}
	long := gpconnect.RecordID("Y3G01", strings.Repeat("x", 64))
	if len(long) != 64 || !strings.HasPrefix(long, "Y3G01.") {
		t.Fatal(long)
	}
}

func mustJSON(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return data
}
