/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestRefusalsAudited writes one audit event for every refused request,
// over real HTTP: without or with an invalid token (the caller unknown),
// malformed, unsupported, writes, governance types, not found, a method
// not allowed and oversize bodies. Each names the reason, the caller as far
// as known, the client address and the request, and never the token.
func TestRefusalsAudited(t *testing.T) {
	h := newHarness(t, withDecisionAPI)
	h.gateway.refusals = newRefusalLimiterWith(0, 1000, 0, 1000)
	good := clinician().sign(t)
	expired := clinician().with(claims{"exp": time.Now().Add(-time.Hour).Unix()}).sign(t)
	otherAudience := clinician().with(claims{"aud": "another-service"}).sign(t)
	bigForm := "code=" + strings.Repeat("x", maxFormBytes+1)
	bigDecision := `{"action":"read","resourceType":"Patient","sourceOds":"` + strings.Repeat("R", maxDecisionBytes) + `"}`
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	cases := []struct {
		method, path, authorization, body string
		header                            http.Header
		status                            int
		reason                            string
	}{
		{"GET", "/MedicationRequest/med-alice-b86", "", "", nil, 401, "no bearer token"},
		{"GET", "/MedicationRequest?patient=" + alice, "", "", nil, 401, "no bearer token"},
		{"GET", "/MedicationRequest/med-alice-b86", "Basic YWxpY2U6c2VjcmV0", "", nil, 401, "not a bearer token"},
		{"GET", "/MedicationRequest/med-alice-b86", "Bearer not-a-jwt", "", nil, 401, "compact JWS"},
		{"GET", "/MedicationRequest/med-alice-b86", "Bearer " + expired, "", nil, 401, "expired"},
		{"GET", "/MedicationRequest/med-alice-b86", "Bearer " + otherAudience, "", nil, 401, "audience"},
		{"GET", "/MedicationRequest/med-alice-b86", "Bearer " + strings.Repeat("a", maxTokenBytes+1), "", nil, 401, "longer than"},
		{"POST", "/v1/decisions", "", "{}", nil, 401, "no bearer token"},
		{"DELETE", "/Patient/alice", "", "", nil, 401, "no bearer token"},
		{"GET", "/Immunization", "Bearer " + good, "", nil, 400, "Immunization"},
		{"GET", "/observation", "Bearer " + good, "", nil, 400, ""},
		{"GET", "/Patient?_has:Observation:patient:code=HIV", "Bearer " + good, "", nil, 400, "_has"},
		{"GET", "/Patient/alice/$everything", "Bearer " + good, "", nil, 400, ""},
		{"POST", "/Observation", "Bearer " + good, `{"resourceType":"Observation"}`, nil, 403, ""},
		{"PUT", "/Patient/alice", "Bearer " + good, `{"resourceType":"Patient"}`, nil, 403, ""},
		{"PATCH", "/Patient/alice", "Bearer " + good, `[]`, nil, 403, ""},
		{"DELETE", "/Patient/alice", "Bearer " + good, "", nil, 403, ""},
		{"GET", "/AuditEvent?patient=" + alice, "Bearer " + good, "", nil, 403, "AuditEvent"},
		{"GET", "/Provenance/p1", "Bearer " + good, "", nil, 403, "Provenance"},
		{"GET", "/MedicationRequest/no-such-thing", "Bearer " + good, "", nil, 404, "not found"},
		{"HEAD", "/Patient/alice", "Bearer " + good, "", nil, 405, ""},
		{"POST", "/healthz", "", "", nil, 405, "method not allowed"},
		{"GET", "/v1/decisions", "Bearer " + good, "", nil, 405, "method not allowed"},
		{"POST", "/Observation/_search", "Bearer " + good, bigForm, form, 400, "at most"},
		{"POST", "/Observation/_search", "Bearer " + good, "code=1", http.Header{"Content-Type": {"text/plain"}}, 400, "x-www-form-urlencoded"},
		{"POST", "/v1/decisions", "Bearer " + good, bigDecision, nil, 400, "at most"},
		{"POST", "/v1/decisions", "Bearer " + good, "{", nil, 400, "not valid JSON"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s %.60s %.20s", tc.method, tc.path, tc.authorization), func(t *testing.T) {
			header := http.Header{}
			for k, v := range tc.header {
				header[k] = v
			}
			if tc.authorization != "" {
				header.Set("Authorization", tc.authorization)
			}
			resp := h.do(t, tc.method, tc.path, "", strings.NewReader(tc.body), header)
			if resp.status != tc.status {
				t.Fatalf("status = %d, want %d: %.300s", resp.status, tc.status, resp.body)
			}
			if decisions := h.audit.take(t); len(decisions) != 0 {
				t.Errorf("a refused request was decided: %d events", len(decisions))
			}
			refusals := h.audit.refusals(t)
			if len(refusals) != 1 {
				t.Fatalf("%d refusal events, want 1", len(refusals))
			}
			// A method not allowed on a route of its own (/healthz,
			// /v1/decisions) is refused before the token is read.
			routeRefusal := tc.status == http.StatusMethodNotAllowed && !strings.HasPrefix(tc.path, "/Patient")
			anonymous := tc.status == http.StatusUnauthorized || routeRefusal
			checkRefusalEvent(t, refusals[0], tc.method, tc.path, tc.status, tc.reason, anonymous)
			if len(tc.authorization) > 20 && strings.Contains(h.audit.rawText(), strings.TrimPrefix(tc.authorization, "Bearer ")) {
				t.Error("the token was written to the audit trail")
			}
		})
	}
}

