/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shcr-io/shcr-operator/internal/auditlog"
	"github.com/shcr-io/shcr-operator/internal/plugin/breakglass"
)

// The Caldicott Guardian's review reads what the gateway wrote to its
// hash-chained audit files: each access allowed only by break-glass, with
// who, for which organisation, whose records and why, and no patient's
// NHS number; ordinary accesses are not listed.
func TestBreakGlassReportReadsTheGatewaysAuditFiles(t *testing.T) {
	dir := t.TempDir()
	log, err := auditlog.Open(auditlog.Options{Dir: dir, RetentionDays: 180, Observer: "record-gateway-0"})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(s *setup) { s.audit = log })
	start := time.Now().Add(-time.Second)

	ordinary := h.get(t, "/Observation?"+aliceQuery(), clinician().sign(t))
	token := clinician().with(claims{"legitimate_relationship": false}).breakingGlass("collapsed in clinic", time.Minute).sign(t)
	emergency := h.get(t, "/Observation?"+aliceQuery(), token)
	if ordinary.status != 200 || emergency.status != 200 {
		t.Fatalf("statuses %d and %d, want 200", ordinary.status, emergency.status)
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}

	r, err := breakglass.Read([]string{dir}, start)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Accesses) != 3 { // the three Observations the override released
		t.Fatalf("%d break-glass accesses, want 3: %+v", len(r.Accesses), r.Accesses)
	}
	for _, a := range r.Accesses {
		if a.User != "910000000001" || a.Role != "R8000" || a.Organisation != "RR8" || a.Reason != "collapsed in clinic" ||
			a.Resource != "Observation" || len(a.RecordsOf) == 0 || a.Time.Before(start) || !strings.HasPrefix(a.Source, "audit-") {
			t.Errorf("access %+v, want the clinician of RR8, the reason and whose records", a)
		}
	}
	if later, err := breakglass.Read([]string{dir}, time.Now().Add(time.Minute)); err != nil || len(later.Accesses) != 0 {
		t.Errorf("since a minute from now: %+v, %v; want none", later.Accesses, err)
	}

	for _, format := range []string{"table", "json"} {
		out := runBreakGlass(t, format, dir)
		if strings.Contains(out, alice) {
			t.Errorf("-o %s prints a patient's NHS number:\n%s", format, out)
		}
		if !strings.Contains(out, "collapsed in clinic") || !strings.Contains(out, "RR8") {
			t.Errorf("-o %s does not show the reason and the organisation:\n%s", format, out)
		}
	}
	if none := runBreakGlass(t, "table", t.TempDir()); !strings.HasPrefix(none, "None: no break-glass access recorded since ") {
		t.Errorf("an empty trail: %q, want a line saying none", none)
	}
}

func runBreakGlass(t *testing.T, format string, paths ...string) string {
	t.Helper()
	var out strings.Builder
	cmd := breakglass.NewCommand(nil)
	cmd.SetOut(&out)
	cmd.SetArgs(slices.Concat([]string{"--since", "1h", "-o", format}, paths))
	if err := cmd.Execute(); err != nil {
		t.Fatalf("break-glass -o %s: %v", format, err)
	}
	return out.String()
}
