/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Command connector carries one organisation's records from its FHIR R4
// system into its region's record service, on the schedule and within the
// categories its configuration gives. See docs/connector.md.
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
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/shcr-io/shcr-operator/internal/connector"
)

// The defaults of the paths, where the operator's Deployment mounts them
// (internal/specs). The state default is on the pod's writable /tmp; back
// it with a volume to keep watermarks across pod restarts.
const (
	defaultConfig      = "/etc/shcr/connector/config.json"
	defaultCredentials = "/var/run/secrets/shcr/credentials"
	defaultState       = "/tmp/shcr-connector/state.json"
	defaultMLLPState   = "/tmp/shcr-connector/hl7-control-ids"
)

// shutdownTimeout bounds how long the status server drains on stop.
const shutdownTimeout = 5 * time.Second

// options are the parsed flags.
type options struct {
	listen    string
	once      bool
	connector connector.Options
	// mllp* configure the HL7v2 listener, used when the configuration's
	// kind is HL7v2.
	mllpListen, mllpState string
	mllpPlaintext         bool
	mllpMaxBytes          int
	// pushListen is where a pushed FHIR connector serves HTTPS.
	pushListen string
	// purge, with purgeJob, runs the operator's purge Job instead.
	purge      bool
	purgeJob   connector.PurgeJob
	categories string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// After the first signal, a second one ends the process at once.
	context.AfterFunc(ctx, stop)
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "connector:", err)
		os.Exit(1)
	}
}

// run parses the flags and runs one cycle (--once) or serves status and
// pulls on the schedule until ctx ends.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	opts.connector.Logger = logger
	if opts.purge {
		return connector.RunPurgeJob(ctx, opts.purgeJob, logger)
	}
	if cfg, err := connector.LoadConfig(opts.connector.ConfigPath); err == nil && cfg.Kind == connector.KindHL7v2 {
		return runHL7(ctx, opts, logger)
	} else if err == nil && cfg.Kind == connector.KindFHIR && cfg.Mode == connector.ModePush {
		return runFHIRPush(ctx, opts, logger)
	}
	c, err := connector.New(opts.connector)
	if err != nil {
		return err
	}
	if opts.once {
		return c.RunCycle(ctx)
	}
	listener, err := net.Listen("tcp", opts.listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", opts.listen, err)
	}
	return serve(ctx, c, listener, logger)
}

