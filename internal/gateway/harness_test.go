/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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
	"sync/atomic"
	"testing"
	"time"

	"github.com/shcr-io/shcr-operator/internal/gateway/identity"
	"github.com/shcr-io/shcr-operator/internal/policy"
	"github.com/shcr-io/shcr-operator/test/fixtures"
)

// setup is how a test harness starts.
type setup struct {
	// input is compiled into the bundle; nil starts without one.
	input *policy.Input
	// records are the record service's.
	records []record
	// objections, when not nil, is written to a register file.
	objections *string
	// audit replaces the audit log.
	audit io.Writer
	// watch polls for reloads every few milliseconds.
	watch bool
	// identity changes the identity configuration.
	identity func(*identity.Config)
	// decisionAPI says who may use the decision API.
	decisionAPI DecisionAPIConfig
	// config changes the rest of the gateway's configuration.
	config func(*Config)
}

// harness is a gateway in front of a record service, over real HTTP, with
// its bundle, JWKS and objection register in files.
type harness struct {
	t          testing.TB
	gateway    *Gateway
	server     *httptest.Server
	records    *recordService
	audit      *auditLog
	logs       *testLogWriter
	bundleDir  string
	jwksFile   string
	objections string
}

func newHarness(t testing.TB, changes ...func(*setup)) *harness {
	t.Helper()
	input := testInput()
	register := fixtureRegister()
	s := setup{input: &input, records: fixtureRecords(), objections: &register}
	for _, change := range changes {
		change(&s)
	}
	dir := t.TempDir()
	h := &harness{
		t:         t,
		records:   newRecordService(t, s.records),
		audit:     &auditLog{},
		logs:      &testLogWriter{t: t},
		bundleDir: filepath.Join(dir, "bundle"),
		jwksFile:  filepath.Join(dir, "jwks.json"),
	}
	if s.input != nil {
		h.writeBundle(*s.input)
	} else {
		h.writeBundleFiles(nil)
	}
	writeFile(t, h.jwksFile, jwks())
	if s.objections != nil {
		h.objections = filepath.Join(dir, "objections.txt")
		writeFile(t, h.objections, []byte(*s.objections))
	}
	var audit io.Writer = h.audit
	if s.audit != nil {
		audit = s.audit
	}
	upstream, err := url.Parse(h.records.base())
	if err != nil {
		t.Fatal(err)
	}
	id := identity.Config{
		Issuer: testIssuer, Audience: testAudience, JWKSFile: h.jwksFile,
		ClockSkew: 5 * time.Second, Claims: identity.DefaultClaimMapping(),
	}
	if s.identity != nil {
		s.identity(&id)
	}
	// The gateway's external URL is the test server's own, so that links
	// can be followed; the server starts once the gateway is built.
	server := httptest.NewUnstartedServer(nil)
	external := &url.URL{Scheme: "http", Host: server.Listener.Addr().String(), Path: "/"}
	cfg := Config{
		Region:          testRegion,
		BundleDir:       h.bundleDir,
		Upstream:        upstream,
		UpstreamTimeout: 10 * time.Second,
		Identity:        id,
		ObjectionsFile:  h.objections,
		DecisionAPI:     s.decisionAPI,
		Audit:           audit,
		ReloadInterval:  5 * time.Millisecond,
		Logger:          slog.New(slog.NewTextHandler(h.logs, nil)),
		ExternalURL:     external,
	}
	if s.config != nil {
		s.config(&cfg)
	}
	gw, err := New(context.Background(), cfg)
	if err != nil {
		server.Close()
		t.Fatal(err)
	}
	h.gateway = gw
	server.Config.Handler = gw.Handler()
	server.Start()
	h.server = server
	t.Cleanup(h.server.Close)
	if s.watch {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { gw.Watch(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	return h
}

// without starts the harness without a policy bundle.
func withoutBundle(s *setup) { s.input = nil }

// withDecisionAPI opens the decision API to clinical practitioners (R8000)
// and to tokens for decisionAudience.
func withDecisionAPI(s *setup) {
	s.decisionAPI = DecisionAPIConfig{Roles: []string{"R8000"}, Audience: decisionAudience}
}

// decisionAudience is the aud that grants the decision API in tests.
const decisionAudience = "shcr-tvs-decision-client"

// withWatch makes the gateway poll for reloads.
func withWatch(s *setup) { s.watch = true }

// writeBundle compiles input and stores it as the operator does.
func (h *harness) writeBundle(input policy.Input) {
	h.t.Helper()
	encoded, err := policy.Compile(input).Encode()
	if err != nil {
		h.t.Fatal(err)
	}
	stored, err := policy.Store(encoded)
	if err != nil {
		h.t.Fatal(err)
	}
	h.writeBundleFiles(map[string][]byte{stored.Name: stored.Data})
}

// writeBundleFiles updates the bundle directory as the kubelet updates a
// mounted ConfigMap: the files go into a new timestamped directory, the
// ..data symlink is swapped to it atomically, and each file is a symlink
// through ..data. Files no longer present lose their symlink.
func (h *harness) writeBundleFiles(files map[string][]byte) {
	h.t.Helper()
	if err := os.MkdirAll(h.bundleDir, 0o755); err != nil {
		h.t.Fatal(err)
	}
	version := filepath.Join(h.bundleDir, ".."+strconv.FormatInt(time.Now().UnixNano(), 10))
	if err := os.Mkdir(version, 0o755); err != nil {
		h.t.Fatal(err)
	}
	for name, data := range files {
		writeFile(h.t, filepath.Join(version, name), data)
	}
	tmp := filepath.Join(h.bundleDir, "..data_tmp")
	must(h.t, os.Symlink(filepath.Base(version), tmp))
	must(h.t, os.Rename(tmp, filepath.Join(h.bundleDir, "..data")))
	for _, name := range []string{policy.FileJSON, policy.FileGzip} {
		link := filepath.Join(h.bundleDir, name)
		_, present := files[name]
		_, err := os.Lstat(link)
		switch {
		case present && err != nil:
			must(h.t, os.Symlink(filepath.Join("..data", name), link))
		case !present && err == nil:
			must(h.t, os.Remove(link))
		}
	}
}

// revision is the bundle revision in force, or empty.
func (h *harness) revision() string {
	if p := h.gateway.policy.Load(); p != nil {
		return p.revision
	}
	return ""
}

// eventually waits until cond holds.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	fixtures.WaitFor(h.t, what, 5*time.Second, func() (bool, string) { return cond(), "not yet" })
}

// response is a gateway answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (h *harness) do(t testing.TB, method, path, token string, body io.Reader, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, h.server.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := h.server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck // test
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

func (h *harness) get(t testing.TB, path, token string) response {
	t.Helper()
	return h.do(t, http.MethodGet, path, token, nil, nil)
}

// status is the status of a GET, or 0 when it failed; it is safe to call
// from any goroutine.
func (h *harness) status(path, token string) int {
	req, err := http.NewRequest(http.MethodGet, h.server.URL+path, nil)
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := h.server.Client().Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// outcome decodes an OperationOutcome answer.
func (r response) outcome(t testing.TB) outcomeIssue {
	t.Helper()
	var oo operationOutcome
	if err := json.Unmarshal(r.body, &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) != 1 {
		t.Fatalf("want an OperationOutcome with one issue, got %s", r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, ContentTypeFHIR) {
		t.Errorf("Content-Type = %q, want %s", ct, ContentTypeFHIR)
	}
	return oo.Issue[0]
}

// bundle decodes a Bundle answer with its entries' resources.
func (r response) bundle(t testing.TB) (map[string]json.RawMessage, []string) {
	t.Helper()
	var b map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("want a Bundle, got %s", r.body)
	}
	var entries []struct {
		Resource fhirResource `json:"resource"`
	}
	if raw, ok := b["entry"]; ok {
		if err := json.Unmarshal(raw, &entries); err != nil {
			t.Fatal(err)
		}
	}
	keys := []string{}
	for _, e := range entries {
		keys = append(keys, e.Resource.ResourceType+"/"+e.Resource.ID)
	}
	return b, keys
}

// auditLog collects the audit events a gateway writes. take gives the
// decisions (on resources and through the decision API); the query events
// of searches and the events of refused requests are kept apart, for
// queries and refusals.
type auditLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
	// raw is every line written, for checks that text never appears.
	raw bytes.Buffer
	// queryEvents and refusalEvents are taken from buf but not yet given.
	queryEvents, refusalEvents []auditEvent
}

func (a *auditLog) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.raw.Write(p)
	return a.buf.Write(p)
}

// take returns the decision events written since the last take.
func (a *auditLog) take(t testing.TB) []auditEvent {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.parse(t)
}

// queries returns the query events (BALP PatientQuery) written since the
// last call.
func (a *auditLog) queries(t testing.TB) []auditEvent {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.parse(t)
	events := a.queryEvents
	a.queryEvents = nil
	return events
}

// refusals returns the events of refused requests written since the last
// call.
func (a *auditLog) refusals(t testing.TB) []auditEvent {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.parse(t)
	events := a.refusalEvents
	a.refusalEvents = nil
	return events
}

// rawText is every line written so far.
func (a *auditLog) rawText() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.raw.String()
}

