/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// GET /v1/break-glass-count counts, per organisation, the accesses allowed
// only by break-glass since the gateway started, over real HTTP; ordinary
// and refused accesses are not counted; the answer names no patient, user
// or reason; and other methods are refused with an OperationOutcome.
func TestBreakGlassCountCountsOnlyOverridesAndNamesNoPatient(t *testing.T) {
	h := newHarness(t)
	count := func() BreakGlassCount {
		t.Helper()
		r := h.get(t, BreakGlassCountPath, "")
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Fatalf("GET %s: %d %s", BreakGlassCountPath, r.status, r.header.Get("Content-Type"))
		}
		for _, secret := range []string{alice, "collapsed in clinic", "910000000001"} {
			if strings.Contains(string(r.body), secret) {
				t.Errorf("the count names %q: %s", secret, r.body)
			}
		}
		var c BreakGlassCount
		if err := json.Unmarshal(r.body, &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	before := count()
	if before.Instance == "" || len(before.Organisations) != 0 {
		t.Fatalf("a new gateway's count: %+v, want an instance and no organisations", before)
	}

	if r := h.get(t, "/Observation?"+aliceQuery(), clinician().sign(t)); r.status != http.StatusOK {
		t.Fatalf("ordinary read: %d", r.status)
	}
	if c := count(); len(c.Organisations) != 0 {
		t.Errorf("an ordinary read was counted: %+v", c)
	}
	token := clinician().with(claims{"legitimate_relationship": false}).breakingGlass("collapsed in clinic", time.Minute).sign(t)
	if r := h.get(t, "/Observation?"+aliceQuery(), token); r.status != http.StatusOK {
		t.Fatalf("break-glass read: %d", r.status)
	}
	after := count()
	if after.Instance != before.Instance {
		t.Errorf("instance changed from %q to %q within one process", before.Instance, after.Instance)
	}
	if len(after.Organisations) != 1 || after.Organisations["RR8"] != 3 { // the three Observations released
		t.Errorf("after one break-glass search: %+v, want RR8: 3", after.Organisations)
	}

	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		r := h.do(t, method, BreakGlassCountPath, "", nil, nil)
		if r.status != http.StatusMethodNotAllowed || !strings.Contains(string(r.body), "OperationOutcome") {
			t.Errorf("%s %s: %d %s, want 405 with an OperationOutcome", method, BreakGlassCountPath, r.status, r.body)
		}
	}
}
