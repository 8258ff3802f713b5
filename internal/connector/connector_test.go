/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPullForwardsExactlyTheInScopeRecordsWithProvenance(t *testing.T) {
	h := newHarness(t, fixtureRecords())
	h.cycle()

	if got := h.records.keys(); !slices.Equal(got, inScope) {
		t.Fatalf("record service holds\n%v\nwant\n%v", got, inScope)
	}
	h.assertWrittenOnce(inScope...)
	for _, key := range inScope {
		assertProvenance(t, h.records.get(key), h.source.endpoint(), key)
	}
	o1 := h.records.get("Observation/RHW-o1")
	if ref := o1["subject"].(map[string]any)["reference"]; ref != "Patient/RHW-p1" {
		t.Errorf("Observation.subject = %v, want the record id Patient/RHW-p1", ref)
	}
	if v := o1["valueQuantity"].(map[string]any)["value"]; v != json.Number("1.50") {
		t.Errorf("valueQuantity.value = %v, want 1.50 exactly as the source wrote it", v)
	}
	for _, never := range []string{"Consent", "AuditEvent"} {
		if slices.Contains(h.source.searchedTypes(), never) {
			t.Errorf("the connector searched for %s, which is out of scope", never)
		}
	}
	// The source ignores Encounter's class, so each class feed sees the other
	// class's encounter and drops it.
	if got := h.metric("shcr_connector_resources_dropped_total", "type", "Encounter"); got != 2 {
		t.Errorf("dropped Encounters = %v, want 2", got)
	}
	if got := h.metric("shcr_connector_resources_forwarded_total", "type", "Observation"); got != 5 {
		t.Errorf("forwarded Observations = %v, want 5", got)
	}
	var status Status
	if code, body := h.get("/status"); code != http.StatusOK || json.Unmarshal([]byte(body), &status) != nil {
		t.Fatalf("/status = %d %s", code, body)
	}
	if !status.Ready || status.Forwarded != 12 || status.Dropped != 2 || status.Circuit != CircuitClosed ||
		status.LastSuccessfulSync == nil || status.LagSeconds == nil || *status.LagSeconds != 0 {
		t.Errorf("/status = %+v, want ready, 12 forwarded, 2 dropped, circuit closed, synced, no lag", status)
	}
	if code, _ := h.get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz = %d, want 200", code)
	}
	h.assertNoSecretsLogged()
}

// assertProvenance checks a record's provenance: exactly one ODS tag, the
// source resource tag, meta.source, and none of the source's version data.
func assertProvenance(t *testing.T, record map[string]any, endpoint, key string) {
	t.Helper()
	meta := record["meta"].(map[string]any)
	var ods, sources []string
	for _, tag := range meta["tag"].([]any) {
		c := tag.(map[string]any)
		switch c["system"] {
		case SystemODS:
			ods = append(ods, c["code"].(string))
		case SystemSourceResource:
			sources = append(sources, c["code"].(string))
		}
	}
	resourceType, id, _ := strings.Cut(key, "/")
	if !slices.Equal(ods, []string{testODS}) {
		t.Errorf("%s: ODS tags %v, want [%s]", key, ods, testODS)
	}
	if want := resourceType + "/" + strings.TrimPrefix(id, testODS+"-"); !slices.Equal(sources, []string{want}) {
		t.Errorf("%s: source-resource tags %v, want [%s]", key, sources, want)
	}
	if meta["source"] != endpoint {
		t.Errorf("%s: meta.source = %v, want %s", key, meta["source"], endpoint)
	}
	if meta["versionId"] != nil || meta["lastUpdated"] != nil {
		t.Errorf("%s: the source's versionId and lastUpdated were forwarded", key)
	}
}

