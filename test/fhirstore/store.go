/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package fhirstore is a record service stand-in for tests: a FHIR R4
// server over real HTTP that keeps every version of every resource and
// answers the interactions connectors and the operator's purge make, with
// the semantics of HAPI FHIR (the region's record service):
//
//   - POST [base] with a transaction Bundle of PUT Type/id and DELETE
//     Type/id or conditional DELETE Type?_id=..&_tag=system|code (every
//     _tag must match);
//   - GET [base]/Type/id (404 for a deleted or unknown resource, 410 is
//     not used) and GET [base]/Type?... searching by _id, _tag (repeated:
//     all must match), class (Encounter), status, identifier,
//     subject/patient (a literal reference) and patient.identifier (the
//     reference's identifier, or its Patient's), with _count; deleted
//     resources are never matched;
//   - POST [base]/Type (create, the server assigning the id);
//   - POST [base]/Type/$expunge with expungeDeletedResources: forgets every
//     version of the type's deleted resources.
//
// It is not a general FHIR server: anything else answers 400 with an
// OperationOutcome, so a test notices an interaction it did not expect.
package fhirstore

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Store is the stand-in.
type Store struct {
	Server *httptest.Server

	mu sync.Mutex
	// versions are each resource's versions, oldest first; a nil version
	// is a deletion.
	versions map[string][]map[string]any
	// requests counts the requests by "METHOD path".
	requests map[string]int
	created  int
	// Fail, when set, answers a request instead of the store (to inject
	// failures); it returns false to let the store answer.
	fail func(w http.ResponseWriter, r *http.Request) bool
}

// New starts a store; it stops when the test ends.
func New(t interface{ Cleanup(func()) }) *Store {
	s := &Store{versions: map[string][]map[string]any{}, requests: map[string]int{}}
	s.Server = httptest.NewServer(s)
	t.Cleanup(s.Server.Close)
	return s
}

// Base is the FHIR base URL.
func (s *Store) Base() string { return s.Server.URL + "/fhir" }

// SetFail sets (or, with nil, clears) the failure hook.
func (s *Store) SetFail(f func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = f
}

// Put stores a resource as a new version, as a connector's PUT would.
func (s *Store) Put(resource map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(copyOf(resource))
}

// Get is the current version of Type/id, nil when deleted or unknown.
func (s *Store) Get(key string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyOf(s.current(key))
}

