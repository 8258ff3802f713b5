/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/shcr-io/shcr-operator/internal/auditlog"
	"github.com/shcr-io/shcr-operator/internal/gateway"
	"github.com/shcr-io/shcr-operator/internal/gateway/identity"
	"github.com/shcr-io/shcr-operator/internal/policy"
	"github.com/shcr-io/shcr-operator/test/bench"
)

// The caller and the record: a clinician (R8000) at RR8, for direct care
// with a legitimate relationship, reads MedicationRequests that B86001
// recorded for a patient who does not object.
const (
	issuer   = "https://idp.bench.invalid/realms/NHSIdentity"
	audience = "shcr-tvs-record-gateway"
	kid      = "bench-rsa"
	caller   = "RR8"
	source   = "B86001"
	recordID = "med-1"
)

// rig is a FHIR server with a gateway in front of it, on loopback.
type rig struct {
	dir       string
	upstream  *http.Server
	gateway   *http.Server
	gw        *gateway.Gateway
	stopWatch context.CancelFunc
	watching  chan struct{}
	// directURL and gatewayURL are what is measured: the same interaction
	// on the FHIR server and through the gateway.
	directURL, gatewayURL string
	// metricsURL is the gateway's /metrics.
	metricsURL string
	key        *rsa.PrivateKey
	auditFile  *os.File
	auditLog   *auditlog.Log
	// auditPipe is what the gateway writes to with -audit pipe; the file
	// has all of it once auditCopied is closed.
	auditPipe   *os.File
	auditCopied chan struct{}
	// auditDiscard is /dev/null, the gateway process's stdout with -audit
	// discard, until the process has it.
	auditDiscard *os.File
	grants       int
	objections   int
	// audit is the -audit sink.
	audit string
	// process is the gateway as its own process (cmd/gateway, built by
	// the rig) in -mode capacity; nil when the gateway runs in the rig.
	process *gatewayProcess
	// readURLs and searchURLs are the read and the search, direct and
	// through the gateway, which -mode capacity mixes.
	readURLs, searchURLs [2]string
}

