/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
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
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

const (
	pushIssuer   = "https://idp.region.example"
	pushAudience = "https://connector-rhw.shcr.example"
	pushClient   = "rhw-epr"
	pushKid      = "push-1"
	pushEndpoint = "https://epr.rhw.example/fhir"
)

// pushHarness runs NewFHIRPush as the connector binary does, over HTTPS
// on loopback, in front of a record service stand-in.
type pushHarness struct {
	t       testing.TB
	rt      *FHIRPushRuntime
	records *recordService
	base    string
	ca      *testCA
	dir     string
	key     *ecdsa.PrivateKey
	logs    *syncBuffer
	// client has the organisation's client certificate.
	client *http.Client
	// jwksURL, when set, is where the identity provider serves jwks.
	jwksURL string

	mu          sync.Mutex
	jwks        []byte
	jwksFetches int
}

// setKeys publishes the identity provider's keys, by kid, in the JWKS file
// and at the JWKS URL.
func (h *pushHarness) setKeys(keys map[string]*ecdsa.PrivateKey) {
	set := jose.JSONWebKeySet{}
	for kid, key := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &key.PublicKey, KeyID: kid, Use: "sig", Algorithm: string(jose.ES256)})
	}
	data, _ := json.Marshal(set)
	h.mu.Lock()
	h.jwks = data
	h.mu.Unlock()
	h.writeFiles(h.dir, map[string][]byte{"jwks.json": data})
}

// pushSetup says which credentials the Secret holds.
type pushSetup struct {
	mtls, oauth bool
	// jwksURL serves the keys at an HTTPS URL instead of a file.
	jwksURL bool
}

func startPush(t *testing.T, setup pushSetup, categories ...string) *pushHarness {
	t.Helper()
	h := &pushHarness{t: t, records: newRecordService(t), ca: newTestCA(t, "organisation CA"), dir: t.TempDir(), logs: &syncBuffer{}}
	var err error
	if h.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	creds := filepath.Join(h.dir, "credentials")
	serverCert, serverKey := h.ca.issue(t, "connector", true)
	files := map[string][]byte{fileTLSCert: serverCert, fileTLSKey: serverKey}
	if setup.mtls {
		files[fileCA] = h.ca.pem
	}
	if setup.oauth {
		files[fileClientID] = []byte(pushClient + "\n")
	}
	h.writeFiles(creds, files)
	h.setKeys(map[string]*ecdsa.PrivateKey{pushKid: h.key})
	var jwksClient *http.Client
	if setup.jwksURL {
		idp := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.jwksFetches++
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(h.jwks)
		}))
		t.Cleanup(idp.Close)
		h.jwksURL, jwksClient = idp.URL+"/jwks", idp.Client()
	}
	h.writeConfig(categories)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.rt, err = NewFHIRPush(FHIRPushOptions{ConfigPath: filepath.Join(h.dir, "config.json"), CredentialsDir: creds, Listener: l, JWKSClient: jwksClient,
		Tries: 2, RetryWait: time.Millisecond, Logger: slog.New(slog.NewJSONHandler(h.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.rt.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	h.base = "https://" + l.Addr().String()
	cert, key := h.ca.issue(t, "epr.rhw.example", false)
	h.client = h.httpClient(cert, key, h.ca.pem)
	return h
}

func (h *pushHarness) writeFiles(dir string, files map[string][]byte) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		h.t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			h.t.Fatal(err)
		}
	}
}

// writeConfig writes the configuration, and makes the runtime read it at
// its next request.
func (h *pushHarness) writeConfig(categories []string) {
	cfg := Config{ODSCode: testODS, Region: "tvs", Kind: KindFHIR, Mode: ModePush, Endpoint: pushEndpoint,
		RecordService: h.records.base(), Categories: categories,
		Push: &PushAuth{Issuer: pushIssuer, Audience: pushAudience, JWKSFile: filepath.Join(h.dir, "jwks.json")}}
	if h.jwksURL != "" {
		cfg.Push.JWKSFile, cfg.Push.JWKSURL = "", h.jwksURL
	}
	data, _ := json.Marshal(cfg)
	h.writeFiles(h.dir, map[string][]byte{"config.json": data})
	if h.rt != nil {
		h.rt.config.mu.Lock()
		h.rt.config.checked, h.rt.config.modTime = time.Time{}, time.Time{}
		h.rt.config.mu.Unlock()
	}
}

// httpClient trusts the organisation CA and presents cert, if any.
func (h *pushHarness) httpClient(cert, key, caPEM []byte) *http.Client {
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	cfg := &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if cert != nil {
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			h.t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 30 * time.Second}
}

// token signs claims with the identity provider's key.
func (h *pushHarness) token(claims map[string]any) string {
	return signToken(h.t, jose.ES256, h.key, pushKid, claims)
}

