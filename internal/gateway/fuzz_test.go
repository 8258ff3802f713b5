/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// FuzzParseRequest checks that any request either is refused with a
// request error or parses into an interaction that is safe to send to the
// record service and parses back to itself.
func FuzzParseRequest(f *testing.F) {
	for _, seed := range [][3]string{
		{"GET", "/Patient/alice", ""},
		{"GET", "/Observation", "code=http://loinc.org|1234-5&_format=json&_count=10"},
		{"GET", "/Observation", "subject:Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919"},
		{"POST", "/Observation/_search", "code=1&_include=Observation:subject"},
		{"GET", "/", "_getpages=abc&_getpagesoffset=20"},
		{"GET", "/metadata", ""},
		{"GET", "/Encounter/e1/_history/2", ""},
		{"GET", "/Encounter/e1/_history", "_since=2026-01-01"},
		{"PUT", "/Patient/alice", ""},
		{"GET", "/Patient/%2e%2e", ""},
		{"GET", "/Patient/..", ""},
		{"GET", "/Patient//", ""},
		{"GET", "/AuditEvent", ""},
		{"GET", "/Patient/alice/$everything", ""},
		{"GET", "/Patient", "_has:Observation:patient:code=1"},
		{"GET", "/Patient", "a=%zz"},
		{"GET", "/Patient", "_summary=count"},
		{"GET", "//Patient", ""},
		{"GET", "/Observation", "patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919&code=1"},
		{"GET", "/Observation", "Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919"},
		{"GET", "/Observation", "patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919,https://fhir.nhs.uk/Id/nhs-number|9434765919"},
		{"GET", "/Patient", "identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919&_count=5"},
		{"GET", "/", "_getpages=a&patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919"},
		{"POST", "/Observation/_search", "subject:Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919&_SUMMARY=count"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, method, path, query string) {
		in, err := ParseRequest(method, path, query)
		if err != nil {
			var rerr *requestError
			if !errors.As(err, &rerr) || rerr.msg == "" {
				t.Fatalf("error %v is not a request error", err)
			}
			if !slices.Contains([]int{http.StatusBadRequest, http.StatusForbidden, http.StatusMethodNotAllowed}, rerr.status) {
				t.Fatalf("status %d", rerr.status)
			}
			return
		}
		checkInteraction(t, in)
		again := http.MethodGet
		if in.Post {
			again = http.MethodPost
		}
		back, err := ParseRequest(again, "/"+in.Path(), in.LinkQuery().Encode())
		if err != nil {
			t.Fatalf("%+v does not parse back: %v", in, err)
		}
		if !reflect.DeepEqual(back, in) {
			t.Fatalf("%+v parses back as %+v", in, back)
		}
	})
}

func checkInteraction(t *testing.T, in Interaction) {
	t.Helper()
	switch in.Kind {
	case KindCapabilities, KindSearchPage:
		if in.Type != "" || in.ID != "" {
			t.Fatalf("system interaction with a type: %+v", in)
		}
	case KindRead, KindVRead, KindHistory, KindSearch:
		if !resourceTypePattern.MatchString(in.Type) || !isSharedType(in.Type) || slices.Contains(governanceTypes, in.Type) {
			t.Fatalf("interaction on type %q", in.Type)
		}
	default:
		t.Fatalf("unknown kind %q", in.Kind)
	}
	for _, id := range []string{in.ID, in.VersionID} {
		if id != "" && (!idPattern.MatchString(id) || strings.Trim(id, ".") == "") {
			t.Fatalf("unsafe id %q", id)
		}
	}
	if p := in.Path(); strings.ContainsAny(p, "%?#$\\") || strings.Contains(p, "//") || slices.Contains(strings.Split(p, "/"), "..") {
		t.Fatalf("unsafe upstream path %q", p)
	}
	for name := range in.Query {
		if slices.Contains(refusedParameters, parameterBase(name)) || slices.Contains(droppedParameters, parameterBase(name)) {
			t.Fatalf("parameter %q reaches the record service", name)
		}
		for _, refused := range refusedParameters {
			if strings.EqualFold(parameterBase(name), refused) {
				t.Fatalf("a spelling of %s reaches the record service: %q", refused, name)
			}
		}
		if strings.HasPrefix(name, "_") && !slices.Contains(searchControlParameters, name) && !slices.Contains(historyParameters, name) &&
			!slices.Contains(pageParameters, name) {
			t.Fatalf("control parameter %q reaches the record service", name)
		}
	}
	checkPatientScope(t, in)
}

