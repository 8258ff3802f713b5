/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// TestRun is a short run of each interaction, with the gateway as its own
// process and in the rig's: it checks that the rig stands up, that the
// gateway shares the records and audits them, and that a report comes out.
// It measures nothing worth reading.
func TestRun(t *testing.T) {
	for _, c := range [][3]string{{"read", "file", "process"}, {"search", "file", "process"}, {"search", "pipe", "process"},
		{"search", "discard", "process"}, {"read", "file", "in-process"}, {"search", "pipe", "in-process"},
		{"search", "file", "passthrough"}, {"read", "file", "passthrough"}} {
		interaction, audit, where := c[0], c[1], c[2]
		t.Run(interaction+"-"+audit+"-"+where, func(t *testing.T) {
			opts, err := parseFlags([]string{"-rate=50", "-duration=500ms", "-warmup=100ms", "-runs=2", "-orgs=100",
				"-interaction=" + interaction, "-entries=5", "-audit=" + audit, "-gateway=" + where}, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			if err := run(context.Background(), opts, &out); err != nil {
				t.Fatal(err)
			}
			t.Log(out.String())
			target := map[string]string{"read": "under 500 µs", "search": "under 1000 µs"}[interaction]
			wants := []string{"record service (direct)", "added by the gateway: p50", "over 2 runs (median, best)", "(-gateway " + where + ")",
				"this process: ", "(target: " + target + " at p99: ", target + " in ", " of 2 runs (the target asks for every run)"}
			audited := "audit writes the answers waited for (the gateway's shcr_gateway_audit_write_duration_seconds): "
			if where == gatewayPassThrough {
				// No gateway, so nothing is audited, and the report
				// must not pretend otherwise.
				if strings.Contains(out.String(), audited) {
					t.Errorf("the pass-through's report has audit writes")
				}
				wants = append(wants, "audit: none (no gateway)")
			} else {
				wants = append(wants, audited)
			}
			for _, want := range wants {
				if !strings.Contains(out.String(), want) {
					t.Errorf("the report has no %q", want)
				}
			}
		})
	}
}

// TestCapacity is a short ramp against cmd/gateway run as its own process:
// it checks that the process is built, started and ready, that both reads
// and searches are shared, that each step reports the process's CPU and
// memory, and that the gateway audited what it shared.
func TestCapacity(t *testing.T) {
	opts, err := parseFlags([]string{"-mode=capacity", "-orgs=100", "-entries=5", "-start-rate=20", "-step=2",
		"-step-duration=300ms", "-warmup=100ms", "-limit=1s", "-max-rate=80"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := runCapacity(context.Background(), opts, &out); err != nil {
		t.Fatal(err)
	}
	t.Log(out.String())
	for _, want := range []string{"GOMAXPROCS=1", "added p99", "cores", "peak RSS", "capacity: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report has no %q", want)
		}
	}
	if got := strings.Count(out.String(), " MiB\n"); got < 2 {
		t.Errorf("%d steps reported, want 20, 40 and 80 req/s", got)
	}
}

func TestParseFlagsBounds(t *testing.T) {
	for _, args := range [][]string{{"-rate=0"}, {"-rate=5000"}, {"-duration=2m"}, {"-runs=11"}, {"-interaction=write"},
		{"-audit=stdout"}, {"-entries=0"}, {"-entries=1001"}, {"-orgs=5"}, {"extra"}, {"-mode=burst"},
		{"-mode=capacity", "-audit=discard"}, {"-mode=capacity", "-step=1"}, {"-mode=capacity", "-limit=0s"},
		{"-mode=capacity", "-start-rate=500", "-max-rate=100"}, {"-gateway=docker"},
		{"-gateway=passthrough", "-cpuprofile=/tmp/x"}} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
	o, err := parseFlags(nil, io.Discard)
	if err != nil || o.rate != 200 || o.duration != 10*time.Second || o.orgs != 5000 || o.interaction != "read" || o.gateway != "in-process" {
		t.Errorf("defaults: %+v, %v", o, err)
	}
}

func TestPercentile(t *testing.T) {
	var values []time.Duration
	for i := range 100 {
		values = append(values, time.Duration(i+1))
	}
	for p, want := range map[float64]time.Duration{50: 50, 99: 99, 100: 100, 1: 1, 0: 1} {
		if got := percentile(values, p); got != want {
			t.Errorf("p%v = %d, want %d", p, got, want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("p50 of nothing = %d", got)
	}
}
