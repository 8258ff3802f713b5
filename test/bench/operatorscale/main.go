/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Command operatorscale measures the operator at the scale of a real region,
// against a real kube-apiserver and etcd (envtest) whose audit log records
// every write. For each region size it measures, in one run:
//
//   - W, the API server's own write ceiling: ConfigMaps created per second
//     by parallel clients;
//   - onboarding: a region with N MemberOrganisations (each with a
//     connector), N/5 approved DataSharingAgreements and 2N/5
//     AccessPolicies, applied at once, until every object is Ready and the
//     region's bundle holds every grant; the makespan and its ratio to the
//     time W allows for the writes the onboarding needed;
//   - steady state: the operator's writes during an idle minute, and during a
//     forced full resync (the manager restarted: every object reconciled);
//   - one more organisation added to the settled region: create to Ready;
//   - the manager's heap in use after a forced GC, and its peak RSS.
//
// The manager is cmd/manager, built and run as its own process (with its
// webhooks), so the memory figures are its own. envtest runs no
// controller-manager: a small stand-in reports the operator's Deployments
// and StatefulSets available, and its writes are counted apart.
// See docs/benchmarks.md.
//
//	KUBEBUILDER_ASSETS=$(../../hack/toolchain.sh dir k8s) go run ./operatorscale -orgs 1000,5000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
)

func main() {
	ctrl.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "operatorscale:", err)
		os.Exit(2)
	}
	if err := run(ctx, opts, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "operatorscale:", err)
		os.Exit(1)
	}
}

// options are the parsed flags.
type options struct {
	// sizes are the region sizes to measure, each on a fresh API server.
	sizes []int
	// root is the repository's top directory.
	root string
	// clients is how many parallel clients measure W and apply the region.
	clients int
	// wObjects is how many ConfigMaps the W measurement creates.
	wObjects int
	// idle is how long the settled region is watched for writes.
	idle time.Duration
	// more is how many times one more organisation is added.
	more int
	// keep leaves the API server's audit log and the manager's logs.
	keep bool
	// timeout bounds each size's onboarding.
	timeout time.Duration
	// cpuProfile, when set, is where the manager's CPU profile of the
	// first cpuSeconds of each onboarding is written (<path>.<size>).
	cpuProfile string
	// cpuSeconds is how long the manager's CPU profile runs.
	cpuSeconds int
	// apiserverSettle is how long the API server's second CPU profile runs.
	apiserverSettle time.Duration
	// heapProfile, when set, is where the manager's heap profile is written
	// once the region has settled (<path>.<size>).
	heapProfile string
	// apiserverProfile, when set, is where the API server's CPU profiles
	// are written: the onboarding's first 30 s (".apply") and the minute
	// after them (".settle"), suffixed with the size.
	apiserverProfile string
	// managerArgs are more flags for the manager (-manager-arg, repeated),
	// such as --soft-memory-limit=230Mi.
	managerArgs []string
	// deploymentCreates also measures the rate of creating the same
	// connector Deployments with plain creates, to compare with W(apply).
	deploymentCreates bool
	// workloadWorkers is how many writes the stand-in workload
	// controllers make at once.
	workloadWorkers int
}

func parseFlags(args []string, out io.Writer) (options, error) {
	fs := flag.NewFlagSet("operatorscale", flag.ContinueOnError)
	fs.SetOutput(out)
	var o options
	sizes := fs.String("orgs", "1000", "comma-separated region sizes (MemberOrganisations)")
	fs.StringVar(&o.root, "root", "../..", "the repository's top directory")
	fs.IntVar(&o.clients, "clients", 16, "parallel clients for W and for applying the region")
	fs.IntVar(&o.wObjects, "w-objects", 4000, "ConfigMaps created to measure W")
	fs.DurationVar(&o.idle, "idle", time.Minute, "how long the settled region is watched for writes")
	fs.IntVar(&o.more, "more", 30, "how many times one more organisation is added")
	fs.BoolVar(&o.keep, "keep", false, "keep the audit log and the manager's logs (their directory is printed)")
	fs.DurationVar(&o.timeout, "timeout", 20*time.Minute, "the longest an onboarding may take")
	fs.StringVar(&o.heapProfile, "heapprofile", "", "write the manager's heap profile, once the region has settled, to this file suffixed with the size")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write the manager's CPU profile of the first -cpuprofile-seconds of each onboarding to this file, suffixed with the size")
	fs.IntVar(&o.cpuSeconds, "cpuprofile-seconds", 60, "how long the manager's CPU profile runs from the onboarding's start")
	fs.StringVar(&o.apiserverProfile, "apiserver-cpuprofile", "", "write the API server's CPU profiles of the onboarding's first 30 s and of the minute after, to this file suffixed with .apply or .settle and the size")
	fs.DurationVar(&o.apiserverSettle, "apiserver-cpuprofile-after", time.Minute, "how long the API server's second CPU profile (.settle) runs, from the end of the first")
	fs.IntVar(&o.workloadWorkers, "workload-workers", 4, "how many rollouts the stand-in workload controllers report at once (kube-controller-manager syncs 5 Deployments at once by default)")
	fs.BoolVar(&o.deploymentCreates, "deployment-creates", false, "also measure creating the connector Deployments of W(apply) with plain creates (three rounds, before the onboarding), to see what server-side apply costs the API server")
	fs.Func("manager-arg", "one more flag for the manager, such as --soft-memory-limit=230Mi (repeat for several)", func(v string) error {
		o.managerArgs = append(o.managerArgs, v)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	root, err := filepath.Abs(o.root)
	if err != nil {
		return o, err
	}
	o.root = root
	for s := range strings.SplitSeq(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 5 {
			return o, fmt.Errorf("-orgs: %q is not a region size of at least 5", s)
		}
		o.sizes = append(o.sizes, n)
	}
	if o.clients < 1 || o.wObjects < 100 || o.more < 1 || o.cpuSeconds < 1 || o.apiserverSettle < time.Second {
		return o, errors.New("-clients, -w-objects, -more, -cpuprofile-seconds and -apiserver-cpuprofile-after must be at least 1, 100, 1, 1 and 1s")
	}
	if o.workloadWorkers < 1 {
		return o, fmt.Errorf("-workload-workers: %d; the stand-in needs at least 1 worker to report any rollout", o.workloadWorkers)
	}
	return o, nil
}

func run(ctx context.Context, o options, out io.Writer) error {
	dir, err := os.MkdirTemp("", "shcr-operatorscale-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(out, "logs in", dir)
	} else {
		defer func() { _ = os.RemoveAll(dir) }()
	}
	bin, err := buildManager(o.root, dir)
	if err != nil {
		return fmt.Errorf("building cmd/manager: %w", err)
	}
	var results []result
	for _, n := range o.sizes {
		sizeDir, err := os.MkdirTemp(dir, fmt.Sprintf("orgs-%d-", n))
		if err != nil {
			return err
		}
		res, err := measure(ctx, o, bin, sizeDir, n, out)
		if err != nil {
			return fmt.Errorf("%d organisations: %w", n, err)
		}
		results = append(results, res)
	}
	report(out, results)
	return nil
}