// newRig writes a bundle for a generated region of o.orgs organisations plus
// the caller's agreement, a JWKS with a generated RSA key and an objection
// register, then starts the FHIR server and the gateway on 127.0.0.1.
func newRig(ctx context.Context, o options) (_ *rig, err error) {
	r := &rig{audit: o.audit}
	if r.dir, err = os.MkdirTemp("", "gatewaylatency-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if r.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	jwksFile := filepath.Join(r.dir, "jwks.json")
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &r.key.PublicKey, KeyID: kid, Use: "sig"}}})
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(jwksFile, jwks, 0o600); err != nil {
		return nil, err
	}
	bundleDir := filepath.Join(r.dir, "bundle")
	if r.grants, err = writeBundle(bundleDir, o.orgs); err != nil {
		return nil, err
	}
	objectionsFile := filepath.Join(r.dir, "objections.txt")
	if r.objections, err = writeObjections(objectionsFile, 1000); err != nil {
		return nil, err
	}

	upstreamListener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	upstreamBase := "http://" + upstreamListener.Addr().String() + "/fhir"
	r.upstream = &http.Server{Handler: recordService(upstreamBase, o.entries), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.upstream.Serve(upstreamListener) }()

	readPath := "/MedicationRequest/" + recordID
	searchPath := "/MedicationRequest?subject:identifier=" + url.QueryEscape(gateway.SystemNHSNumber+"|"+patientNHSNumber)
	path := readPath
	if o.interaction == "search" {
		path = searchPath
	}
	if o.mode == modeCapacity || o.gateway == gatewayOwnProcess {
		// The gateway as it ships: cmd/gateway in a process of its own.
		// In -mode capacity it is limited to one core and audits to
		// hash-chained files (--audit-sink=File).
		files := gatewayFiles{
			upstream: upstreamBase, bundleDir: bundleDir, jwksFile: jwksFile, objectionsFile: objectionsFile,
			auditDir: filepath.Join(r.dir, "audit"), maxPageSize: max(o.entries, gateway.DefaultMaxPageSize),
			oneCore: o.mode == modeCapacity,
		}
		if files.auditStdout, err = r.auditStdout(o); err != nil {
			return nil, err
		}
		if o.mode == modeLatency {
			// The rig's own process (load and the FHIR stand-in) collects
			// garbage as the gateway does, as when they shared a process.
			gateway.TuneRuntime(slog.New(slog.DiscardHandler))
		}
		r.process, err = startGatewayProcess(ctx, r.dir, files)
		if r.auditPipe != nil {
			// The gateway holds its own copy of the pipe's write end now.
			_ = r.auditPipe.Close()
			r.auditPipe = nil
		}
		if r.auditDiscard != nil {
			_ = r.auditDiscard.Close()
			r.auditDiscard = nil
		}
		if err != nil {
			return nil, err
		}
		r.readURLs = [2]string{upstreamBase + readPath, r.process.base + readPath}
		r.searchURLs = [2]string{upstreamBase + searchPath, r.process.base + searchPath}
		r.directURL, r.gatewayURL = upstreamBase+path, r.process.base+path
		r.metricsURL = r.process.base + "/metrics"
		if o.mode == modeCapacity {
			r.directURL, r.gatewayURL = r.readURLs[direct], r.readURLs[viaGateway]
		}
		return r, nil
	}

	if o.gateway == gatewayPassThrough {
		return r, r.startPassThrough(upstreamBase, readPath, searchPath, path)
	}

	var audit io.Writer = io.Discard
	if o.audit == "file" {
		// As --audit-sink=File: the hash-chained files of internal/auditlog.
		if r.auditLog, err = auditlog.Open(auditlog.Options{Dir: filepath.Join(r.dir, "audit")}); err != nil {
			return nil, err
		}
		audit = r.auditLog
	}
	if o.audit == "pipe" {
		if audit, err = r.auditStdout(o); err != nil {
			return nil, err
		}
	}
	upstreamURL, err := url.Parse(upstreamBase)
	if err != nil {
		return nil, err
	}
	// The garbage collector settings of cmd/gateway (GOGC=400 unless GOGC
	// is set). They apply to the whole process, the FHIR server and the
	// client too.
	gateway.TuneRuntime(slog.New(slog.DiscardHandler))
	claims := identity.DefaultClaimMapping()
	gatewayListener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	gatewayBase := "http://" + gatewayListener.Addr().String()
	r.gw, err = gateway.New(ctx, gateway.Config{
		ExternalURL:     &url.URL{Scheme: "http", Host: gatewayListener.Addr().String(), Path: "/"},
		Region:          bench.Region,
		BundleDir:       bundleDir,
		Upstream:        upstreamURL,
		UpstreamTimeout: 30 * time.Second,
		MaxPageSize:     max(o.entries, gateway.DefaultMaxPageSize),
		Identity: identity.Config{
			Issuer: issuer, Audience: audience, JWKSFile: jwksFile, ClockSkew: 30 * time.Second, Claims: claims,
		},
		ObjectionsFile: objectionsFile,
		Audit:          audit,
		ReloadInterval: time.Second,
		Logger:         slog.New(slog.DiscardHandler),
	})
	if err != nil {
		_ = gatewayListener.Close()
		return nil, err
	}
	watchCtx, stopWatch := context.WithCancel(context.Background())
	r.stopWatch, r.watching = stopWatch, make(chan struct{})
	go func() { r.gw.Watch(watchCtx); close(r.watching) }()

	r.gateway = gatewayServer(r.gw.Handler())
	go func() { _ = r.gateway.Serve(gatewayListener) }()

	r.directURL, r.gatewayURL = upstreamBase+path, gatewayBase+path
	r.metricsURL = gatewayBase + "/metrics"
	r.readURLs = [2]string{upstreamBase + readPath, gatewayBase + readPath}
	r.searchURLs = [2]string{upstreamBase + searchPath, gatewayBase + searchPath}
	return r, nil
}

// gatewayServer serves h with the server settings of cmd/gateway.
func gatewayServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      30*time.Second + time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    gateway.ServerMaxHeaderBytes,
	}
}

// startPassThrough puts the pass-through proxy (-gateway passthrough) where
// the gateway would be: in this process, with the gateway's collector
// settings and its server's.
func (r *rig) startPassThrough(upstreamBase, readPath, searchPath, path string) error {
	gateway.TuneRuntime(slog.New(slog.DiscardHandler))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	base := "http://" + l.Addr().String()
	r.gateway = gatewayServer(newPassThrough(upstreamBase))
	go func() { _ = r.gateway.Serve(l) }()
	r.directURL, r.gatewayURL = upstreamBase+path, base+path
	r.readURLs = [2]string{upstreamBase + readPath, base + readPath}
	r.searchURLs = [2]string{upstreamBase + searchPath, base + searchPath}
	return nil
}