func parseFlags(args []string, output io.Writer) (options, error) {
	opts := options{connector: connector.DefaultOptions()}
	fs := flag.NewFlagSet("connector", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&opts.connector.ConfigPath, "config", defaultConfig, "Configuration file the operator writes; read again every cycle.")
	fs.StringVar(&opts.connector.CredentialsDir, "credentials", defaultCredentials, "Directory of the mounted credentials Secret: client-id and client-secret, and/or tls.crt and tls.key, optional ca.crt.")
	fs.StringVar(&opts.connector.StatePath, "state", defaultState, "File the watermarks are kept in; put it on a persistent volume so that a new pod resumes where the last stopped.")
	fs.StringVar(&opts.listen, "listen", ":8080", "Address to serve /healthz, /readyz, /metrics and /status on.")
	fs.StringVar(&opts.mllpListen, "mllp-listen", ":2575", "Address the HL7v2 (MLLP) listener serves on, when the configuration's kind is HL7v2.")
	fs.StringVar(&opts.mllpState, "mllp-state", defaultMLLPState, "File the control ids of committed HL7v2 messages are kept in; put it on a persistent volume.")
	fs.BoolVar(&opts.mllpPlaintext, "mllp-plaintext", false, "Serve MLLP over plain TCP instead of TLS; for tests only, the operator never sets it.")
	fs.IntVar(&opts.mllpMaxBytes, "mllp-max-bytes", connector.DefaultMaxMessageBytes, "Largest HL7v2 message accepted; a larger frame closes the connection.")
	fs.StringVar(&opts.pushListen, "push-listen", ":8443", "Address the FHIR push endpoint serves HTTPS on, when the configuration's kind is FHIR and its mode Push.")
	fs.BoolVar(&opts.once, "once", false, "Run one cycle and exit, without serving; the exit status says whether it succeeded.")
	fs.IntVar(&opts.connector.PageSize, "page-size", opts.connector.PageSize, "Resources asked for per page (_count), and written per transaction; at most 1000.")
	fs.BoolVar(&opts.purge, "purge", false, "Run the operator's purge Job: remove the organisation's records of the --purge-categories from the record service, and exit.")
	fs.StringVar(&opts.purgeJob.ODSCode, "purge-ods", "", "With --purge: the organisation whose records are removed.")
	fs.StringVar(&opts.categories, "purge-categories", "", "With --purge: the data categories whose records are removed, comma-separated.")
	fs.StringVar(&opts.purgeJob.RecordService, "purge-record-service", "", "With --purge: the record service's FHIR base URL.")
	fs.StringVar(&opts.purgeJob.Reason, "purge-reason", "", "With --purge: why, recorded in the AuditEvent.")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if opts.categories != "" {
		opts.purgeJob.Categories = strings.Split(opts.categories, ",")
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return opts, nil
}

// runHL7 serves MLLP and status until ctx ends.
func runHL7(ctx context.Context, opts options, logger *slog.Logger) error {
	if opts.once {
		return errors.New("--once pulls one cycle: kind HL7v2 is pushed and has no cycle")
	}
	mllp, err := net.Listen("tcp", opts.mllpListen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", opts.mllpListen, err)
	}
	h, err := connector.NewHL7(connector.HL7Options{
		ConfigPath: opts.connector.ConfigPath, CredentialsDir: opts.connector.CredentialsDir, StatePath: opts.mllpState,
		Listener: mllp, Plaintext: opts.mllpPlaintext, MaxMessageBytes: opts.mllpMaxBytes, Logger: logger,
	})
	if err != nil {
		_ = mllp.Close()
		return err
	}
	listener, err := net.Listen("tcp", opts.listen)
	if err != nil {
		_ = mllp.Close()
		return fmt.Errorf("listening on %s: %w", opts.listen, err)
	}
	return serveWith(ctx, h.Handler(), h.Run, listener, logger)
}

// runFHIRPush serves the FHIR push endpoint and status until ctx ends.
func runFHIRPush(ctx context.Context, opts options, logger *slog.Logger) error {
	if opts.once {
		return errors.New("--once pulls one cycle: kind FHIR with mode Push is pushed and has no cycle")
	}
	push, err := net.Listen("tcp", opts.pushListen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", opts.pushListen, err)
	}
	p, err := connector.NewFHIRPush(connector.FHIRPushOptions{
		ConfigPath: opts.connector.ConfigPath, CredentialsDir: opts.connector.CredentialsDir, Listener: push, Logger: logger,
	})
	if err != nil {
		_ = push.Close()
		return err
	}
	listener, err := net.Listen("tcp", opts.listen)
	if err != nil {
		_ = push.Close()
		return fmt.Errorf("listening on %s: %w", opts.listen, err)
	}
	return serveWith(ctx, p.Handler(), p.Serve, listener, logger)
}

// serve serves status on listener and pulls on the schedule until ctx
// ends; the cycle under way finishes the page it is writing first.
func serve(ctx context.Context, c *connector.Connector, listener net.Listener, logger *slog.Logger) error {
	return serveWith(ctx, c.Handler(), func(ctx context.Context) error { return c.Run(ctx) }, listener, logger)
}

// serveWith serves handler on listener while work runs, until ctx ends.
func serveWith(ctx context.Context, handler http.Handler, work func(context.Context) error, listener net.Listener, logger *slog.Logger) error {
	server := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	pulled := make(chan struct{})
	var workErr error
	go func() {
		defer close(pulled)
		workErr = work(ctx) // nil once ctx ends
	}()
	logger.Info("Connector serving", "address", listener.Addr().String())

	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-pulled:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := server.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutting down: %w", err)
	}
	logger.Info("Connector stopped")
	return workErr
}
