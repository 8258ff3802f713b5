/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package specs

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// NetworkPolicies isolate the region namespace: everything is denied, then
// exactly these flows are allowed: DNS; gateway → record service;
// connectors → record service; record service → its external database (if
// any); clients in spec.gateway.clientNamespaces → gateway.
func NetworkPolicies(region *shcrv1alpha1.ShCRRegion) []*networkingv1.NetworkPolicy {
	recordPods := podsOf(region, ComponentRecordService)
	gatewayPods := podsOf(region, ComponentGateway)
	connectorPods := podsOf(region, ComponentConnector)
	recordPort := tcpPort(RecordServicePort)

	clientNamespaces := make([]networkingv1.NetworkPolicyPeer, 0, len(region.Spec.Gateway.ClientNamespaces))
	for _, ns := range region.Spec.Gateway.ClientNamespaces {
		clientNamespaces = append(clientNamespaces, networkingv1.NetworkPolicyPeer{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}},
		})
	}
	var gatewayIngress []networkingv1.NetworkPolicyIngressRule
	if len(clientNamespaces) > 0 {
		gatewayIngress = []networkingv1.NetworkPolicyIngressRule{{From: clientNamespaces, Ports: tcpPort(GatewayPort)}}
	}

	var databaseEgress []networkingv1.NetworkPolicyEgressRule
	if db := region.Spec.RecordService.Database; db != nil {
		rule := networkingv1.NetworkPolicyEgressRule{Ports: tcpPort(db.Port)}
		for _, cidr := range db.NetworkRanges {
			rule.To = append(rule.To, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr}})
		}
		databaseEgress = []networkingv1.NetworkPolicyEgressRule{rule}
	}

	return []*networkingv1.NetworkPolicy{
		netpol(region, NetworkPolicyDefaultDeny, metav1.LabelSelector{}, nil, nil, true, true),
		netpol(region, NetworkPolicyDNS, metav1.LabelSelector{}, nil, []networkingv1.NetworkPolicyEgressRule{{
			To: []networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: "kube-system"}},
				PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
			}},
			Ports: []networkingv1.NetworkPolicyPort{
				{Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To(intstr.FromInt32(53))},
				{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(53))},
			},
		}}, false, true),
		netpol(region, NetworkPolicyRecordIn, recordPods, []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &gatewayPods}, {PodSelector: &connectorPods}},
			Ports: recordPort,
		}}, nil, true, false),
		netpol(region, NetworkPolicyRecordOut, recordPods, nil, databaseEgress, false, true),
		netpol(region, NetworkPolicyGatewayIn, gatewayPods, gatewayIngress, nil, true, false),
		netpol(region, NetworkPolicyGatewayOut, gatewayPods, nil, gatewayEgress(region, recordPods, recordPort), false, true),
		netpol(region, NetworkPolicyConnectorOut, connectorPods, nil, []networkingv1.NetworkPolicyEgressRule{{
			To: []networkingv1.NetworkPolicyPeer{{PodSelector: &recordPods}}, Ports: recordPort,
		}}, false, true),
	}
}

// gatewayEgress lets the gateway reach the record service and, when its
// identity provider publishes keys at a URL, HTTPS beyond the cluster.
func gatewayEgress(region *shcrv1alpha1.ShCRRegion, recordPods metav1.LabelSelector, recordPort []networkingv1.NetworkPolicyPort) []networkingv1.NetworkPolicyEgressRule {
	rules := []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: &recordPods}}, Ports: recordPort}}
	if region.Spec.Gateway.Identity.JWKSURL != "" {
		rules = append(rules, networkingv1.NetworkPolicyEgressRule{Ports: tcpPort(443)})
	}
	return rules
}

func netpol(region *shcrv1alpha1.ShCRRegion, name string, pods metav1.LabelSelector,
	ingress []networkingv1.NetworkPolicyIngressRule, egress []networkingv1.NetworkPolicyEgressRule,
	isIngress, isEgress bool) *networkingv1.NetworkPolicy {
	var types []networkingv1.PolicyType
	if isIngress {
		types = append(types, networkingv1.PolicyTypeIngress)
	}
	if isEgress {
		types = append(types, networkingv1.PolicyTypeEgress)
	}
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: regionMeta(region, name, RegionLabels(region)),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: pods,
			PolicyTypes: types,
			Ingress:     ingress,
			Egress:      egress,
		},
	}
}

func podsOf(region *shcrv1alpha1.ShCRRegion, component string) metav1.LabelSelector {
	return metav1.LabelSelector{MatchLabels: selectorLabels(region, component)}
}

func tcpPort(port int32) []networkingv1.NetworkPolicyPort {
	return []networkingv1.NetworkPolicyPort{{
		Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(port)),
	}}
}
