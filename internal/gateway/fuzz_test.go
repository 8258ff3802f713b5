/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
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
		back, err := ParseRequest(again, "/"+in.Path(), in.Query.Encode())
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
	}
}
