/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Command gatewaylatency measures the latency the record gateway adds. It
// stands up, on loopback only, a FHIR server in the shape of the record
// service and a gateway in front of it, then sends requests at a fixed rate both to
// the FHIR server directly and through the gateway, interleaved, and
// reports p50, p90, p99 and the maximum of each and what the gateway adds.
// By default the gateway runs inside this program (internal/gateway, set up
// as cmd/gateway sets it up); -gateway process builds cmd/gateway and runs
// it as its own process.
// With -mode capacity it runs cmd/gateway as its own process on one core
// and ramps a mixed load of reads and searches until the gateway adds more
// than -limit at p99, reporting each step's CPU and memory. See
// docs/benchmarks.md.
//
//	go run ./gatewaylatency -rate 200 -duration 10s -runs 3
//	go run ./gatewaylatency -mode capacity
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
	runMode := run
	if opts.mode == modeCapacity {
		runMode = runCapacity
	}
	if err := runMode(ctx, opts, os.Stdout); err != nil {
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
	// rig's whole process: client, FHIR server and, with -gateway
	// in-process, the gateway) is written.
	cpuProfile string
	// memProfile, when set, is where a profile of what the rig's whole
	// process allocated during the runs is written.
	memProfile string
	// mode is latency (a fixed rate, one interaction) or capacity (a ramp
	// of mixed reads and searches against the gateway as its own process).
	mode string
	// startRate, step and stepDuration shape the capacity ramp: each step
	// sends step times the last step's rate for stepDuration; limit is the
	// added p99 at which the ramp stops.
	startRate    int
	step         float64
	stepDuration time.Duration
	limit        time.Duration
	// maxRampRate is the highest rate the ramp tries.
	maxRampRate int
	// gateway is where the gateway runs in -mode latency: as its own
	// process (cmd/gateway, as it ships) or in the rig's process.
	gateway string
}

// Where the gateway runs in -mode latency.
const (
	gatewayOwnProcess = "process"
	gatewayInProcess  = "in-process"
	// gatewayPassThrough is no gateway: a proxy that only passes answers
	// on, the floor any gateway starts from on this machine.
	gatewayPassThrough = "passthrough"
)

// The modes.
const (
	modeLatency  = "latency"
	modeCapacity = "capacity"
)

// Bounds that keep a run short and gentle on a shared machine.
const (
	maxRate     = 2000
	maxDuration = time.Minute
	maxRuns     = 10
	maxEntries  = 1000 // gateway.MaxPageSizeLimit: the largest page a region may allow
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
	fs.StringVar(&o.memProfile, "memprofile", "", "Write a profile of what the whole process allocated during the runs (one sample per 4 kB) to this file.")
	fs.StringVar(&o.mode, "mode", modeLatency, "latency (a fixed rate of one interaction, the gateway in this process) or capacity (a ramp of mixed reads and searches, the gateway as its own process on one core).")
	fs.IntVar(&o.startRate, "start-rate", 100, "With -mode capacity, the first step's requests per second to each target.")
	fs.Float64Var(&o.step, "step", 1.25, "With -mode capacity, each step's rate as a multiple of the last (more than 1, at most 4).")
	fs.DurationVar(&o.stepDuration, "step-duration", 5*time.Second, "With -mode capacity, how long each step is measured (after a warm-up of -warmup).")
	fs.DurationVar(&o.limit, "limit", 5*time.Millisecond, "With -mode capacity, the added p99 at which the ramp stops.")
	fs.IntVar(&o.maxRampRate, "max-rate", rampCeiling, fmt.Sprintf("With -mode capacity, the highest rate the ramp tries (at most %d).", rampCeiling))
	fs.StringVar(&o.gateway, "gateway", gatewayInProcess, "With -mode latency, where the gateway runs: in-process (internal/gateway in the rig's own process, sharing its garbage collector; -cpuprofile then profiles the gateway too) or process (cmd/gateway built and run as its own process, as it ships, sharing the machine's cores with the rig); passthrough measures no gateway at all but a proxy in the rig's process that only passes each answer on (no token, decision or audit): the floor the same two hops set on this machine.")
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
	switch o.mode {
	case modeLatency:
		if o.gateway != gatewayOwnProcess && o.gateway != gatewayInProcess && o.gateway != gatewayPassThrough {
			errs = append(errs, fmt.Errorf("-gateway must be %s, %s or %s", gatewayOwnProcess, gatewayInProcess, gatewayPassThrough))
		}
		if o.gateway == gatewayPassThrough && (o.cpuProfile != "" || o.memProfile != "") {
			errs = append(errs, errors.New("-gateway passthrough has no gateway to profile"))
		}
	case modeCapacity:
		if o.audit != "file" {
			errs = append(errs, errors.New("-mode capacity runs the gateway with --audit-sink=File: -audit must be file"))
		}
		if o.startRate < 1 || o.startRate > maxRate {
			errs = append(errs, fmt.Errorf("-start-rate must be from 1 to %d", maxRate))
		}
		if o.step <= 1 || o.step > 4 {
			errs = append(errs, errors.New("-step must be more than 1 and at most 4"))
		}
		if o.stepDuration < 100*time.Millisecond || o.stepDuration > maxDuration {
			errs = append(errs, fmt.Errorf("-step-duration must be from 100ms to %s", maxDuration))
		}
		if o.maxRampRate < o.startRate || o.maxRampRate > rampCeiling {
			errs = append(errs, fmt.Errorf("-max-rate must be from -start-rate to %d", rampCeiling))
		}
		if o.limit <= 0 || o.limit > time.Second {
			errs = append(errs, errors.New("-limit must be more than 0 and at most 1s"))
		}
	default:
		errs = append(errs, errors.New("-mode must be latency or capacity"))
	}
	return errors.Join(errs...)
}
