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
	"slices"
	"strings"
	"sync"
	"testing"
)

// answerWith makes the record service answer every request with body.
func (rs *recordService) answerWith(body string) {
	rs.answer(func(w http.ResponseWriter, _ *http.Request) { rs.write(w, []byte(body)) })
}

// indented is a fixture record's JSON, indented, so that a resource passed
// on as it came can be told from one encoded again.
func indented(t *testing.T, h *harness, key string) string {
	t.Helper()
	var out bytes.Buffer
	must(t, json.Indent(&out, []byte(fixtureJSON(t, h, key)), "    ", "  "))
	return out.String()
}

// fixtureJSON is a fixture record's JSON as the record service sends it.
func fixtureJSON(t *testing.T, h *harness, key string) string {
	t.Helper()
	rec, ok := h.records.find(key)
	if !ok {
		t.Fatalf("no fixture record %s", key)
	}
	return string(rec.json())
}

// TestSearchPassesResourcesOnAsSent decodes each entry once and passes a
// kept resource on byte for byte; it skips unknown members, counts the last
// of a repeated member, and decides on a resource of the wrong shape as
// unreadable.
func TestSearchPassesResourcesOnAsSent(t *testing.T) {
	h := newHarness(t)
	allowed := indented(t, h, "MedicationRequest/med-alice-b86")
	denied := indented(t, h, "MedicationRequest/med-bob")
	h.records.answerWith(`{
		"resourceType": "Bundle", "type": "searchset", "total": 5, "signature": {"type": []},
		"entry": [
			{"fullUrl": "` + h.records.base() + `/MedicationRequest/med-alice-b86", "resource" :
				` + allowed + `, "search": {"mode": "match"}, "link": []},
			{"resource": ` + allowed + `, "resource": ` + denied + `},
			{"resource": {"resourceType": "MedicationRequest", "id": "bad-meta", "meta": {"tag": 7}}},
			{"resource": null, "response": {"status": "410"}},
			{"resource": "MedicationRequest/text"},
			null
		]
	}`)
	resp := h.get(t, "/MedicationRequest?"+aliceQuery(), clinician().sign(t))
	if resp.status != http.StatusOK {
		t.Fatalf("status = %d: %s", resp.status, resp.body)
	}
	if !bytes.Contains(resp.body, []byte(`"resource":`+allowed+`,"search":{"mode":"match"}`)) {
		t.Errorf("the allowed resource was not passed on as sent:\n%s", resp.body)
	}
	b, keys := resp.bundle(t)
	if !slices.Equal(keys, []string{"MedicationRequest/med-alice-b86"}) {
		t.Errorf("entries = %v, want only med-alice-b86", keys)
	}
	for _, dropped := range []string{"total", "signature"} {
		if _, ok := b[dropped]; ok {
			t.Errorf("%s was passed on", dropped)
		}
	}
	var entries []map[string]json.RawMessage
	must(t, json.Unmarshal(b["entry"], &entries))
	if _, ok := entries[0]["link"]; ok || !strings.HasPrefix(string(entries[0]["fullUrl"]), `"`+h.server.URL) {
		t.Errorf("entry = %s", b["entry"])
	}

	events := h.audit.take(t)
	outcomes := map[string]string{}
	for _, e := range events {
		outcomes[e.Entity[len(e.Entity)-1].What.Reference] = e.Outcome + " " + e.OutcomeDesc
	}
	if len(events) != 3 || !strings.HasPrefix(outcomes["MedicationRequest/med-alice-b86"], auditOutcomeSuccess+" ") ||
		!strings.HasPrefix(outcomes["MedicationRequest/med-bob"], auditOutcomeMinorFailure+" ") ||
		!strings.Contains(outcomes["MedicationRequest/bad-meta"], "the resource cannot be decided on: resource is not valid FHIR JSON") {
		t.Errorf("%d events, outcomes %q; want the allowed, the last repeated and the unreadable resource decided", len(events), outcomes)
	}
}

// TestSearchRefusesInvalidJSON answers 502 when a Bundle is not valid JSON
// anywhere, even inside a resource.
func TestSearchRefusesInvalidJSON(t *testing.T) {
	h := newHarness(t)
	record := indented(t, h, "MedicationRequest/med-alice-b86")
	for name, body := range map[string]string{
		"resource cut short":       `{"resourceType":"Bundle","type":"searchset","entry":[{"resource":` + record[:len(record)/2] + `}]}`,
		"data after the Bundle":    `{"resourceType":"Bundle","type":"searchset","entry":[{"resource":` + record + `}]} {}`,
		"entry not an array":       `{"resourceType":"Bundle","type":"searchset","entry":{"resource":` + record + `}}`,
		"fullUrl not a string":     `{"resourceType":"Bundle","type":"searchset","entry":[{"fullUrl":1,"resource":` + record + `}]}`,
		"Bundle not an object":     `[` + record + `]`,
		"bad character in a value": `{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"MedicationRequest","id":x}}]}`,
	} {
		h.records.answerWith(body)
		if resp := h.get(t, "/MedicationRequest?"+aliceQuery(), clinician().sign(t)); resp.status != http.StatusBadGateway {
			t.Errorf("%s: status = %d, want 502: %s", name, resp.status, resp.body)
		}
	}
	if events := h.audit.take(t); len(events) != 0 {
		t.Errorf("%d audit events; nothing was decided", len(events))
	}
}

