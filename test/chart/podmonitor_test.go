/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package chart

import (
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// podMonitor is the part of a monitoring.coreos.com/v1 PodMonitor the
// gateways' scrape depends on.
type podMonitor struct {
	Spec struct {
		NamespaceSelector struct {
			Any        bool     `json:"any"`
			MatchNames []string `json:"matchNames"`
		} `json:"namespaceSelector"`
		Selector            metav1.LabelSelector `json:"selector"`
		PodMetricsEndpoints []struct {
			Port       string              `json:"port"`
			TargetPort *intstr.IntOrString `json:"targetPort"`
			Path       string              `json:"path"`
		} `json:"podMetricsEndpoints"`
	} `json:"spec"`
}

// TestGatewaysAreScraped renders the PodMonitor from the chart (with the
// ServiceMonitor's value) and from config/prometheus, and checks it selects
// the gateway pods the operator makes, in any region namespace, on a port
// the gateway container declares, at /metrics; and selects no other pod of
// the region.
func TestGatewaysAreScraped(t *testing.T) {
	if n := len(ofKind(helmTemplate(t), "PodMonitor")); n != 0 {
		t.Errorf("the chart renders %d PodMonitors with monitoring off, want none", n)
	}
	chart := ofKind(helmTemplate(t, "--set", "metrics.serviceMonitor.enabled=true"), "PodMonitor")
	kustomize := ofKind(objects(t, run(t, tool(t, "KUBECTL"), "kustomize", filepath.Join(root, "config", "prometheus"))), "PodMonitor")
	for name, monitors := range map[string][]*unstructured.Unstructured{"chart": chart, "config/prometheus": kustomize} {
		if len(monitors) != 1 {
			t.Errorf("%s renders %d PodMonitors, want 1", name, len(monitors))
			continue
		}
		checkGatewayPodMonitor(t, name, convert[podMonitor](t, monitors[0]))
	}
}

func checkGatewayPodMonitor(t *testing.T, name string, pm *podMonitor) {
	t.Helper()
	if !pm.Spec.NamespaceSelector.Any {
		t.Errorf("%s: the PodMonitor must look in every namespace (regions each have their own), got %+v", name, pm.Spec.NamespaceSelector)
	}
	if len(pm.Spec.PodMetricsEndpoints) != 1 {
		t.Fatalf("%s: %d endpoints, want 1", name, len(pm.Spec.PodMetricsEndpoints))
	}
	ep := pm.Spec.PodMetricsEndpoints[0]
	if ep.Path != "/metrics" {
		t.Errorf("%s: path %q, want /metrics", name, ep.Path)
	}
	for _, region := range []*shcrv1alpha1.ShCRRegion{
		{ObjectMeta: metav1.ObjectMeta{Name: "north"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "south"}, Spec: shcrv1alpha1.ShCRRegionSpec{Audit: shcrv1alpha1.AuditSpec{Sink: shcrv1alpha1.AuditSinkFile}}},
	} {
		for _, pod := range []corev1.PodTemplateSpec{specs.GatewayDeployment(region).Spec.Template, specs.GatewayStatefulSet(region).Spec.Template} {
			if !matches(&pm.Spec.Selector, pod.Labels) {
				t.Errorf("%s: selector %v does not match the gateway pod labels %v", name, pm.Spec.Selector, pod.Labels)
			}
			ports := pod.Spec.Containers[0].Ports
			found := false
			for _, p := range ports {
				if (ep.Port != "" && p.Name == ep.Port && p.ContainerPort == specs.GatewayPort) ||
					(ep.TargetPort != nil && ep.TargetPort.IntValue() == int(p.ContainerPort)) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: endpoint port %q/%v is not the gateway container's port %d (%v)", name, ep.Port, ep.TargetPort, specs.GatewayPort, ports)
			}
		}
		// No other pod the operator makes in a region is scraped.
		others := map[string]map[string]string{
			"record service": specs.RecordServiceStatefulSet(region).Spec.Template.Labels,
			"connector":      specs.ConnectorDeployment(region.Name, testMember(region)).Spec.Template.Labels,
			"stray pod":      {"app.kubernetes.io/component": "record-gateway"},
		}
		for what, labels := range others {
			if matches(&pm.Spec.Selector, labels) {
				t.Errorf("%s: selector %v also matches the %s (%v)", name, pm.Spec.Selector, what, labels)
			}
		}
	}
}

// testMember is an organisation of the region with a connector.
func testMember(region *shcrv1alpha1.ShCRRegion) *shcrv1alpha1.MemberOrganisation {
	member := &shcrv1alpha1.MemberOrganisation{}
	member.Name, member.Namespace = "gp", shcrv1alpha1.NamespaceFor(region.Name)
	member.Spec.ODSCode = "A81001"
	member.Spec.Connector = &shcrv1alpha1.ConnectorSpec{
		Endpoint: "https://fhir.gp.example.nhs.uk/R4", NetworkRanges: []string{"192.0.2.0/24"},
		CredentialsSecretRef: shcrv1alpha1.LocalSecretReference{Name: "gp-creds"},
	}
	return member
}
