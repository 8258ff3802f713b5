/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// answerPage makes the record service answer every request with a
// searchset of the given fixture records and links, and a total.
func (h *harness) answerPage(keys []string, links ...bundleLink) {
	h.t.Helper()
	var entries []map[string]any
	for _, key := range keys {
		rec, ok := h.records.find(key)
		if !ok {
			h.t.Fatalf("no fixture record %s", key)
		}
		entries = append(entries, map[string]any{"fullUrl": h.records.base() + "/" + key, "resource": json.RawMessage(rec.json())})
	}
	body := mustJSON(map[string]any{"resourceType": "Bundle", "type": "searchset", "total": 9999, "link": links, "entry": entries})
	h.records.answer(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ContentTypeFHIR)
		_, _ = w.Write(body)
	})
}

// linksOf is the relation → URL of a Bundle answer's links.
func linksOf(t *testing.T, resp response) map[string]string {
	t.Helper()
	b, _ := resp.bundle(t)
	if _, ok := b["total"]; ok {
		t.Errorf("total was passed on")
	}
	var links []bundleLink
	if raw, ok := b["link"]; ok {
		must(t, json.Unmarshal(raw, &links))
	}
	out := map[string]string{}
	for _, l := range links {
		out[l.Relation] = l.URL
	}
	return out
}

