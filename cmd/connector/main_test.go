/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shcr-io/shcr-operator/internal/connector"
	"github.com/shcr-io/shcr-operator/internal/specs"
	"github.com/shcr-io/shcr-operator/test/fixtures"
)

func TestDefaultsMatchTheOperatorsDeployment(t *testing.T) {
	opts, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := specs.ConnectorConfigDir + "/" + specs.ConnectorConfigKey; opts.connector.ConfigPath != want {
		t.Errorf("--config defaults to %s, want %s", opts.connector.ConfigPath, want)
	}
	if opts.connector.CredentialsDir != specs.ConnectorCredentialsDir {
		t.Errorf("--credentials defaults to %s, want %s", opts.connector.CredentialsDir, specs.ConnectorCredentialsDir)
	}
	if !strings.HasPrefix(opts.connector.StatePath, "/tmp/") || opts.listen != ":8080" || opts.once {
		t.Errorf("defaults = %+v, want the state under the writable /tmp, :8080, and no --once", opts)
	}
	if want := ":" + strconv.Itoa(specs.ConnectorMLLPPort); opts.mllpListen != want || opts.mllpPlaintext || !strings.HasPrefix(opts.mllpState, "/tmp/") {
		t.Errorf("--mllp-listen %s (want %s, the port the operator opens), --mllp-plaintext %v (want off), --mllp-state %s",
			opts.mllpListen, want, opts.mllpPlaintext, opts.mllpState)
	}
	if _, err := parseFlags([]string{"extra"}, io.Discard); err == nil {
		t.Error("a stray argument must be refused")
	}
}

func TestOnceReportsTheCyclesError(t *testing.T) {
	dir := t.TempDir()
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"--once", "--config=" + filepath.Join(dir, "missing.json"),
		"--credentials=" + dir, "--state=" + filepath.Join(dir, "state.json")}, &stderr)
	if err == nil || !strings.Contains(err.Error(), "reading the configuration") {
		t.Fatalf("run --once = %v, want the missing configuration reported", err)
	}
}

func TestServeAnswersProbesAndStopsOnCancel(t *testing.T) {
	dir := t.TempDir()
	c, err := connector.New(connector.Options{
		ConfigPath: filepath.Join(dir, "missing.json"), CredentialsDir: dir, StatePath: filepath.Join(dir, "state.json"),
	})
	if err != nil {
		t.Fatal(err)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, c, listener, slog.New(slog.NewTextHandler(io.Discard, nil))) }()

	base := "http://" + listener.Addr().String()
	fixtures.WaitFor(t, "the connector serving, not ready", 5*time.Second, func() (bool, string) {
		got := status(base + "/readyz")
		return got == http.StatusServiceUnavailable, "readyz " + strconv.Itoa(got)
	})
	for path, want := range map[string]int{"/healthz": http.StatusOK, "/metrics": http.StatusOK, "/status": http.StatusOK} {
		if got := status(base + path); got != want {
			t.Errorf("%s = %d, want %d", path, got, want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func status(url string) int {
	resp, err := http.Get(url) //nolint:gosec,noctx // test URL
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}
