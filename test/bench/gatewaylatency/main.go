/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Command gatewaylatency measures the latency the record gateway adds. It
// stands up, on loopback only, a FHIR server in the shape of the record
// service and a gateway in front of it (internal/gateway, configured as
// cmd/gateway configures it), then sends requests at a fixed rate both to
// the FHIR server directly and through the gateway, interleaved, and
// reports p50, p90, p99 and the maximum of each and what the gateway adds.
// See docs/benchmarks.md.
//
//	go run ./gatewaylatency -rate 200 -duration 10s -runs 3
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "gatewaylatency:", err)
		os.Exit(2)
	}
	if err := run(ctx, opts, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gatewaylatency:", err)
		os.Exit(1)
	}
}

// options are the parsed flags.
type options struct {
	// rate is requests per second to each target; duration how long each
	// run sends them, after warmup.
	rate             int
	duration, warmup time.Duration
	// runs is how many measurements to make, one after the other.
	runs int
	// orgs is the size of the generated region whose bundle the gateway
	// loads.
	orgs int
	// interaction is read or search; entries the size of a search answer.
	interaction string
	entries     int
	// audit is file (hash-chained files in a temporary directory, as --audit-sink=File),
	// pipe (a pipe whose reader appends to such a file, as a container
	// runtime does with --audit-sink=Stdout) or discard.
	audit string
	// cpuProfile, when set, is where the measured runs' CPU profile (of the
	// whole process: client, FHIR server and gateway) is written.
	cpuProfile string
}

// Bounds that keep a run short and gentle on a shared machine.
const (
	maxRate     = 2000
	maxDuration = time.Minute
	maxRuns     = 10
	maxEntries  = 200
)

func parseFlags(args []string, output io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("gatewaylatency", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.IntVar(&o.rate, "rate", 200, "Requests per second to each of the FHIR server and the gateway (at most 2000).")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "How long each run sends requests (at most 1m).")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "How long requests are sent, at the same rate, before each run's are measured.")
	fs.IntVar(&o.runs, "runs", 1, "Runs to make one after the other (at most 10); their medians are reported too.")
	fs.IntVar(&o.orgs, "orgs", 5000, "Organisations in the generated region whose policy bundle the gateway enforces.")
	fs.StringVar(&o.interaction, "interaction", "read", "read (GET /MedicationRequest/{id}) or search (GET /MedicationRequest?subject:identifier=…).")
	fs.IntVar(&o.entries, "entries", 20, "Entries in each search answer, every one decided and audited by the gateway (at most 200).")
	fs.StringVar(&o.audit, "audit", "file", "Where the gateway writes audit events: file (hash-chained files in a temporary directory, as --audit-sink=File), pipe (a pipe copied to such a file, as a container runtime copies --audit-sink=Stdout) or discard.")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "Write a CPU profile of the measured runs (the whole process) to this file.")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return o, o.validate()
}

func (o options) validate() error {
	var errs []error
	if o.rate < 1 || o.rate > maxRate {
		errs = append(errs, fmt.Errorf("-rate must be from 1 to %d", maxRate))
	}
	if o.duration < 100*time.Millisecond || o.duration > maxDuration {
		errs = append(errs, fmt.Errorf("-duration must be from 100ms to %s", maxDuration))
	}
	if o.warmup < 0 || o.warmup > maxDuration {
		errs = append(errs, fmt.Errorf("-warmup must be from 0 to %s", maxDuration))
	}
	if o.runs < 1 || o.runs > maxRuns {
		errs = append(errs, fmt.Errorf("-runs must be from 1 to %d", maxRuns))
	}
	if o.orgs < 10 || o.orgs > 20000 {
		errs = append(errs, errors.New("-orgs must be from 10 to 20000"))
	}
	if o.interaction != "read" && o.interaction != "search" {
		errs = append(errs, errors.New("-interaction must be read or search"))
	}
	if o.entries < 1 || o.entries > maxEntries {
		errs = append(errs, fmt.Errorf("-entries must be from 1 to %d", maxEntries))
	}
	if o.audit != "file" && o.audit != "pipe" && o.audit != "discard" {
		errs = append(errs, errors.New("-audit must be file, pipe or discard"))
	}
	return errors.Join(errs...)
}
