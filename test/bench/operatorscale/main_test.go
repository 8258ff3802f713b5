/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package main

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
)

// TestSmallRegion runs the whole benchmark on a region of 25 organisations:
// the rig stands up, the operator (as its own process) onboards the region
// to Ready with every grant compiled, and the settled operator makes no API
// write while idle or during a forced full resync, as the audit log of the
// API server shows. Its timings are not worth reading.
func TestSmallRegion(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run with 'make test-bench'")
	}
	opts, err := parseFlags([]string{"-root=../../..", "-orgs=25", "-clients=4", "-w-objects=200", "-idle=3s", "-more=3"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin, err := buildManager(opts.root, dir)
	if err != nil {
		t.Fatal(err)
	}
	res, err := measure(context.Background(), opts, bin, dir, 25, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	// 5 agreements of five organisations, each with a clinicians' policy
	// (one grant per agreement) and a care staff policy (one more).
	if res.agreements != 5 || res.policies != 10 || res.grants != 10 {
		t.Errorf("agreements %d, policies %d, grants %d; want 5, 10, 10", res.agreements, res.policies, res.grants)
	}
	if res.operatorWrites == 0 || res.workloadWrites == 0 || res.w <= 0 || res.makespan <= 0 {
		t.Errorf("the onboarding was not measured: %+v", res)
	}
	if res.idleOperatorWrites != 0 || res.resyncWrites != 0 {
		t.Errorf("a settled operator wrote: %d writes idle, %d during a resync", res.idleOperatorWrites, res.resyncWrites)
	}
	if res.resyncReconciles < 1+25+5+10 {
		t.Errorf("the resync reconciled %v times, fewer than there are objects", res.resyncReconciles)
	}
	if len(res.oneMore) != 3 || res.heap <= 0 || res.rss <= res.heap {
		t.Errorf("one more organisation %v, heap %d, RSS %d", res.oneMore, res.heap, res.rss)
	}
}

// Flags that would measure nothing are refused, naming the flag.
func TestBadFlagsAreRefused(t *testing.T) {
	for _, args := range [][]string{{"-orgs=4"}, {"-clients=0"}, {"-workload-workers=0"}, {"-workload-workers=-2"}} {
		_, err := parseFlags(args, io.Discard)
		if err == nil {
			t.Errorf("%v accepted", args)
			continue
		}
		flag := strings.SplitN(strings.TrimPrefix(args[0], "-"), "=", 2)[0]
		if !strings.Contains(err.Error(), flag) {
			t.Errorf("%v: the error %q does not name -%s", args, err, flag)
		}
	}
}