func signToken(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	token, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// goodClaims are those of a token issued to the organisation's client.
func goodClaims() map[string]any {
	now := time.Now()
	return map[string]any{"iss": pushIssuer, "aud": pushAudience, "sub": pushClient, "client_id": pushClient,
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(10 * time.Minute).Unix()}
}

// push sends body to path with the token, if any, and decodes the answer.
func (h *pushHarness) push(client *http.Client, method, path, token string, body any) (int, map[string]any) {
	h.t.Helper()
	data, _ := json.Marshal(body)
	req, err := http.NewRequest(method, h.base+path, bytes.NewReader(data))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, map[string]any{"error": err.Error()}
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		h.t.Fatalf("%s %s answered %d with a body that is not JSON: %s", method, path, resp.StatusCode, raw)
	}
	if out["resourceType"] != "Bundle" && out["resourceType"] != "OperationOutcome" {
		h.t.Fatalf("%s %s answered %d with a %v, not a Bundle or OperationOutcome", method, path, resp.StatusCode, out["resourceType"])
	}
	return resp.StatusCode, out
}

func transaction(kind string, entries ...map[string]any) map[string]any {
	list := make([]any, 0, len(entries))
	for _, e := range entries {
		list = append(list, e)
	}
	return map[string]any{"resourceType": "Bundle", "type": kind, "entry": list}
}

func put(r map[string]any) map[string]any {
	return map[string]any{"resource": r, "request": map[string]any{"method": "PUT", "url": fmt.Sprintf("%s/%s", r["resourceType"], r["id"])}}
}

func post(r map[string]any) map[string]any {
	return map[string]any{"resource": r, "request": map[string]any{"method": "POST", "url": r["resourceType"]}}
}

func patient(id string) map[string]any {
	return map[string]any{"resourceType": "Patient", "id": id,
		"meta":       map[string]any{"versionId": "7", "lastUpdated": "2026-03-01T10:00:00Z", "tag": []any{map[string]any{"system": SystemODS, "code": "EVIL"}}},
		"identifier": []any{map[string]any{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}}}
}

func observation(id, patientID string) map[string]any {
	return map[string]any{"resourceType": "Observation", "id": id, "status": "final",
		"subject": map[string]any{"reference": "Patient/" + patientID}}
}

// entryStatuses are the response statuses of a response Bundle, and its
// outcomes' codes.
func entryStatuses(t *testing.T, b map[string]any) (statuses, codes []string) {
	t.Helper()
	entries, _ := b["entry"].([]any)
	for _, e := range entries {
		resp, _ := e.(map[string]any)["response"].(map[string]any)
		status, _ := resp["status"].(string)
		statuses = append(statuses, status)
		code := ""
		if oo, ok := resp["outcome"].(map[string]any); ok {
			if oo["resourceType"] != "OperationOutcome" {
				t.Errorf("an entry's outcome is a %v", oo["resourceType"])
			}
			code, _ = oo["issue"].([]any)[0].(map[string]any)["code"].(string)
		}
		codes = append(codes, code)
	}
	return statuses, codes
}

