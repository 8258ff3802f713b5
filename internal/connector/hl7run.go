/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// configRecheck is how often the HL7v2 listener looks again at its
// configuration file, for a changed set of categories.
const configRecheck = 5 * time.Second

// HL7Options configure RunHL7.
type HL7Options struct {
	// ConfigPath, CredentialsDir and StatePath are as for the pull
	// connector; StatePath is the control-id file.
	ConfigPath, CredentialsDir, StatePath string
	// Listener receives MLLP connections.
	Listener net.Listener
	// Plaintext serves MLLP without TLS. Only for tests and a link the
	// operator of the region secures otherwise; the operator never sets it.
	Plaintext       bool
	MaxMessageBytes int
	Logger          *slog.Logger
}

// HL7Runtime is a running HL7v2 connector: the MLLP listener and what its
// status endpoint reports.
type HL7Runtime struct {
	opts   HL7Options
	server *MLLPServer

	mu       sync.Mutex
	cfg      Config
	checked  time.Time
	modTime  time.Time
	lastGood *time.Time
}

// NewHL7 reads the configuration and credentials and opens the control-id
// file. The listener's certificate is tls.crt and tls.key of the
// credentials Secret; with ca.crt, a client certificate signed by it is
// required (mutual TLS).
func NewHL7(opts HL7Options) (*HL7Runtime, error) {
	cfg, err := LoadConfig(opts.ConfigPath)
	if err != nil {
		return nil, err
	}
	if cfg.Kind != KindHL7v2 {
		return nil, fmt.Errorf("configuration %s: kind %s is not served by the MLLP listener", opts.ConfigPath, cfg.Kind)
	}
	var tlsConfig *tls.Config
	if !opts.Plaintext {
		if tlsConfig, err = listenerTLS(opts.CredentialsDir); err != nil {
			return nil, err
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h := &HL7Runtime{opts: opts, cfg: cfg, checked: time.Now()}
	if info, err := os.Stat(opts.ConfigPath); err == nil {
		h.modTime = info.ModTime()
	}
	h.server, err = NewMLLPServer(MLLPOptions{
		ODSCode: cfg.ODSCode, Source: cfg.Endpoint, RecordService: cfg.RecordService, Categories: h.categories,
		StatePath: opts.StatePath, MaxMessageBytes: opts.MaxMessageBytes, TLS: tlsConfig, Logger: opts.Logger,
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// listenerTLS is the MLLP listener's TLS configuration from the
// credentials directory.
func listenerTLS(dir string) (*tls.Config, error) {
	creds, err := loadCredentials(dir)
	if err != nil {
		return nil, err
	}
	if creds.certificate == nil {
		return nil, fmt.Errorf("kind HL7v2 listens with TLS: the credentials Secret needs %s and %s (and %s to require client certificates)", fileTLSCert, fileTLSKey, fileCA)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*creds.certificate}}
	if creds.roots != nil {
		cfg.ClientCAs, cfg.ClientAuth = creds.roots, tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// categories are the known categories of the configuration, read again
// when the file changed (at most every configRecheck). A configuration
// that no longer loads forwards nothing: fail closed.
func (h *HL7Runtime) categories() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if time.Since(h.checked) >= configRecheck {
		h.checked = time.Now()
		info, err := os.Stat(h.opts.ConfigPath)
		if err != nil || !info.ModTime().Equal(h.modTime) {
			cfg, err := LoadConfig(h.opts.ConfigPath)
			if err != nil || cfg.Kind != KindHL7v2 || cfg.ODSCode != h.cfg.ODSCode {
				h.opts.Logger.Error("The configuration no longer loads; forwarding nothing until it does")
				h.cfg.Categories = nil
			} else {
				h.cfg = cfg
			}
			if info != nil {
				h.modTime = info.ModTime()
			}
		}
	}
	return h.cfg.KnownCategories()
}

// Run serves MLLP until ctx ends.
func (h *HL7Runtime) Run(ctx context.Context) error {
	defer func() { _ = h.server.Close() }()
	return h.server.Serve(ctx, h.opts.Listener)
}

// Status is the report served at /status, in the pull connector's shape:
// it is ready while listening, and forwarded/dropped count resources.
func (h *HL7Runtime) Status() Status {
	st := h.server.Stats()
	var dropped int64
	for _, n := range st.NotStored {
		dropped += n
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	categories := h.cfg.KnownCategories()
	if categories == nil {
		categories = []string{}
	}
	return Status{ODSCode: h.cfg.ODSCode, Ready: true, Categories: categories, Forwarded: st.Accepted, Dropped: dropped,
		Circuit: CircuitClosed, Circuits: map[string]string{}}
}

// Handler serves /healthz, /readyz and /status.
func (h *HL7Runtime) Handler() http.Handler {
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) }
	mux.HandleFunc("GET /healthz", ok)
	mux.HandleFunc("GET /readyz", ok)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(h.Status())
	})
	return mux
}
