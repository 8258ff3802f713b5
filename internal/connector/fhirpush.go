/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shcr-io/shcr-operator/internal/gateway/identity"
	"github.com/shcr-io/shcr-operator/internal/jwtverify"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

// Defaults of FHIRPushOptions.
const (
	// DefaultPushMaxBytes bounds one pushed request body.
	DefaultPushMaxBytes = 16 << 20
	// maxPushEntries bounds the entries of one pushed Bundle, like a page.
	maxPushEntries = 1000
	// jwksRefresh is how often keys at a JWKS URL are fetched again.
	jwksRefresh = 5 * time.Minute
	// pushClockSkew is the leeway on a token's exp, nbf and iat.
	pushClockSkew = time.Minute
)

// jwksRetry is the least wait before a JWKS URL is fetched again for a kid
// its keys lack (a key rotation), so unknown kids cannot make the connector
// hammer the identity provider.
var jwksRetry = 30 * time.Second

// Reasons a pushed entry is refused, as counted in FHIRPushStats.Refused.
const (
	ReasonInvalidEntry = "invalid"
	// ReasonCategoryNotProvided and ReasonNoCategory are shared with HL7v2.
)

// PushAuth says how a pushed FHIR connector verifies bearer tokens: the
// region's identity provider (issuer, and its keys in a file or at a URL)
// and the audience tokens must be issued for. The client is the
// client-id of the credentials Secret.
type PushAuth struct {
	// Issuer must be the token's iss.
	Issuer string `json:"issuer"`
	// Audience must be one of the token's aud.
	Audience string `json:"audience"`
	// JWKSFile or JWKSURL (exactly one) holds the issuer's public keys.
	JWKSFile string `json:"jwksFile,omitempty"`
	JWKSURL  string `json:"jwksURL,omitempty"`
}

func (p PushAuth) validate() error {
	var errs []error
	if p.Issuer == "" {
		errs = append(errs, errors.New("push.issuer is required"))
	}
	if p.Audience == "" {
		errs = append(errs, errors.New("push.audience is required"))
	}
	switch {
	case (p.JWKSFile == "") == (p.JWKSURL == ""):
		errs = append(errs, errors.New("push: set exactly one of jwksFile and jwksURL"))
	case p.JWKSURL != "":
		errs = append(errs, checkURL("push.jwksURL", p.JWKSURL, "https"))
	}
	return errors.Join(errs...)
}