// checkRefusalEvent holds an event to the shape of a refusal.
func checkRefusalEvent(t *testing.T, e auditEvent, method, path string, status int, reason string, anonymous bool) {
	t.Helper()
	wantType := eventRestful
	if status == http.StatusUnauthorized {
		wantType = eventSecurityAlert
	}
	if e.Type != wantType || e.Action != methodAction(method) {
		t.Errorf("type %v action %s, want %v %s", e.Type, e.Action, wantType, methodAction(method))
	}
	if e.Outcome != auditOutcomeMinorFailure || !strings.HasPrefix(e.OutcomeDesc, "HTTP "+strconv.Itoa(status)+": ") ||
		!strings.Contains(e.OutcomeDesc, reason) {
		t.Errorf("outcome %s %q, want a failure for HTTP %d naming %q", e.Outcome, e.OutcomeDesc, status, reason)
	}
	if len(e.Agent) == 0 || e.Agent[0].Network == nil || e.Agent[0].Network.Address != "127.0.0.1" || !e.Agent[0].Requestor {
		t.Fatalf("the requesting agent does not name the client address: %+v", e.Agent)
	}
	if anonymous {
		if len(e.Agent) != 1 || e.Agent[0].Who.Display != anonymousCaller || e.Agent[0].Who.Identifier != nil {
			t.Errorf("an unknown caller is named: %+v", e.Agent)
		}
	} else if len(e.Agent) != 2 || e.Agent[0].Who.Identifier == nil || e.Agent[0].Who.Identifier.Value != "910000000001" ||
		e.Agent[1].Who.Identifier == nil || e.Agent[1].Who.Identifier.Value != "RR8" {
		t.Errorf("the authenticated caller is not named: %+v", e.Agent)
	}
	if len(e.Entity) != 1 || e.Entity[0].Role.Code != "24" {
		t.Fatalf("want one query entity, got %+v", e.Entity)
	}
	request, err := base64.StdEncoding.DecodeString(e.Entity[0].Query)
	must(t, err)
	want := method + " " + path
	if len(want) > maxAuditedTarget {
		want = want[:maxAuditedTarget]
	}
	if string(request) != want {
		t.Errorf("recorded request %.100q, want %.100q", request, want)
	}
}

// TestRefusalAuditLeavesOutCredentials records a refused request without
// the values of query parameters that may carry a credential.
func TestRefusalAuditLeavesOutCredentials(t *testing.T) {
	h := newHarness(t)
	token := clinician().sign(t)
	for _, name := range []string{"access_token", "Access_Token", "id%5Ftoken", "client_secret", "password"} {
		resp := h.get(t, "/MedicationRequest?"+name+"="+token, "")
		if resp.status != http.StatusUnauthorized {
			t.Fatalf("status = %d", resp.status)
		}
		if refusals := h.audit.refusals(t); len(refusals) != 1 {
			t.Fatalf("%d refusal events", len(refusals))
		}
		if strings.Contains(h.audit.rawText(), token[:40]) {
			t.Errorf("%s: the credential was written to the audit trail", name)
		}
	}
}

