/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSearchFiltersEntries removes every entry the caller may not see,
// drops total, rewrites the record service's links and full URLs to the
// gateway, and audits one decision per entry.
func TestSearchFiltersEntries(t *testing.T) {
	h := newHarness(t)
	resp := h.get(t, "/MedicationRequest?_count=20&_format=xml&"+aliceQuery(), clinician().sign(t))
	if resp.status != http.StatusOK {
		t.Fatalf("status = %d: %s", resp.status, resp.body)
	}
	b, keys := resp.bundle(t)
	// med-carol-b86 is allowed by the policy, but the search names alice.
	want := []string{"MedicationRequest/med-alice-b86", "MedicationRequest/med-alice-rth"}
	if !slices.Equal(keys, want) {
		t.Errorf("entries = %v, want %v", keys, want)
	}
	if _, ok := b["total"]; ok {
		t.Error("total was passed on; it counts entries the caller may not see")
	}
	if string(b["resourceType"]) != `"Bundle"` || string(b["type"]) != `"searchset"` {
		t.Errorf("not a searchset Bundle: %s", resp.body)
	}

	// The page is not full (2 of 20), so it has no next link.
	var links []bundleLink
	must(t, json.Unmarshal(b["link"], &links))
	wantLinks := []bundleLink{
		{Relation: "self", URL: h.server.URL + "/MedicationRequest?_count=20&" + aliceQuery()},
	}
	if !slices.Equal(links, wantLinks) {
		t.Errorf("links = %+v, want %+v", links, wantLinks)
	}
	var entries []bundleEntry
	must(t, json.Unmarshal(b["entry"], &entries))
	for _, e := range entries {
		if !strings.HasPrefix(e.FullURL, h.server.URL+"/MedicationRequest/") {
			t.Errorf("fullUrl %q does not point at the gateway", e.FullURL)
		}
	}
	if strings.Contains(string(resp.body), h.records.URL) {
		t.Error("the answer still names the record service")
	}

	requests, _ := h.records.seen()
	if q := requests[0].URL.Query(); q.Get("_format") != "" || q.Get("_count") != "20" || q.Get("patient.identifier") != SystemNHSNumber+"|"+alice {
		t.Errorf("record service got query %v; _format must be dropped, _count kept", q)
	}

	events := h.audit.take(t)
	if len(events) != len(h.records.ofType("MedicationRequest", "")) {
		t.Errorf("%d audit events, want one per MedicationRequest entry", len(events))
	}
	allowed := 0
	for _, e := range events {
		if e.Action != "E" || e.Subtype[0].Code != "search-type" {
			t.Errorf("search event action %s subtype %v", e.Action, codes(e.Subtype))
		}
		if e.Outcome == auditOutcomeSuccess {
			allowed++
		}
	}
	if allowed != len(want) {
		t.Errorf("%d allowed events, want %d", allowed, len(want))
	}
}

// TestSearchByPost sends the form to the record service as a POST search.
func TestSearchByPost(t *testing.T) {
	h := newHarness(t)
	header := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	resp := h.do(t, http.MethodPost, "/MedicationRequest/_search?_count=5", clinician().sign(t),
		strings.NewReader("status=active&_format=json&"+aliceQuery()), header)
	if resp.status != http.StatusOK {
		t.Fatalf("status = %d: %s", resp.status, resp.body)
	}
	if _, keys := resp.bundle(t); !slices.Equal(keys, []string{"MedicationRequest/med-alice-b86", "MedicationRequest/med-alice-rth"}) {
		t.Errorf("entries = %v", keys)
	}
	requests, forms := h.records.seen()
	if requests[0].Method != http.MethodPost || requests[0].URL.Path != "/fhir/MedicationRequest/_search" {
		t.Errorf("record service got %s %s", requests[0].Method, requests[0].URL.Path)
	}
	if want := (url.Values{"status": {"active"}, "_count": {"5"}, "patient.identifier": {SystemNHSNumber + "|" + alice}}); !reflectEqual(forms[0], want) {
		t.Errorf("record service form = %v, want %v", forms[0], want)
	}
	if resp := h.do(t, http.MethodPost, "/MedicationRequest/_search", clinician().sign(t),
		strings.NewReader(`{"_id":"x"}`), http.Header{"Content-Type": {"application/json"}}); resp.status != http.StatusBadRequest {
		t.Errorf("a JSON search body must be refused, got %d", resp.status)
	}
}

func reflectEqual(a, b url.Values) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestSearchEncountersByClass decides each Encounter by its own class.
func TestSearchEncountersByClass(t *testing.T) {
	h := newHarness(t)
	resp := h.get(t, "/Encounter?"+aliceQuery(), clinician().sign(t))
	if _, keys := resp.bundle(t); !slices.Equal(keys, []string{"Encounter/enc-amb"}) {
		t.Errorf("entries = %v, want only the ambulatory encounter", keys)
	}
}

