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
)

// shutdownTimeout bounds how long the status server drains on stop.
const shutdownTimeout = 5 * time.Second

// options are the parsed flags.
type options struct {
	listen    string
	once      bool
	connector connector.Options
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
	fs.BoolVar(&opts.once, "once", false, "Run one cycle and exit, without serving; the exit status says whether it succeeded.")
	fs.IntVar(&opts.connector.PageSize, "page-size", opts.connector.PageSize, "Resources asked for per page (_count), and written per transaction; at most 1000.")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return opts, nil
}

// serve serves status on listener and pulls on the schedule until ctx
// ends; the cycle under way finishes the page it is writing first.
func serve(ctx context.Context, c *connector.Connector, listener net.Listener, logger *slog.Logger) error {
	server := &http.Server{
		Handler:           c.Handler(),
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
	go func() {
		defer close(pulled)
		_ = c.Run(ctx) // returns nil once ctx ends
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
	return nil
}