// TestRefusalAuditIsRateLimitedPerSource writes the events of a flood of
// refusals from one source only up to its limit, counts the rest as
// dropped, and still audits refusals from another source and serves
// legitimate requests from the flooding one.
func TestRefusalAuditIsRateLimitedPerSource(t *testing.T) {
	h := newHarness(t)
	// No refill: exactly the burst is written, however fast the flood.
	h.gateway.refusals = newRefusalLimiterWith(0, 3, 0, 100)
	for i := range 20 {
		if resp := h.get(t, "/MedicationRequest/med-alice-b86?i="+strconv.Itoa(i), ""); resp.status != http.StatusUnauthorized {
			t.Fatalf("status = %d, want 401", resp.status)
		}
	}
	if refusals := h.audit.refusals(t); len(refusals) != 3 {
		t.Errorf("%d refusal events from one source, want its burst of 3", len(refusals))
	}
	if dropped := testutil.ToFloat64(h.gateway.metrics.refusalAuditDrops.WithLabelValues("rate-limited")); dropped != 17 {
		t.Errorf("dropped = %v, want 17", dropped)
	}
	if resp := h.get(t, "/MedicationRequest/med-alice-b86", clinician().sign(t)); resp.status != http.StatusOK {
		t.Errorf("a legitimate request from the flooding source: status %d", resp.status)
	}
	if events := h.audit.take(t); len(events) != 1 {
		t.Errorf("the legitimate read was not audited: %d events", len(events))
	}
	// Another source (127.0.0.2) has a share of its own.
	other := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")},
	}).DialContext}}
	resp, err := other.Get(h.server.URL + "/MedicationRequest/med-alice-b86")
	if err != nil {
		t.Skipf("cannot send from 127.0.0.2: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	refusals := h.audit.refusals(t)
	if resp.StatusCode != http.StatusUnauthorized || len(refusals) != 1 || refusals[0].Agent[0].Network.Address != "127.0.0.2" {
		t.Errorf("another source's refusal: status %d, %d events", resp.StatusCode, len(refusals))
	}
}

// TestRefusalLimiterIsBounded remembers at most refusalSources sources, so
// that a flood from many addresses cannot grow the gateway's memory, holds
// the global limit across sources, and counts an IPv6 /64 as one source.
func TestRefusalLimiterIsBounded(t *testing.T) {
	now := time.Now()
	l := newRefusalLimiterWith(0, 1, 0, 2*refusalSources)
	for i := range refusalSources + 500 {
		l.allow(sourceKey(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)), now)
	}
	if n := l.sources.Len(); n != refusalSources {
		t.Errorf("%d sources remembered, want at most %d", n, refusalSources)
	}
	global := newRefusalLimiterWith(0, 5, 0, 10)
	allowed := 0
	for i := range 100 {
		if global.allow(sourceKey(fmt.Sprintf("192.0.2.%d", i)), now) {
			allowed++
		}
	}
	if allowed != 10 {
		t.Errorf("%d refusals audited from 100 sources, want the global burst of 10", allowed)
	}
	v6 := newRefusalLimiterWith(0, 2, 0, 100)
	allowed = 0
	for i := range 10 {
		if v6.allow(sourceKey(fmt.Sprintf("2001:db8:1:2::%x", i+1)), now) {
			allowed++
		}
	}
	if allowed != 2 {
		t.Errorf("%d refusals audited from one IPv6 /64, want its burst of 2", allowed)
	}
	for address, want := range map[string]string{
		"192.0.2.1": "192.0.2.1", "::ffff:192.0.2.1": "192.0.2.1", "2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64", "not-an-ip": "not-an-ip",
	} {
		if got := sourceKey(address); got != want {
			t.Errorf("sourceKey(%q) = %q, want %q", address, got, want)
		}
	}
}

// TestRefusalSentWhenItsAuditFails still refuses with the refusal's own
// answer when the audit sink fails, counting the lost event, so that a
// broken sink never turns refusals into something else.
func TestRefusalSentWhenItsAuditFails(t *testing.T) {
	audit := &failingWriter{}
	h := newHarness(t, func(s *setup) { s.audit = audit })
	token := clinician().sign(t)
	for _, tc := range []struct {
		method, path, token string
		status              int
	}{
		{"GET", "/MedicationRequest/med-alice-b86", "", 401},
		{"GET", "/Immunization", token, 400},
		{"DELETE", "/Patient/alice", token, 403},
		{"HEAD", "/Patient/alice", token, 405},
	} {
		resp := h.do(t, tc.method, tc.path, tc.token, nil, nil)
		if resp.status != tc.status {
			t.Errorf("%s %s: status = %d, want %d", tc.method, tc.path, resp.status, tc.status)
		}
	}
	if failed := testutil.ToFloat64(h.gateway.metrics.refusalAuditDrops.WithLabelValues("write-failed")); failed != 4 {
		t.Errorf("write-failed = %v, want 4", failed)
	}
	// An access still needs its audit event.
	if resp := h.get(t, "/MedicationRequest/med-alice-b86", token); resp.status != http.StatusServiceUnavailable {
		t.Errorf("a read whose audit failed: status %d, want 503", resp.status)
	}
}
