/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package gateway is the record gateway: the policy enforcement point in
// front of a region's record service. It verifies the caller's bearer
// token, serves FHIR R4 reads and searches from the record service, shares
// only what the region's policy bundle allows and no patient's objection
// forbids, writes an audit event for every decision, and offers the same
// decisions to other enforcement points. It fails closed: without a valid
// bundle, keys or objection register it denies everything.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shcr-io/shcr-operator/internal/gateway/identity"
)

// Config configures a Gateway.
type Config struct {
	// Region is the ShCRRegion the gateway serves; a bundle for another
	// region is refused.
	Region string
	// BundleDir is the mounted policy bundle ConfigMap.
	BundleDir string
	// Upstream is the record service's FHIR base URL.
	Upstream *url.URL
	// UpstreamTimeout bounds one call to the record service.
	UpstreamTimeout time.Duration
	// ExternalURL is the gateway's own FHIR base as its clients reach it.
	// Every link and fullUrl the gateway writes starts with it; the Host
	// and X-Forwarded-* headers of a request are never used.
	ExternalURL *url.URL
	// MaxPageSize is the most entries a search or history page asks the
	// record service for: a smaller _count is kept, a larger one (or none)
	// becomes MaxPageSize. 0 means DefaultMaxPageSize.
	MaxPageSize int
	// UpstreamMemory bounds the bytes of record service answers held at
	// once, across all requests. 0 means DefaultUpstreamMemory.
	UpstreamMemory int64
	// UpstreamMemoryWait is how long an answer waits for room in
	// UpstreamMemory before the request gets 503. 0 means
	// DefaultUpstreamMemoryWait.
	UpstreamMemoryWait time.Duration
	// Identity says how bearer tokens are verified.
	Identity identity.Config
	// DecisionAPI says who may use the decision API; empty, nobody.
	DecisionAPI DecisionAPIConfig
	// ObjectionsFile is the objection register; empty runs without one.
	ObjectionsFile string
	// Audit receives one JSON AuditEvent per line.
	Audit io.Writer
	// ReloadInterval is how often files are polled for changes.
	ReloadInterval time.Duration
	// Logger receives operational logs, never tokens or clinical content.
	Logger *slog.Logger
	// GPConnectFile, when set, is the GP Connect configuration
	// (GPConnectFile): GP practices read at the moment of care
	// (federated.go). GPConnectCredentials is the directory of the client
	// certificate and CA for them, and GPConnectTimeout bounds one call (0
	// means DefaultGPConnectTimeout).
	GPConnectFile        string
	GPConnectCredentials string
	GPConnectTimeout     time.Duration
}

func (c Config) validate() error {
	var errs []error
	if c.Region == "" {
		errs = append(errs, errors.New("the region is required (--region)"))
	}
	if c.BundleDir == "" {
		errs = append(errs, errors.New("the policy bundle directory is required (--bundle-dir)"))
	}
	if c.Upstream == nil || (c.Upstream.Scheme != "http" && c.Upstream.Scheme != "https") || c.Upstream.Host == "" ||
		c.Upstream.RawQuery != "" || c.Upstream.Fragment != "" {
		errs = append(errs, errors.New("the record service must be an absolute http(s) URL without query, e.g. http://record-service.shcr-tvs.svc:8080/fhir (--upstream)"))
	}
	if c.ExternalURL == nil || (c.ExternalURL.Scheme != "http" && c.ExternalURL.Scheme != "https") || c.ExternalURL.Host == "" ||
		c.ExternalURL.RawQuery != "" || c.ExternalURL.Fragment != "" || c.ExternalURL.User != nil {
		errs = append(errs, errors.New("the gateway's external URL must be an absolute http(s) URL without user, query or fragment, e.g. https://records.example.nhs.uk/ (--external-url)"))
	}
	if c.MaxPageSize < 0 || c.MaxPageSize > MaxPageSizeLimit {
		errs = append(errs, fmt.Errorf("the page size limit must be from 1 to %d (--max-page-size)", MaxPageSizeLimit))
	}
	if c.UpstreamMemory < 0 || c.UpstreamMemoryWait < 0 {
		errs = append(errs, errors.New("the upstream memory budget and its wait must not be negative (--upstream-memory, --upstream-memory-wait)"))
	}
	if c.UpstreamTimeout <= 0 {
		errs = append(errs, errors.New("the upstream timeout must be positive (--upstream-timeout)"))
	}
	if c.ReloadInterval <= 0 {
		errs = append(errs, errors.New("the reload interval must be positive (--reload-interval)"))
	}
	if c.Audit == nil {
		errs = append(errs, errors.New("an audit sink is required (--audit-sink)"))
	}
	return errors.Join(append(errs, c.Identity.Validate(), c.DecisionAPI.validate())...)
}