// writeCounter counts the writes made to it and fails when told to.
type writeCounter struct {
	mu     sync.Mutex
	writes int
	lines  int
	fail   bool
	// first is the first line of the last write.
	first []byte
}

func (w *writeCounter) firstLine() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.first
}

func (w *writeCounter) counts() (writes, lines int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writes, w.lines
}

func (w *writeCounter) failFromNow() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.fail = true
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail {
		return 0, errors.New("disk full")
	}
	w.writes++
	w.lines += bytes.Count(p, []byte("\n"))
	w.first, _, _ = bytes.Cut(bytes.Clone(p), []byte("\n"))
	return len(p), nil
}

// TestSearchAuditsInOneWrite writes the query's event and the events of
// every entry of a search in one write, the query's first, and refuses the
// whole search when the write fails.
func TestSearchAuditsInOneWrite(t *testing.T) {
	audit := &writeCounter{}
	h := newHarness(t, func(s *setup) { s.audit = audit })
	token := clinician().sign(t)
	if resp := h.get(t, "/?_getpages=page-2&_getpagesoffset=20&"+aliceQuery(), token); resp.status != http.StatusOK {
		t.Fatalf("status = %d: %s", resp.status, resp.body)
	}
	if writes, lines := audit.counts(); writes != 1 || lines < 11 {
		t.Errorf("%d writes of %d events, want one write of the query's event and every entry's", writes, lines)
	}
	var first auditEvent
	must(t, json.Unmarshal(audit.firstLine(), &first))
	if first.Type != eventRestful || len(first.Subtype) != 1 || first.Subtype[0].Code != string(KindSearch) {
		t.Errorf("the write starts with %v %v, want the query's PatientQuery event", first.Type, first.Subtype)
	}
	audit.failFromNow()
	resp := h.get(t, "/?_getpages=page-2&_getpagesoffset=20&"+aliceQuery(), token)
	if resp.status != http.StatusServiceUnavailable || strings.Contains(string(resp.body), "med-alice-b86") {
		t.Errorf("status = %d %s, want 503 without any entry", resp.status, resp.body)
	}
}

// TestSearchReadsMembersRegardlessOfCaseAndWithholdsRepeatedOnes matches
// a resource's member names regardless of case (a tag or label under
// "Meta" still counts), but not regardless of underscores (FHIR's "_id"
// extends id), and withholds a resource that names a member twice, "meta"
// and "Meta" included, since a client might read either.
func TestSearchReadsMembersRegardlessOfCaseAndWithholdsRepeatedOnes(t *testing.T) {
	h := newHarness(t)
	original := fixtureJSON(t, h, "MedicationRequest/med-alice-b86")
	if !strings.Contains(original, `"meta":{`) || !strings.HasPrefix(original, "{") {
		t.Fatalf("unexpected fixture JSON %s", original)
	}
	variant := func(id, replace, with string) string {
		return strings.Replace(strings.Replace(original, `"id":"med-alice-b86"`, `"id":"`+id+`"`, 1), replace, with, 1)
	}
	cases := map[string]struct {
		resource string
		allowed  bool
		reason   string
	}{
		"upper-meta-normal":  {variant("upper-meta-normal", `"meta":{`, `"Meta":{"security":[{"code":"N"}],`), true, ""},
		"upper-meta-labelR":  {variant("upper-meta-labelR", `"meta":{`, `"Meta":{"security":[{"code":"R"}],`), false, "sensitive"},
		"meta-and-Meta":      {variant("meta-and-Meta", `"meta":{`, `"Meta":{},"meta":{`), false, "cannot be decided on"},
		"repeated-status":    {variant("repeated-status", `{`, `{"intent":"plan","intent":"order",`), false, "cannot be decided on"},
		"repeated-in-nested": {variant("repeated-in-nested", `"meta":{`, `"meta":{"versionId":"1",`), false, "cannot be decided on"},
		// FHIR's extensions of primitive elements are members of their own.
		"primitive-extensions": {variant("primitive-extensions", `"subject":{`,
			`"_id":{"extension":[]},"subject":{"_display":{"extension":[]},"display":"Alice",`), true, ""},
		"nhs-number-only-in-extension": {variant("nhs-number-only-in-extension", `"value":"`, `"_value":"`), false, "NHS number"},
	}
	var entries []string
	for _, c := range cases {
		entries = append(entries, `{"resource":`+c.resource+`}`)
	}
	h.records.answerWith(`{"resourceType":"Bundle","type":"searchset","entry":[` + strings.Join(entries, ",") + `]}`)
	resp := h.get(t, "/MedicationRequest?"+aliceQuery(), clinician().sign(t))
	if resp.status != http.StatusOK {
		t.Fatalf("status = %d: %s", resp.status, resp.body)
	}
	_, keys := resp.bundle(t)
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"MedicationRequest/primitive-extensions", "MedicationRequest/upper-meta-normal"}) {
		t.Errorf("entries = %v, want only primitive-extensions and upper-meta-normal", keys)
	}
	events := h.audit.take(t)
	if len(events) != len(cases) {
		t.Fatalf("%d audit events, want %d", len(events), len(cases))
	}
	for _, e := range events {
		id := strings.TrimPrefix(e.Entity[len(e.Entity)-1].What.Reference, "MedicationRequest/")
		c, ok := cases[id]
		if !ok {
			t.Errorf("unexpected event for %q: %s", id, e.OutcomeDesc)
			continue
		}
		if allowed := e.Outcome == auditOutcomeSuccess; allowed != c.allowed || !strings.Contains(e.OutcomeDesc, c.reason) {
			t.Errorf("%s: outcome %s %q, want allowed=%v with %q", id, e.Outcome, e.OutcomeDesc, c.allowed, c.reason)
		}
	}
}

