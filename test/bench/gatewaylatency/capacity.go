/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"text/tabwriter"
	"time"
)

// rampCeiling is the highest rate the capacity ramp tries, to each target.
const rampCeiling = 20000

// step is one step of the capacity ramp.
type step struct {
	rate int
	res  result
	// cores is the gateway process's CPU time over the step's duration;
	// rssKiB and hwmKiB its resident memory after the step and at its peak.
	cores          float64
	rssKiB, hwmKiB int64
}

// runCapacity ramps a mixed load against the gateway, run as its own
// process on one core, until it adds more than o.limit at p99 (or fails
// more than 1% of requests), and reports every step. The capacity is the
// last step's rate under the limit.
func runCapacity(ctx context.Context, o options, out io.Writer) error {
	r, err := newRig(ctx, o)
	if err != nil {
		return err
	}
	defer r.close()
	client := &http.Client{Timeout: 10 * time.Second, Transport: transport()}
	defer client.CloseIdleConnections()

	fmt.Fprintf(out, "gatewaylatency capacity: reads and searches of %d entries mixed 2:1, from %d req/s to each target, ×%.2f a step of %s (after %s warm-up), until the gateway adds %s at p99\n",
		o.entries, o.startRate, o.step, o.stepDuration, o.warmup, o.limit)
	fmt.Fprintf(out, "gateway: cmd/gateway as its own process, GOMAXPROCS=1, pinned to CPU 0: %v; audit: File\n", r.process.pinned)
	fmt.Fprintf(out, "bundle: %d organisations, %d grants; objection register: %d patients\n", o.orgs, r.grants, r.objections)
	fmt.Fprintf(out, "machine: %s, %d CPUs; load average before: %s\n", runtime.Version(), runtime.NumCPU(), loadAverage())

	token, err := r.token()
	if err != nil {
		return err
	}
	for _, interaction := range []string{"read", "search"} {
		oo := o
		oo.interaction = interaction
		r.directURL, r.gatewayURL = r.readURLs[direct], r.readURLs[viaGateway]
		if interaction == "search" {
			r.directURL, r.gatewayURL = r.searchURLs[direct], r.searchURLs[viaGateway]
		}
		if err := check(ctx, client, r, token, oo); err != nil {
			return err
		}
	}

	var steps []step
	capacity := 0
	for rate := o.startRate; rate <= o.maxRampRate; rate = max(rate+1, int(float64(rate)*o.step)) {
		if o.warmup > 0 {
			if _, err := measureMix(ctx, client, r, token, rate, o.warmup); err != nil {
				return err
			}
		}
		before, err := r.process.usage()
		if err != nil {
			return err
		}
		res, err := measureMix(ctx, client, r, token, rate, o.stepDuration)
		if err != nil {
			return err
		}
		after, err := r.process.usage()
		if err != nil {
			return err
		}
		s := step{rate: rate, res: res, cores: float64(after.cpu-before.cpu) / float64(o.stepDuration),
			rssKiB: after.rssKiB, hwmKiB: after.hwmKiB}
		steps = append(steps, s)
		_, p99 := res.added()
		sent := len(res.latencies[viaGateway]) + res.failures[viaGateway]
		if p99 > o.limit || res.failures[viaGateway]*100 > sent {
			break
		}
		capacity = rate
	}
	printSteps(out, steps)
	if r.auditBytes() <= 0 {
		return fmt.Errorf("the gateway wrote no audit events")
	}
	if capacity == steps[len(steps)-1].rate {
		fmt.Fprintf(out, "capacity: at least %d req/s on one core (-max-rate reached under %s added at p99)\n", capacity, o.limit)
		return nil
	}
	if capacity == 0 {
		fmt.Fprintf(out, "capacity: below the first step (%d req/s) at %s added p99\n", o.startRate, o.limit)
		return nil
	}
	fmt.Fprintf(out, "capacity: %d req/s on one core with at most %s added at p99 (the last step under the limit)\n", capacity, o.limit)
	return nil
}

func printSteps(out io.Writer, steps []step) {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "req/s\tdirect p99\tgateway p50\tgateway p99\tadded p99\tfailed\tgateway CPU\tRSS\tpeak RSS\t")
	for _, s := range steps {
		d, g := s.res.stats(direct), s.res.stats(viaGateway)
		_, added := s.res.added()
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%d\t%.2f cores\t%d MiB\t%d MiB\t\n", s.rate, us(d.p99), us(g.p50), us(g.p99), us(added),
			s.res.failures[viaGateway], s.cores, s.rssKiB/1024, s.hwmKiB/1024)
	}
	_ = w.Flush()
}

// measureMix is measure with the mix a ShCR viewer sends when a clinician
// opens a patient's record: two reads for every search. Requests go in
// pairs, one to the FHIR server and one to the gateway, so both targets
// see the same mix at the same rate, open loop.
func measureMix(ctx context.Context, client *http.Client, r *rig, token string, rate int, d time.Duration) (result, error) {
	return measureURLs(ctx, client, token, rate, d, func(k int) string {
		if (k/2)%3 == 2 {
			return r.searchURLs[k%2]
		}
		return r.readURLs[k%2]
	})
}