// Keys are the keys of the resources not deleted, sorted.
func (s *Store) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k := range s.versions {
		if s.current(k) != nil {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// VersionCount is how many versions of Type/id the store still holds,
// deletions included; 0 once expunged.
func (s *Store) VersionCount(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.versions[key])
}

// Requests is how many requests "METHOD /fhir/path" were made.
func (s *Store) Requests(methodPath string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[methodPath]
}

func (s *Store) current(key string) map[string]any {
	v := s.versions[key]
	if len(v) == 0 {
		return nil
	}
	return v[len(v)-1]
}

func (s *Store) put(resource map[string]any) (created bool) {
	key := fmt.Sprint(resource["resourceType"], "/", resource["id"])
	created = s.current(key) == nil
	meta, _ := resource["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	meta["versionId"] = strconv.Itoa(len(s.versions[key]) + 1)
	meta["lastUpdated"] = time.Now().UTC().Format(time.RFC3339Nano)
	resource["meta"] = meta
	s.versions[key] = append(s.versions[key], resource)
	return created
}

// ServeHTTP answers the interactions the package comment lists.
func (s *Store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests[r.Method+" "+r.URL.Path]++
	fail := s.fail
	s.mu.Unlock()
	if fail != nil && fail(w, r) {
		return
	}
	path := strings.Trim(strings.TrimPrefix(r.URL.Path, "/fhir"), "/")
	parts := strings.Split(path, "/")
	switch {
	case r.Method == http.MethodPost && path == "":
		s.transaction(w, r)
	case r.Method == http.MethodPost && len(parts) == 1 && parts[0] != "":
		s.create(w, r, parts[0])
	case r.Method == http.MethodPost && len(parts) == 2 && parts[1] == "$expunge":
		s.expunge(w, parts[0])
	case r.Method == http.MethodGet && len(parts) == 2:
		s.mu.Lock()
		res := copyOf(s.current(path))
		s.mu.Unlock()
		if res == nil {
			outcome(w, http.StatusNotFound, "not-found", path+" is not known")
			return
		}
		write(w, http.StatusOK, res)
	case r.Method == http.MethodGet && len(parts) == 1 && parts[0] != "":
		s.mu.Lock()
		matches := s.search(parts[0], r.URL.Query())
		s.mu.Unlock()
		count, err := strconv.Atoi(r.URL.Query().Get("_count"))
		if err != nil || count <= 0 {
			count = 100
		}
		entries := []any{}
		for _, m := range matches[:min(count, len(matches))] {
			entries = append(entries, map[string]any{"resource": m, "search": map[string]any{"mode": "match"}})
		}
		write(w, http.StatusOK, map[string]any{"resourceType": "Bundle", "type": "searchset", "total": len(matches), "entry": entries})
	default:
		outcome(w, http.StatusBadRequest, "not-supported", "the stand-in does not serve "+r.Method+" "+r.URL.Path)
	}
}

// search is the current resources of a type matching the query, by key.
func (s *Store) search(resourceType string, q url.Values) []map[string]any {
	var keys []string
	for k := range s.versions {
		if strings.HasPrefix(k, resourceType+"/") && s.current(k) != nil {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []map[string]any
	for _, k := range keys {
		if res := s.current(k); s.matches(res, q) {
			out = append(out, copyOf(res))
		}
	}
	return out
}

// matches applies the search parameters the store knows; an unknown
// parameter matches nothing, so a test sees it.
func (s *Store) matches(res map[string]any, q url.Values) bool {
	for name, values := range q {
		for _, v := range values {
			switch name {
			case "patient.identifier", "subject.identifier":
				if !s.namesPatient(res, v) {
					return false
				}
			case "identifier":
				if !hasIdentifier(res, v) {
					return false
				}
			case "status":
				if !slices.Contains(strings.Split(v, ","), fmt.Sprint(res["status"])) {
					return false
				}
			case "_count", "_elements", "_format":
			case "_id":
				if res["id"] != v {
					return false
				}
			case "_tag":
				if !hasTag(res, v) {
					return false
				}
			case "class":
				class, _ := res["class"].(map[string]any)
				if class["code"] != v {
					return false
				}
			case "subject", "patient":
				if !refersTo(res, v) {
					return false
				}
			default:
				return false
			}
		}
	}
	return true
}

// namesPatient applies a chained patient.identifier search: the
// reference names the identifier, or the Patient it points at has it.
func (s *Store) namesPatient(res map[string]any, token string) bool {
	for _, field := range []string{"subject", "patient"} {
		ref, _ := res[field].(map[string]any)
		if ref == nil {
			continue
		}
		if id, _ := ref["identifier"].(map[string]any); id != nil && fmt.Sprint(id["system"], "|", id["value"]) == token {
			return true
		}
		if target, _ := ref["reference"].(string); strings.HasPrefix(target, "Patient/") && hasIdentifier(s.current(target), token) {
			return true
		}
	}
	return false
}

// hasIdentifier reports whether a resource has the identifier system|value.
func hasIdentifier(res map[string]any, token string) bool {
	ids, _ := res["identifier"].([]any)
	for _, i := range ids {
		id, _ := i.(map[string]any)
		if fmt.Sprint(id["system"], "|", id["value"]) == token {
			return true
		}
	}
	return false
}

func hasTag(res map[string]any, token string) bool {
	system, code, _ := strings.Cut(token, "|")
	meta, _ := res["meta"].(map[string]any)
	tags, _ := meta["tag"].([]any)
	for _, t := range tags {
		c, _ := t.(map[string]any)
		if c["system"] == system && c["code"] == code {
			return true
		}
	}
	return false
}

func refersTo(res map[string]any, ref string) bool {
	for _, field := range []string{"subject", "patient"} {
		r, _ := res[field].(map[string]any)
		if r != nil && r["reference"] == ref {
			return true
		}
	}
	return false
}

// transaction applies a transaction Bundle of PUTs and DELETEs, all or
// nothing (every entry is checked before any is applied).
func (s *Store) transaction(w http.ResponseWriter, r *http.Request) {
	var tx struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			Resource map[string]any `json:"resource"`
			Request  struct {
				Method string `json:"method"`
				URL    string `json:"url"`
			} `json:"request"`
		} `json:"entry"`
	}
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&tx); err != nil || tx.ResourceType != "Bundle" || tx.Type != "transaction" {
		outcome(w, http.StatusBadRequest, "invalid", "not a transaction Bundle")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, e := range tx.Entry {
		switch e.Request.Method {
		case http.MethodPut:
			if fmt.Sprint(e.Resource["resourceType"], "/", e.Resource["id"]) != e.Request.URL {
				outcome(w, http.StatusBadRequest, "invalid", fmt.Sprintf("entry[%d]: PUT %s does not hold that resource", i, e.Request.URL))
				return
			}
		case http.MethodDelete:
		default:
			outcome(w, http.StatusBadRequest, "not-supported", fmt.Sprintf("entry[%d]: method %q", i, e.Request.Method))
			return
		}
	}
	var responses []any
	for _, e := range tx.Entry {
		if e.Request.Method == http.MethodPut {
			status := "200 OK"
			if s.put(e.Resource) {
				status = "201 Created"
			}
			responses = append(responses, map[string]any{"response": map[string]any{"status": status}})
			continue
		}
		responses = append(responses, s.delete(e.Request.URL))
	}
	write(w, http.StatusOK, map[string]any{"resourceType": "Bundle", "type": "transaction-response", "entry": responses})
}

// delete deletes Type/id, or the resources a conditional URL matches, and
// gives the transaction-response entry: 204, with a not-found outcome when
// nothing matched (as HAPI FHIR answers).
func (s *Store) delete(target string) map[string]any {
	var keys []string
	if resourceType, query, conditional := strings.Cut(target, "?"); conditional {
		q, _ := url.ParseQuery(query)
		for _, m := range s.search(resourceType, q) {
			keys = append(keys, fmt.Sprint(resourceType, "/", m["id"]))
		}
	} else if s.current(target) != nil {
		keys = []string{target}
	}
	for _, k := range keys {
		s.versions[k] = append(s.versions[k], nil)
	}
	response := map[string]any{"status": "204 No Content"}
	if len(keys) == 0 {
		response["outcome"] = map[string]any{"resourceType": "OperationOutcome",
			"issue": []any{map[string]any{"severity": "information", "code": "not-found", "diagnostics": "nothing matched"}}}
	}
	return map[string]any{"response": response}
}

// create stores a new resource under an id of the store's choosing.
func (s *Store) create(w http.ResponseWriter, r *http.Request, resourceType string) {
	var res map[string]any
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&res); err != nil || res["resourceType"] != resourceType {
		outcome(w, http.StatusBadRequest, "invalid", "not a "+resourceType)
		return
	}
	s.mu.Lock()
	s.created++
	res["id"] = "created-" + strconv.Itoa(s.created)
	s.put(res)
	s.mu.Unlock()
	write(w, http.StatusCreated, res)
}

// OfType are the current resources of a type, by id.
func (s *Store) OfType(resourceType string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.search(resourceType, nil)
}

// expunge forgets every version of the type's deleted resources.
func (s *Store) expunge(w http.ResponseWriter, resourceType string) {
	s.mu.Lock()
	n := 0
	for k := range s.versions {
		if strings.HasPrefix(k, resourceType+"/") && s.current(k) == nil {
			delete(s.versions, k)
			n++
		}
	}
	s.mu.Unlock()
	write(w, http.StatusOK, map[string]any{"resourceType": "Parameters",
		"parameter": []any{map[string]any{"name": "count", "valueInteger": n}}})
}

func write(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func outcome(w http.ResponseWriter, status int, code, diagnostics string) {
	write(w, status, map[string]any{"resourceType": "OperationOutcome",
		"issue": []any{map[string]any{"severity": "error", "code": code, "diagnostics": diagnostics}}})
}

// copyOf is a deep copy through JSON (numbers kept as written).
func copyOf(res map[string]any) map[string]any {
	if res == nil {
		return nil
	}
	data, _ := json.Marshal(res)
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	var out map[string]any
	_ = dec.Decode(&out)
	return out
}
