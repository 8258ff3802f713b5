/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Command gateway runs the record gateway, the policy enforcement point the
// operator deploys in every region. See docs/gateway.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/shcr-io/shcr-operator/internal/auditlog"
	"github.com/shcr-io/shcr-operator/internal/gateway"
	"github.com/shcr-io/shcr-operator/internal/gateway/identity"
)

// The audit sinks, as ShCRRegion spec.audit.sink names them.
const (
	auditSinkStdout = "Stdout"
	auditSinkFile   = "File"
)

// options are the parsed flags.
type options struct {
	listen          string
	upstream        string
	externalURL     string
	auditSink       string
	audit           auditlog.Options
	shutdownDelay   time.Duration
	shutdownTimeout time.Duration
	gateway         gateway.Config
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

// run parses the flags, listens and serves until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	listener, err := net.Listen("tcp", opts.listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", opts.listen, err)
	}
	return serve(ctx, opts, listener, stdout, stderr)
}

func parseFlags(args []string, output io.Writer) (options, error) {
	var opts options
	opts.gateway.Identity.Claims = identity.DefaultClaimMapping()
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(output)
	bindServingFlags(fs, &opts)
	bindIdentityFlags(fs, &opts.gateway.Identity)
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return opts, opts.complete()
}

func bindServingFlags(fs *flag.FlagSet, opts *options) {
	fs.StringVar(&opts.listen, "listen", ":8080", "Address to serve FHIR, the decision API, health, readiness and metrics on.")
	fs.StringVar(&opts.upstream, "upstream", "", "FHIR base URL of the record service, e.g. http://record-service.shcr-tvs.svc:8080/fhir.")
	fs.StringVar(&opts.externalURL, "external-url", "", "The gateway's own FHIR base URL as clients reach it; every link and fullUrl starts with it, e.g. https://records.example.nhs.uk/.")
	fs.IntVar(&opts.gateway.MaxPageSize, "max-page-size", gateway.DefaultMaxPageSize, fmt.Sprintf("The most entries a search or history page holds (1 to %d); a larger _count is lowered to it.", gateway.MaxPageSizeLimit))
	fs.Int64Var(&opts.gateway.UpstreamMemory, "upstream-memory", gateway.DefaultUpstreamMemory, "Bytes of record service answers held at once across all requests; an answer that does not fit waits, then gets 503.")
	fs.DurationVar(&opts.gateway.UpstreamMemoryWait, "upstream-memory-wait", gateway.DefaultUpstreamMemoryWait, "How long an answer waits for room in --upstream-memory before the request gets 503.")
	fs.StringVar(&opts.gateway.Region, "region", "", "The ShCRRegion this gateway serves; a policy bundle for another region is refused.")
	fs.StringVar(&opts.gateway.BundleDir, "bundle-dir", "/etc/shcr/bundle", "Directory of the mounted policy bundle (bundle.json or bundle.json.gz).")
	fs.StringVar(&opts.auditSink, "audit-sink", auditSinkStdout, "Where audit events go: Stdout, or File (hash-chained files in --audit-dir).")
	bindAuditFileFlags(fs, &opts.audit)
	fs.Func("decision-api-roles", "Comma-separated national RBAC role codes (R8000, ...) that may use /v1/decisions; without it or --decision-api-audience, nobody may.",
		func(value string) error {
			opts.gateway.DecisionAPI.Roles = append(opts.gateway.DecisionAPI.Roles, strings.Split(value, ",")...)
			return nil
		})
	fs.StringVar(&opts.gateway.DecisionAPI.Audience, "decision-api-audience", "", "An aud value that lets a token use /v1/decisions, besides --audience.")
	fs.StringVar(&opts.gateway.ObjectionsFile, "objections-file", "", "Register of patients' objections to sharing; empty runs without one.")
	fs.DurationVar(&opts.gateway.ReloadInterval, "reload-interval", time.Second, "How often the bundle, JWKS file and objection register are checked for changes.")
	fs.DurationVar(&opts.gateway.UpstreamTimeout, "upstream-timeout", 30*time.Second, "Longest wait for the record service.")
	fs.StringVar(&opts.gateway.GPConnectFile, "gpconnect-config", "", "GP Connect configuration (the region's ASID and its GP practices' endpoints): GP records are read at the moment of care; empty reads none.")
	fs.StringVar(&opts.gateway.GPConnectCredentials, "gpconnect-credentials", "", "Directory of the GP Connect client certificate (tls.crt, tls.key) and CA (ca.crt), each optional.")
	fs.DurationVar(&opts.gateway.GPConnectTimeout, "gpconnect-timeout", gateway.DefaultGPConnectTimeout, "Longest wait for one GP practice's GP Connect endpoint.")
	fs.DurationVar(&opts.shutdownDelay, "shutdown-delay", 5*time.Second, "On SIGTERM, how long to report not ready before closing the listener.")
	fs.DurationVar(&opts.shutdownTimeout, "shutdown-timeout", 20*time.Second, "On SIGTERM, how long to let requests in flight finish.")
}