// FHIRPushOptions configure NewFHIRPush.
type FHIRPushOptions struct {
	// ConfigPath and CredentialsDir are as for the pull connector.
	ConfigPath, CredentialsDir string
	// Listener receives the organisation's HTTPS requests; it is wrapped
	// in TLS with tls.crt and tls.key of the credentials Secret.
	Listener net.Listener
	// HTTPClient calls the record service, and fetches a JWKS URL with
	// JWKSClient; nil means clients with a 30-second timeout.
	HTTPClient, JWKSClient *http.Client
	// Tries is how many times a transaction is tried before the request
	// is answered 503; RetryWait the wait between tries.
	Tries     int
	RetryWait time.Duration
	// MaxBodyBytes bounds a request body; zero means DefaultPushMaxBytes.
	MaxBodyBytes int64
	// Now is the clock tokens are checked against; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// FHIRPushStats are the push listener's counters.
type FHIRPushStats struct {
	// Forwarded counts resources committed to the record service;
	// Unauthorised requests refused before their body was read.
	Forwarded, Unauthorised, Failed int64
	// Refused counts entries refused, by reason.
	Refused map[string]int64
}

// FHIRPushRuntime is a running pushed FHIR connector: an HTTPS endpoint
// that accepts transaction or batch Bundles and single resources from the
// organisation, keeps the entries it may provide now, stamps them with
// their provenance and writes them to the record service in one
// transaction, answering per entry.
type FHIRPushRuntime struct {
	opts     FHIRPushOptions
	tls      *tls.Config
	clientID string
	prov     provenance
	config   *configWatch

	keysMu      sync.Mutex
	keys        *jwtverify.KeySet
	keysAt      time.Time
	keysModTime time.Time
	keysErr     error

	forwarded, unauthorised, failed atomic.Int64
	statsMu                         sync.Mutex
	refused                         map[string]int64
}

// NewFHIRPush reads the configuration and credentials. The credentials
// Secret needs tls.crt and tls.key (the listener's certificate) and at
// least one way to authenticate the organisation: ca.crt (a client
// certificate signed by it is required: mutual TLS) and/or client-id (a
// bearer token issued to that OAuth2 client is required). With both, both
// are required.
func NewFHIRPush(opts FHIRPushOptions) (*FHIRPushRuntime, error) {
	cfg, err := LoadConfig(opts.ConfigPath)
	if err != nil {
		return nil, err
	}
	if cfg.Kind != KindFHIR || cfg.Mode != ModePush {
		return nil, fmt.Errorf("configuration %s: kind %s with mode %s is not served by the FHIR push listener", opts.ConfigPath, cfg.Kind, cfg.Mode)
	}
	tlsConfig, clientID, err := pushCredentials(opts.CredentialsDir)
	if err != nil {
		return nil, err
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient, _ = recordServiceClient(30 * time.Second)
	}
	if opts.JWKSClient == nil {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		opts.JWKSClient = &http.Client{Transport: transport, Timeout: 10 * time.Second, CheckRedirect: noRedirects}
	}
	if opts.Tries <= 0 {
		opts.Tries = defaultMLLPTries
	}
	if opts.RetryWait <= 0 {
		opts.RetryWait = defaultMLLPRetryWait
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultPushMaxBytes
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	p := &FHIRPushRuntime{opts: opts, tls: tlsConfig, clientID: clientID, prov: newProvenance(cfg.ODSCode, cfg.Endpoint),
		config: newConfigWatch(opts.ConfigPath, cfg, opts.Logger), refused: map[string]int64{}}
	if clientID != "" {
		if _, err := p.keySet(false); err != nil {
			// Not fatal: the keys may appear later. Until then every token
			// is refused and the connector is not ready.
			opts.Logger.Error("The identity provider's keys could not be loaded; every bearer token is refused until they are", "error", err.Error())
		}
	}
	return p, nil
}

// pushCredentials is the listener's TLS configuration and the OAuth2
// client the organisation must present a token for, from the credentials
// directory. Errors name files, never their content.
func pushCredentials(dir string) (*tls.Config, string, error) {
	read := func(name string) ([]byte, error) {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading credentials file %s: %w", name, err)
		}
		return data, nil
	}
	files := map[string][]byte{}
	for _, name := range []string{fileTLSCert, fileTLSKey, fileCA, fileClientID} {
		data, err := read(name)
		if err != nil {
			return nil, "", err
		}
		files[name] = data
	}
	if len(files[fileTLSCert]) == 0 || len(files[fileTLSKey]) == 0 {
		return nil, "", fmt.Errorf("kind FHIR with mode Push serves HTTPS: the credentials Secret needs %s and %s", fileTLSCert, fileTLSKey)
	}
	cert, err := tls.X509KeyPair(files[fileTLSCert], files[fileTLSKey])
	if err != nil {
		return nil, "", fmt.Errorf("credentials %s and %s in %s are not a matching PEM certificate and key: %w", fileTLSCert, fileTLSKey, dir, err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if ca := files[fileCA]; len(ca) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, "", fmt.Errorf("credentials file %s in %s holds no PEM certificate", fileCA, dir)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	clientID := strings.TrimSpace(string(files[fileClientID]))
	if cfg.ClientCAs == nil && clientID == "" {
		return nil, "", fmt.Errorf("kind FHIR with mode Push must authenticate the organisation: the credentials Secret needs %s (mutual TLS) or %s (the OAuth2 client whose bearer tokens are accepted), or both", fileCA, fileClientID)
	}
	return cfg, clientID, nil
}

// keySet is the identity provider's keys, loaded again when the file
// changed or the URL's copy is older than jwksRefresh; unknownKid asks for
// the URL to be fetched again now (at most every jwksRetry), after a key
// rotation.
func (p *FHIRPushRuntime) keySet(unknownKid bool) (*jwtverify.KeySet, error) {
	auth := p.config.current().Push
	if auth == nil {
		return nil, errors.New("the configuration names no identity provider (push), so no bearer token is accepted")
	}
	p.keysMu.Lock()
	defer p.keysMu.Unlock()
	now := time.Now()
	var data []byte
	var err error
	switch {
	case auth.JWKSFile != "":
		info, statErr := os.Stat(auth.JWKSFile)
		if statErr == nil && p.keys != nil && info.ModTime().Equal(p.keysModTime) {
			return p.keys, nil
		}
		if data, err = identity.ReadJWKSFile(auth.JWKSFile); err == nil && statErr == nil {
			p.keysModTime = info.ModTime()
		}
	default:
		age := now.Sub(p.keysAt)
		if p.keys != nil && age < jwksRefresh && (!unknownKid || age < jwksRetry) {
			return p.keys, nil
		}
		if p.keys == nil && p.keysErr != nil && age < jwksRetry {
			return nil, p.keysErr
		}
		p.keysAt = now
		data, err = fetchKeys(p.opts.JWKSClient, auth.JWKSURL)
	}
	if err == nil {
		var keys *jwtverify.KeySet
		if keys, err = jwtverify.ParseKeySet(data); err == nil {
			p.keys, p.keysErr = keys, nil
			return keys, nil
		}
	}
	p.keysErr = fmt.Errorf("loading the identity provider's keys: %w", err)
	if p.keys != nil { // keep the last good keys
		return p.keys, nil
	}
	return nil, p.keysErr
}

// fetchKeys reads a JWKS from the identity provider with the gateway's
// rules (identity.FetchJWKS: status 200, JSON, at most 1 MiB), within 10s.
func fetchKeys(client *http.Client, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return identity.FetchJWKS(ctx, client, url)
}

// Serve answers HTTPS requests on the listener until ctx ends.
func (p *FHIRPushRuntime) Serve(ctx context.Context) error {
	server := &http.Server{
		Handler:           p.FHIRHandler(),
		TLSConfig:         p.tls,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(p.opts.Logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- server.Serve(tls.NewListener(p.opts.Listener, p.tls)) }()
	select {
	case err := <-served:
		return fmt.Errorf("serving FHIR push: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := server.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("stopping FHIR push: %w", err)
	}
	return nil
}

// shutdownGrace is how long requests under way may finish on stop: a
// transaction being committed is answered.
const shutdownGrace = 30 * time.Second

// FHIRHandler serves the organisation's pushes: POST of a transaction or
// batch Bundle at the base, POST <Type> and PUT <Type>/<id> of one resource.
func (p *FHIRPushRuntime) FHIRHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{$}", p.serveBundle)
	mux.HandleFunc("POST /{type}", p.serveOne)
	mux.HandleFunc("PUT /{type}/{id}", p.serveOne)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeOutcome(w, http.StatusMethodNotAllowed, "not-supported",
			"the connector accepts POST of a transaction or batch Bundle at its base, POST <Type> and PUT <Type>/<id>; it serves no reads")
	})
	return mux
}

// authenticate checks the request's bearer token when the Secret names an
// OAuth2 client; the client certificate was checked by TLS. It answers and
// returns false when the request is refused.
func (p *FHIRPushRuntime) authenticate(w http.ResponseWriter, r *http.Request) bool {
	if p.clientID == "" {
		return true
	}
	refuse := func(status int, code, why string) bool {
		p.unauthorised.Add(1)
		p.opts.Logger.Warn("FHIR push refused", "remote", r.RemoteAddr, "reason", why)
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeOutcome(w, status, code, why)
		return false
	}
	raw, err := jwtverify.BearerToken(r.Header.Get("Authorization"))
	if err != nil {
		return refuse(http.StatusUnauthorized, "login", err.Error())
	}
	keys, err := p.keySet(false)
	if err != nil {
		return refuse(http.StatusUnauthorized, "login", "the connector cannot verify tokens now: "+err.Error())
	}
	auth := p.config.current().Push
	if auth == nil {
		return refuse(http.StatusUnauthorized, "login", "the configuration names no identity provider, so no bearer token is accepted")
	}
	verifier := jwtverify.Verifier{Issuer: auth.Issuer, Audience: auth.Audience, Skew: pushClockSkew}
	claims, err := verifier.Verify(keys, raw, p.opts.Now())
	if unknown := (*identity.UnknownKeyError)(nil); errors.As(err, &unknown) {
		if keys, err2 := p.keySet(true); err2 == nil {
			claims, err = verifier.Verify(keys, raw, p.opts.Now())
		}
	}
	if err != nil {
		return refuse(http.StatusUnauthorized, "login", err.Error())
	}
	if claims.Client() != p.clientID {
		return refuse(http.StatusForbidden, "forbidden", "the token was issued to another OAuth2 client than the one this organisation's connector accepts")
	}
	return true
}

// pushEntry is one resource pushed, and what became of it.
type pushEntry struct {
	resource sourceResource
	// status and outcome answer a refused entry; empty when forwarded.
	status, code, diagnostics string
	reason                    string
	// location is <Type>/<id> as the organisation knows it.
	location string
	// result is the record service's status for a forwarded entry.
	result string
}

func (e *pushEntry) refuse(status, code, reason, diagnostics string) {
	e.status, e.code, e.reason, e.diagnostics = status, code, reason, diagnostics
}

// serveBundle answers a transaction or batch Bundle with a
// transaction-response or batch-response Bundle, an entry per entry.
func (p *FHIRPushRuntime) serveBundle(w http.ResponseWriter, r *http.Request) {
	if !p.authenticate(w, r) {
		return
	}
	body, ok := p.readBody(w, r)
	if !ok {
		return
	}
	var bundle struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			FullURL  string          `json:"fullUrl"`
			Resource json.RawMessage `json:"resource"`
			Request  struct {
				Method string `json:"method"`
				URL    string `json:"url"`
			} `json:"request"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &bundle); err != nil || bundle.ResourceType != "Bundle" {
		writeOutcome(w, http.StatusBadRequest, "invalid", "the body at the base must be a Bundle of type transaction or batch")
		return
	}
	if bundle.Type != "transaction" && bundle.Type != "batch" {
		writeOutcome(w, http.StatusBadRequest, "invalid", fmt.Sprintf("Bundle.type %q is not accepted: send a transaction or batch Bundle", bundle.Type))
		return
	}
	if len(bundle.Entry) > maxPushEntries {
		writeOutcome(w, http.StatusRequestEntityTooLarge, "too-costly", fmt.Sprintf("a Bundle may hold at most %d entries", maxPushEntries))
		return
	}
	entries := make([]*pushEntry, len(bundle.Entry))
	seen := map[string]bool{}
	fullURLs := map[string]string{}
	for i, e := range bundle.Entry {
		entries[i] = p.entry(e.Resource, e.Request.Method, e.Request.URL)
		if entries[i].location != "" && e.FullURL != "" {
			fullURLs[e.FullURL] = entries[i].location
		}
		if entries[i].status == "" {
			if seen[entries[i].location] {
				entries[i].refuse("400 Bad Request", "invalid", ReasonInvalidEntry, "the same resource appears more than once in the Bundle")
			}
			seen[entries[i].location] = true
		}
	}
	// References to another entry by its fullUrl (urn:uuid:… in most
	// transactions) point at that entry's resource, whose record id the
	// provenance step then gives.
	for _, e := range entries {
		if e.status == "" && len(fullURLs) > 0 {
			resolveFullURLs(e.resource.Body, fullURLs)
		}
	}
	if !p.forward(w, r.Context(), entries) {
		return
	}
	out := make([]any, 0, len(entries))
	for _, e := range entries {
		out = append(out, map[string]any{"response": e.response()})
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	_ = json.NewEncoder(w).Encode(map[string]any{"resourceType": "Bundle", "type": bundle.Type + "-response", "entry": out})
}

// serveOne answers POST <Type> and PUT <Type>/<id> of one resource.
func (p *FHIRPushRuntime) serveOne(w http.ResponseWriter, r *http.Request) {
	if !p.authenticate(w, r) {
		return
	}
	body, ok := p.readBody(w, r)
	if !ok {
		return
	}
	url := r.PathValue("type")
	if id := r.PathValue("id"); id != "" {
		url += "/" + id
	}
	e := p.entry(body, r.Method, url)
	if !p.forward(w, r.Context(), []*pushEntry{e}) {
		return
	}
	if e.status != "" {
		code := http.StatusBadRequest
		if strings.HasPrefix(e.status, "403") {
			code = http.StatusForbidden
		}
		writeOutcome(w, code, e.code, e.diagnostics)
		return
	}
	status := http.StatusOK
	if strings.HasPrefix(e.result, "201") {
		status = http.StatusCreated
	}
	w.Header().Set("Location", e.location)
	writeOutcomeSeverity(w, status, "information", "informational", "stored in the record service as "+e.location+" of this organisation")
}

// readBody reads a bounded JSON body; it answers and returns false when
// it cannot.
func (p *FHIRPushRuntime) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.Contains(ct, "json") {
		writeOutcome(w, http.StatusUnsupportedMediaType, "not-supported", "send application/fhir+json")
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, p.opts.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeOutcome(w, http.StatusRequestEntityTooLarge, "too-costly", fmt.Sprintf("the body is larger than %d bytes", p.opts.MaxBodyBytes))
		return nil, false
	case err != nil:
		writeOutcome(w, http.StatusBadRequest, "invalid", "the body could not be read")
		return nil, false
	}
	return body, true
}

// entry checks one pushed resource: a known type, the client's own id (so
// that a resend overwrites), a request that names it, and a category the
// organisation may provide now. An entry that passes is stamped with its
// provenance; one that fails says why, naming no content.
func (p *FHIRPushRuntime) entry(raw json.RawMessage, method, url string) *pushEntry {
	e := &pushEntry{}
	r, err := decodeEntry(raw)
	if err != nil {
		e.refuse("400 Bad Request", "invalid", ReasonInvalidEntry, err.Error())
		return e
	}
	e.resource = r
	switch {
	case !isResourceType(r.ResourceType):
		e.refuse("400 Bad Request", "invalid", ReasonInvalidEntry, "resourceType is not a FHIR R4 resource type")
		return e
	case !fhirIDPattern.MatchString(r.ID):
		e.refuse("400 Bad Request", "required", ReasonInvalidEntry,
			"the resource needs its own id (the client-assigned id makes a resend overwrite, never duplicate); send it in resource.id")
		return e
	}
	e.location = r.ResourceType + "/" + r.ID
	url = strings.TrimPrefix(url, "/")
	switch method {
	case http.MethodPut:
		if url != e.location {
			e.refuse("400 Bad Request", "invalid", ReasonInvalidEntry, "request.url of a PUT must be <Type>/<id> of its resource")
			return e
		}
	case http.MethodPost:
		if url != r.ResourceType {
			e.refuse("400 Bad Request", "invalid", ReasonInvalidEntry, "request.url of a POST must be the resource's type")
			return e
		}
	default:
		e.refuse("400 Bad Request", "not-supported", ReasonInvalidEntry, "request.method must be PUT or POST; the connector only writes")
		return e
	}
	category, ok := policy.CategoryOf(r.ResourceType, r.Class)
	switch {
	case !ok:
		e.refuse("403 Forbidden", "forbidden", ReasonNoCategory,
			"a "+r.ResourceType+" belongs to no data category, so it is not shared")
		return e
	case !slices.Contains(p.config.current().KnownCategories(), category):
		e.refuse("403 Forbidden", "forbidden", ReasonCategoryNotProvided,
			"category "+category+" is not one this organisation may provide now")
		return e
	}
	return e
}

// forward writes the entries that passed in one transaction. On failure
// it answers 503 (nothing of the request was stored) and returns false.
func (p *FHIRPushRuntime) forward(w http.ResponseWriter, ctx context.Context, entries []*pushEntry) bool {
	var records []map[string]any
	var sent []*pushEntry
	for _, e := range entries {
		if e.status != "" {
			p.count(e.reason)
			continue
		}
		record, err := p.prov.toRecord(e.resource)
		if err != nil {
			e.refuse("400 Bad Request", "invalid", ReasonInvalidEntry, "meta cannot be stamped: "+strings.TrimPrefix(err.Error(), e.location+": "))
			p.count(e.reason)
			continue
		}
		records, sent = append(records, record), append(sent, e)
	}
	if len(records) == 0 {
		return true
	}
	statuses, err := p.commit(ctx, records)
	if err != nil {
		p.failed.Add(1)
		p.opts.Logger.Warn("FHIR push not committed; answered 503 for the organisation to send it again", "error", err.Error())
		w.Header().Set("Retry-After", "30")
		writeOutcome(w, http.StatusServiceUnavailable, "transient",
			"the record service did not commit the request, so nothing of it was stored; send it again")
		return false
	}
	for i, e := range sent {
		e.result = statuses[i]
	}
	p.forwarded.Add(int64(len(sent)))
	return true
}

func (p *FHIRPushRuntime) count(reason string) {
	p.statsMu.Lock()
	p.refused[reason]++
	p.statsMu.Unlock()
}

// commit writes the records in one transaction, trying again on failure,
// and gives the record service's status of each.
func (p *FHIRPushRuntime) commit(ctx context.Context, records []map[string]any) ([]string, error) {
	body, err := encodeTransaction(records)
	if err != nil {
		return nil, err
	}
	var last error
	for try := 0; try < p.opts.Tries; try++ {
		if try > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(p.opts.RetryWait):
			}
		}
		var statuses []string
		if statuses, last = p.post(ctx, body, len(records)); last == nil {
			return statuses, nil
		}
	}
	return nil, last
}

func (p *FHIRPushRuntime) post(ctx context.Context, body []byte, sent int) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.config.current().RecordService, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Accept", "application/fhir+json")
	resp, err := p.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("record service: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("record service: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("record service answered %d", resp.StatusCode)
	}
	if err := checkTransactionResponse(data, sent); err != nil {
		return nil, err
	}
	var b struct {
		Entry []struct {
			Response struct {
				Status string `json:"status"`
			} `json:"response"`
		} `json:"entry"`
	}
	_ = json.Unmarshal(data, &b) // checked above
	statuses := make([]string, len(b.Entry))
	for i, e := range b.Entry {
		statuses[i] = e.Response.Status
	}
	return statuses, nil
}

// resolveFullURLs replaces every reference that is the fullUrl of an entry
// of the same Bundle by that entry's <Type>/<id>.
func resolveFullURLs(v any, fullURLs map[string]string) {
	switch node := v.(type) {
	case map[string]any:
		for key, child := range node {
			if ref, ok := child.(string); ok && key == "reference" {
				if location, ok := fullURLs[ref]; ok {
					node[key] = location
				}
				continue
			}
			resolveFullURLs(child, fullURLs)
		}
	case []any:
		for _, child := range node {
			resolveFullURLs(child, fullURLs)
		}
	}
}

// response is the entry's answer in the response Bundle.
func (e *pushEntry) response() map[string]any {
	if e.status != "" {
		return map[string]any{"status": e.status, "outcome": outcome("error", e.code, e.diagnostics)}
	}
	return map[string]any{"status": e.result, "location": e.location}
}

func outcome(severity, code, diagnostics string) map[string]any {
	return map[string]any{"resourceType": "OperationOutcome", "issue": []any{
		map[string]any{"severity": severity, "code": code, "diagnostics": diagnostics},
	}}
}

func writeOutcome(w http.ResponseWriter, status int, code, diagnostics string) {
	writeOutcomeSeverity(w, status, "error", code, diagnostics)
}

func writeOutcomeSeverity(w http.ResponseWriter, status int, severity, code, diagnostics string) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(outcome(severity, code, diagnostics))
}

// Stats are the counters so far.
func (p *FHIRPushRuntime) Stats() FHIRPushStats {
	p.statsMu.Lock()
	defer p.statsMu.Unlock()
	out := FHIRPushStats{Forwarded: p.forwarded.Load(), Unauthorised: p.unauthorised.Load(), Failed: p.failed.Load(), Refused: map[string]int64{}}
	for k, v := range p.refused {
		out.Refused[k] = v
	}
	return out
}

// ready says why the listener cannot accept pushes now; empty when it can.
func (p *FHIRPushRuntime) ready() string {
	if p.clientID == "" {
		return ""
	}
	if p.config.current().Push == nil {
		return "the configuration names no identity provider (push), so no bearer token is accepted"
	}
	p.keysMu.Lock()
	loaded := p.keys != nil
	p.keysMu.Unlock()
	if loaded { // keys once loaded are kept until better ones load: no fetch in a probe
		return ""
	}
	if _, err := p.keySet(false); err != nil {
		return err.Error()
	}
	return ""
}

// Status is the report served at /status, in the pull connector's shape.
func (p *FHIRPushRuntime) Status() Status {
	st := p.Stats()
	var refused int64
	for _, n := range st.Refused {
		refused += n
	}
	cfg := p.config.current()
	categories := cfg.KnownCategories()
	if categories == nil {
		categories = []string{}
	}
	s := Status{ODSCode: cfg.ODSCode, Ready: p.ready() == "", Categories: categories, Forwarded: st.Forwarded, Dropped: refused,
		Circuit: CircuitClosed, Circuits: map[string]string{}}
	if reason := p.ready(); reason != "" {
		s.LastError = reason
	}
	return s
}

// Handler serves /healthz, /readyz, /metrics and /status on the status port.
func (p *FHIRPushRuntime) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(p.pushMetrics(), promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if reason := p.ready(); reason != "" {
			http.Error(w, "not ready: "+reason, http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(p.Status())
	})
	return mux
}

// configWatch is the configuration, read again when its file changed (at
// most every configRecheck). A configuration that no longer loads, or
// that names another organisation, kind or mode, forwards nothing until
// it loads again: fail closed.
type configWatch struct {
	path   string
	logger *slog.Logger

	mu      sync.Mutex
	cfg     Config
	checked time.Time
	modTime time.Time
}

func newConfigWatch(path string, cfg Config, logger *slog.Logger) *configWatch {
	w := &configWatch{path: path, logger: logger, cfg: cfg, checked: time.Now()}
	if info, err := os.Stat(path); err == nil {
		w.modTime = info.ModTime()
	}
	return w
}

func (w *configWatch) current() Config {
	w.mu.Lock()
	defer w.mu.Unlock()
	if time.Since(w.checked) < configRecheck {
		return w.cfg
	}
	w.checked = time.Now()
	info, err := os.Stat(w.path)
	if err == nil && info.ModTime().Equal(w.modTime) {
		return w.cfg
	}
	cfg, err := LoadConfig(w.path)
	if err != nil || cfg.Kind != w.cfg.Kind || cfg.Mode != w.cfg.Mode || cfg.ODSCode != w.cfg.ODSCode {
		w.logger.Error("The configuration no longer loads; forwarding nothing until it does")
		w.cfg.Categories, w.cfg.Push = nil, nil
	} else {
		w.cfg = cfg
	}
	if info != nil {
		w.modTime = info.ModTime()
	}
	return w.cfg
}
