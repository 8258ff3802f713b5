/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// record describes a fixture resource; json gives its FHIR R4 JSON.
type record struct {
	Type, ID string
	// Sources are the ODS codes of its provenance tags.
	Sources []string
	// Labels are its meta.security codes.
	Labels []string
	// Patient is the NHS number its patient reference carries; RefOnly
	// makes the reference a literal one without the identifier.
	Patient string
	RefOnly bool
	// Class is an Encounter's class code, Scope a Consent's scope code.
	Class, Scope string
	// Contained are contained resources.
	Contained []record
}

func (r record) key() string { return r.Type + "/" + r.ID }

func (r record) resource() map[string]any {
	meta := map[string]any{"versionId": "1", "lastUpdated": "2026-11-01T09:00:00Z"}
	var tags, labels []map[string]string
	for _, s := range r.Sources {
		tags = append(tags, map[string]string{"system": SystemODS, "code": s})
	}
	for _, l := range r.Labels {
		labels = append(labels, map[string]string{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": l})
	}
	if tags != nil {
		meta["tag"] = tags
	}
	if labels != nil {
		meta["security"] = labels
	}
	res := map[string]any{"resourceType": r.Type, "id": r.ID, "meta": meta}
	if r.ID == "" {
		delete(res, "id")
	}
	r.addPatient(res)
	switch r.Type {
	case "Encounter":
		if r.Class != "" {
			res["class"] = map[string]string{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": r.Class}
		}
	case "Consent":
		res["scope"] = map[string]any{"coding": []map[string]string{{"system": systemConsentScope, "code": r.Scope}}}
	case "Observation":
		res["status"] = "final"
		res["code"] = map[string]string{"text": "clinical content that must never reach the audit trail"}
	}
	for _, c := range r.Contained {
		contained, _ := res["contained"].([]any)
		res["contained"] = append(contained, c.resource())
	}
	return res
}

func (r record) addPatient(res map[string]any) {
	if r.Patient == "" {
		return
	}
	ref := map[string]any{"reference": "Patient/" + r.Patient}
	if !r.RefOnly {
		ref["identifier"] = map[string]string{"system": SystemNHSNumber, "value": r.Patient}
	}
	switch r.Type {
	case "Patient":
		res["identifier"] = []map[string]string{{"system": SystemNHSNumber, "value": r.Patient}}
		res["name"] = []map[string]any{{"family": "Fixture"}}
	case "AllergyIntolerance", "EpisodeOfCare", "Consent", "RelatedPerson":
		res["patient"] = ref
	case "Appointment":
		res["participant"] = []map[string]any{{"actor": map[string]string{"reference": "Practitioner/prac-1"}}, {"actor": ref}}
	default:
		res["subject"] = ref
	}
}

func (r record) json() json.RawMessage {
	data, err := json.Marshal(r.resource())
	if err != nil {
		panic(err)
	}
	return data
}

// recordService is a FHIR R4 server in the shape of HAPI FHIR at /fhir: it
// serves read, vread, history, search (GET and POST _search) and paging
// links, and remembers every request it got.
type recordService struct {
	*httptest.Server
	mu       sync.Mutex
	records  []record
	requests []*http.Request
	forms    []url.Values
	// hold makes a read of the key wait until the channel is closed; the
	// key is sent on held when the request arrives.
	hold map[string]chan struct{}
	held chan string
	// capabilities is the body of /metadata.
	capabilities string
	// override, when set, answers every request instead.
	override http.HandlerFunc
}

func newRecordService(t testing.TB, records []record) *recordService {
	rs := &recordService{
		records:      records,
		hold:         map[string]chan struct{}{},
		held:         make(chan string, 1),
		capabilities: `{"resourceType":"CapabilityStatement","status":"active","kind":"instance","fhirVersion":"4.0.1","format":["json"]}`,
	}
	rs.Server = httptest.NewServer(http.HandlerFunc(rs.serve))
	t.Cleanup(rs.Close)
	return rs
}

// base is the FHIR base URL the gateway is configured with.
func (rs *recordService) base() string { return rs.URL + "/fhir" }

// answer makes the service answer every request with handler.
func (rs *recordService) answer(handler http.HandlerFunc) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.override = handler
}

func (rs *recordService) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	rs.mu.Lock()
	rs.requests = append(rs.requests, r)
	rs.forms = append(rs.forms, r.PostForm)
	override, capabilities := rs.override, rs.capabilities
	rs.mu.Unlock()
	if override != nil {
		override(w, r)
		return
	}
	path := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/fhir"), "/")
	segments := strings.Split(path, "/")
	switch {
	case path == "metadata":
		rs.write(w, []byte(capabilities))
	case path == "" && r.URL.Query().Get("_getpages") != "":
		rs.write(w, rs.searchset(firstPage(rs.all(), r.Form), r.URL.RawQuery))
	case len(segments) == 1 || (len(segments) == 2 && segments[1] == "_search"):
		rs.write(w, rs.searchset(firstPage(rs.ofType(segments[0], r.Form.Get("_id")), r.Form), r.URL.RawQuery))
	case len(segments) == 2:
		rs.read(w, segments[0]+"/"+segments[1])
	case len(segments) == 3 && segments[2] == "_history":
		rs.history(w, segments[0]+"/"+segments[1])
	case len(segments) == 4 && segments[2] == "_history" && segments[3] == "1":
		rs.read(w, segments[0]+"/"+segments[1])
	default:
		notFound(w)
	}
}

func (rs *recordService) write(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", ContentTypeFHIR)
	w.Header().Set("ETag", `W/"1"`)
	_, _ = w.Write(body)
}

func notFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", ContentTypeFHIR)
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write([]byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found"}]}`))
}

func (rs *recordService) find(key string) (record, bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, rec := range rs.records {
		if rec.key() == key {
			return rec, true
		}
	}
	return record{}, false
}

func (rs *recordService) read(w http.ResponseWriter, key string) {
	rs.mu.Lock()
	release := rs.hold[key]
	rs.mu.Unlock()
	if release != nil {
		rs.held <- key
		<-release
	}
	rec, ok := rs.find(key)
	if !ok {
		notFound(w)
		return
	}
	rs.write(w, rec.json())
}

func (rs *recordService) all() []record {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return slices.Clone(rs.records)
}

func (rs *recordService) ofType(resourceType, id string) []record {
	var out []record
	for _, rec := range rs.all() {
		if rec.Type == resourceType && (id == "" || rec.ID == id) {
			out = append(out, rec)
		}
	}
	return out
}

// firstPage is at most _count of the records, as HAPI FHIR answers.
func firstPage(records []record, form url.Values) []record {
	if n, err := strconv.Atoi(form.Get("_count")); err == nil && n >= 0 && n < len(records) {
		return records[:n]
	}
	return records
}

// searchset is a page of results as HAPI FHIR gives it: a total, self and
// next links on the server's own host, a link elsewhere, a fullUrl per
// entry and an OperationOutcome entry with the search's warnings.
func (rs *recordService) searchset(records []record, rawQuery string) []byte {
	entries := []map[string]any{}
	for _, rec := range records {
		entries = append(entries, map[string]any{
			"fullUrl":  rs.base() + "/" + rec.key(),
			"resource": json.RawMessage(rec.json()),
			"search":   map[string]string{"mode": "match"},
		})
	}
	entries = append(entries, map[string]any{
		"resource": map[string]any{"resourceType": "OperationOutcome", "issue": []map[string]string{{"severity": "warning", "code": "informational"}}},
		"search":   map[string]string{"mode": "outcome"},
	})
	selfURL := rs.base()
	if len(records) > 0 {
		selfURL += "/" + records[0].Type
	}
	return mustJSON(map[string]any{
		"resourceType": "Bundle",
		"id":           "page-1",
		"type":         "searchset",
		"total":        len(records),
		"link": []map[string]string{
			{"relation": "self", "url": selfURL + "?" + rawQuery},
			{"relation": "next", "url": rs.base() + "?_getpages=page-2&_getpagesoffset=20&_count=20&_pretty=true&_bundletype=searchset"},
			{"relation": "related", "url": "https://elsewhere.example/fhir/Patient"},
		},
		"entry": entries,
	})
}

// history holds the current version and a deleted one without a resource.
func (rs *recordService) history(w http.ResponseWriter, key string) {
	rec, ok := rs.find(key)
	if !ok {
		notFound(w)
		return
	}
	rs.write(w, mustJSON(map[string]any{
		"resourceType": "Bundle",
		"type":         "history",
		"total":        2,
		"link":         []map[string]string{{"relation": "self", "url": rs.base() + "/" + key + "/_history"}},
		"entry": []map[string]any{
			{"fullUrl": rs.base() + "/" + key, "resource": json.RawMessage(rec.json()),
				"request": map[string]string{"method": "PUT", "url": key}, "response": map[string]string{"status": "200 OK"}},
			{"fullUrl": rs.base() + "/" + key,
				"request": map[string]string{"method": "DELETE", "url": key}, "response": map[string]string{"status": "204 No Content"}},
		},
	}))
}

// holdRead makes the next read of key wait until release is called.
func (rs *recordService) holdRead(key string) (release func()) {
	ch := make(chan struct{})
	rs.mu.Lock()
	rs.hold[key] = ch
	rs.mu.Unlock()
	return func() {
		rs.mu.Lock()
		delete(rs.hold, key)
		rs.mu.Unlock()
		close(ch)
	}
}

// seen returns the requests the service got.
func (rs *recordService) seen() ([]*http.Request, []url.Values) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return slices.Clone(rs.requests), slices.Clone(rs.forms)
}

func mustJSON(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return data
}