// bindAuditFileFlags binds the flags of the File audit sink.
func bindAuditFileFlags(fs *flag.FlagSet, a *auditlog.Options) {
	fs.StringVar(&a.Dir, "audit-dir", "/var/log/shcr", "Directory of the audit files with --audit-sink=File; it must be on a writable volume.")
	fs.IntVar(&a.RetentionDays, "audit-retention-days", 0, "With --audit-sink=File, days an audit file is kept after its newest event; 0 keeps every file.")
	fs.Int64Var(&a.MaxFileBytes, "audit-max-file-bytes", auditlog.DefaultMaxFileBytes, "With --audit-sink=File, the size at which a new audit file is started (one is also started every UTC day).")
}

// bindIdentityFlags binds the token verification flags; the claim flags
// default to the CIS2 mapping already in id.Claims.
func bindIdentityFlags(fs *flag.FlagSet, id *identity.Config) {
	fs.StringVar(&id.Issuer, "issuer", "", "The iss bearer tokens must have; without it, every token is refused.")
	fs.StringVar(&id.Audience, "audience", "", "A value the aud of bearer tokens must contain; without it, every token is refused.")
	fs.StringVar(&id.JWKSFile, "jwks-file", "", "JWKS file with the issuer's public keys (reloaded on change).")
	fs.StringVar(&id.JWKSURL, "jwks-url", "", "JWKS URL of the issuer (refetched every --jwks-refresh and after an unknown kid).")
	fs.DurationVar(&id.JWKSRefresh, "jwks-refresh", 5*time.Minute, "How often --jwks-url is fetched again.")
	fs.DurationVar(&id.ClockSkew, "clock-skew", 30*time.Second, "Leeway on token exp, nbf and iat.")
	c := &id.Claims
	fs.StringVar(&c.Subject, "claim-subject", c.Subject, "Claim naming the user.")
	fs.StringVar(&c.Roles, "claim-roles", c.Roles, "Claim holding the user's role profiles (CIS2).")
	fs.StringVar(&c.SelectedRole, "claim-selected-role", c.SelectedRole, "Claim naming the role profile in use by its person_roleid (CIS2).")
	fs.StringVar(&c.Organisation, "claim-organisation", c.Organisation, "Top-level claim with the user's ODS code, instead of the role profile's org_code.")
	fs.StringVar(&c.Role, "claim-role", c.Role, "Top-level claim with the user's national RBAC role code, instead of the role profile's role_code.")
	fs.StringVar(&c.PurposeOfUse, "claim-purpose-of-use", c.PurposeOfUse, "Claim with the purpose of use: TREAT or ETREAT.")
	fs.StringVar(&c.LegitimateRelationship, "claim-legitimate-relationship", c.LegitimateRelationship, "Boolean claim asserting a care relationship with the patient.")
	fs.StringVar(&c.BreakGlassReason, "claim-break-glass-reason", c.BreakGlassReason, "Claim with a break-glass reason; its presence asks for an emergency override.")
}

