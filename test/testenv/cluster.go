/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/shcr-io/shcr-operator/internal/kube"
	"github.com/shcr-io/shcr-operator/internal/manager"
)

// Cluster is a real kube-apiserver and etcd (envtest) with the operator's
// CRDs and admission policies installed. StartCluster runs no operator on
// it: a test starts, crashes and restarts operators with StartManager.
type Cluster struct {
	Env    *envtest.Environment
	Config *rest.Config
	// Client talks to the API server directly, as cluster admin.
	Client client.Client

	// certDir is where StartCluster keeps the API server's certificates.
	certDir string
}

// StartCluster starts the API server and etcd. root is the repository's top
// directory. The API server keeps its certificates in a directory of its
// own, so that StopAPIServer and StartAPIServer bring it back on the same
// address with the same certificates, and Config keeps working.
func StartCluster(root string) (*Cluster, error) {
	setLogger()
	certs, err := os.MkdirTemp("", "shcr-apiserver-")
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	apiServer := env.ControlPlane.GetAPIServer()
	apiServer.CertDir = certs
	// Without a bound, a stopping API server waits a minute for the
	// operator's watches to drain.
	apiServer.Configure().Set("shutdown-watch-termination-grace-period", "1s")
	c, err := startCluster(env, root, "")
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(certs))
	}
	c.certDir = certs
	return c, nil
}

// startCluster starts env and installs the admission policies. operator is
// the user the operator will run as, the only one the agreement ledger's
// policy lets write the ledger; empty means the cluster admin this package
// connects as.
func startCluster(env *envtest.Environment, root, operator string) (*Cluster, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, errors.New("KUBEBUILDER_ASSETS is not set: run the envtest suites with 'make test' (it builds etcd and kube-apiserver)")
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting envtest: %w", err)
	}
	c := &Cluster{Env: env, Config: cfg}
	if c.Client, err = client.New(cfg, client.Options{Scheme: kube.Scheme}); err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	if err := c.applyFile(filepath.Join(root, "config", "admission", "region-namespace.yaml"), nil); err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	if operator == "" {
		if operator, err = c.whoAmI(); err != nil {
			return nil, errors.Join(err, env.Stop())
		}
	}
	ledger := filepath.Join(root, "config", "admission", "agreement-ledger.yaml")
	if err := c.applyFile(ledger, func(obj *unstructured.Unstructured) error { return setLedgerWriter(obj, operator) }); err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	return c, nil
}

// whoAmI is the user name the cluster's admin client authenticates as.
func (c *Cluster) whoAmI() (string, error) {
	review := &authenticationv1.SelfSubjectReview{}
	if err := c.Client.Create(context.Background(), review); err != nil {
		return "", fmt.Errorf("asking who the admin client is: %w", err)
	}
	return review.Status.UserInfo.Username, nil
}

// setLedgerWriter makes the agreement ledger's admission policy admit writes
// from user, as kustomize and the chart make it admit the operator's
// ServiceAccount.
func setLedgerWriter(obj *unstructured.Unstructured, user string) error {
	if obj.GetKind() != "ValidatingAdmissionPolicy" {
		return nil
	}
	vars, _, err := unstructured.NestedSlice(obj.Object, "spec", "variables")
	if err != nil {
		return err
	}
	found := false
	for _, v := range vars {
		if m, ok := v.(map[string]any); ok && m["name"] == "operator" {
			m["expression"], found = strconv.Quote(user), true
		}
	}
	if !found {
		return errors.New("the agreement ledger policy has no variable 'operator'")
	}
	return unstructured.SetNestedSlice(obj.Object, vars, "spec", "variables")
}

// Stop stops the API server and etcd.
func (c *Cluster) Stop() error {
	return errors.Join(c.Env.Stop(), os.RemoveAll(c.certDir))
}

// StopAPIServer stops kube-apiserver and leaves etcd running.
func (c *Cluster) StopAPIServer() error {
	return c.Env.ControlPlane.GetAPIServer().Stop()
}

// StartAPIServer starts kube-apiserver again after StopAPIServer, on the
// same address, certificates and etcd. A restart waits up to two minutes
// for the server to report healthy (envtest's default is 20 s), since on a
// loaded machine a restart against a full etcd can take longer than that.
func (c *Cluster) StartAPIServer() error {
	s := c.Env.ControlPlane.GetAPIServer()
	s.StartTimeout = 2 * time.Minute
	return s.Start()
}

// As returns a client that acts as the named user (impersonation).
func (c *Cluster) As(user string, groups ...string) (client.Client, error) {
	cfg := rest.CopyConfig(c.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: append(groups, "system:authenticated")}
	return client.New(cfg, client.Options{Scheme: kube.Scheme})
}

// applyFile creates every object of a multi-document YAML file, each
// changed by edit first when edit is not nil.
func (c *Cluster) applyFile(path string, edit func(*unstructured.Unstructured) error) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	objs, err := kube.DecodeObjects(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, obj := range objs {
		if edit != nil {
			if err := edit(obj); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
		if err := c.Client.Create(context.Background(), obj); err != nil {
			return fmt.Errorf("creating %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	return nil
}

// Manager is one run of the whole operator, without webhooks, leader
// election, metrics or probes, as one process would run it.
type Manager struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// StartManager starts the operator with every controller's client wrapped
// by wrap, which is given the function that stops this manager (a crash
// calls it). Several managers may run in one test, one after another.
func (c *Cluster) StartManager(wrap func(c client.Client, stop func()) client.Client) (*Manager, error) {
	mgr, err := kube.NewManager(c.Config, ctrl.Options{
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		// Managers started one after another in one process register the
		// same controller names.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{cancel: cancel, done: make(chan struct{})}
	err = manager.Setup(ctx, mgr, manager.Options{WrapClient: func(cl client.Client) client.Client { return wrap(cl, cancel) }})
	if err != nil {
		cancel()
		return nil, err
	}
	go func() {
		defer close(m.done)
		m.err = mgr.Start(ctx)
	}()
	return m, nil
}

// Stop stops the manager and waits until it has stopped.
func (m *Manager) Stop() error {
	m.cancel()
	<-m.done
	return m.err
}

// Done is closed when the manager has stopped.
func (m *Manager) Done() <-chan struct{} { return m.done }