func TestRestartResumesWithNoLossAndNoDuplicates(t *testing.T) {
	h := newHarness(t, fixtureRecords())
	h.cycle()
	if got := h.state("Observation"); got.Since != at(7) || len(got.Seen) != 3 {
		t.Fatalf("Observation watermark = %+v, want since %s with o3, o4, o5 seen", got, at(7))
	}

	updatedP1 := resource("Patient", "p1", at(20), map[string]any{"active": true})
	updatedP1["meta"].(map[string]any)["versionId"] = "2"
	h.source.add(
		resource("Observation", "o6", at(7), nil), // last updated exactly at the watermark
		resource("Observation", "o7", at(21), nil),
		updatedP1,
	)
	h.restart()
	h.cycle()

	h.assertWrittenOnce("Observation/RHW-o6", "Observation/RHW-o7")
	unchanged := slices.DeleteFunc(slices.Clone(inScope), func(k string) bool { return k == "Patient/RHW-p1" })
	h.assertWrittenOnce(unchanged...)
	if n := h.records.writeCount("Patient/RHW-p1"); n != 2 {
		t.Errorf("Patient/RHW-p1 written %d times, want twice (created, then its update)", n)
	}
	if active := h.records.get("Patient/RHW-p1")["active"]; active != true {
		t.Errorf("Patient/RHW-p1 is not the updated version")
	}
	if got := h.c.Status().Forwarded; got != 3 {
		t.Errorf("the restarted connector forwarded %d, want 3 (o6, o7, p1 version 2)", got)
	}
	if got := h.metric("shcr_connector_resources_skipped_total", "type", "Observation"); got != 3 {
		t.Errorf("skipped Observations = %v, want 3 (o3, o4, o5 again at the watermark)", got)
	}
}

func TestStopAfterTheCurrentPageThenResume(t *testing.T) {
	h := newHarness(t, fixtureRecords())
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	h.records.setIntercept(func(http.ResponseWriter, *http.Request) bool {
		stop() // SIGTERM while the first page is being written
		return false
	})
	err := h.c.RunCycle(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("RunCycle = %v, want it stopped", err)
	}
	if got := h.records.keys(); !slices.Equal(got, []string{"Patient/RHW-p1", "Patient/RHW-p2"}) {
		t.Fatalf("after the stop the record service holds %v, want the first page, whole", got)
	}
	if got := h.state("Patient"); got.Since != at(2) {
		t.Fatalf("Patient watermark = %+v, want the first page recorded", got)
	}

	h.records.setIntercept(nil)
	h.restart()
	h.cycle()
	if got := h.records.keys(); !slices.Equal(got, inScope) {
		t.Fatalf("after the restart the record service holds\n%v\nwant\n%v", got, inScope)
	}
	h.assertWrittenOnce(inScope...)
}

func TestNarrowedScopeStopsForwardingOnTheNextCycle(t *testing.T) {
	h := newHarness(t, fixtureRecords())
	h.cycle()
	h.writeConfig(slices.DeleteFunc(slices.Clone(testCategories), func(c string) bool {
		return c == "TestResults" || c == "InpatientStays"
	}))
	h.source.add(
		resource("Observation", "o8", at(30), nil),
		resource("Patient", "p9", at(31), nil),
		encounter("e-imp2", "IMP", at(32)),
		encounter("e-amb2", "AMB", at(33)),
	)
	searchesBefore := h.source.requestCount()
	h.cycle()

	h.assertWrittenOnce("Patient/RHW-p9", "Encounter/RHW-e-amb2")
	for _, key := range []string{"Observation/RHW-o8", "Encounter/RHW-e-imp2"} {
		if h.records.get(key) != nil {
			t.Errorf("%s was forwarded after its category was removed", key)
		}
	}
	h.source.mu.Lock()
	later := slices.Clone(h.source.searches[searchesBefore:])
	h.source.mu.Unlock()
	if slices.Contains(later, "/fhir/Observation") {
		t.Errorf("the connector still searched for Observation: %v", later)
	}
	if got := h.c.Status().Categories; slices.Contains(got, "TestResults") {
		t.Errorf("/status categories = %v, still with TestResults", got)
	}
}