// complete checks what the gateway package cannot: the upstream and
// external URLs, the page size and the audit sink.
func (o *options) complete() error {
	if o.upstream == "" {
		return errors.New("--upstream is required")
	}
	u, err := url.Parse(o.upstream)
	if err != nil {
		return fmt.Errorf("--upstream: %w", err)
	}
	o.gateway.Upstream = u
	if o.audit.RetentionDays < 0 {
		return fmt.Errorf("--audit-retention-days must be 0 (keep every file) or more, not %d", o.audit.RetentionDays)
	}
	if o.externalURL == "" {
		return errors.New("--external-url is required: the gateway never builds its links from a request's Host header")
	}
	if o.gateway.ExternalURL, err = url.Parse(o.externalURL); err != nil {
		return fmt.Errorf("--external-url: %w", err)
	}
	if o.gateway.MaxPageSize < 1 {
		return fmt.Errorf("--max-page-size must be from 1 to %d", gateway.MaxPageSizeLimit)
	}
	switch o.auditSink {
	case auditSinkStdout, auditSinkFile:
		return nil
	default:
		return fmt.Errorf("--audit-sink must be %s or %s, not %q", auditSinkStdout, auditSinkFile, o.auditSink)
	}
}

// serve runs the gateway on listener until ctx ends, then drains: it reports
// not ready for the shutdown delay, stops accepting connections and lets
// requests in flight finish.
func serve(ctx context.Context, opts options, listener net.Listener, stdout, stderr io.Writer) error {
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	gateway.TuneRuntime(logger)
	audit, closeAudit, err := openAudit(opts, stdout, logger)
	if err != nil {
		_ = listener.Close()
		return err
	}
	defer closeAudit()
	opts.gateway.Audit, opts.gateway.Logger = audit, logger
	g, err := gateway.New(ctx, opts.gateway)
	if err != nil {
		_ = listener.Close()
		return err
	}
	server := &http.Server{
		Handler:           g.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      opts.gateway.UpstreamTimeout + time.Minute,
		IdleTimeout:       2 * time.Minute,
		// Well above the gateway's own limit, so that an oversized request
		// gets the gateway's 431 OperationOutcome, not the server's text.
		MaxHeaderBytes: gateway.ServerMaxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	watchCtx, stopWatching := context.WithCancel(context.Background())
	defer stopWatching()
	go g.Watch(watchCtx)
	served := make(chan error, 1)
	// The server's own refusals (a request it cannot read) become
	// OperationOutcomes and are audited.
	go func() { served <- server.Serve(g.WrapListener(listener)) }()
	logger.Info("Record gateway serving", "address", listener.Addr().String(), "region", opts.gateway.Region)

	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	g.Drain()
	logger.Info("Shutting down: draining", "delay", opts.shutdownDelay.String())
	time.Sleep(opts.shutdownDelay)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), opts.shutdownTimeout)
	defer cancel()
	if err := server.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	logger.Info("Record gateway stopped")
	return nil
}

// auditMaintenance is how often the File sink is checked for a new UTC day
// and for files past retention when no request writes to it.
const auditMaintenance = time.Hour

// openAudit opens the audit sink: stdout, or the hash-chained audit files of
// internal/auditlog, kept up by a goroutine the returned func stops before
// it closes the log.
func openAudit(opts options, stdout io.Writer, logger *slog.Logger) (io.Writer, func(), error) {
	if opts.auditSink == auditSinkStdout {
		return stdout, func() {}, nil
	}
	a := opts.audit
	if a.Observer == "" {
		a.Observer, _ = os.Hostname()
	}
	log, err := auditlog.Open(a)
	if err != nil {
		return nil, nil, fmt.Errorf("opening the audit log (mount a writable volume or set --audit-dir): %w", err)
	}
	logHead := func() {
		// An anchor for kubectl shcr audit verify --anchor: shipped off the
		// node with the gateway's log, it shows a later rewrite of the chain.
		file, head := log.Head()
		logger.Info("Audit log head", "file", file, "head", head.String())
	}
	logHead()
	ticker := time.NewTicker(auditMaintenance)
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			case <-ticker.C:
				if err := log.Maintain(); err != nil {
					logger.Error("Audit log maintenance failed", "error", err)
				}
				logHead()
			}
		}
	}()
	return log, func() {
		ticker.Stop()
		close(stop)
		<-stopped
		err := log.Close()
		file, head := log.Head()
		// The head is an anchor for kubectl shcr audit verify --head.
		logger.Info("Audit log closed", "file", file, "head", head.String(), "error", err)
	}, nil
}