// Page size and memory defaults.
const (
	// DefaultMaxPageSize is the page size limit without --max-page-size.
	DefaultMaxPageSize = 50
	// MaxPageSizeLimit is the largest page size limit that can be set.
	MaxPageSizeLimit = 1000
	// DefaultUpstreamMemory is the record service answers' memory budget:
	// one answer of the largest size read (maxUpstreamBody) and room for
	// smaller ones beside it, well under half the default container
	// memory limit (256 MiB).
	DefaultUpstreamMemory = 96 << 20
	// DefaultUpstreamMemoryWait is how long an answer waits for room.
	DefaultUpstreamMemoryWait = 10 * time.Second
)

// withDefaults fills in the defaults of optional settings.
func (c Config) withDefaults() Config {
	if c.MaxPageSize == 0 {
		c.MaxPageSize = DefaultMaxPageSize
	}
	if c.UpstreamMemory == 0 {
		c.UpstreamMemory = DefaultUpstreamMemory
	}
	if c.UpstreamMemoryWait == 0 {
		c.UpstreamMemoryWait = DefaultUpstreamMemoryWait
	}
	return c
}

// jwksRetry is the shortest time between two fetches of a JWKS URL.
const jwksRetry = 30 * time.Second

// Gateway is the record gateway. Its configuration is swapped atomically on
// reload, so a request is decided wholly under one bundle and register.
type Gateway struct {
	cfg        Config
	log        *slog.Logger
	policy     atomic.Pointer[loadedPolicy]
	objections atomic.Pointer[objectionRegister]
	gpconnect  atomic.Pointer[federation]
	verifier   *identity.Verifier
	upstream   *upstream
	audit      *auditor
	metrics    *metrics
	sources    []source
	draining   atomic.Bool
	observer   string
	refusals   *refusalLimiter
	// breakGlass counts break-glass accesses for BreakGlassCountPath.
	breakGlass *breakGlassTally
	// metricsHandler serves /metrics.
	metricsHandler http.Handler
	// started is when the gateway started, the date of its
	// CapabilityStatement.
	started time.Time
}

// New builds a gateway and loads its bundle, keys and objection register.
// A source that cannot be loaded leaves the gateway failing closed and not
// ready; only an invalid configuration is an error.
func New(ctx context.Context, cfg Config) (*Gateway, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("invalid gateway configuration: %w", err)
	}
	cfg = cfg.withDefaults()
	cfg.Upstream = withoutTrailingSlash(cfg.Upstream)
	cfg.ExternalURL = withTrailingSlash(cfg.ExternalURL)
	m := newMetrics()
	g := &Gateway{
		cfg:     cfg,
		log:     cfg.Logger,
		metrics: m,
		audit:   &auditor{w: cfg.Audit, took: m.auditWrites},
		upstream: &upstream{
			base:    cfg.Upstream,
			client:  upstreamClient(cfg.UpstreamTimeout),
			latency: m.upstreamLatency,
			budget:  newMemoryBudget(cfg.UpstreamMemory, cfg.UpstreamMemoryWait, m.upstreamMemory),
		},
		verifier:   identity.NewVerifier(cfg.Identity, cfg.DecisionAPI.Audience),
		observer:   observerName(),
		refusals:   newRefusalLimiter(),
		breakGlass: newBreakGlassTally(),
		started:    time.Now().UTC(),
	}
	if missing := cfg.Identity.Missing(); len(missing) > 0 {
		g.log.Warn("Identity provider not configured; every request will be refused", "missing", missing)
	}
	g.metricsHandler = promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
	m.setBundle(nil)
	g.sources = g.buildSources()
	g.reload(ctx)
	return g, nil
}

