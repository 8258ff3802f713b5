/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package specs

import (
	corev1 "k8s.io/api/core/v1"
	netv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// NetworkPolicyGatewayFromOperator admits the operator to the gateway.
const NetworkPolicyGatewayFromOperator = "shcr-gateway-from-operator"

// GatewayOperatorNetworkPolicy admits the operator's namespace to the
// gateway's port, so that the operator can read the gateway's break-glass
// count (GET /v1/break-glass-count) and raise a BreakGlassUsed Event on the
// region. A NetworkPolicy cannot narrow a port to a path: every FHIR path
// on that port still needs a token the operator does not hold.
func GatewayOperatorNetworkPolicy(region *shcrv1alpha1.ShCRRegion, operatorNamespace string) *netv1.NetworkPolicy {
	return netpol(region, NetworkPolicyGatewayFromOperator, podsOf(region, ComponentGateway), []netv1.NetworkPolicyIngressRule{{
		From: []netv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
			MatchLabels: map[string]string{corev1.LabelMetadataName: operatorNamespace},
		}}},
		Ports: tcpPort(GatewayPort),
	}}, nil, true, false)
}
