/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shcr-io/shcr-operator/test/fhirstore"
)

// historyFixture is one version in the source's history: a deletion
// (resource nil) or a write.
type historyFixture struct {
	ResourceType, ID string
	Version          int
	At               string
	Resource         map[string]any
}

// deleteAtSource removes a resource from the source and records its
// deletion in the history, as a FHIR server does.
func (s *source) deleteAtSource(resourceType, id string, version int, when string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = slices.DeleteFunc(s.records, func(r map[string]any) bool {
		return r["resourceType"] == resourceType && r["id"] == id
	})
	s.history = append(s.history, historyFixture{ResourceType: resourceType, ID: id, Version: version, At: when})
}

// recreateAtSource writes a resource again after a deletion.
func (s *source) recreateAtSource(r map[string]any, version int) {
	meta := r["meta"].(map[string]any)
	meta["versionId"] = strconv.Itoa(version)
	s.add(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.history = append(s.history, historyFixture{ResourceType: r["resourceType"].(string), ID: r["id"].(string),
		Version: version, At: meta["lastUpdated"].(string), Resource: deepCopy(r)})
}

// serveHistory serves GET [base]/Type/_history with _since and _count,
// newest first, as FHIR servers order history, paged by _offset.
func (s *source) serveHistory(w http.ResponseWriter, r *http.Request) {
	resourceType := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/fhir/"), "/_history")
	q := r.URL.Query()
	count, _ := strconv.Atoi(q.Get("_count"))
	offset, _ := strconv.Atoi(q.Get("_offset"))
	var since time.Time
	if v := q.Get("_since"); v != "" {
		var err error
		if since, err = time.Parse(time.RFC3339Nano, v); err != nil {
			s.t.Errorf("source: bad _since %q", v)
		}
	}
	s.mu.Lock()
	var versions []historyFixture
	for _, h := range s.history {
		at, _ := time.Parse(time.RFC3339Nano, h.At)
		if h.ResourceType == resourceType && !at.Before(since) {
			versions = append(versions, h)
		}
	}
	s.mu.Unlock()
	slices.SortStableFunc(versions, func(a, b historyFixture) int { return cmp.Compare(b.At, a.At) })
	end := min(offset+count, len(versions))
	entries := []any{}
	for _, h := range versions[min(offset, end):end] {
		key := h.ResourceType + "/" + h.ID + "/_history/" + strconv.Itoa(h.Version)
		e := map[string]any{"fullUrl": s.server.URL + "/fhir/" + key,
			"response": map[string]any{"status": "200 OK", "lastModified": h.At, "etag": `W/"` + strconv.Itoa(h.Version) + `"`}}
		if h.Resource == nil {
			e["request"] = map[string]any{"method": "DELETE", "url": h.ResourceType + "/" + h.ID}
		} else {
			e["request"] = map[string]any{"method": "PUT", "url": h.ResourceType + "/" + h.ID}
			e["resource"] = h.Resource
		}
		entries = append(entries, e)
	}
	bundle := map[string]any{"resourceType": "Bundle", "type": "history", "entry": entries}
	if end < len(versions) {
		next := *r.URL
		nq := next.Query()
		nq.Set("_offset", strconv.Itoa(end))
		next.RawQuery = nq.Encode()
		bundle["link"] = []any{map[string]any{"relation": "next", "url": s.server.URL + next.RequestURI()}}
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	_ = json.NewEncoder(w).Encode(bundle)
}

// useStore makes the harness write to a fhirstore stand-in, which answers
// conditional deletes and $expunge as the record service does.
func (h *harness) useStore() *fhirstore.Store {
	store := fhirstore.New(h.t)
	h.records.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		store.ServeHTTP(w, r)
		return true
	})
	return store
}

// tagged is a record with an organisation's provenance tags.
func tagged(resourceType, id, ods, source string) map[string]any {
	return map[string]any{"resourceType": resourceType, "id": id, "meta": map[string]any{"tag": []any{
		map[string]any{"system": SystemODS, "code": ods},
		map[string]any{"system": SystemSourceResource, "code": source},
	}}}
}