// withoutTrailingSlash copies a base URL so that paths join onto it the
// same way with or without a trailing slash.
func withoutTrailingSlash(u *url.URL) *url.URL {
	out := *u
	out.Path = strings.TrimSuffix(out.Path, "/")
	out.RawPath = ""
	return &out
}

// withTrailingSlash copies a base URL so that it ends with a slash, as the
// gateway's own base does.
func withTrailingSlash(u *url.URL) *url.URL {
	out := *u
	out.Path = strings.TrimSuffix(out.Path, "/") + "/"
	out.RawPath = ""
	return &out
}

// observerName names this gateway instance in audit events: the pod name.
func observerName() string {
	host, err := os.Hostname()
	if err != nil {
		return "record-gateway"
	}
	return "record-gateway " + host
}

func (g *Gateway) buildSources() []source {
	sources := []source{&fileSource{
		source: sourceBundle,
		paths:  bundlePaths(g.cfg.BundleDir),
		read:   g.loadBundle,
	}}
	id := g.cfg.Identity
	switch {
	case id.JWKSFile != "":
		sources = append(sources, &fileSource{source: sourceJWKS, paths: []string{id.JWKSFile}, read: g.loadJWKSFile})
	case id.JWKSURL != "":
		jwks := &urlSource{source: sourceJWKS, refresh: id.JWKSRefresh, retry: min(jwksRetry, id.JWKSRefresh), fetch: g.fetchJWKS}
		g.verifier.OnUnknownKey(jwks.ask)
		sources = append(sources, jwks)
	}
	if g.cfg.ObjectionsFile != "" {
		sources = append(sources, &fileSource{source: sourceObjections, paths: []string{g.cfg.ObjectionsFile}, read: g.loadObjections})
	}
	if g.cfg.GPConnectFile != "" {
		sources = append(sources, g.gpConnectSource())
	}
	return sources
}

// Handler serves the FHIR API at the root, the decision API, health,
// readiness and metrics (see route). Every refusal is audited.
func (g *Gateway) Handler() http.Handler {
	return g.auditRefusals(http.HandlerFunc(g.route))
}

// Watch reloads the bundle, keys and objection register when they change,
// until ctx ends. Each is watched on its own, so that a slow identity
// provider never delays a new bundle.
func (g *Gateway) Watch(ctx context.Context) {
	var wg sync.WaitGroup
	for _, s := range g.sources {
		wg.Go(func() { g.watch(ctx, s) })
	}
	wg.Wait()
}

func (g *Gateway) watch(ctx context.Context, s source) {
	ticker := time.NewTicker(g.cfg.ReloadInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticker.C:
			if s.due(now) {
				g.load(ctx, s)
			}
		}
	}
}

// reload loads every source that is due.
func (g *Gateway) reload(ctx context.Context) {
	now := time.Now()
	for _, s := range g.sources {
		if s.due(now) {
			g.load(ctx, s)
		}
	}
}

func (g *Gateway) load(ctx context.Context, s source) {
	if err := s.load(ctx); err != nil {
		g.metrics.reloadErrors.WithLabelValues(s.name()).Inc()
		g.log.Error("Loading failed; failing closed", "source", s.name(), "error", err)
		return
	}
	g.metrics.reloads.WithLabelValues(s.name()).Inc()
}

// Drain makes the gateway report not ready, so that it is taken out of its
// Service before it shuts down. Requests are still served.
func (g *Gateway) Drain() { g.draining.Store(true) }

// notReady lists why the gateway cannot serve; empty means ready.
func (g *Gateway) notReady() []string {
	var reasons []string
	if g.draining.Load() {
		reasons = append(reasons, "shutting down")
	}
	if g.policy.Load() == nil {
		reasons = append(reasons, "no valid policy bundle loaded")
	}
	switch {
	case g.verifier.Unconfigured():
		reasons = append(reasons, "identity provider not configured")
	case !g.verifier.HasKeys():
		reasons = append(reasons, "no identity provider keys loaded")
	}
	if g.currentView().objectionsMissing {
		reasons = append(reasons, "objection register not loaded")
	}
	return reasons
}

func serveHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok\n")
}

func (g *Gateway) serveReadyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if reasons := g.notReady(); len(reasons) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "not ready: "+strings.Join(reasons, "; ")+"\n")
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}
