/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package plugintest runs the verbs of the kubectl shcr plugin in-process
// against a real API server with the whole operator running
// (test/testenv), and builds the region they are tested on. Each verb's
// test package calls Main from its TestMain.
package plugintest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/shcr-io/shcr-operator/internal/plugin/cli"
	"github.com/shcr-io/shcr-operator/test/fixtures"
	"github.com/shcr-io/shcr-operator/test/testenv"
)

var (
	op         *testenv.Operator
	kubeconfig string
)

// Main starts the API server and the operator, runs the package's tests
// and stops them.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if op, err = testenv.StartOperator(repositoryRoot()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := op.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping envtest:", err)
		}
	}()
	if err := fixtures.CreateAssurancePanelRBAC(context.Background(), op.Client); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "kubectl-shcr-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	if kubeconfig, err = writeKubeconfig(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// repositoryRoot is the top directory of the repository, found from this
// file's location.
func repositoryRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// writeKubeconfig writes a kubeconfig for an auditor user of the test API
// server, as the plugin's users have one.
func writeKubeconfig(dir string) (string, error) {
	user, err := op.Env.AddUser(envtest.User{Name: "auditor", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", fmt.Errorf("adding a kubeconfig user: %w", err)
	}
	data, err := user.KubeConfig()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "kubeconfig")
	return path, os.WriteFile(path, data, 0o600)
}

// Kubeconfig is the path of a kubeconfig for the test API server.
func Kubeconfig() string { return kubeconfig }

// Client is a cluster-admin client of the test API server.
func Client() client.Client { return op.Client }

// As is a client acting as user, a member of groups.
func As(user string, groups ...string) (client.Client, error) { return op.As(user, groups...) }

// Run runs one verb as "kubectl shcr <verb> args..." would, through the
// plugin's root command and its kubeconfig flags, and returns what it
// wrote and the error it returned.
func Run(verb func(*cli.Global) *cobra.Command, args ...string) (string, error) {
	g := cli.NewGlobal()
	root := cli.NewRootCommand(g)
	cmd := verb(g)
	root.AddCommand(cmd)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{cmd.Name(), "--kubeconfig", kubeconfig}, args...))
	err := root.Execute()
	return out.String(), err
}

// MustRun is Run that fails the test on an error.
func MustRun(t *testing.T, verb func(*cli.Global) *cobra.Command, args ...string) string {
	t.Helper()
	out, err := Run(verb, args...)
	if err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return out
}

// WaitFor polls cond until it holds, or fails the test after 30 seconds
// with the last reason cond gave.
func WaitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	testenv.WaitFor(t, what, 30*time.Second, cond)
}

var shared *Scenario

// SharedScenario is the package's scenario, onboarded in region "plugin" on
// first use. Tests that add objects to it give them names and agreement
// IDs of their own.
func SharedScenario(t *testing.T) *Scenario {
	t.Helper()
	if shared == nil {
		shared = NewScenario(t, "plugin", "P")
	}
	return shared
}
