/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/shcr-io/shcr-operator/internal/auditlog"
	"github.com/shcr-io/shcr-operator/internal/gateway"
	"github.com/shcr-io/shcr-operator/internal/gateway/identity"
	"github.com/shcr-io/shcr-operator/internal/policy"
	"github.com/shcr-io/shcr-operator/test/fixtures"
)

// operatorArgs are the flags internal/specs.GatewayDeployment passes.
var operatorArgs = []string{
	"--listen=:8080",
	"--bundle-dir=/etc/shcr/bundle",
	"--upstream=http://record-service.shcr-tvs.svc:8080/fhir",
	"--external-url=http://record-gateway.shcr-tvs.svc:8080/",
	"--region=tvs",
	"--audit-sink=Stdout",
}

func TestParseFlags(t *testing.T) {
	identityArgs := []string{"--issuer=https://idp.example", "--audience=gw", "--jwks-url=https://idp.example/jwks"}
	opts, err := parseFlags(append(operatorArgs, identityArgs...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg := opts.gateway
	if opts.listen != ":8080" || cfg.BundleDir != "/etc/shcr/bundle" || cfg.Region != "tvs" || opts.auditSink != "Stdout" ||
		cfg.Upstream.String() != "http://record-service.shcr-tvs.svc:8080/fhir" || cfg.ExternalURL.String() != "http://record-gateway.shcr-tvs.svc:8080/" ||
		cfg.MaxPageSize != gateway.DefaultMaxPageSize {
		t.Errorf("operator flags not applied: %+v", opts)
	}
	if cfg.Identity.Claims != identity.DefaultClaimMapping() || cfg.Identity.JWKSRefresh != 5*time.Minute || cfg.ReloadInterval != time.Second {
		t.Errorf("defaults not applied: %+v", cfg.Identity)
	}

	opts, err = parseFlags(append(identityArgs, "--upstream=http://u/fhir", "--external-url=https://gw.example/", "--region=tvs", "--claim-organisation=ods", "--claim-role=role", "--max-page-size=200"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c := opts.gateway.Identity.Claims; c.Organisation != "ods" || c.Role != "role" || c.Subject != "sub" {
		t.Errorf("claim flags not applied: %+v", c)
	}
	if opts.gateway.MaxPageSize != 200 {
		t.Errorf("--max-page-size not applied: %d", opts.gateway.MaxPageSize)
	}

	opts, err = parseFlags(append(identityArgs, "--upstream=http://u/fhir", "--external-url=http://g/", "--decision-api-roles=R8000,R8001", "--decision-api-audience=pep"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if d := opts.gateway.DecisionAPI; !slices.Equal(d.Roles, []string{"R8000", "R8001"}) || d.Audience != "pep" {
		t.Errorf("decision API flags not applied: %+v", d)
	}
	if closed, _ := parseFlags(append(operatorArgs, identityArgs...), io.Discard); len(closed.gateway.DecisionAPI.Roles) != 0 ||
		closed.gateway.DecisionAPI.Audience != "" {
		t.Errorf("the decision API must be closed by default: %+v", closed.gateway.DecisionAPI)
	}

	for args, want := range map[string]string{
		"--region=tvs":        "--upstream is required",
		"--upstream=http://u": "--external-url is required",
		"--upstream=http://u --external-url=http://g/ --max-page-size=0":         "--max-page-size must be from 1",
		"--upstream=http://u --external-url=http://g/ --audit-sink=Kafka":        "--audit-sink must be Stdout or File",
		"--upstream=http://u --external-url=http://g/ --audit-retention-days=-1": "--audit-retention-days must be 0",
		"--upstream=http://u --nonsense":                                         "flag provided but not defined",
		"--upstream=http://u extra":                                              "unexpected arguments",
	} {
		if _, err := parseFlags(strings.Fields(args), io.Discard); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseFlags(%s) = %v, want %q", args, err, want)
		}
	}
}

// TestRunRefusesInvalidConfiguration names every setting to fix. Missing
// identity settings are not among them: the gateway then starts and
// refuses every token.
func TestRunRefusesInvalidConfiguration(t *testing.T) {
	err := run(context.Background(), []string{"--listen=127.0.0.1:0", "--upstream=ftp://u/fhir", "--external-url=ftp://g/",
		"--max-page-size=5000", "--jwks-file=/keys.json", "--jwks-url=https://idp.example/keys", "--claim-subject=", "--decision-api-roles=R8000,clinician"},
		io.Discard, io.Discard)
	for _, want := range []string{"--region", "--upstream", "--external-url", "--max-page-size", "--jwks-file or --jwks-url, not both", "--claim-subject", `"clinician"`, "--decision-api-roles"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}

// TestServe starts the gateway as the operator deploys it, serves a read,
// writes the audit event to the audit file, and drains on cancellation
// while a request is in flight.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	writeJSON(t, filepath.Join(dir, "jwks.json"), jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1"}}})
	must(t, os.Mkdir(filepath.Join(dir, "bundle"), 0o755))
	writeJSON(t, filepath.Join(dir, "bundle", policy.FileJSON), policy.Compile(policy.Input{Region: "tvs"}))

	arrived, release := make(chan struct{}, 1), make(chan struct{})
	var once sync.Once
	records := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fhir/Practitioner/slow" {
			arrived <- struct{}{}
			<-release
		}
		w.Header().Set("Content-Type", gateway.ContentTypeFHIR)
		_, _ = io.WriteString(w, `{"resourceType":"Practitioner","id":"slow","meta":{"tag":[{"system":"`+gateway.SystemODS+`","code":"RR8"}]}}`)
	}))
	defer records.Close()
	defer once.Do(func() { close(release) })

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	opts, err := parseFlags([]string{
		"--upstream=" + records.URL + "/fhir", "--external-url=http://" + listener.Addr().String() + "/", "--region=tvs", "--bundle-dir=" + filepath.Join(dir, "bundle"),
		"--issuer=https://idp.example", "--audience=gw", "--jwks-file=" + filepath.Join(dir, "jwks.json"),
		"--audit-sink=File", "--audit-dir=" + filepath.Join(dir, "audit"), "--audit-retention-days=180",
		"--shutdown-delay=0s", "--shutdown-timeout=5s",
	}, io.Discard)
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serve(ctx, opts, listener, io.Discard, io.Discard) }()

	base := "http://" + listener.Addr().String()
	waitReady(t, base)
	token := signES256(t, key)
	refused := checkServedErrors(t, base, token)
	inFlight := make(chan int, 1)
	go func() { inFlight <- get(t, base+"/Practitioner/slow", token) }()
	<-arrived
	cancel()
	fixtures.WaitFor(t, "the gateway draining", 5*time.Second, func() (bool, string) {
		got := get(t, base+"/readyz", "")
		return got != http.StatusOK, fmt.Sprintf("readyz %d", got)
	})
	once.Do(func() { close(release) })
	if status := <-inFlight; status != http.StatusForbidden {
		t.Errorf("the request in flight answered %d, want 403 (the empty bundle grants nothing)", status)
	}
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "audit", "audit-*.jsonl"))
	must(t, err)
	if len(files) != 1 {
		t.Fatalf("audit files %v, want one", files)
	}
	audit, err := os.ReadFile(files[0])
	must(t, err)
	if !strings.Contains(string(audit), `"resourceType":"AuditEvent"`) || strings.Contains(string(audit), token) {
		t.Errorf("audit file = %s", audit)
	}
	report, err := auditlog.Verify([]string{filepath.Join(dir, "audit")})
	must(t, err)
	// One event for the read, and one for each refused request.
	if !report.OK() || !report.Closed || report.Events != 1+refused {
		t.Errorf("the audit log written through the gateway: %+v, want %d events in a verified, closed log", report, 1+refused)
	}
}

