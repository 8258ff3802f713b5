/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Test credentials. The harness asserts that neither ever reaches a log.
const (
	testClientID     = "rhw-connector"
	testClientSecret = "s3cret-client-credential"
	testToken        = "tok-0123456789-bearer"
	testODS          = "RHW"
)

// t0 is when the fixture records were last updated, give or take seconds.
var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// at is t0 plus s seconds, as a FHIR instant.
func at(s int) string { return t0.Add(time.Duration(s) * time.Second).Format(time.RFC3339Nano) }

// resource is a fixture resource.
func resource(resourceType, id, lastUpdated string, fields map[string]any) map[string]any {
	r := map[string]any{
		"resourceType": resourceType,
		"id":           id,
		"meta":         map[string]any{"versionId": "1", "lastUpdated": lastUpdated},
	}
	for k, v := range fields {
		r[k] = v
	}
	return r
}

func encounter(id, class, lastUpdated string) map[string]any {
	return resource("Encounter", id, lastUpdated, map[string]any{
		"status": "finished",
		"class":  map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": class},
	})
}

// fixtureRecords are an organisation's records in several categories, with
// a tie at t0+7s spanning pages of two, and types that are never in scope.
func fixtureRecords() []map[string]any {
	subject := map[string]any{"reference": "Patient/p1"}
	return []map[string]any{
		resource("Patient", "p1", at(1), map[string]any{"identifier": []any{map[string]any{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9000000009"}}}),
		resource("Patient", "p2", at(2), nil),
		resource("MedicationRequest", "m1", at(3), map[string]any{"subject": subject}),
		resource("MedicationRequest", "m2", at(4), map[string]any{"subject": subject}),
		resource("Observation", "o1", at(5), map[string]any{"subject": subject, "valueQuantity": map[string]any{"value": json.Number("1.50")}}),
		resource("Observation", "o2", at(6), map[string]any{"subject": subject}),
		resource("Observation", "o3", at(7), map[string]any{"subject": subject}),
		resource("Observation", "o4", at(7), map[string]any{"subject": subject}),
		resource("Observation", "o5", at(7), map[string]any{"subject": subject}),
		resource("AllergyIntolerance", "a1", at(8), map[string]any{"patient": subject}),
		encounter("e-amb", "AMB", at(9)),
		encounter("e-imp", "IMP", at(10)),
		resource("Consent", "c1", at(11), nil),
		resource("AuditEvent", "ae1", at(12), nil),
	}
}

// inScope are the fixture records forwarded with testCategories.
var inScope = []string{
	"AllergyIntolerance/RHW-a1", "Encounter/RHW-e-amb", "Encounter/RHW-e-imp",
	"MedicationRequest/RHW-m1", "MedicationRequest/RHW-m2",
	"Observation/RHW-o1", "Observation/RHW-o2", "Observation/RHW-o3", "Observation/RHW-o4", "Observation/RHW-o5",
	"Patient/RHW-p1", "Patient/RHW-p2",
}

// testCategories exclude Preferences, so Consent is out of scope.
var testCategories = []string{"Allergies", "Appointments", "Demographics", "InpatientStays", "Medications", "TestResults"}

// source is an organisation's FHIR server: searches by type honouring
// _lastUpdated (ge, gt), _sort=_lastUpdated, _count and next links, and,
// like a server without that search parameter, ignoring Encounter's class.
// Its token endpoint issues testToken for the test client credentials.
type source struct {
	t      testing.TB
	server *httptest.Server

	mu        sync.Mutex
	records   []map[string]any
	searches  []string
	tokens    int
	intercept func(w http.ResponseWriter, r *http.Request) bool
	// include is an extra entry, search mode include, on every page of a type.
	include map[string]map[string]any
	// corrupt, when set, rewrites a page before it is sent.
	corrupt func(resourceType string, offset int, bundle map[string]any)
	// history are the entries of the types' histories (deletions_test.go).
	history []historyFixture
}

// newSource starts a source; configure, when given, sets up its TLS first.
func newSource(t testing.TB, records []map[string]any, configure func(*tls.Config)) *source {
	s := &source{t: t, records: records, include: map[string]map[string]any{}}
	s.server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.server.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	if configure != nil {
		configure(s.server.TLS)
	}
	s.server.StartTLS()
	t.Cleanup(s.server.Close)
	return s
}

// endpoint is the FHIR base URL.
func (s *source) endpoint() string { return s.server.URL + "/fhir" }

func (s *source) add(records ...map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = append(s.records, records...)
}

func (s *source) setIntercept(f func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.intercept = f
}

// searchedTypes are the types searched for, in order, without repeats.
func (s *source) searchedTypes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var types []string
	for _, path := range s.searches {
		if t := strings.TrimPrefix(path, "/fhir/"); !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	return types
}

func (s *source) requestCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.searches)
}

func (s *source) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	intercept := s.intercept
	s.mu.Unlock()
	if intercept != nil && intercept(w, r) {
		return
	}
	if r.URL.Path == "/fhir/oauth2/token" {
		s.serveToken(w, r)
		return
	}
	if r.TLS == nil || (len(r.TLS.PeerCertificates) == 0 && r.Header.Get("Authorization") != "Bearer "+testToken) {
		http.Error(w, "unauthorised", http.StatusUnauthorized)
		return
	}
	if strings.HasSuffix(r.URL.Path, "/_history") {
		s.serveHistory(w, r)
		return
	}
	s.serveSearch(w, r)
}

func (s *source) serveToken(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if r.Method != http.MethodPost || r.FormValue("grant_type") != "client_credentials" {
		http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
		return
	}
	if !ok || id != testClientID || secret != testClientSecret {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"invalid_client"}`)
		return
	}
	s.mu.Lock()
	s.tokens++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, testToken)
}

func (s *source) serveSearch(w http.ResponseWriter, r *http.Request) {
	resourceType := strings.TrimPrefix(r.URL.Path, "/fhir/")
	q := r.URL.Query()
	if q.Get("_sort") != "_lastUpdated" {
		http.Error(w, "the fixture sorts only by _lastUpdated", http.StatusBadRequest)
		return
	}
	count, _ := strconv.Atoi(q.Get("_count"))
	offset, _ := strconv.Atoi(q.Get("_offset"))
	s.mu.Lock()
	s.searches = append(s.searches, r.URL.Path)
	matches := s.match(resourceType, q.Get("_lastUpdated"))
	include := s.include[resourceType]
	corrupt := s.corrupt
	s.mu.Unlock()

	end := min(offset+count, len(matches))
	entries := []any{}
	for _, m := range matches[min(offset, end):end] {
		entries = append(entries, map[string]any{"resource": m, "search": map[string]any{"mode": "match"}})
	}
	if include != nil {
		entries = append(entries, map[string]any{"resource": include, "search": map[string]any{"mode": "include"}})
	}
	bundle := map[string]any{"resourceType": "Bundle", "type": "searchset", "total": len(matches), "entry": entries}
	if end < len(matches) {
		next := *r.URL
		nq := next.Query()
		nq.Set("_offset", strconv.Itoa(end))
		next.RawQuery = nq.Encode()
		bundle["link"] = []any{map[string]any{"relation": "next", "url": s.server.URL + next.RequestURI()}}
	}
	if corrupt != nil {
		corrupt(resourceType, offset, bundle)
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	_ = json.NewEncoder(w).Encode(bundle)
}

// match is the records of a type within the _lastUpdated bound, oldest
// first. It copies them, as a server serialises what it stores.
func (s *source) match(resourceType, bound string) []map[string]any {
	op, instant := bound[:min(2, len(bound))], bound[min(2, len(bound)):]
	since, err := time.Parse(time.RFC3339Nano, instant)
	if bound != "" && (err != nil || (op != "ge" && op != "gt")) {
		s.t.Errorf("source: bad _lastUpdated %q", bound)
	}
	var out []map[string]any
	for _, r := range s.records {
		updated, _ := time.Parse(time.RFC3339Nano, r["meta"].(map[string]any)["lastUpdated"].(string))
		keep := r["resourceType"] == resourceType &&
			(bound == "" || updated.After(since) || (op == "ge" && updated.Equal(since)))
		if keep {
			out = append(out, deepCopy(r))
		}
	}
	slices.SortStableFunc(out, func(a, b map[string]any) int {
		return cmp.Compare(lastUpdated(a), lastUpdated(b))
	})
	return out
}

func lastUpdated(r map[string]any) int64 {
	t, _ := time.Parse(time.RFC3339Nano, r["meta"].(map[string]any)["lastUpdated"].(string))
	return t.UnixNano()
}

func deepCopy(r map[string]any) map[string]any {
	data, _ := json.Marshal(r)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out map[string]any
	_ = dec.Decode(&out)
	return out
}

// recordService applies transaction Bundles of PUTs, storing each
// resource under its request URL and counting the writes to each, so any
// duplicate delivery shows.
type recordService struct {
	t      testing.TB
	server *httptest.Server

	mu           sync.Mutex
	store        map[string]map[string]any
	writes       map[string]int
	transactions int
	intercept    func(w http.ResponseWriter, r *http.Request) bool
}

func newRecordService(t testing.TB) *recordService {
	rs := &recordService{t: t, store: map[string]map[string]any{}, writes: map[string]int{}}
	rs.server = httptest.NewServer(http.HandlerFunc(rs.serve))
	t.Cleanup(rs.server.Close)
	return rs
}

func (rs *recordService) base() string { return rs.server.URL + "/fhir" }

func (rs *recordService) setIntercept(f func(w http.ResponseWriter, r *http.Request) bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.intercept = f
}

// keys are the stored URLs, sorted.
func (rs *recordService) keys() []string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	keys := make([]string, 0, len(rs.store))
	for k := range rs.store {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (rs *recordService) get(key string) map[string]any {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.store[key]
}

func (rs *recordService) writeCount(key string) int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.writes[key]
}

func (rs *recordService) serve(w http.ResponseWriter, r *http.Request) {
	rs.mu.Lock()
	intercept := rs.intercept
	rs.mu.Unlock()
	if intercept != nil && intercept(w, r) {
		return
	}
	if r.Method == http.MethodGet {
		rs.serveSearch(w, r) // hl7merge_test.go
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/fhir" {
		http.Error(w, "only transactions at the base", http.StatusMethodNotAllowed)
		return
	}
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
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
	if err := dec.Decode(&tx); err != nil || tx.ResourceType != "Bundle" || tx.Type != "transaction" {
		http.Error(w, "not a transaction Bundle", http.StatusBadRequest)
		return
	}
	var responses []any
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, e := range tx.Entry {
		resourceType, id, _ := strings.Cut(e.Request.URL, "/")
		if e.Request.Method != http.MethodPut || e.Resource["resourceType"] != resourceType || e.Resource["id"] != id {
			rs.t.Errorf("record service: entry %s %s does not update its resource %v/%v", e.Request.Method, e.Request.URL, e.Resource["resourceType"], e.Resource["id"])
		}
		status := "201 Created"
		if _, ok := rs.store[e.Request.URL]; ok {
			status = "200 OK"
		}
		rs.store[e.Request.URL] = e.Resource
		rs.writes[e.Request.URL]++
		responses = append(responses, map[string]any{"response": map[string]any{"status": status}})
	}
	rs.transactions++
	w.Header().Set("Content-Type", "application/fhir+json")
	_ = json.NewEncoder(w).Encode(map[string]any{"resourceType": "Bundle", "type": "transaction-response", "entry": responses})
}

// fakeClock is a clock whose sleeps take no time: each moves it on.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
	// onSleep, when set, runs at every sleep.
	onSleep func(d time.Duration)
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	onSleep := c.onSleep
	c.mu.Unlock()
	if onSleep != nil {
		onSleep(d)
	}
	return ctx.Err()
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sleeps)
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is a connector between a source and a record service, with its
// files in a temporary directory and a fake clock.
type harness struct {
	t       *testing.T
	source  *source
	records *recordService
	clock   *fakeClock
	logs    *syncBuffer
	dir     string
	opts    Options
	c       *Connector
}

func newHarness(t *testing.T, records []map[string]any) *harness {
	return newHarnessTLS(t, records, nil)
}

// newHarnessTLS is newHarness with the source's TLS set up by configure.
func newHarnessTLS(t *testing.T, records []map[string]any, configure func(*tls.Config)) *harness {
	h := &harness{
		t:       t,
		source:  newSource(t, records, configure),
		records: newRecordService(t),
		clock:   &fakeClock{now: t0.Add(time.Hour)},
		logs:    &syncBuffer{},
		dir:     t.TempDir(),
	}
	creds := filepath.Join(h.dir, "credentials")
	h.writeFile(filepath.Join(creds, fileClientID), testClientID+"\n")
	h.writeFile(filepath.Join(creds, fileClientSecret), testClientSecret+"\n")
	h.writeFile(filepath.Join(creds, fileCA), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: h.source.server.Certificate().Raw})))
	h.writeConfig(testCategories)
	h.opts = Options{
		ConfigPath:     filepath.Join(h.dir, "config.json"),
		CredentialsDir: creds,
		StatePath:      filepath.Join(h.dir, "state", "state.json"),
		PageSize:       2,
		RequestTimeout: 5 * time.Second,
		Retry:          RetryPolicy{Attempts: 3, BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond, MaxRetryAfter: time.Minute},
		Breaker:        BreakerPolicy{Failures: 5, Cooldown: time.Minute},
		Logger:         slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Clock:          h.clock,
	}
	h.restart()
	return h
}

// restart replaces the connector with a new one on the same files, as a
// new pod would be.
func (h *harness) restart() {
	c, err := New(h.opts)
	if err != nil {
		h.t.Fatalf("New: %v", err)
	}
	h.c = c
}

func (h *harness) writeFile(path, content string) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) writeConfig(categories []string) {
	cfg := Config{
		ODSCode: testODS, Region: "tvs", Kind: KindFHIR, Endpoint: h.source.endpoint(), Mode: ModePull,
		Schedule: "15m", RecordService: h.records.base(), Categories: categories,
	}
	data, _ := json.Marshal(cfg)
	h.writeFile(filepath.Join(h.dir, "config.json"), string(data))
}

// cycle runs one cycle and fails the test on error.
func (h *harness) cycle() {
	h.t.Helper()
	if err := h.c.RunCycle(context.Background()); err != nil {
		h.t.Fatalf("RunCycle: %v", err)
	}
}

// get serves a request from the connector's status handler.
func (h *harness) get(path string) (int, string) {
	rec := httptest.NewRecorder()
	h.c.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

// metric is the value of a sample in /metrics, 0 when absent.
func (h *harness) metric(name string, labels ...string) float64 {
	h.t.Helper()
	_, body := h.get("/metrics")
	want := name
	if len(labels) > 0 {
		var pairs []string
		for i := 0; i+1 < len(labels); i += 2 {
			pairs = append(pairs, fmt.Sprintf("%s=%q", labels[i], labels[i+1]))
		}
		want += "{" + strings.Join(pairs, ",") + "}"
	}
	for _, line := range strings.Split(body, "\n") {
		if value, ok := strings.CutPrefix(line, want+" "); ok {
			f, err := strconv.ParseFloat(value, 64)
			if err != nil {
				h.t.Fatalf("metric %s: %v", want, err)
			}
			return f
		}
	}
	return 0
}

// state is the watermark of a feed in the state file.
func (h *harness) state(key string) feedState {
	h.t.Helper()
	data, err := os.ReadFile(h.opts.StatePath)
	if err != nil {
		h.t.Fatal(err)
	}
	var s stateFile
	if err := json.Unmarshal(data, &s); err != nil {
		h.t.Fatal(err)
	}
	return s.Feeds[key]
}

// assertWrittenOnce fails unless every key was written exactly once.
func (h *harness) assertWrittenOnce(keys ...string) {
	h.t.Helper()
	for _, k := range keys {
		if n := h.records.writeCount(k); n != 1 {
			h.t.Errorf("%s written %d times, want once", k, n)
		}
	}
}

// assertNoSecretsLogged fails if the client secret or the token is in the logs.
func (h *harness) assertNoSecretsLogged() {
	h.t.Helper()
	logs := h.logs.String()
	for _, secret := range []string{testClientSecret, testToken} {
		if strings.Contains(logs, secret) {
			h.t.Errorf("the logs hold a secret:\n%s", logs)
		}
	}
}

func mustURL(t testing.TB, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