func TestDeletionsAtTheSourceRemoveOnlyThisOrganisationsRecords(t *testing.T) {
	h := newHarness(t, fixtureRecords())
	store := h.useStore()
	// Records that are not this organisation's, at ids a deletion could name.
	store.Put(tagged("Observation", "XYZ-o1", "XYZ", "Observation/o1"))
	store.Put(tagged("Observation", "RHW-o7", "XYZ", "Observation/o7"))
	store.Put(tagged("Observation", "RHW-XYZ-o1", "XYZ", "Observation/XYZ-o1"))
	h.cycle()
	if store.Get("Observation/RHW-o1") == nil || store.Get("Patient/RHW-p2") == nil {
		t.Fatalf("the first pull did not deliver: %v", store.Keys())
	}

	h.source.deleteAtSource("Observation", "o1", 2, at(40))
	h.source.deleteAtSource("Patient", "p2", 2, at(41))
	// o2 is deleted and then created again: its newest version stands.
	h.source.deleteAtSource("Observation", "o2", 2, at(42))
	h.source.recreateAtSource(resource("Observation", "o2", at(43), nil), 3)
	// Deletions naming ids this organisation never provided, or whose
	// record carries another organisation's provenance.
	h.source.deleteAtSource("Observation", "o7", 2, at(44))
	h.source.deleteAtSource("Observation", "XYZ-o1", 2, at(45))
	// A deletion of a type outside the permitted categories is not read.
	h.source.deleteAtSource("Consent", "c1", 2, at(46))
	h.cycle()

	for _, gone := range []string{"Observation/RHW-o1", "Patient/RHW-p2"} {
		if store.Get(gone) != nil {
			t.Errorf("%s is still in the record service after its source resource was deleted", gone)
		}
		if n := store.VersionCount(gone); n != 0 {
			t.Errorf("%s: %d versions kept after the deletion, want them expunged", gone, n)
		}
	}
	for _, kept := range []string{"Observation/RHW-o2", "Observation/XYZ-o1", "Observation/RHW-o7", "Observation/RHW-XYZ-o1", "Observation/RHW-o3"} {
		if store.Get(kept) == nil {
			t.Errorf("%s was removed; only this organisation's records of deleted resources may be", kept)
		}
	}
	if got := store.Get("Observation/RHW-o7"); !hasODSTag(got, "XYZ") {
		t.Errorf("Observation/RHW-o7 lost its provenance: %v", got)
	}
	if got := h.metric("shcr_connector_records_deleted_total", "type", "Observation"); got != 1 {
		t.Errorf("deleted{Observation} = %v, want 1", got)
	}
	if got := h.state(historyStateKey("Observation")).Since; got != at(45) {
		t.Errorf("the Observation deletion watermark = %q, want the newest version read, %s", got, at(45))
	}
	if st := h.state(historyStateKey("Consent")); st.Since != "" {
		t.Errorf("the history of Consent (not permitted) was read: %+v", st)
	}

	// Read again from the watermark (inclusive): nothing more is removed.
	h.cycle()
	if got := h.metric("shcr_connector_records_deleted_total", "type", "Observation"); got != 1 {
		t.Errorf("after a cycle with no new deletions, deleted{Observation} = %v, want still 1", got)
	}
	if store.Get("Observation/RHW-o2") == nil {
		t.Errorf("the re-created o2 was removed on a later cycle")
	}
}