// TestLinksNeverTellOfWithheldEntries checks the paging rule: a page goes
// on (next) only when it is full, so a page that lost entries to the
// policy has the same links as the last page of a shorter search; last and
// total are never passed on; links that lead back to the same page, away
// from the record service or to another patient are removed; and every
// link is built from the gateway's external URL, whatever the request's
// Host and X-Forwarded-* headers say.
func TestLinksNeverTellOfWithheldEntries(t *testing.T) {
	h := newHarness(t)
	token := clinician().sign(t)
	base := h.records.base()
	self := bundleLink{Relation: "self", URL: base + "/MedicationRequest?_count=2&" + aliceQuery()}
	next := bundleLink{Relation: "next", URL: base + "?_getpages=p1&_getpagesoffset=2&_count=2&_bundletype=searchset"}
	path := "/MedicationRequest?_count=2&" + aliceQuery()
	wantSelf := h.server.URL + "/MedicationRequest?_count=2&" + aliceQuery()
	wantNext := h.server.URL + "/?_bundletype=searchset&_count=2&_getpages=p1&_getpagesoffset=2&" + aliceQuery()
	allowed := []string{"MedicationRequest/med-alice-b86", "MedicationRequest/med-alice-rth"}
	// Withheld: no provenance, two sources, another patient who objects.
	withheld := []string{"MedicationRequest/med-untagged", "MedicationRequest/med-two-sources", "MedicationRequest/med-bob"}

	spoofed := http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"evil.example"}, "Forwarded": {"host=evil.example;proto=https"}}
	get := func(t *testing.T) map[string]string {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, h.server.URL+path, nil)
		must(t, err)
		req.Host = "evil.example"
		for k, v := range spoofed {
			req.Header[k] = v
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := h.server.Client().Do(req)
		must(t, err)
		defer resp.Body.Close() //nolint:errcheck // test
		var body json.RawMessage
		must(t, json.NewDecoder(resp.Body).Decode(&body))
		if resp.StatusCode != http.StatusOK || strings.Contains(string(body), "evil.example") || strings.Contains(string(body), base) {
			t.Fatalf("status %d, body %s", resp.StatusCode, body)
		}
		return linksOf(t, response{status: resp.StatusCode, header: resp.Header, body: body})
	}

	// A full page goes on, to the gateway, scoped to the same patient.
	h.answerPage(allowed, self, next, bundleLink{Relation: "last", URL: base + "?_getpages=p1&_getpagesoffset=998&_count=2"})
	if got := get(t); !mapsEqual(got, map[string]string{"self": wantSelf, "next": wantNext}) {
		t.Errorf("full page: links %v", got)
	}
	// The last page of a search with one match, and pages that lost one
	// or both entries to the policy, look the same.
	h.answerPage(allowed[:1], self)
	last := get(t)
	for i, keys := range [][]string{{allowed[0], withheld[0]}, {withheld[1], allowed[0]}, {withheld[2], allowed[1]}} {
		h.answerPage(keys, self, next)
		if got := get(t); !mapsEqual(got, last) {
			t.Errorf("page %d with a withheld entry: links %v, the last page has %v", i, got, last)
		}
	}
	for i, keys := range [][]string{withheld[:2], withheld[1:], {}} {
		h.answerPage(keys, self, next)
		if got := get(t); got["next"] != "" {
			t.Errorf("empty page %d has a next link: %v", i, got)
		}
	}
	// Links that lead back to the same page, elsewhere, or to another
	// patient's search are removed.
	for name, link := range map[string]bundleLink{
		"next is self":           {Relation: "next", URL: self.URL},
		"next is self reordered": {Relation: "next", URL: base + "/MedicationRequest?" + aliceQuery() + "&_count=2"},
		"previous is self":       {Relation: "previous", URL: self.URL},
		"next elsewhere":         {Relation: "next", URL: "https://elsewhere.example/fhir?_getpages=p1"},
		"next to another scheme": {Relation: "next", URL: strings.Replace(next.URL, "http://", "https://", 1)},
		"next to carol":          {Relation: "next", URL: base + "/MedicationRequest?_count=2&" + patientQuery("MedicationRequest", carol)},
		"page of carol":          {Relation: "next", URL: next.URL + "&" + patientQuery("MedicationRequest", carol)},
		"next to all patients":   {Relation: "next", URL: base + "/MedicationRequest?_count=2"},
		"alternate":              {Relation: "alternate", URL: next.URL},
	} {
		h.answerPage(allowed, self, link)
		if got := get(t); !mapsEqual(got, map[string]string{"self": wantSelf}) {
			t.Errorf("%s: links %v", name, got)
		}
	}
	// A page that leads back to itself ends.
	h.answerPage(allowed, bundleLink{Relation: "self", URL: next.URL}, next)
	pagePath := "/?_bundletype=searchset&_count=2&_getpages=p1&_getpagesoffset=2&" + aliceQuery()
	if got := linksOf(t, h.get(t, pagePath, token)); got["next"] != "" || got["self"] != h.server.URL+pagePath {
		t.Errorf("a page whose next is itself: links %v", got)
	}

	// Following the next link reaches the record service's page, without
	// the patient, and scopes it to the patient of the search.
	h.records.answer(nil)
	u, err := url.Parse(wantNext)
	must(t, err)
	resp := h.get(t, u.RequestURI(), token)
	_, keys := resp.bundle(t)
	if resp.status != http.StatusOK || slices.ContainsFunc(keys, func(k string) bool { return strings.Contains(k, "carol") || strings.Contains(k, "bob") }) {
		t.Errorf("following next: %d %v", resp.status, keys)
	}
	requests, _ := h.records.seen()
	if q := requests[len(requests)-1].URL.Query(); q.Get("_getpages") != "p1" || len(q["patient.identifier"]) != 0 {
		t.Errorf("record service got %s", requests[len(requests)-1].URL)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestPageLinksProperty checks the paging rule over random pages of
// allowed and withheld entries: a next link appears exactly when the
// record service has one and the page the caller gets is full, so what the
// caller sees of links follows from the entries it sees alone.
func TestPageLinksProperty(t *testing.T) {
	h := newHarness(t)
	token := clinician().sign(t)
	rng := rand.New(rand.NewPCG(20261204, 12))
	allowed := []string{"MedicationRequest/med-alice-b86", "MedicationRequest/med-alice-rth", "Observation/obs-alice", "AllergyIntolerance/allergy-alice"}
	withheld := []string{"MedicationRequest/med-untagged", "MedicationRequest/med-two-sources", "MedicationRequest/med-bob", "Observation/obs-hiv", "MedicationRequest/med-carol-b86"}
	base := h.records.base()
	for i := range 200 {
		count := 1 + rng.IntN(4)
		var keys []string
		passed := 0
		for range rng.IntN(count + 1) {
			if rng.IntN(2) == 0 {
				keys = append(keys, allowed[rng.IntN(len(allowed))])
				passed++
			} else {
				keys = append(keys, withheld[rng.IntN(len(withheld))])
			}
		}
		links := []bundleLink{{Relation: "self", URL: base + "/MedicationRequest?" + aliceQuery()}}
		upstreamNext := rng.IntN(2) == 0
		if upstreamNext {
			links = append(links, bundleLink{Relation: "next", URL: base + "?_getpages=p&_getpagesoffset=" + strconv.Itoa(count)})
		}
		h.answerPage(keys, links...)
		resp := h.get(t, "/MedicationRequest?_count="+strconv.Itoa(count)+"&"+aliceQuery(), token)
		got := linksOf(t, resp)
		if _, entries := resp.bundle(t); len(entries) != passed {
			t.Fatalf("iteration %d: %d entries passed on, want %d", i, len(entries), passed)
		}
		if want := upstreamNext && passed == count; (got["next"] != "") != want {
			t.Fatalf("iteration %d: page of %d with %d of %d entries passed on, upstream next %v: links %v", i, count, passed, len(keys), upstreamNext, got)
		}
	}
}
