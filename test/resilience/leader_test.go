/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package resilience runs the operator through the failures a production
// cluster sees.
package resilience

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/kube"
	"github.com/shcr-io/shcr-operator/internal/manager"
	"github.com/shcr-io/shcr-operator/test/testenv"
	"github.com/shcr-io/shcr-operator/test/writes"
)

// Two managers with leader election: only the leader writes, and when it
// stops the follower takes over and converges what changed meanwhile.
func TestFollowerTakesOverAndOnlyTheLeaderWrites(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run with 'make test'")
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	k8s, err := client.New(cfg, client.Options{Scheme: kube.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shcr-operator-system"}}); err != nil {
		t.Fatal(err)
	}

	type replica struct {
		writes *writes.Counter
		stop   context.CancelFunc
		done   chan struct{}
		leader <-chan struct{}
	}
	start := func() *replica {
		r := &replica{writes: &writes.Counter{}, done: make(chan struct{})}
		lease, renew, retry := 2*time.Second, 1500*time.Millisecond, 250*time.Millisecond
		mgr, err := kube.NewManager(cfg, ctrl.Options{
			Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
			LeaderElection: true, LeaderElectionID: "shcr-operator.shcr.io", LeaderElectionNamespace: "shcr-operator-system",
			LeaderElectionReleaseOnCancel: true, LeaseDuration: &lease, RenewDeadline: &renew, RetryPeriod: &retry,
			// Two managers in one process register the same controller names.
			Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		r.stop = cancel
		if err := manager.Setup(ctx, mgr, manager.Options{WrapClient: r.writes.Wrap}); err != nil {
			t.Fatal(err)
		}
		r.leader = mgr.Elected()
		go func() {
			defer close(r.done)
			_ = mgr.Start(ctx)
		}()
		return r
	}
	first, second := start(), start()
	defer func() {
		for _, r := range []*replica{first, second} {
			r.stop()
			<-r.done
		}
	}()

	var leader, follower *replica
	select {
	case <-first.leader:
		leader, follower = first, second
	case <-second.leader:
		leader, follower = second, first
	case <-time.After(30 * time.Second):
		t.Fatal("no replica was elected")
	}

	regionReady := func(name string) {
		t.Helper()
		if err := k8s.Create(context.Background(), &shcrv1alpha1.ShCRRegion{
			ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: shcrv1alpha1.ShCRRegionSpec{DisplayName: name},
		}); err != nil {
			t.Fatal(err)
		}
		testenv.WaitFor(t, "region "+name+" compiled", 30*time.Second, func() (bool, string) {
			r := &shcrv1alpha1.ShCRRegion{}
			if err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, r); err != nil {
				return false, err.Error()
			}
			return r.Status.PolicyBundle.Revision != "", fmt.Sprintf("%+v", r.Status.Conditions)
		})
	}
	regionReady("before-failover")
	if leader.writes.Count() == 0 || follower.writes.Count() != 0 {
		t.Fatalf("only the leader may write: leader %d writes, follower %d", leader.writes.Count(), follower.writes.Count())
	}

	leader.stop()
	<-leader.done
	select {
	case <-follower.leader:
	case <-time.After(30 * time.Second):
		t.Fatal("the follower did not take over")
	}
	regionReady("after-failover")
	if follower.writes.Count() == 0 {
		t.Errorf("the new leader made no writes")
	}
}
