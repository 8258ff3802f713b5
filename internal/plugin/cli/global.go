/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package cli holds what every verb of the kubectl shcr plugin shares: the
// standard kubeconfig flags, the choice of region, the read-only client,
// the flag types and the output formats.
package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/kube"
)

// regionNamespacePrefix starts the name of every region namespace.
var regionNamespacePrefix = shcrv1alpha1.NamespaceFor("")

// Global holds the flags every verb takes: the standard kubeconfig flags
// (--kubeconfig, --context, -n/--namespace, --as, ...) and --region.
type Global struct {
	kube   *genericclioptions.ConfigFlags
	region string
}

// NewGlobal returns the global flags, unset.
func NewGlobal() *Global {
	return &Global{kube: genericclioptions.NewConfigFlags(true)}
}

// NewRootCommand returns the kubectl-shcr command with the global flags;
// the verbs are added to it.
func NewRootCommand(g *Global) *cobra.Command {
	root := &cobra.Command{
		Use:   "kubectl-shcr",
		Short: "Who can see what, under which signed agreement, since when",
		Long: "kubectl shcr reads a Shared Care Record region's members, data sharing agreements and access\n" +
			"policies, and answers an auditor's questions with the same policy compiler and decision\n" +
			"function the region's gateway enforces. It never writes to the cluster.",
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl shcr"},
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	g.kube.AddFlags(root.PersistentFlags())
	root.PersistentFlags().StringVar(&g.region, "region", "",
		"the ShCRRegion to work in; short for -n shcr-<region>")
	return root
}

// Target is the region a verb works in and its namespace.
type Target struct {
	Region    string
	Namespace string
}

// Target resolves --region, -n or the kubeconfig context's namespace to a
// region namespace.
func (g *Global) Target() (Target, error) {
	ns, err := g.namespace()
	if err != nil {
		return Target{}, err
	}
	region, found := strings.CutPrefix(ns, regionNamespacePrefix)
	if !found || region == "" {
		return Target{}, fmt.Errorf("namespace %q is not a region namespace: select a region with --region <name> or -n %s<name>",
			ns, regionNamespacePrefix)
	}
	return Target{Region: region, Namespace: ns}, nil
}

func (g *Global) namespace() (string, error) {
	explicit := ptr.Deref(g.kube.Namespace, "")
	if g.region != "" {
		ns := shcrv1alpha1.NamespaceFor(g.region)
		if explicit != "" && explicit != ns {
			return "", fmt.Errorf("--region %s selects namespace %s but -n selects %s: give only one of them", g.region, ns, explicit)
		}
		return ns, nil
	}
	ns, _, err := g.kube.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", fmt.Errorf("reading the namespace from the kubeconfig: %w", err)
	}
	return ns, nil
}

// ErrRegionWithAllNamespaces is returned when a verb is asked for every
// namespace and for one region at once.
var ErrRegionWithAllNamespaces = errors.New("--all-namespaces cannot be combined with --region or -n")

// ExplicitNamespace reports whether --region or -n was given.
func (g *Global) ExplicitNamespace() bool {
	return g.region != "" || ptr.Deref(g.kube.Namespace, "") != ""
}

// Client returns a client for the cluster the kubeconfig flags select. The
// plugin only reads, so it is returned as a client.Reader.
func (g *Global) Client() (client.Reader, error) {
	cfg, err := g.kube.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("loading the kubeconfig: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: kube.Scheme})
	if err != nil {
		return nil, fmt.Errorf("connecting to the cluster: %w", err)
	}
	return c, nil
}
