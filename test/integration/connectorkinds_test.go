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
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/specs"
	"github.com/shcr-io/shcr-operator/test/testenv"
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
				if mode == shcrv1alpha1.ConnectorPush {
					m.Spec.Connector.Schedule = "" // a pushed connector has no schedule
				}
				if kind == shcrv1alpha1.ConnectorGPConnect {
					// The gateway reads GP Connect: no schedule, no Secret of its own.
					m.Spec.Connector.Schedule, m.Spec.Connector.CredentialsSecretRef = "", shcrv1alpha1.LocalSecretReference{}
					m.Spec.Connector.ASID = "918999198738"
				}
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
				if kind == shcrv1alpha1.ConnectorGPConnect {
					if want := "kind GPConnect with mode Push is not offered: GP practices are read by the record gateway at the moment of care"; !strings.Contains(err.Error(), want) {
						t.Errorf("refusal %q does not say %q", err, want)
					}
					return
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

// An HL7v2 organisation pushing over MLLP is admitted only with a TLS
// certificate in its Secret; its connector then listens on the MLLP port,
// and its status says HL7v2 Push runs. A schedule on a pushed connector is
// refused.
func TestHL7v2PushConnectorRuns(t *testing.T) {
	createRegion(t, "hl7push")
	ns := shcrv1alpha1.NamespaceFor("hl7push")
	m := member(ns, "pas", "O86002", "NHSTrust")
	m.Spec.Connector.Kind, m.Spec.Connector.Mode = shcrv1alpha1.ConnectorHL7v2, shcrv1alpha1.ConnectorPush
	if err := k8s.Create(ctx, m.DeepCopy(), client.DryRunAll); err == nil ||
		!strings.Contains(err.Error(), "spec.connector.schedule: only for mode Pull") {
		t.Errorf("a schedule on a pushed connector: %v", err)
	}
	m.Spec.Connector.Schedule = ""
	secret := credentials(ns, m.Spec.Connector.CredentialsSecretRef.Name)
	create(t, secret)
	create(t, m)
	waitFor(t, "CredentialsFound=False naming tls.crt", func() (bool, string) {
		got := &shcrv1alpha1.MemberOrganisation{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(m), got); err != nil {
			return false, err.Error()
		}
		c := meta.FindStatusCondition(got.Status.Conditions, shcrv1alpha1.ConditionCredentialsFound)
		return c != nil && c.Status == metav1.ConditionFalse && strings.Contains(c.Message, "tls.crt and tls.key"), fmt.Sprint(c)
	})
	update(t, &corev1.Secret{}, ns, secret.Name, func(s *corev1.Secret) {
		s.Data = map[string][]byte{"tls.crt": []byte("certificate"), "tls.key": []byte("key")}
	})
	// A connector runs once an Active agreement lets the trust provide.
	peer := member(ns, "peer", "O86003", "GPPractice")
	create(t, credentials(ns, peer.Spec.Connector.CredentialsSecretRef.Name))
	create(t, peer)
	op.Share(t, ns, "hl7-share", "HL7PUSH-001", "O86002", "O86003")
	deploy := &appsv1.Deployment{}
	// The operator reads the Secret again credentialsMissingRetry (30s) later.
	testenv.WaitFor(t, "the HL7v2 connector with its MLLP port", 90*time.Second, func() (bool, string) {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "connector-o86002"}, deploy); err != nil {
			return false, err.Error()
		}
		ports := deploy.Spec.Template.Spec.Containers[0].Ports
		return len(ports) == 2 && ports[1].ContainerPort == specs.ConnectorMLLPPort, fmt.Sprint(ports)
	})
	waitFor(t, "status.connector kind HL7v2 mode Push", func() (bool, string) {
		got := &shcrv1alpha1.MemberOrganisation{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(m), got); err != nil {
			return false, err.Error()
		}
		c := got.Status.Connector
		return c != nil && c.Kind == shcrv1alpha1.ConnectorHL7v2 && c.Mode == shcrv1alpha1.ConnectorPush, fmt.Sprintf("%+v", c)
	})
}