func TestFHIRPushStoresInScopeEntriesWithProvenance(t *testing.T) {
	h := startPush(t, pushSetup{mtls: true, oauth: true}, policy.CategoryDemographics, policy.CategoryTestResults)
	code, b := h.push(h.client, http.MethodPost, "/", h.token(goodClaims()),
		transaction("transaction", put(patient("p1")), post(observation("o1", "p1"))))
	if code != http.StatusOK || b["type"] != "transaction-response" {
		t.Fatalf("answer %d %v, want 200 and a transaction-response", code, b)
	}
	statuses, _ := entryStatuses(t, b)
	if !slices.Equal(statuses, []string{"201 Created", "201 Created"}) {
		t.Errorf("statuses %v, want both created", statuses)
	}
	if got := h.records.keys(); !slices.Equal(got, []string{"Observation/RHW-o1", "Patient/RHW-p1"}) {
		t.Fatalf("record service holds %v", got)
	}
	p := h.records.get("Patient/RHW-p1")
	meta := p["meta"].(map[string]any)
	if meta["source"] != pushEndpoint || meta["versionId"] != nil || meta["lastUpdated"] != nil {
		t.Errorf("meta %v: want source %s and no version or lastUpdated from the sender", meta, pushEndpoint)
	}
	tags, _ := json.Marshal(meta["tag"])
	if !strings.Contains(string(tags), `"code":"RHW"`) || strings.Contains(string(tags), "EVIL") ||
		!strings.Contains(string(tags), `"code":"Patient/p1"`) {
		t.Errorf("tags %s: want exactly the organisation's ODS tag and the source resource", tags)
	}
	if ref := h.records.get("Observation/RHW-o1")["subject"].(map[string]any)["reference"]; ref != "Patient/RHW-p1" {
		t.Errorf("subject reference %v, want the patient's record id", ref)
	}

	// One resource, PUT and POST.
	code, oo := h.push(h.client, http.MethodPut, "/Observation/o2", h.token(goodClaims()), observation("o2", "p1"))
	if code != http.StatusCreated || oo["resourceType"] != "OperationOutcome" {
		t.Errorf("PUT Observation/o2 = %d %v, want 201", code, oo)
	}
	code, _ = h.push(h.client, http.MethodPost, "/Patient", h.token(goodClaims()), patient("p1"))
	if code != http.StatusOK {
		t.Errorf("POST Patient again = %d, want 200 (updated)", code)
	}
	code, oo = h.push(h.client, http.MethodPost, "/MedicationRequest", h.token(goodClaims()), map[string]any{"resourceType": "MedicationRequest", "id": "m1"})
	if code != http.StatusForbidden || oo["resourceType"] != "OperationOutcome" {
		t.Errorf("POST MedicationRequest out of scope = %d %v, want 403 OperationOutcome", code, oo)
	}
	if h.records.get("MedicationRequest/RHW-m1") != nil {
		t.Error("an out-of-scope resource was stored")
	}
	if strings.Contains(h.logs.String(), "9434765919") {
		t.Error("an NHS number reached the logs")
	}

	// References by fullUrl (urn:uuid) to another entry point at its record.
	withFullURL := func(e map[string]any, fullURL string) map[string]any {
		e["fullUrl"] = fullURL
		return e
	}
	o3 := observation("o3", "ignored")
	o3["subject"] = map[string]any{"reference": "urn:uuid:7d1c0b4e-2f0a-4f57-9a43-0b1f5d0e8c11"}
	o3["hasMember"] = []any{map[string]any{"reference": "urn:uuid:unknown"}}
	code, _ = h.push(h.client, http.MethodPost, "/", h.token(goodClaims()), transaction("transaction",
		withFullURL(post(patient("p3")), "urn:uuid:7d1c0b4e-2f0a-4f57-9a43-0b1f5d0e8c11"), post(o3)))
	stored := h.records.get("Observation/RHW-o3")
	if code != http.StatusOK || stored == nil {
		t.Fatalf("transaction with fullUrls: %d", code)
	}
	if ref := stored["subject"].(map[string]any)["reference"]; ref != "Patient/RHW-p3" {
		t.Errorf("a reference by fullUrl became %v, want the patient's record id", ref)
	}
	if ref := stored["hasMember"].([]any)[0].(map[string]any)["reference"]; ref != "urn:uuid:unknown" {
		t.Errorf("a urn: reference to no entry became %v, want it kept", ref)
	}
}