// TestSearchPassesOnVettedEntryElementsOnly passes on an entry's search,
// request and response with R4's elements only (a response's outcome is a
// resource nothing decided on), drops them when they have the wrong shape,
// withholds just the resource whose text is not UTF-8, and passes the
// Bundle's meta on as it came.
func TestSearchPassesOnVettedEntryElementsOnly(t *testing.T) {
	h := newHarness(t)
	allowed := fixtureJSON(t, h, "MedicationRequest/med-alice-b86")
	notUTF8 := strings.Replace(allowed, `"id":"med-alice-b86"`, "\"id\":\"not-utf8\",\"note\":\"\xff\"", 1)
	h.records.answerWith(`{"resourceType":"Bundle","type":"history","meta":{"tag":[],"tag":[]},"entry":[
		{"resource":` + allowed + `,
		 "search":{"mode":"match","score":0.5,"extra":1},
		 "request":{"method":"PUT","url":"MedicationRequest/med-alice-b86","ifMatch":"W/\"1\""},
		 "response":{"status":"200 OK","etag":"W/\"2\"","outcome":{"resourceType":"OperationOutcome","issue":[{"diagnostics":"upstream secret"}]}}},
		{"resource":` + allowed + `,"search":"match","request":[],"response":{"status":200}},
		{"resource":` + notUTF8 + `}]}`)
	resp := h.get(t, "/MedicationRequest/med-alice-b86/_history", clinician().sign(t))
	if resp.status != http.StatusOK {
		t.Fatalf("status = %d: %s", resp.status, resp.body)
	}
	for _, want := range []string{
		`"meta":{"tag":[],"tag":[]}`,
		`"search":{"mode":"match","score":0.5}`,
		`"request":{"method":"PUT","url":"MedicationRequest/med-alice-b86","ifMatch":"W/\"1\""}`,
		`"response":{"status":"200 OK","etag":"W/\"2\""}`,
	} {
		if !bytes.Contains(resp.body, []byte(want)) {
			t.Errorf("the answer lacks %s:\n%s", want, resp.body)
		}
	}
	for _, unwanted := range []string{"upstream secret", "extra", `"search":"match"`, `"request":[]`, `"status":200`, "not-utf8"} {
		if bytes.Contains(resp.body, []byte(unwanted)) {
			t.Errorf("the answer has %s:\n%s", unwanted, resp.body)
		}
	}
	var b struct{ Entry []map[string]json.RawMessage }
	must(t, json.Unmarshal(resp.body, &b))
	if len(b.Entry) != 2 {
		t.Errorf("%d entries, want the two readable ones", len(b.Entry))
	}
	outcomes := map[string]string{}
	for _, e := range h.audit.take(t) {
		outcomes[e.Entity[len(e.Entity)-1].What.Reference] = e.Outcome + " " + e.OutcomeDesc
	}
	if got := outcomes["MedicationRequest/not-utf8"]; !strings.HasPrefix(got, auditOutcomeMinorFailure+" the resource cannot be decided on") {
		t.Errorf("the resource that is not UTF-8 was decided %q; outcomes %q", got, outcomes)
	}
}