// checkPatientScope asserts the patient scope of an accepted interaction:
// a search of a type that holds patient data names exactly one patient,
// by exactly one parameter in an accepted form with one value, a valid NHS
// number, and that is the interaction's patient; no other parameter names
// a patient or chains; a search page names at most one valid patient.
func checkPatientScope(t *testing.T, in Interaction) {
	t.Helper()
	if in.Patient != "" && !ValidNHSNumber(in.Patient) {
		t.Fatalf("patient %q is not a valid NHS number", in.Patient)
	}
	if in.Kind != KindSearch {
		if in.Kind != KindSearchPage && in.Patient != "" {
			t.Fatalf("%s with a patient", in.Kind)
		}
		return
	}
	scope := newPatientScope(in.Type)
	var values []string
	for name, v := range in.Query {
		lower := strings.ToLower(parameterBase(name))
		switch {
		case slices.Contains(scope.forms, name):
			values = append(values, v...)
		case slices.Contains(scope.bases, lower), strings.Contains(name, "."):
			t.Fatalf("parameter %q names a patient or chains, outside the accepted forms", name)
		}
	}
	if !holdsPatientData(in.Type) {
		if len(values) != 0 || in.Patient != "" {
			t.Fatalf("a search of %s names a patient", in.Type)
		}
		return
	}
	if len(values) != 1 || values[0] != SystemNHSNumber+"|"+in.Patient {
		t.Fatalf("a search of %s is scoped by %v, patient %q", in.Type, values, in.Patient)
	}
}

// FuzzDecodeSearchBundle checks the gateway's reading of record service
// Bundles: it never accepts what is not valid JSON; every resource it keeps
// is a valid JSON object taken unchanged from the Bundle, with facts read
// from exactly those bytes; and the Bundle it writes back is valid JSON.
func FuzzDecodeSearchBundle(f *testing.F) {
	h := newHarness(f)
	f.Add(h.records.searchset(h.records.all(), "code=1"))
	for _, seed := range []string{
		`{"resourceType":"Bundle","type":"searchset"}`,
		`{"resourceType":"Bundle","type":"searchset","entry":null,"link":null}`,
		`{"resourceType":"Bundle","type":"history","entry":[{"resource":{"resourceType":"Patient","id":"a"},"resource":{"resourceType":"Patient","id":"b"}}]}`,
		`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Observation","meta":{"tag":7}}},null,{"resource":"x"}]}`,
		`{"resourceType":"Bundle","type":"searchset","entry":[{"fullUrl":"http://h/fhir/Patient/a","resource" : { "resourceType" : "Patient" , "Meta":{} , "meta" : {} } }]}`,
		`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Patient"}}]} {}`,
		`{"resourceType":"Bundle","type":"searchset","entry":{"resource":{}}}`,
		`[{"resourceType":"Bundle"}]`,
		"{\"resourceType\":\"Bundle\",\"id\":\"\xff\"}",
		`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","id":"\u00e9\ud83d\ude00"}}]}`,
		// Patients and labels where a fixed reading would miss them.
		`{"resourceType":"Bundle","type":"searchset","entry":[` +
			`{"resource":{"resourceType":"Observation","id":"o1","subject":{"reference":"Patient/a","identifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"}},"performer":[{"reference":"Patient/b"}]}},` +
			`{"resource":{"resourceType":"Observation","id":"o2","contained":[{"resourceType":"Patient","id":"p1","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"}]}],"subject":{"reference":"#p1"},"zz":{"type":"Patient"}}},` +
			`{"resource":{"resourceType":"DocumentReference","id":"d1","securityLabel":[{"coding":[{"code":" r"}]}],"meta":{"security":{"code":"N"}}}},` +
			`{"resource":{"resourceType":"Practitioner","id":"pr","contained":[{"resourceType":"Observation","subject":{"reference":"Patient/x"}}]}}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := decodeSearchBundle(body)
		if err != nil {
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted a Bundle that is not valid JSON: %q", body)
		}
		for i, e := range b.Entry {
			if !isResource(e.Resource) {
				continue
			}
			if !json.Valid(e.Resource) || !bytes.Contains(body, e.Resource) {
				t.Fatalf("entry %d: resource %q is not valid JSON taken from the Bundle", i, e.Resource)
			}
			if want := decidedFacts(e.Resource); !reflect.DeepEqual(e.facts, want) {
				t.Fatalf("entry %d: facts %+v, but the kept bytes give %+v", i, e.facts, want)
			}
		}
		out, err := b.encode()
		if err == nil && !json.Valid(out) {
			t.Fatalf("wrote a Bundle that is not valid JSON: %q", out)
		}
	})
}