func TestDeletionsWaitForTheRecordServiceAndLoseNothing(t *testing.T) {
	h := newHarness(t, fixtureRecords())
	store := h.useStore()
	h.cycle()
	h.source.deleteAtSource("Observation", "o4", 2, at(50))
	store.SetFail(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && r.URL.Path == "/fhir" {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	err := h.c.RunCycle(context.Background())
	if err == nil || !strings.Contains(err.Error(), "deletions of Observation") {
		t.Fatalf("RunCycle = %v, want the deletions of Observation failed", err)
	}
	if store.Get("Observation/RHW-o4") == nil {
		t.Fatalf("o4 is gone although the record service refused")
	}
	if got := h.state(historyStateKey("Observation")).Since; got == at(50) {
		t.Errorf("the deletion watermark moved past a deletion not applied")
	}
	store.SetFail(nil)
	h.cycle()
	if store.Get("Observation/RHW-o4") != nil {
		t.Errorf("o4 was not removed once the record service answered")
	}
}

func TestMalformedHistoryIsRejectedAndNothingRemoved(t *testing.T) {
	entry := func(fields map[string]any) map[string]any {
		e := map[string]any{"request": map[string]any{"method": "DELETE", "url": "Observation/o1"},
			"response": map[string]any{"status": "204", "lastModified": at(60)}}
		for k, v := range fields {
			e[k] = v
		}
		return e
	}
	cases := map[string]struct {
		bundle map[string]any
		want   string
	}{
		"searchset, not history": {map[string]any{"resourceType": "Bundle", "type": "searchset"}, `not "history"`},
		"an OperationOutcome":    {map[string]any{"resourceType": "OperationOutcome", "issue": []any{map[string]any{"diagnostics": "no history here"}}}, "no history here"},
		"no id anywhere": {map[string]any{"resourceType": "Bundle", "type": "history", "entry": []any{
			entry(map[string]any{"request": map[string]any{"method": "DELETE"}})}}, "names no valid Observation id"},
		"an id of another type": {map[string]any{"resourceType": "Bundle", "type": "history", "entry": []any{
			entry(map[string]any{"request": map[string]any{"method": "DELETE", "url": "Patient/p1"}})}}, "names no valid Observation id"},
		"an invalid id": {map[string]any{"resourceType": "Bundle", "type": "history", "entry": []any{
			entry(map[string]any{"request": map[string]any{"method": "DELETE", "url": "Observation/a b"}})}}, "names no valid Observation id"},
		"no instant": {map[string]any{"resourceType": "Bundle", "type": "history", "entry": []any{
			entry(map[string]any{"response": map[string]any{"status": "204"}})}}, "no response.lastModified"},
		"a version of another type": {map[string]any{"resourceType": "Bundle", "type": "history", "entry": []any{
			entry(map[string]any{"request": map[string]any{"method": "PUT", "url": "Observation/o1"}, "resource": map[string]any{"resourceType": "Patient", "id": "o1"}})}}, `a "Patient" version`},
		"before _since": {map[string]any{"resourceType": "Bundle", "type": "history", "entry": []any{
			entry(map[string]any{"response": map[string]any{"lastModified": at(-3600)}})}}, "the source ignored _since"},
		"a next link off the endpoint": {map[string]any{"resourceType": "Bundle", "type": "history", "entry": []any{entry(nil)},
			"link": []any{map[string]any{"relation": "next", "url": "https://elsewhere.example/fhir/Observation/_history?page=2"}}}, "leaves the endpoint"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, fixtureRecords())
			store := h.useStore()
			h.source.deleteAtSource("Observation", "o9", 2, at(55)) // sets the deletion watermark
			h.cycle()
			h.source.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != "/fhir/Observation/_history" {
					return false
				}
				w.Header().Set("Content-Type", "application/fhir+json")
				_ = json.NewEncoder(w).Encode(tc.bundle)
				return true
			})
			err := h.c.RunCycle(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "nothing was removed") && !strings.Contains(err.Error(), "leaves the endpoint") {
				t.Fatalf("RunCycle = %v, want the history rejected saying %q", err, tc.want)
			}
			if store.Get("Observation/RHW-o1") == nil {
				t.Errorf("o1 was removed on a rejected history page")
			}
			if got := h.metric("shcr_connector_errors_total", "kind", "malformed_page"); got != 1 {
				t.Errorf("malformed_page errors = %v, want 1", got)
			}
		})
	}
}

func TestHistoryEntryNewestVersionWins(t *testing.T) {
	t1, t2 := t0, t0.Add(time.Second)
	cases := []struct {
		name string
		a, b historyEntry
		want bool
	}{
		{"later instant", historyEntry{At: t2}, historyEntry{At: t1, Deleted: true}, true},
		{"earlier instant", historyEntry{At: t1, Deleted: true}, historyEntry{At: t2}, false},
		{"same instant, higher version", historyEntry{At: t1, Version: 3}, historyEntry{At: t1, Version: 2, Deleted: true}, true},
		{"same instant and version: the deletion wins", historyEntry{At: t1, Deleted: true}, historyEntry{At: t1}, true},
		{"same instant and version: a write does not beat a deletion", historyEntry{At: t1}, historyEntry{At: t1, Deleted: true}, false},
	}
	for _, tc := range cases {
		if got := tc.a.newer(tc.b); got != tc.want {
			t.Errorf("%s: newer = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func hasODSTag(res map[string]any, ods string) bool {
	meta, _ := res["meta"].(map[string]any)
	tags, _ := meta["tag"].([]any)
	for _, tag := range tags {
		if c, _ := tag.(map[string]any); c["system"] == SystemODS && c["code"] == ods {
			return true
		}
	}
	return false
}

func TestHistoryTypesAreEachReadOnce(t *testing.T) {
	got := historyTypes(feedsFor([]string{"Appointments", "Demographics", "InpatientStays", "TestResults"}))
	seen := map[string]bool{}
	for _, typ := range got {
		if seen[typ] {
			t.Errorf("%s read twice: %v", typ, got)
		}
		seen[typ] = true
	}
	if !seen["Encounter"] || !seen["Patient"] || !seen["Observation"] {
		t.Errorf("history types %v miss a permitted type", got)
	}
}
