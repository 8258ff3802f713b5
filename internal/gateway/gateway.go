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
	// Identity says how bearer tokens are verified.
	Identity IdentityConfig
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
	if c.UpstreamTimeout <= 0 {
		errs = append(errs, errors.New("the upstream timeout must be positive (--upstream-timeout)"))
	}
	if c.ReloadInterval <= 0 {
		errs = append(errs, errors.New("the reload interval must be positive (--reload-interval)"))
	}
	if c.Audit == nil {
		errs = append(errs, errors.New("an audit sink is required (--audit-sink)"))
	}
	return errors.Join(append(errs, c.Identity.validate(), c.DecisionAPI.validate())...)
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
	verifier   *verifier
	upstream   *upstream
	audit      *auditor
	metrics    *metrics
	sources    []source
	draining   atomic.Bool
	observer   string
	refusals   *refusalLimiter
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
	cfg.Upstream = withoutTrailingSlash(cfg.Upstream)
	m := newMetrics()
	g := &Gateway{
		cfg:     cfg,
		log:     cfg.Logger,
		metrics: m,
		audit:   &auditor{w: cfg.Audit},
		upstream: &upstream{
			base:    cfg.Upstream,
			client:  upstreamClient(cfg.UpstreamTimeout),
			latency: m.upstreamLatency,
		},
		verifier: &verifier{
			issuer:           cfg.Identity.Issuer,
			audience:         cfg.Identity.Audience,
			skew:             cfg.Identity.ClockSkew,
			decisionAudience: cfg.DecisionAPI.Audience,
			claims:           cfg.Identity.Claims,
		},
		observer: observerName(),
		refusals: newRefusalLimiter(),
	}
	if missing := cfg.Identity.missing(); len(missing) > 0 {
		g.verifier.unconfigured = "the gateway's identity provider is not configured (" +
			strings.Join(missing, ", ") + "), so it refuses every token"
		g.log.Warn("Identity provider not configured; every request will be refused", "missing", missing)
	}
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
		g.verifier.unknownKey = jwks.ask
		sources = append(sources, jwks)
	}
	if g.cfg.ObjectionsFile != "" {
		sources = append(sources, &fileSource{source: sourceObjections, paths: []string{g.cfg.ObjectionsFile}, read: g.loadObjections})
	}
	return sources
}

// Handler serves the FHIR API at the root, the decision API, health,
// readiness and metrics. Every refusal is audited.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", serveHealthz)
	mux.HandleFunc("GET /readyz", g.serveReadyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.metrics.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("POST /v1/decisions", g.serveDecision)
	mux.HandleFunc("/", g.serveFHIR)
	return g.auditRefusals(mux)
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
		reasons = append(reasons, "no valid policy bundle loaded from "+g.cfg.BundleDir)
	}
	switch {
	case g.verifier.unconfigured != "":
		reasons = append(reasons, "identity provider not configured")
	case g.verifier.keys.Load() == nil:
		reasons = append(reasons, "no identity provider keys loaded")
	}
	if g.currentView().objectionsMissing {
		reasons = append(reasons, "objection register "+g.cfg.ObjectionsFile+" not loaded")
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