// Every entry is answered on its own: the in-scope ones are stored in one
// transaction, each other one is refused with an OperationOutcome that
// says why, and is not stored.
func TestFHIRPushRefusesEachOutOfScopeOrInvalidEntry(t *testing.T) {
	h := startPush(t, pushSetup{mtls: true}, policy.CategoryDemographics, policy.CategoryTestResults, policy.CategoryAppointments)
	encounter := func(id, class string) map[string]any {
		return map[string]any{"resourceType": "Encounter", "id": id, "status": "finished", "class": map[string]any{"code": class}}
	}
	cases := []struct {
		name   string
		entry  map[string]any
		status string
		code   string
		stored string
	}{
		{"in scope", put(patient("p1")), "201 Created", "", "Patient/RHW-p1"},
		{"ambulatory encounter in scope", put(encounter("e1", "AMB")), "201 Created", "", "Encounter/RHW-e1"},
		{"category not provided", put(map[string]any{"resourceType": "MedicationRequest", "id": "m1"}), "403 Forbidden", "forbidden", ""},
		{"inpatient encounter not provided", put(encounter("e2", "IMP")), "403 Forbidden", "forbidden", ""},
		{"emergency encounter has no category", put(encounter("e3", "EMER")), "403 Forbidden", "forbidden", ""},
		{"encounter without class", put(map[string]any{"resourceType": "Encounter", "id": "e4"}), "403 Forbidden", "forbidden", ""},
		{"governance type", put(map[string]any{"resourceType": "AuditEvent", "id": "a1"}), "403 Forbidden", "forbidden", ""},
		{"provenance type", put(map[string]any{"resourceType": "Provenance", "id": "v1"}), "403 Forbidden", "forbidden", ""},
		{"nested bundle", put(map[string]any{"resourceType": "Bundle", "id": "b1"}), "403 Forbidden", "forbidden", ""},
		{"unknown type", put(map[string]any{"resourceType": "Patientx", "id": "x1"}), "400 Bad Request", "invalid", ""},
		{"no id", post(map[string]any{"resourceType": "Observation", "status": "final"}), "400 Bad Request", "required", ""},
		{"invalid id", post(map[string]any{"resourceType": "Observation", "id": "a/b"}), "400 Bad Request", "required", ""},
		{"PUT to another id", map[string]any{"resource": observation("o5", "p1"), "request": map[string]any{"method": "PUT", "url": "Observation/o6"}}, "400 Bad Request", "invalid", ""},
		{"PUT to another type", map[string]any{"resource": observation("o7", "p1"), "request": map[string]any{"method": "PUT", "url": "Patient/o7"}}, "400 Bad Request", "invalid", ""},
		{"POST to another type", map[string]any{"resource": observation("o8", "p1"), "request": map[string]any{"method": "POST", "url": "Patient"}}, "400 Bad Request", "invalid", ""},
		{"DELETE", map[string]any{"request": map[string]any{"method": "DELETE", "url": "Patient/p1"}}, "400 Bad Request", "invalid", ""},
		{"GET", map[string]any{"resource": patient("p9"), "request": map[string]any{"method": "GET", "url": "Patient/p9"}}, "400 Bad Request", "not-supported", ""},
		{"no resource", map[string]any{"request": map[string]any{"method": "PUT", "url": "Patient/p8"}}, "400 Bad Request", "invalid", ""},
		{"resource not an object", map[string]any{"resource": "Patient", "request": map[string]any{"method": "PUT", "url": "Patient/p8"}}, "400 Bad Request", "invalid", ""},
		{"meta not an object", put(map[string]any{"resourceType": "Observation", "id": "o9", "meta": "x"}), "400 Bad Request", "invalid", ""},
		{"duplicate of an earlier entry", put(patient("p1")), "400 Bad Request", "invalid", ""},
	}
	for _, kind := range []string{"transaction", "batch"} {
		t.Run(kind, func(t *testing.T) {
			entries := make([]map[string]any, 0, len(cases))
			for _, c := range cases {
				entries = append(entries, c.entry)
			}
			code, b := h.push(h.client, http.MethodPost, "/", "", transaction(kind, entries...))
			if code != http.StatusOK || b["type"] != kind+"-response" {
				t.Fatalf("answer %d %v", code, b)
			}
			statuses, codes := entryStatuses(t, b)
			if len(statuses) != len(cases) {
				t.Fatalf("%d entries answered for %d", len(statuses), len(cases))
			}
			for i, c := range cases {
				want := c.status
				if kind == "batch" && want == "201 Created" {
					want = "200 OK" // stored by the transaction case already
				}
				if statuses[i] != want || codes[i] != c.code {
					t.Errorf("%s: status %q code %q, want %q %q", c.name, statuses[i], codes[i], want, c.code)
				}
			}
		})
	}
	if got := h.records.keys(); !slices.Equal(got, []string{"Encounter/RHW-e1", "Patient/RHW-p1"}) {
		t.Errorf("record service holds %v, want only the in-scope entries", got)
	}
	if n := h.records.writeCount("Patient/RHW-p1"); n != 2 {
		t.Errorf("Patient/RHW-p1 written %d times, want once per Bundle (the duplicate entry refused)", n)
	}
	st := h.rt.Stats()
	if st.Refused[ReasonCategoryNotProvided] == 0 || st.Refused[ReasonNoCategory] == 0 || st.Refused[ReasonInvalidEntry] == 0 {
		t.Errorf("refusals not counted by reason: %v", st.Refused)
	}
}

// Narrowing the configuration's categories applies from the next request.
func TestFHIRPushNarrowedScopeAppliesAtOnce(t *testing.T) {
	h := startPush(t, pushSetup{mtls: true}, policy.CategoryDemographics, policy.CategoryTestResults)
	if code, _ := h.push(h.client, http.MethodPut, "/Observation/o1", "", observation("o1", "p1")); code != http.StatusCreated {
		t.Fatalf("in scope: %d", code)
	}
	h.writeConfig([]string{policy.CategoryDemographics})
	if code, _ := h.push(h.client, http.MethodPut, "/Observation/o2", "", observation("o2", "p1")); code != http.StatusForbidden {
		t.Errorf("after narrowing: %d, want 403", code)
	}
	h.writeFiles(h.dir, map[string][]byte{"config.json": []byte("{not json")})
	h.rt.config.mu.Lock()
	h.rt.config.checked, h.rt.config.modTime = time.Time{}, time.Time{}
	h.rt.config.mu.Unlock()
	if code, _ := h.push(h.client, http.MethodPut, "/Patient/p1", "", patient("p1")); code != http.StatusForbidden {
		t.Errorf("with a configuration that no longer loads: %d, want 403 (fail closed)", code)
	}
	if h.records.get("Observation/RHW-o2") != nil || h.records.get("Patient/RHW-p1") != nil {
		t.Error("stored outside the scope")
	}
}