func TestThrottlingAndServerErrorsAreRetried(t *testing.T) {
	h := newHarness(t, fixtureRecords())
	calls := 0
	h.source.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/token") {
			return false
		}
		calls++
		switch calls {
		case 1:
			w.Header().Set("Retry-After", "7")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return true
		case 2:
			http.Error(w, `{"resourceType":"OperationOutcome","issue":[{"diagnostics":"database unavailable"}]}`, http.StatusInternalServerError)
			return true
		}
		return false
	})
	failedWrites := 0
	h.records.setIntercept(func(w http.ResponseWriter, _ *http.Request) bool {
		if failedWrites++; failedWrites == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	h.cycle()

	if got := h.records.keys(); !slices.Equal(got, inScope) {
		t.Fatalf("record service holds %v, want %v", got, inScope)
	}
	sleeps := h.clock.slept()
	if len(sleeps) != 3 || sleeps[0] != 7*time.Second || sleeps[1] > h.opts.Retry.MaxDelay || sleeps[2] > h.opts.Retry.MaxDelay {
		t.Errorf("waits %v, want Retry-After's 7s, then two jittered backoffs of at most %s", sleeps, h.opts.Retry.MaxDelay)
	}
	if !strings.Contains(h.logs.String(), "database unavailable") {
		t.Errorf("the retry log does not say why: %s", h.logs.String())
	}
}

func TestCircuitOpensAfterRepeatedFailuresAndReadinessReportsIt(t *testing.T) {
	h := newHarness(t, fixtureRecords())
	h.opts.Retry.Attempts = 2
	h.opts.Breaker = BreakerPolicy{Failures: 3, Cooldown: time.Minute}
	h.restart()
	down := true
	h.source.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if down && !strings.HasSuffix(r.URL.Path, "/token") {
			http.Error(w, "down", http.StatusBadGateway)
			return true
		}
		return false
	})
	if err := h.c.RunCycle(context.Background()); err == nil || !strings.Contains(err.Error(), "circuit is open") {
		t.Fatalf("RunCycle = %v, want feeds refused by the open circuit", err)
	}
	calls := h.source.requestCount()
	code, body := h.get("/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "the source circuit is open") {
		t.Errorf("/readyz = %d %q, want 503 naming the open source circuit", code, body)
	}
	if s := h.c.Status(); s.Ready || s.Circuit != CircuitOpen || s.Circuits[kindSource] != CircuitOpen {
		t.Errorf("/status = %+v, want not ready with the source circuit open", s)
	}
	if got := h.metric("shcr_connector_circuit_open", "target", "source"); got != 1 {
		t.Errorf("shcr_connector_circuit_open{target=source} = %v, want 1", got)
	}
	if got := h.metric("shcr_connector_errors_total", "kind", "circuit_open"); got == 0 {
		t.Errorf("no circuit_open errors counted")
	}

	_ = h.c.RunCycle(context.Background())
	if got := h.source.requestCount(); got != calls {
		t.Errorf("the source was called %d more times during the cool-down", got-calls)
	}

	down = false
	h.clock.advance(time.Minute)
	if s := h.c.Status(); s.Circuit != CircuitHalfOpen {
		t.Errorf("after the cool-down the circuit is %s, want half-open", s.Circuit)
	}
	h.cycle()
	if code, _ := h.get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz = %d after a successful trial, want 200", code)
	}
	h.assertWrittenOnce(inScope...)
}

func TestMalformedPageIsRejectedWholeAndNothingOfItWritten(t *testing.T) {
	h := newHarness(t, fixtureRecords())
	h.source.corrupt = func(resourceType string, offset int, bundle map[string]any) {
		if resourceType == "Observation" && offset == 2 { // the second page: o3 and o4
			entries := bundle["entry"].([]any)
			entries[1] = map[string]any{"search": map[string]any{"mode": "match"}}
		}
	}
	err := h.c.RunCycle(context.Background())
	if err == nil || !strings.Contains(err.Error(), "feed Observation: page 2") ||
		!strings.Contains(err.Error(), "entry[1]: the entry has no resource") ||
		!strings.Contains(err.Error(), "nothing of it was written") {
		t.Fatalf("RunCycle = %v, want page 2 of Observation rejected for entry[1] having no resource", err)
	}
	if h.records.get("Observation/RHW-o3") != nil {
		t.Errorf("o3, valid but on the malformed page, was written")
	}
	h.assertWrittenOnce("Observation/RHW-o1", "Observation/RHW-o2", "Patient/RHW-p1", "AllergyIntolerance/RHW-a1")
	if got := h.state("Observation"); got.Since != at(6) {
		t.Errorf("Observation watermark = %+v, want it after page 1 only", got)
	}
	if got := h.metric("shcr_connector_errors_total", "kind", "malformed_page"); got != 1 {
		t.Errorf("malformed_page errors = %v, want 1", got)
	}

	h.source.corrupt = nil
	h.cycle()
	h.assertWrittenOnce(inScope...)
}