// checkServedErrors checks, on the server as cmd/gateway configures it,
// that what the HTTP server itself would answer in plain text or HTML (an
// oversized header, a path it would clean and redirect, a method its mux
// would refuse) gets an OperationOutcome from the gateway.
func checkServedErrors(t *testing.T, base, token string) (refused int) {
	t.Helper()
	cases := []struct {
		method, path string
		header       http.Header
		status       int
	}{
		{"GET", "/Practitioner/p1", http.Header{"X-Big": {strings.Repeat("a", 40<<10)}}, http.StatusRequestHeaderFieldsTooLarge},
		{"GET", "/Practitioner/p1", http.Header{"X-Big": {strings.Repeat("a", 900<<10)}}, http.StatusRequestHeaderFieldsTooLarge},
		// Over the HTTP server's own limit: refused by net/http before any
		// handler, rewritten to an OperationOutcome by WrapListener.
		{"GET", "/Practitioner/p1", http.Header{"X-Big": {strings.Repeat("a", 2<<20)}}, http.StatusRequestHeaderFieldsTooLarge},
		// Refused as non-canonical, before any routing could read them
		// another way (the OperationOutcome says so).
		{"GET", "//Practitioner/p1", nil, http.StatusBadRequest},
		{"GET", "/./Practitioner/p1", nil, http.StatusBadRequest},
		{"GET", "/Practitioner/../metadata", nil, http.StatusBadRequest},
		{"GET", "/Practitioner/p1/", nil, http.StatusBadRequest},
		{"GET", "/Practitioner%2Fp1", nil, http.StatusBadRequest},
		{"GET", "/Practitioner//p1", nil, http.StatusBadRequest},
		{"GET", "/metadata/", nil, http.StatusBadRequest},
		{"GET", "/Practitioner/p1%20", nil, http.StatusBadRequest},
		{"POST", "/healthz", nil, http.StatusMethodNotAllowed},
		{"DELETE", "/metrics", nil, http.StatusMethodNotAllowed},
		{"GET", "/v1/decisions", nil, http.StatusMethodNotAllowed},
		{"GET", "/v1/other", nil, http.StatusNotFound},
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range cases {
		req, err := http.NewRequest(tc.method, base+tc.path, nil)
		must(t, err)
		for k, v := range tc.header {
			req.Header[k] = v
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		must(t, err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), gateway.ContentTypeFHIR) ||
			!strings.Contains(string(body), `"OperationOutcome"`) {
			t.Errorf("%s %s: %d %s %.200s, want %d with an OperationOutcome", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, tc.status)
		}
		if tc.status == http.StatusBadRequest && !strings.Contains(string(body), "not in canonical form") {
			t.Errorf("%s %s: %.200s, want it refused as not in canonical form", tc.method, tc.path, body)
		}
	}
	// A request the server cannot read at all (no Host header), sent as
	// raw bytes: the server's 400 comes back as an OperationOutcome too.
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	must(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "GET /metadata HTTP/1.1\r\n\r\n")
	must(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), gateway.ContentTypeFHIR) ||
		!strings.Contains(string(body), `"OperationOutcome"`) || !strings.Contains(string(body), "Host header") {
		t.Errorf("a request without Host: %d %s %.200s, want 400 with an OperationOutcome", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	return len(cases) + 1
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	fixtures.WaitFor(t, "the gateway ready", 5*time.Second, func() (bool, string) {
		got := get(t, base+"/readyz", "")
		return got == http.StatusOK, fmt.Sprintf("readyz %d", got)
	})
}

func get(t *testing.T, url, token string) int {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Error(err)
		return 0
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func signES256(t *testing.T, key *ecdsa.PrivateKey) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	must(t, err)
	now := time.Now()
	payload, err := json.Marshal(map[string]any{
		"iss": "https://idp.example", "aud": "gw", "sub": "u1", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
		"selected_roleid": "r1", "nhsid_nrbac_roles": []map[string]string{{"person_roleid": "r1", "org_code": "RR8", "role_code": "S8000:G8000:R8000"}},
		"purpose_of_use": "TREAT",
	})
	must(t, err)
	signed, err := signer.Sign(payload)
	must(t, err)
	token, err := signed.CompactSerialize()
	must(t, err)
	return token
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	must(t, err)
	must(t, os.WriteFile(path, data, 0o644))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestFileSinkSurvivesRestartsAndCrashes runs the gateway three times on
// one audit directory, as a StatefulSet replica restarts on its volume: a
// clean stop, then a crash that leaves half a line. Every run's events are
// kept and the whole trail verifies.
func TestFileSinkSurvivesRestartsAndCrashes(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	writeJSON(t, filepath.Join(dir, "jwks.json"), jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1"}}})
	must(t, os.Mkdir(filepath.Join(dir, "bundle"), 0o755))
	writeJSON(t, filepath.Join(dir, "bundle", policy.FileJSON), policy.Bundle{Version: policy.BundleVersion, Region: "tvs"})
	records := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", gateway.ContentTypeFHIR)
		_, _ = io.WriteString(w, `{"resourceType":"Practitioner","id":"p1","meta":{"tag":[{"system":"`+gateway.SystemODS+`","code":"RR8"}]}}`)
	}))
	defer records.Close()
	auditDir := filepath.Join(dir, "audit")

	var anchors []auditlog.Hash
	serveOnce := func() {
		var logs lockedBuffer
		defer func() { anchors = append(anchors, loggedHeads(t, logs.String())...) }()
		listener, err := net.Listen("tcp", "127.0.0.1:0")
		must(t, err)
		opts, err := parseFlags([]string{
			"--upstream=" + records.URL + "/fhir", "--external-url=http://" + listener.Addr().String() + "/", "--region=tvs", "--bundle-dir=" + filepath.Join(dir, "bundle"),
			"--issuer=https://idp.example", "--audience=gw", "--jwks-file=" + filepath.Join(dir, "jwks.json"),
			"--audit-sink=File", "--audit-dir=" + auditDir, "--audit-retention-days=180",
			"--shutdown-delay=0s", "--shutdown-timeout=5s",
		}, io.Discard)
		must(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- serve(ctx, opts, listener, io.Discard, &logs) }()
		base := "http://" + listener.Addr().String()
		waitReady(t, base)
		if status := get(t, base+"/Practitioner/p1", signES256(t, key)); status != http.StatusForbidden {
			t.Errorf("read answered %d, want 403 (the empty bundle grants nothing)", status)
		}
		cancel()
		must(t, <-served)
	}

	serveOnce()
	serveOnce()
	// A crash mid-write: the newest file ends in part of an event.
	files, err := filepath.Glob(filepath.Join(auditDir, "audit-*.jsonl"))
	must(t, err)
	f, err := os.OpenFile(files[len(files)-1], os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	_, err = f.WriteString(`{"resourceType":"AuditEvent","id":"half`)
	must(t, err)
	must(t, f.Close())
	serveOnce()

	// Each run logs its head when it starts and when it stops: anchors.
	if len(anchors) != 6 {
		t.Fatalf("%d heads logged, want 6 (start and stop of three runs)", len(anchors))
	}
	report, err := auditlog.Verify([]string{auditDir}, anchors...)
	must(t, err)
	if !report.OK() || !report.Closed || report.Events != 3 || report.Files != 2 || report.Head != anchors[5].String() {
		t.Errorf("after a restart and a crash: %+v, want 3 events in 2 files (a new one after the crash), verified, closed, ending at the last head logged", report)
	}
}

// lockedBuffer is a bytes.Buffer the gateway's goroutines may log to.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// loggedHeads are the audit log heads in the gateway's JSON log.
func loggedHeads(t *testing.T, logs string) []auditlog.Hash {
	t.Helper()
	var heads []auditlog.Hash
	for _, line := range strings.Split(logs, "\n") {
		var entry struct{ Msg, Head string }
		if json.Unmarshal([]byte(line), &entry) != nil || entry.Head == "" {
			continue
		}
		if entry.Msg != "Audit log head" && entry.Msg != "Audit log closed" {
			t.Errorf("a head logged as %q", entry.Msg)
		}
		h, err := auditlog.ParseHash(entry.Head)
		must(t, err)
		heads = append(heads, h)
	}
	return heads
}
