/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package shcrregion

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/shcr-io/shcr-operator/internal/index"
	"github.com/shcr-io/shcr-operator/internal/kube"
	"github.com/shcr-io/shcr-operator/test/fixtures"
	"github.com/shcr-io/shcr-operator/test/writes"
)

// The suite runs one real kube-apiserver and etcd (envtest) and one manager
// with the region controller, for every test in the package.
var (
	testEnv    *envtest.Environment
	cfg        *rest.Config
	k8sClient  client.Client // talks to the API server directly, for assertions
	mgrClient  client.Client // the manager's cached client
	mgrReader  client.Reader // the manager's uncached reader
	suiteCtx   context.Context
	managerOps = &writes.Counter{}
)

func TestMain(m *testing.M) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: run the envtest suites with 'make test' (it builds etcd and kube-apiserver)")
		os.Exit(1)
	}
	logs := io.Discard
	if os.Getenv("SHCR_TEST_LOGS") != "" {
		logs = os.Stderr
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(logs), zap.UseDevMode(logs != io.Discard)))
	os.Exit(run(m))
}

func run(m *testing.M) int {
	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	var err error
	cfg, err = testEnv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() { _ = testEnv.Stop() }()

	k8sClient, err = client.New(cfg, client.Options{Scheme: kube.Scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mgr, err := kube.NewManager(cfg, ctrl.Options{
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := index.Setup(context.Background(), mgr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mgrClient = managerOps.Wrap(mgr.GetClient())
	mgrReader = mgr.GetAPIReader()
	managerConfig, envConfig, managerCache = mgr.GetConfig(), cfg, mgr.GetCache()
	if err := (&Reconciler{
		Client:    mgrClient,
		APIReader: mgrReader,
		Recorder:  mgr.GetEventRecorder("shcr-operator"),
		// The gateway admits the operator's namespace (break-glass counts).
		OperatorNamespace: "shcr-system",
	}).SetupWithManager(mgr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	suiteCtx = ctx
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager stopped:", err)
		}
	}()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		fmt.Fprintln(os.Stderr, "cache did not sync")
		return 1
	}
	return m.Run()
}

// waitFor polls cond until it holds, failing the test after 30 seconds with
// the last reason cond gave.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	fixtures.WaitFor(t, what, 30*time.Second, cond)
}
