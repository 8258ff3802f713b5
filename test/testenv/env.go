/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package testenv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/yaml"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/kube"
	"github.com/shcr-io/shcr-operator/internal/manager"
	"github.com/shcr-io/shcr-operator/test/fixtures"
	"github.com/shcr-io/shcr-operator/test/writes"
)

// Operator is a real kube-apiserver and etcd (envtest) with the operator's
// CRDs, admission policy and webhooks installed, and the whole operator
// running against it.
type Operator struct {
	*Cluster
	// Writes counts every API write the operator's controllers make.
	Writes *writes.Counter

	cancel context.CancelFunc
	done   chan struct{}
}

// Option changes how StartOperator runs the operator.
type Option func(*options)

type options struct {
	user               string
	faults             float64
	noWebhooks         bool
	connectorStatusURL func(*shcrv1alpha1.MemberOrganisation) string
	breakGlassCountURL func(*shcrv1alpha1.ShCRRegion) string
	breakGlassInterval time.Duration
	purgeBound         time.Duration
}

// WithPurgeBound sets the operator's purge bound (status.purge.deadline is
// the narrowing plus it), short enough for a test to see it pass.
func WithPurgeBound(d time.Duration) Option {
	return func(o *options) { o.purgeBound = d }
}

// WithoutWebhooks runs the operator with no admission webhooks installed, as
// during an outage of its webhook server; the admission policies inside the
// API server still apply.
func WithoutWebhooks() Option {
	return func(o *options) { o.noWebhooks = true }
}

// WithFaults makes a share p of the operator's API writes fail with a
// conflict, throttling or server error, as a loaded cluster does.
func WithFaults(p float64) Option {
	return func(o *options) { o.faults = p }
}

// WithConnectorStatusURL makes the operator read connectors' status from
// the URLs url gives (a test server) instead of in-cluster Services.
func WithConnectorStatusURL(url func(*shcrv1alpha1.MemberOrganisation) string) Option {
	return func(o *options) { o.connectorStatusURL = url }
}

// WithBreakGlassCountURL makes the operator read region gateways'
// break-glass counts from the URLs url gives (a gateway in the test
// process) every interval, instead of from in-cluster Services every minute.
func WithBreakGlassCountURL(url func(*shcrv1alpha1.ShCRRegion) string, interval time.Duration) Option {
	return func(o *options) { o.breakGlassCountURL, o.breakGlassInterval = url, interval }
}

// AsServiceAccount runs the operator as a ServiceAccount that holds exactly
// the permissions the RBAC markers generate (config/rbac/role.yaml), instead
// of as cluster admin.
func AsServiceAccount(namespace, name string) Option {
	return func(o *options) { o.user = "system:serviceaccount:" + namespace + ":" + name }
}

// StartOperator starts the API server and the operator. root is the
// repository's top directory.
func StartOperator(root string, opts ...Option) (*Operator, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	setLogger()
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	if !o.noWebhooks {
		env.WebhookInstallOptions = envtest.WebhookInstallOptions{Paths: []string{filepath.Join(root, "config", "webhook")}}
	}
	cluster, err := startCluster(env, root, o.user)
	if err != nil {
		return nil, err
	}
	op := &Operator{Cluster: cluster, Writes: &writes.Counter{}, done: make(chan struct{})}
	managerCfg := cluster.Config
	if o.user != "" {
		if managerCfg, err = op.bindGeneratedRole(root, o.user); err != nil {
			return nil, op.stopWith(err)
		}
	}
	wio := env.WebhookInstallOptions
	mgr, err := kube.NewManager(managerCfg, ctrl.Options{
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Tests start one operator after another in one process.
		Controller:    config.Controller{SkipNameValidation: ptr.To(true)},
		WebhookServer: webhook.NewServer(webhook.Options{Host: wio.LocalServingHost, Port: wio.LocalServingPort, CertDir: wio.LocalServingCertDir}),
	})
	if err != nil {
		return nil, op.stopWith(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := manager.Setup(ctx, mgr, manager.Options{
		WrapClient: func(c client.Client) client.Client {
			if o.faults > 0 {
				c = writes.Faulty(c, o.faults, 1)
			}
			return op.Writes.Wrap(c)
		},
		Webhooks: !o.noWebhooks, ConnectorStatusURL: o.connectorStatusURL,
		BreakGlassCountURL: o.breakGlassCountURL, BreakGlassInterval: o.breakGlassInterval,
		PurgeBound: o.purgeBound,
	}); err != nil {
		// The manager never started: stop the cluster only.
		cancel()
		return nil, errors.Join(fmt.Errorf("setting up the operator: %w", err), op.Cluster.Stop())
	}
	op.cancel = cancel
	go func() {
		defer close(op.done)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager stopped:", err)
		}
	}()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		return nil, op.stopWith(errors.New("the cache did not sync"))
	}
	if !o.noWebhooks {
		if err := waitForTLS(net.JoinHostPort(wio.LocalServingHost, strconv.Itoa(wio.LocalServingPort))); err != nil {
			return nil, op.stopWith(err)
		}
	}
	return op, nil
}

// Stop stops the operator and the API server.
func (op *Operator) Stop() error {
	if op.cancel != nil {
		op.cancel()
		<-op.done
	}
	return op.Cluster.Stop()
}

func (op *Operator) stopWith(err error) error {
	return errors.Join(err, op.Stop())
}

// bindGeneratedRole creates the manager ClusterRole generated from the RBAC
// markers, binds it to user, and returns a config that impersonates user.
func (op *Operator) bindGeneratedRole(root, user string) (*rest.Config, error) {
	data, err := os.ReadFile(filepath.Join(root, "config", "rbac", "role.yaml"))
	if err != nil {
		return nil, err
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal(data, role); err != nil {
		return nil, err
	}
	role.Name = "shcr-operator-manager-under-test"
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	}
	for _, obj := range []client.Object{role, binding} {
		if err := op.Client.Create(context.Background(), obj); err != nil {
			return nil, err
		}
	}
	cfg := rest.CopyConfig(op.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:serviceaccounts", "system:authenticated"}}
	return cfg, nil
}

// waitForTLS waits until the webhook server accepts TLS connections.
func waitForTLS(addr string) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // a readiness probe, no data sent
		if err == nil {
			return conn.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("webhook server %s not serving: %w", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// setLogger sends the operator's logs to stderr with SHCR_TEST_LOGS set,
// and nowhere otherwise.
func setLogger() {
	logs := io.Discard
	if os.Getenv("SHCR_TEST_LOGS") != "" {
		logs = os.Stderr
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(logs), zap.UseDevMode(logs != io.Discard)))
}

// WaitFor polls cond until it holds, or fails the test after timeout with the
// last reason cond gave; it is fixtures.WaitFor, kept here for the suites
// that already import testenv.
func WaitFor(t interface {
	Helper()
	Fatalf(string, ...any)
}, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	fixtures.WaitFor(t, what, timeout, cond)
}
