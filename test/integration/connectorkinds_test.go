/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package integration

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// Every kind and mode the API names is either served or refused at
// admission, naming spec.connector.kind and saying it is not built yet: none
// is stored to crash-loop with Reconciling=True for ever.
func TestConnectorKindsNotBuiltAreRefusedAtAdmission(t *testing.T) {
	createRegion(t, "kinds")
	ns := shcrv1alpha1.NamespaceFor("kinds")
	for _, kind := range []shcrv1alpha1.ConnectorKind{shcrv1alpha1.ConnectorFHIR, shcrv1alpha1.ConnectorHL7v2, shcrv1alpha1.ConnectorGPConnect} {
		for _, mode := range []shcrv1alpha1.ConnectorMode{"", shcrv1alpha1.ConnectorPull, shcrv1alpha1.ConnectorPush} {
			t.Run(fmt.Sprintf("%s/%s", kind, mode), func(t *testing.T) {
				m := member(ns, "kinds", "O86001", "GPPractice")
				m.Spec.Connector.Kind, m.Spec.Connector.Mode = kind, mode
				effective := mode
				if effective == "" {
					effective = shcrv1alpha1.ConnectorPull
				}
				err := k8s.Create(ctx, m, client.DryRunAll)
				served := slices.Contains(shcrv1alpha1.ServedConnectors, string(kind)+"/"+string(effective))
				if served {
					if err != nil {
						t.Fatalf("a served kind and mode was refused: %v", err)
					}
					return
				}
				if err == nil {
					t.Fatal("a kind and mode the connector cannot serve was admitted")
				}
				for _, want := range []string{"spec.connector.kind", fmt.Sprintf("kind %s with mode %s is not built yet", kind, effective),
					"the connector serves " + shcrv1alpha1.ServedConnectorsText()} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("refusal %q does not say %q", err, want)
					}
				}
			})
		}
	}
}