// Every kind of bad token is refused with 401, a token of another client
// with 403, and nothing is stored; no token reaches the logs.
func TestFHIRPushRefusesBadTokens(t *testing.T) {
	h := startPush(t, pushSetup{oauth: true}, policy.CategoryDemographics)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	with := func(change func(map[string]any)) string {
		c := goodClaims()
		change(c)
		return h.token(c)
	}
	var sent []string
	cases := []struct {
		name   string
		header string
		want   int
	}{
		{"no header", "", http.StatusUnauthorized},
		{"basic scheme", "Basic cmh3OnNlY3JldA==", http.StatusUnauthorized},
		{"bearer without token", "Bearer ", http.StatusUnauthorized},
		{"garbage", "Bearer not.a.jwt", http.StatusUnauthorized},
		{"expired", "Bearer " + with(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), http.StatusUnauthorized},
		{"no exp", "Bearer " + with(func(c map[string]any) { delete(c, "exp") }), http.StatusUnauthorized},
		{"not yet valid", "Bearer " + with(func(c map[string]any) { c["nbf"] = time.Now().Add(time.Hour).Unix() }), http.StatusUnauthorized},
		{"issued in the future", "Bearer " + with(func(c map[string]any) { c["iat"] = time.Now().Add(time.Hour).Unix() }), http.StatusUnauthorized},
		{"other issuer", "Bearer " + with(func(c map[string]any) { c["iss"] = "https://idp.elsewhere.example" }), http.StatusUnauthorized},
		{"gateway audience", "Bearer " + with(func(c map[string]any) { c["aud"] = "https://gateway.region.example" }), http.StatusUnauthorized},
		{"no audience", "Bearer " + with(func(c map[string]any) { delete(c, "aud") }), http.StatusUnauthorized},
		{"other key same kid", "Bearer " + signToken(t, jose.ES256, other, pushKid, goodClaims()), http.StatusUnauthorized},
		{"unknown kid", "Bearer " + signToken(t, jose.ES256, h.key, "push-2", goodClaims()), http.StatusUnauthorized},
		{"no kid", "Bearer " + signToken(t, jose.ES256, h.key, "", goodClaims()), http.StatusUnauthorized},
		{"HMAC with the public key", "Bearer " + signToken(t, jose.HS256, mustMarshalPublic(t, &h.key.PublicKey), pushKid, goodClaims()), http.StatusUnauthorized},
		{"alg none", "Bearer " + unsigned(goodClaims()), http.StatusUnauthorized},
		{"oversize", "Bearer " + strings.Repeat("a", 17*1024), http.StatusUnauthorized},
		{"other client", "Bearer " + with(func(c map[string]any) { c["client_id"], c["sub"] = "other-epr", "other-epr" }), http.StatusForbidden},
		{"other client_id, our sub", "Bearer " + with(func(c map[string]any) { c["client_id"] = "other-epr" }), http.StatusForbidden},
		{"other azp, our sub", "Bearer " + with(func(c map[string]any) { delete(c, "client_id"); c["azp"] = "other-epr" }), http.StatusForbidden},
		{"no client at all", "Bearer " + with(func(c map[string]any) { delete(c, "client_id"); delete(c, "sub") }), http.StatusForbidden},
		{"client id in another case", "Bearer " + with(func(c map[string]any) { c["client_id"], c["sub"] = "RHW-EPR", "RHW-EPR" }), http.StatusForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data, _ := json.Marshal(transaction("transaction", put(patient("p1"))))
			req, _ := http.NewRequest(http.MethodPost, h.base+"/", bytes.NewReader(data))
			req.Header.Set("Content-Type", "application/fhir+json")
			if c.header != "" {
				req.Header.Set("Authorization", c.header)
				sent = append(sent, strings.TrimPrefix(c.header, "Bearer "))
			}
			resp, err := h.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = resp.Body.Close() }()
			var oo map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&oo)
			if resp.StatusCode != c.want || oo["resourceType"] != "OperationOutcome" {
				t.Errorf("answer %d %v, want %d with an OperationOutcome", resp.StatusCode, oo["resourceType"], c.want)
			}
		})
	}
	if keys := h.records.keys(); len(keys) != 0 {
		t.Errorf("stored %v with bad tokens", keys)
	}
	// The good token is accepted, on the same connection setup.
	if code, _ := h.push(h.client, http.MethodPut, "/Patient/p1", h.token(goodClaims()), patient("p1")); code != http.StatusCreated {
		t.Errorf("good token: %d", code)
	}
	// A token whose client is only in sub (RFC 9068 client credentials) is accepted too.
	sub := goodClaims()
	delete(sub, "client_id")
	if code, _ := h.push(h.client, http.MethodPut, "/Patient/p1", h.token(sub), patient("p1")); code != http.StatusOK {
		t.Errorf("client in sub: %d", code)
	}
	logs := h.logs.String()
	for _, token := range sent {
		if len(token) > 20 && strings.Contains(logs, token) {
			t.Errorf("a token reached the logs")
		}
	}
	if h.rt.Stats().Unauthorised != int64(len(cases)) {
		t.Errorf("unauthorised counted %d, want %d", h.rt.Stats().Unauthorised, len(cases))
	}
}