// auditStdout is what the gateway writes its audit events to as its
// stdout: with -audit pipe, a pipe whose reader the rig copies to a file,
// as a container runtime copies a container's stdout to its log; with
// -audit discard (as its own process), /dev/null; nil with -audit file.
func (r *rig) auditStdout(o options) (*os.File, error) {
	switch o.audit {
	case "pipe":
		var err error
		if r.auditFile, err = os.OpenFile(filepath.Join(r.dir, "audit.jsonl"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err != nil {
			return nil, err
		}
		reader, writer, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		r.auditPipe, r.auditCopied = writer, make(chan struct{})
		go func() {
			_, _ = io.Copy(r.auditFile, reader)
			_ = reader.Close()
			close(r.auditCopied)
		}()
		return writer, nil
	case "discard":
		if o.gateway != gatewayOwnProcess || o.mode == modeCapacity {
			return nil, nil
		}
		var err error
		r.auditDiscard, err = os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		return r.auditDiscard, err
	default:
		return nil, nil
	}
}

func (r *rig) close() {
	if r.process != nil {
		r.process.stop()
	}
	if r.gateway != nil {
		_ = r.gateway.Close()
	}
	if r.stopWatch != nil {
		r.stopWatch()
		<-r.watching
	}
	if r.upstream != nil {
		_ = r.upstream.Close()
	}
	if r.auditPipe != nil {
		_ = r.auditPipe.Close()
	}
	if r.auditCopied != nil {
		// Once every write end is closed (the gateway's with its process).
		<-r.auditCopied
	}
	if r.auditFile != nil {
		_ = r.auditFile.Close()
	}
	if r.auditLog != nil {
		_ = r.auditLog.Close()
	}
	if r.dir != "" {
		_ = os.RemoveAll(r.dir)
	}
}

// auditBytes is how much audit the gateway has written to its file.
func (r *rig) auditBytes() int64 {
	if r.auditLog != nil || (r.process != nil && r.audit == "file") {
		files, _ := filepath.Glob(filepath.Join(r.dir, "audit", "*.jsonl"))
		var total int64
		for _, f := range files {
			if info, err := os.Stat(f); err == nil {
				total += info.Size()
			}
		}
		return total
	}
	if r.auditFile == nil {
		return -1
	}
	info, err := r.auditFile.Stat()
	if err != nil {
		return -1
	}
	return info.Size()
}

// token is a CIS2-shaped token for the caller, valid for an hour.
func (r *rig) token() (string, error) {
	now := time.Now()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: r.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		return "", err
	}
	return jwt.Signed(signer).Claims(map[string]any{
		"iss": issuer, "aud": audience, "sub": "910000000001",
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
		"selected_roleid": "555021935107",
		"nhsid_nrbac_roles": []map[string]string{
			{"person_orgid": "555021935106", "person_roleid": "555021935107", "org_code": caller, "role_code": "S8000:G8000:R8000"},
		},
		"purpose_of_use":          policy.PurposeTreat,
		"legitimate_relationship": true,
	}).Serialize()
}

// writeBundle compiles a generated region of orgs organisations, with the
// caller's agreement added, and stores it in dir as the operator stores it
// in the region's ConfigMap. It returns the number of grants.
func writeBundle(dir string, orgs int) (int, error) {
	in := bench.GenerateInput(bench.NewRand(7, 11), orgs)
	now := time.Now().UTC().Truncate(time.Second)
	for _, ods := range []string{caller, source} {
		in.Members = append(in.Members, policy.Member{ODSCode: ods, Region: bench.Region, Admitted: true, Provider: true, Consumer: true})
	}
	in.Agreements = append(in.Agreements, policy.Agreement{
		ID: "dsa-latency", Version: 1, Approved: true, Purpose: policy.PurposeDirectCare,
		EffectiveFrom: now.AddDate(0, -1, 0), EndsOn: now.AddDate(1, 0, 0),
		Parties:    []policy.Party{{ODSCode: caller, Role: "Controller"}, {ODSCode: source, Role: "Controller"}},
		Categories: policy.Categories,
		Sensitive:  policy.SensitiveAllow,
	})
	in.Policies = append(in.Policies, policy.Policy{
		Name: "tvs/clinical", AgreementID: "dsa-latency", Roles: []string{"R8000", "R8001"},
		Grants:                        []policy.PolicyGrant{{Categories: []string{policy.CategoryMedications, policy.CategoryAllergies}}},
		PurposesOfUse:                 []string{policy.PurposeTreat, policy.PurposeEmergencyTreat},
		RequireLegitimateRelationship: true,
		BreakGlass:                    &policy.BreakGlass{AllowedRoles: []string{"R8000"}, MaxDuration: time.Hour},
		Sensitive:                     policy.SensitiveBreakGlassOnly,
	})
	b := policy.Compile(in)
	encoded, err := b.Encode()
	if err != nil {
		return 0, err
	}
	stored, err := policy.Store(encoded)
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	return len(b.Grants), os.WriteFile(filepath.Join(dir, stored.Name), stored.Data, 0o600)
}

// patientNHSNumber is the patient of the records: valid, not objecting.
var patientNHSNumber = withCheckDigit("401023213")

// writeObjections writes a register of n objecting patients, none of them
// the one whose records are read.
func writeObjections(path string, n int) (int, error) {
	var b strings.Builder
	b.WriteString("# Upheld objections (generated)\n")
	written := 0
	for i := 0; written < n; i++ {
		nine := fmt.Sprintf("9%08d", 43476500+i*7)
		number, ok := tryCheckDigit(nine)
		if !ok || number == patientNHSNumber {
			continue
		}
		b.WriteString(number)
		if written%3 == 0 {
			b.WriteString(" RTH,K84001")
		}
		b.WriteString("\n")
		written++
	}
	return written, os.WriteFile(path, []byte(b.String()), 0o600)
}

func withCheckDigit(nine string) string {
	number, ok := tryCheckDigit(nine)
	if !ok {
		panic("no check digit for " + nine)
	}
	return number
}

// tryCheckDigit completes nine digits into a valid NHS number, if any
// check digit makes one.
func tryCheckDigit(nine string) (string, bool) {
	for d := range 10 {
		if candidate := nine + strconv.Itoa(d); gateway.ValidNHSNumber(candidate) {
			return candidate, true
		}
	}
	return "", false
}

// recordService answers like the record service (HAPI FHIR at /fhir): the
// CapabilityStatement, a read of MedicationRequest/med-1 and a search of
// MedicationRequests with entries entries, every body prepared in advance.
func recordService(base string, entries int) http.Handler {
	medication := func(id string) map[string]any {
		return map[string]any{
			"resourceType": "MedicationRequest", "id": id, "status": "active", "intent": "order",
			"meta": map[string]any{
				"versionId": "1", "lastUpdated": "2026-11-01T09:00:00Z",
				"tag":      []map[string]string{{"system": gateway.SystemODS, "code": source}},
				"security": []map[string]string{{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "N"}},
			},
			"subject": map[string]any{"reference": "Patient/p1",
				"identifier": map[string]string{"system": gateway.SystemNHSNumber, "value": patientNHSNumber}},
			"medicationCodeableConcept": map[string]any{"coding": []map[string]string{
				{"system": "http://snomed.info/sct", "code": "322236009", "display": "Paracetamol 500mg tablets"}}},
			"dosageInstruction": []map[string]string{{"text": "1 or 2 tablets up to four times a day"}},
		}
	}
	read := mustJSON(medication(recordID))
	var list []map[string]any
	for i := range entries {
		id := fmt.Sprintf("med-%d", i+1)
		list = append(list, map[string]any{"fullUrl": base + "/MedicationRequest/" + id, "resource": medication(id),
			"search": map[string]string{"mode": "match"}})
	}
	search := mustJSON(map[string]any{
		"resourceType": "Bundle", "id": "page-1", "type": "searchset", "total": entries,
		"link":  []map[string]string{{"relation": "self", "url": base + "/MedicationRequest"}},
		"entry": list,
	})
	capabilities := []byte(`{"resourceType":"CapabilityStatement","status":"active","kind":"instance","fhirVersion":"4.0.1","format":["json"]}`)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		switch r.URL.Path {
		case "/fhir/metadata":
			body = capabilities
		case "/fhir/MedicationRequest/" + recordID:
			body = read
		case "/fhir/MedicationRequest":
			body = search
		default:
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", gateway.ContentTypeFHIR+"; charset=utf-8")
		w.Header().Set("ETag", `W/"1"`)
		_, _ = w.Write(body)
	})
}

func mustJSON(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return data
}

// errNotShared means the gateway did not pass the records on, so the rig
// measures something other than an allowed access.
var errNotShared = errors.New("the gateway did not share the records")