// parse reads the lines in buf, keeps queries and refusals aside and
// returns the decisions.
func (a *auditLog) parse(t testing.TB) []auditEvent {
	t.Helper()
	data := bytes.Clone(a.buf.Bytes())
	a.buf.Reset()
	var events []auditEvent
	scanner := bufio.NewScanner(bytes.NewReader(data))
	scanner.Buffer(nil, 1<<20)
	for scanner.Scan() {
		var e auditEvent
		if err := json.Unmarshal(scanner.Bytes(), &e); err != nil {
			t.Fatalf("audit line is not an AuditEvent: %v: %s", err, scanner.Bytes())
		}
		switch {
		case isRefusal(e):
			a.refusalEvents = append(a.refusalEvents, e)
		case isQuery(e):
			a.queryEvents = append(a.queryEvents, e)
		default:
			events = append(events, e)
		}
	}
	return events
}

// isRefusal reports whether an event records a refused request.
func isRefusal(e auditEvent) bool {
	return slices.Contains(e.Subtype, subtypeRefused)
}

// isQuery reports whether an event records a search, search page or
// history as asked.
func isQuery(e auditEvent) bool {
	return e.Type == eventRestful && len(e.Subtype) == 1 && e.Subtype[0].System == systemRestfulInteraction
}

// failingWriter fails every write after the first n.
type failingWriter struct{ left atomic.Int32 }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.left.Add(-1) < 0 {
		return 0, os.ErrClosed
	}
	return len(p), nil
}

// testLogWriter keeps the gateway's logs and sends them to the test log.
type testLogWriter struct {
	t   testing.TB
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf.Write(p)
	w.mu.Unlock()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (w *testLogWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	must(t, os.WriteFile(path, data, 0o644))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