func mustMarshalPublic(t *testing.T, key *ecdsa.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// unsigned is a JWT with alg none.
func unsigned(claims map[string]any) string {
	enc := func(v any) string {
		data, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(data)
	}
	return enc(map[string]any{"alg": "none", "typ": "JWT", "kid": pushKid}) + "." + enc(claims) + "."
}

// With mutual TLS, only a client certificate of the organisation's CA gets
// a TLS session at all.
func TestFHIRPushRefusesTheWrongClientCertificate(t *testing.T) {
	h := startPush(t, pushSetup{mtls: true}, policy.CategoryDemographics)
	stranger := newTestCA(t, "another CA")
	strangerCert, strangerKey := stranger.issue(t, "epr.rhw.example", false)
	serverCert, serverKey := h.ca.issue(t, "connector", true)
	for name, client := range map[string]*http.Client{
		"no client certificate":          h.httpClient(nil, nil, h.ca.pem),
		"another CA's certificate":       h.httpClient(strangerCert, strangerKey, h.ca.pem),
		"a server certificate as client": h.httpClient(serverCert, serverKey, h.ca.pem),
	} {
		if code, out := h.push(client, http.MethodPut, "/Patient/p1", "", patient("p1")); code != 0 {
			t.Errorf("%s: answered %d %v, want the TLS handshake refused", name, code, out)
		}
	}
	if keys := h.records.keys(); len(keys) != 0 {
		t.Errorf("stored %v", keys)
	}
	if code, _ := h.push(h.client, http.MethodPut, "/Patient/p1", "", patient("p1")); code != http.StatusCreated {
		t.Errorf("the organisation's certificate: %d", code)
	}
}

// Sending the same Bundle again overwrites the same records: no
// duplicates, the same content.
func TestFHIRPushReplayIsIdempotent(t *testing.T) {
	h := startPush(t, pushSetup{mtls: true}, policy.CategoryDemographics, policy.CategoryTestResults)
	bundle := transaction("transaction", put(patient("p1")), put(observation("o1", "p1")))
	h.push(h.client, http.MethodPost, "/", "", bundle)
	first, _ := json.Marshal(h.records.get("Observation/RHW-o1"))
	code, b := h.push(h.client, http.MethodPost, "/", "", bundle)
	statuses, _ := entryStatuses(t, b)
	if code != http.StatusOK || !slices.Equal(statuses, []string{"200 OK", "200 OK"}) {
		t.Errorf("replay answered %d %v, want 200 with both entries updated", code, statuses)
	}
	again, _ := json.Marshal(h.records.get("Observation/RHW-o1"))
	if got := h.records.keys(); !slices.Equal(got, []string{"Observation/RHW-o1", "Patient/RHW-p1"}) || !bytes.Equal(first, again) {
		t.Errorf("after the replay: %v, record changed %v", got, !bytes.Equal(first, again))
	}
}

// When the record service does not commit, the organisation is told the
// request failed (503, an OperationOutcome) and nothing is reported
// stored; the resend after recovery stores it all.
func TestFHIRPushRecordServiceFailureIsReportedAndNothingHalfWritten(t *testing.T) {
	h := startPush(t, pushSetup{mtls: true}, policy.CategoryDemographics, policy.CategoryTestResults)
	bundle := transaction("transaction", put(patient("p1")), put(observation("o1", "p1")),
		put(map[string]any{"resourceType": "MedicationRequest", "id": "m1"}))
	failures := map[string]func(w http.ResponseWriter, r *http.Request) bool{
		"503": func(w http.ResponseWriter, _ *http.Request) bool {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return true
		},
		"an entry refused": func(w http.ResponseWriter, _ *http.Request) bool {
			w.Header().Set("Content-Type", "application/fhir+json")
			_, _ = w.Write([]byte(`{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"201 Created"}},{"response":{"status":"422 Unprocessable Entity"}}]}`))
			return true
		},
		"too few entries": func(w http.ResponseWriter, _ *http.Request) bool {
			_, _ = w.Write([]byte(`{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"201 Created"}}]}`))
			return true
		},
		"not a Bundle": func(w http.ResponseWriter, _ *http.Request) bool {
			_, _ = w.Write([]byte(`{"resourceType":"OperationOutcome"}`))
			return true
		},
		"connection dropped": func(w http.ResponseWriter, _ *http.Request) bool {
			conn, _, _ := w.(http.Hijacker).Hijack()
			_ = conn.Close()
			return true
		},
	}
	for name, fail := range failures {
		t.Run(name, func(t *testing.T) {
			h.records.setIntercept(fail)
			code, oo := h.push(h.client, http.MethodPost, "/", "", bundle)
			if code != http.StatusServiceUnavailable || oo["resourceType"] != "OperationOutcome" {
				t.Errorf("answer %d %v, want 503 with an OperationOutcome", code, oo["resourceType"])
			}
			if keys := h.records.keys(); len(keys) != 0 {
				t.Errorf("stored %v", keys)
			}
		})
	}
	h.records.setIntercept(nil)
	code, b := h.push(h.client, http.MethodPost, "/", "", bundle)
	statuses, _ := entryStatuses(t, b)
	if code != http.StatusOK || !slices.Equal(statuses, []string{"201 Created", "201 Created", "403 Forbidden"}) {
		t.Errorf("resend answered %d %v", code, statuses)
	}
	if h.rt.Stats().Failed != int64(len(failures)) {
		t.Errorf("failures counted %d, want %d", h.rt.Stats().Failed, len(failures))
	}
	status := httptest.NewServer(h.rt.Handler())
	defer status.Close()
	resp, err := http.Get(status.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	scraped, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		fmt.Sprintf("shcr_connector_push_failed_total %d", len(failures)),
		"shcr_connector_push_forwarded_total 2",
		`shcr_connector_push_refused_total{reason="category-not-provided"} 6`,
	} {
		if !strings.Contains(string(scraped), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// Requests that are not a push of resources are refused whole.
func TestFHIRPushRefusesOtherRequests(t *testing.T) {
	h := startPush(t, pushSetup{mtls: true}, policy.CategoryDemographics)
	cases := []struct {
		method, path string
		body         any
		want         int
	}{
		{http.MethodGet, "/Patient/p1", nil, http.StatusMethodNotAllowed},
		{http.MethodDelete, "/Patient/p1", nil, http.StatusMethodNotAllowed},
		{http.MethodPost, "/", map[string]any{"resourceType": "Bundle", "type": "collection"}, http.StatusBadRequest},
		{http.MethodPost, "/", map[string]any{"resourceType": "Bundle", "type": "document"}, http.StatusBadRequest},
		{http.MethodPost, "/", patient("p1"), http.StatusBadRequest},
		{http.MethodPost, "/", []any{1, 2}, http.StatusBadRequest},
		{http.MethodPut, "/Patient/p2", patient("p1"), http.StatusBadRequest},
		{http.MethodPost, "/Observation", patient("p1"), http.StatusBadRequest},
	}
	for _, c := range cases {
		if code, _ := h.push(h.client, c.method, c.path, "", c.body); code != c.want {
			t.Errorf("%s %s = %d, want %d", c.method, c.path, code, c.want)
		}
	}
	many := make([]map[string]any, maxPushEntries+1)
	for i := range many {
		many[i] = put(patient(fmt.Sprintf("p%d", i)))
	}
	if code, _ := h.push(h.client, http.MethodPost, "/", "", transaction("batch", many...)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a Bundle over %d entries = %d, want 413", maxPushEntries, code)
	}
	if keys := h.records.keys(); len(keys) != 0 {
		t.Errorf("stored %v", keys)
	}
}

// A Secret with no way to authenticate the organisation starts nothing.
func TestFHIRPushNeedsAWayToAuthenticate(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "CA")
	cert, key := ca.issue(t, "connector", true)
	for name, data := range map[string][]byte{fileTLSCert: cert, fileTLSKey: key} {
		_ = os.WriteFile(filepath.Join(dir, name), data, 0o600)
	}
	if _, _, err := pushCredentials(dir); err == nil || !strings.Contains(err.Error(), fileCA) || !strings.Contains(err.Error(), fileClientID) {
		t.Errorf("pushCredentials without ca.crt or client-id = %v, want a refusal naming both", err)
	}
	_ = os.Remove(filepath.Join(dir, fileTLSKey))
	_ = os.WriteFile(filepath.Join(dir, fileCA), ca.pem, 0o600)
	if _, _, err := pushCredentials(dir); err == nil || !strings.Contains(err.Error(), fileTLSKey) {
		t.Errorf("pushCredentials without tls.key = %v", err)
	}
}

// A key rotation at the identity provider is followed: keys at a JWKS URL
// (or in the mounted file) are loaded again for a kid they lack, at most
// every jwksRetry, and a removed key stops verifying.
func TestFHIRPushFollowsKeyRotation(t *testing.T) {
	defer func(d time.Duration) { jwksRetry = d }(jwksRetry)
	jwksRetry = 0
	for _, byURL := range []bool{true, false} {
		t.Run(fmt.Sprintf("jwksURL=%v", byURL), func(t *testing.T) {
			h := startPush(t, pushSetup{oauth: true, jwksURL: byURL}, policy.CategoryDemographics)
			if code, _ := h.push(h.client, http.MethodPut, "/Patient/p1", h.token(goodClaims()), patient("p1")); code != http.StatusCreated {
				t.Fatalf("the first key: %d", code)
			}
			next, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			h.setKeys(map[string]*ecdsa.PrivateKey{"push-2": next})
			h.rt.keysMu.Lock()
			h.rt.keysModTime = time.Time{} // a new file of the same second
			h.rt.keysMu.Unlock()
			if code, _ := h.push(h.client, http.MethodPut, "/Patient/p1", signToken(t, jose.ES256, next, "push-2", goodClaims()), patient("p1")); code != http.StatusOK {
				t.Errorf("the rotated key: %d, want 200", code)
			}
			if code, _ := h.push(h.client, http.MethodPut, "/Patient/p1", h.token(goodClaims()), patient("p1")); code != http.StatusUnauthorized {
				t.Errorf("the removed key: %d, want 401", code)
			}
			h.mu.Lock()
			fetches := h.jwksFetches
			h.mu.Unlock()
			if byURL && fetches < 2 {
				t.Errorf("the JWKS URL was fetched %d times", fetches)
			}
		})
	}
}

// For every FHIR R4 resource type (and every Encounter class), under many
// sets of categories, an entry is stored if and only if its category is
// one of the set: the scope rule holds for the whole class of inputs, and
// anything without a category is never stored.
func TestFHIRPushStoresExactlyTheCategoriesProvided(t *testing.T) {
	h := startPush(t, pushSetup{mtls: true})
	var entries []map[string]any
	var categories []string
	var known []bool
	for _, resourceType := range r4ResourceTypes {
		classes := []string{""}
		if resourceType == "Encounter" {
			classes = []string{"", "AMB", "IMP", "EMER", "VR", "HH", "amb"}
		}
		for i, class := range classes {
			r := map[string]any{"resourceType": resourceType, "id": fmt.Sprintf("x%d", i)}
			if class != "" {
				r["class"] = map[string]any{"code": class}
			}
			category, ok := policy.CategoryOf(resourceType, class)
			entries, categories, known = append(entries, put(r)), append(categories, category), append(known, ok)
		}
	}
	subsets := [][]string{nil, policy.Categories}
	for i := range policy.Categories {
		subsets = append(subsets, policy.Categories[i:i+1], append(slices.Clone(policy.Categories[:i]), policy.Categories[i+1:]...))
	}
	for _, subset := range subsets {
		h.writeConfig(subset)
		code, b := h.push(h.client, http.MethodPost, "/", "", transaction("batch", entries...))
		if code != http.StatusOK {
			t.Fatalf("categories %v: %d", subset, code)
		}
		statuses, _ := entryStatuses(t, b)
		for i, status := range statuses {
			stored := strings.HasPrefix(status, "20")
			want := known[i] && slices.Contains(subset, categories[i])
			if stored != want {
				r := entries[i]["resource"].(map[string]any)
				t.Errorf("categories %v: %s %v (category %q) answered %s, want stored=%v", subset, r["resourceType"], r["class"], categories[i], status, want)
			}
		}
	}
}

// Without an identity provider in the configuration, a connector that
// must verify tokens is not ready and refuses every token.
func TestFHIRPushWithoutIdentityProviderIsNotReady(t *testing.T) {
	h := startPush(t, pushSetup{oauth: true}, policy.CategoryDemographics)
	status := httptest.NewServer(h.rt.Handler())
	defer status.Close()
	ready := func() int {
		resp, err := http.Get(status.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if got := ready(); got != http.StatusOK {
		t.Fatalf("with keys: readyz %d", got)
	}
	cfg, _ := json.Marshal(Config{ODSCode: testODS, Region: "tvs", Kind: KindFHIR, Mode: ModePush, Endpoint: pushEndpoint,
		RecordService: h.records.base(), Categories: []string{policy.CategoryDemographics}})
	h.writeFiles(h.dir, map[string][]byte{"config.json": cfg})
	h.rt.config.mu.Lock()
	h.rt.config.checked, h.rt.config.modTime = time.Time{}, time.Time{}
	h.rt.config.mu.Unlock()
	if got := ready(); got != http.StatusServiceUnavailable {
		t.Errorf("without push: readyz %d, want 503", got)
	}
	if code, _ := h.push(h.client, http.MethodPut, "/Patient/p1", h.token(goodClaims()), patient("p1")); code != http.StatusUnauthorized {
		t.Errorf("a good token without an identity provider: %d, want 401", code)
	}
	if st := h.rt.Status(); st.Ready || st.LastError == "" {
		t.Errorf("status %+v, want not ready with the reason", st)
	}
}