// TestSearchPage filters a page of mixed resource types (as with _include)
// entry by entry.
func TestSearchPage(t *testing.T) {
	h := newHarness(t)
	resp := h.get(t, "/?_getpages=page-2&_getpagesoffset=20&"+aliceQuery(), clinician().sign(t))
	if resp.status != http.StatusOK {
		t.Fatalf("status = %d: %s", resp.status, resp.body)
	}
	_, keys := resp.bundle(t)
	want := []string{
		"Patient/alice", "MedicationRequest/med-alice-b86", "MedicationRequest/med-alice-rth",
		"Observation/obs-alice", "Encounter/enc-amb", "AllergyIntolerance/allergy-alice", "Appointment/appt-alice",
		"Consent/consent-adrt", "Practitioner/prac-1",
	}
	if !slices.Equal(keys, want) {
		t.Errorf("entries = %v, want %v", keys, want)
	}
	requests, _ := h.records.seen()
	if q := requests[0].URL.Query(); requests[0].URL.Path != "/fhir" || q.Get("_getpages") != "page-2" || len(q["patient.identifier"]) != 0 {
		t.Errorf("record service got %s; the page's patient is the gateway's, not the record service's", requests[0].URL)
	}
	// A page that names no patient passes on no patient data at all: its
	// link may have come from anyone's search.
	_, keys = h.get(t, "/?_getpages=page-2&_getpagesoffset=20", clinician().sign(t)).bundle(t)
	if !slices.Equal(keys, []string{"Practitioner/prac-1"}) {
		t.Errorf("a page without a patient gave %v, want only the clinical contact", keys)
	}
}

// TestSearchBreakGlass audits every entry shown by an override as an
// emergency override and counts it.
func TestSearchBreakGlass(t *testing.T) {
	h := newHarness(t)
	token := clinician().with(claims{"legitimate_relationship": false}).breakingGlass("collapsed in clinic", time.Minute).sign(t)
	resp := h.get(t, "/Observation?"+aliceQuery(), token)
	if _, keys := resp.bundle(t); !slices.Equal(keys, []string{"Observation/obs-alice", "Observation/obs-hiv", "Observation/obs-restricted"}) {
		t.Errorf("entries = %v", keys)
	}
	overrides := 0
	for _, e := range h.audit.take(t) {
		if e.Type.Code == "110113" && e.Subtype[0].Code == "110127" && e.Outcome == auditOutcomeSuccess {
			overrides++
		}
	}
	if overrides != 3 {
		t.Errorf("%d emergency override events, want 3", overrides)
	}
	metrics := h.get(t, "/metrics", "")
	if !strings.Contains(string(metrics.body), `shcr_gateway_break_glass_total{organisation="RR8"} 3`) {
		t.Errorf("break-glass metric not 3:\n%s", grep(string(metrics.body), "break_glass"))
	}
}

// TestSearchRejectsUnusableBundles answers 502 when the record service does
// not answer a search with a searchset Bundle.
func TestSearchRejectsUnusableBundles(t *testing.T) {
	h := newHarness(t)
	h.records.answer(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ContentTypeFHIR)
		_, _ = w.Write([]byte(`{"resourceType":"Bundle","type":"transaction","entry":[]}`))
	})
	if resp := h.get(t, "/Observation?"+aliceQuery(), clinician().sign(t)); resp.status != http.StatusBadGateway {
		t.Errorf("status = %d, want 502", resp.status)
	}
	h.records.answer(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`stack trace with patient data`))
	})
	resp := h.get(t, "/Observation?"+aliceQuery(), clinician().sign(t))
	if resp.status != http.StatusBadGateway || strings.Contains(string(resp.body), "patient data") {
		t.Errorf("status = %d %s, want 502 without the record service's body", resp.status, resp.body)
	}
}

func grep(text, word string) string {
	var lines []string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, word) {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "\n")
}

// TestFullURLFastPath rewrites the usual fullUrl without parsing it, to
// exactly what parsing it gives, and leaves every other URL to parsing.
func TestFullURLFastPath(t *testing.T) {
	upstream, err := url.Parse("http://records.tvs.svc:8080/fhir")
	must(t, err)
	for _, gateway := range []string{"http://gateway.example/", "https://gw.example:8443/", "http://[::1]:9000/"} {
		base, err := url.Parse(gateway)
		must(t, err)
		l := newLinkRewriter(upstream, base)
		for _, raw := range []string{
			"http://records.tvs.svc:8080/fhir/MedicationRequest/med-1",
			"http://records.tvs.svc:8080/fhir/MedicationRequest/med-1/_history/2",
			"http://records.tvs.svc:8080/fhir/Patient/a.b-C9",
			"http://records.tvs.svc:8080/fhir/Patient/../Observation/x",
			"http://records.tvs.svc:8080/fhir/Patient/./x",
			"http://records.tvs.svc:8080/fhir//Patient/x",
			"http://records.tvs.svc:8080/fhir/Patient/x/",
			"http://records.tvs.svc:8080/fhir/Patient/a%2Fb",
			"http://records.tvs.svc:8080/fhir/Patient/a b",
			"http://records.tvs.svc:8080/fhir/Patient/x?_format=json",
			"http://records.tvs.svc:8080/fhir/Patient/x#part",
			"http://records.tvs.svc:8080/fhir/",
			"http://records.tvs.svc:8080/fhir",
			"http://records.tvs.svc:8080/fhirother/Patient/x",
			"HTTP://records.tvs.svc:8080/fhir/Patient/x",
			"https://records.tvs.svc:8080/fhir/Patient/x",
			"urn:uuid:3f2c5c55-7d0e-4b0e-9d43-0e6f1b7a9c10",
			"",
		} {
			if got, want := l.fullURL(raw), l.parsedFullURL(raw); got != want {
				t.Errorf("gateway %s: fullURL(%q) = %q, parsing gives %q", gateway, raw, got, want)
			}
		}
		if got := l.fullURL("http://records.tvs.svc:8080/fhir/MedicationRequest/med-1"); got != strings.TrimSuffix(gateway, "/")+"/MedicationRequest/med-1" {
			t.Errorf("gateway %s: rewritten to %q", gateway, got)
		}
	}
}