func TestIncludedResourcesAreDroppedAndCounted(t *testing.T) {
	h := newHarness(t, fixtureRecords())
	h.source.include["Observation"] = resource("AuditEvent", "ae1", at(12), nil)
	h.cycle()
	if h.records.get("AuditEvent/RHW-ae1") != nil {
		t.Errorf("an included AuditEvent was forwarded")
	}
	if got := h.metric("shcr_connector_resources_dropped_total", "type", "AuditEvent"); got != 3 {
		t.Errorf("dropped AuditEvents = %v, want 3 (one per Observation page)", got)
	}
}

func TestOAuth2ClientCredentialsAndNoSecretsInLogs(t *testing.T) {
	h := newHarness(t, fixtureRecords())
	failures := 0
	h.source.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/fhir/Patient" && failures < 1 {
			failures++
			http.Error(w, "try again", http.StatusInternalServerError)
			return true
		}
		return false
	})
	h.cycle()
	if h.source.tokens != 1 {
		t.Errorf("the token endpoint issued %d tokens, want 1 reused for the whole cycle", h.source.tokens)
	}
	h.assertWrittenOnce(inScope...) // the source accepts only the bearer token
	h.assertNoSecretsLogged()

	h.writeFile(h.opts.CredentialsDir+"/"+fileClientSecret, "wrong")
	err := h.c.RunCycle(context.Background())
	if err == nil || !strings.Contains(err.Error(), "refused the client credentials") || errorKind(err) != kindCredentials {
		t.Fatalf("RunCycle with a wrong secret = %v, want the credentials refused", err)
	}
	if strings.Contains(err.Error(), "wrong") || strings.Contains(h.logs.String(), "wrong") {
		t.Errorf("the wrong secret reached an error or a log")
	}
	h.assertNoSecretsLogged()
}

func TestInvalidConfigurationIsReportedAndNotReady(t *testing.T) {
	h := newHarness(t, fixtureRecords())
	h.writeFile(h.opts.ConfigPath, `{"odsCode":"rhw","kind":"GPConnect","endpoint":"http://x","schedule":"0s","recordService":"x"}`)
	err := h.c.RunCycle(context.Background())
	for _, want := range []string{`odsCode "rhw"`, `kind "GPConnect"`, `schedule "0s"`, "endpoint", "recordService"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("RunCycle = %v, want it to name %s", err, want)
		}
	}
	if code, body := h.get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "no valid configuration") {
		t.Errorf("/readyz = %d %q, want 503 for the configuration", code, body)
	}
	if got := h.metric("shcr_connector_errors_total", "kind", "config"); got != 1 {
		t.Errorf("config errors = %v, want 1", got)
	}
}

func TestRunRepeatsOnTheSchedule(t *testing.T) {
	h := newHarness(t, fixtureRecords())
	ctx, stop := context.WithCancel(context.Background())
	h.clock.onSleep = func(time.Duration) { stop() }
	if err := h.c.Run(ctx); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if got := h.clock.slept(); !slices.Equal(got, []time.Duration{15 * time.Minute}) {
		t.Errorf("Run waited %v, want the 15m schedule", got)
	}
	h.assertWrittenOnce(inScope...)
}

func TestCorruptStateFileIsRefusedWithAFix(t *testing.T) {
	h := newHarness(t, nil)
	h.writeFile(h.opts.StatePath, "{not json")
	_, err := New(h.opts)
	if err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Fatalf("New = %v, want the corrupt state file named with a fix", err)
	}
}

func TestRetryAfterLongerThanTheConnectorWaitsFailsTheCall(t *testing.T) {
	h := newHarness(t, fixtureRecords())
	h.source.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/token") {
			return false
		}
		w.Header().Set("Retry-After", "3600")
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
		return true
	})
	err := h.c.RunCycle(context.Background())
	if err == nil || !strings.Contains(err.Error(), "asked to wait 1h0m0s before retrying, longer than the 1m0s the connector waits") {
		t.Fatalf("RunCycle = %v, want the long Retry-After refused", err)
	}
	if got := h.clock.slept(); len(got) != 0 {
		t.Errorf("the connector waited %v", got)
	}
}
