/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package chart

import (
	"fmt"
	"net/netip"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/gpconnect"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// endpoint is one end of a flow: a pod (namespace and labels) or an address
// outside the cluster's pods.
type endpoint struct {
	name     string
	ns       string
	nsLabels map[string]string
	pod      map[string]string
	ip       netip.Addr // set for an address outside the pods
}

// flow is a connection from src to dst on a port.
type flow struct {
	src, dst endpoint
	port     int32
	protocol corev1.Protocol
}

// allowed evaluates Kubernetes NetworkPolicy semantics over the policies: a
// pod selected by no policy of a direction is open in that direction; one
// selected by any is closed but for what some rule of those policies allows.
// A flow between pods needs the source's egress and the destination's
// ingress; a flow to an address needs only the egress, one from an address
// only the ingress.
func allowed(policies []networkingv1.NetworkPolicy, f flow) bool {
	egress := f.src.ip.IsValid() || sideAllows(policies, f.src, f.dst, f, networkingv1.PolicyTypeEgress)
	ingress := f.dst.ip.IsValid() || sideAllows(policies, f.dst, f.src, f, networkingv1.PolicyTypeIngress)
	return egress && ingress
}

func sideAllows(policies []networkingv1.NetworkPolicy, self, peer endpoint, f flow, dir networkingv1.PolicyType) bool {
	selected := false
	for _, p := range policies {
		if p.Namespace != self.ns || !hasType(p, dir) || !matches(&p.Spec.PodSelector, self.pod) {
			continue
		}
		selected = true
		if dir == networkingv1.PolicyTypeEgress {
			for _, r := range p.Spec.Egress {
				if peersMatch(r.To, p.Namespace, peer) && portsMatch(r.Ports, f) {
					return true
				}
			}
		} else {
			for _, r := range p.Spec.Ingress {
				if peersMatch(r.From, p.Namespace, peer) && portsMatch(r.Ports, f) {
					return true
				}
			}
		}
	}
	return !selected
}

// hasType is the policy's types, defaulted as the API server does.
func hasType(p networkingv1.NetworkPolicy, t networkingv1.PolicyType) bool {
	types := p.Spec.PolicyTypes
	if len(types) == 0 {
		types = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if len(p.Spec.Egress) > 0 {
			types = append(types, networkingv1.PolicyTypeEgress)
		}
	}
	for _, x := range types {
		if x == t {
			return true
		}
	}
	return false
}

func matches(sel *metav1.LabelSelector, l map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		panic(err)
	}
	return s.Matches(labels.Set(l))
}

// peersMatch: no peers is everyone; a peer is an ipBlock (addresses only),
// or pods by selector in the policy's namespace, or in the namespaces its
// namespaceSelector picks.
func peersMatch(peers []networkingv1.NetworkPolicyPeer, policyNS string, e endpoint) bool {
	if len(peers) == 0 {
		return true
	}
	for _, p := range peers {
		if p.IPBlock != nil {
			if e.ip.IsValid() && inBlock(p.IPBlock, e.ip) {
				return true
			}
			continue
		}
		if e.ip.IsValid() {
			continue
		}
		nsOK := e.ns == policyNS
		if p.NamespaceSelector != nil {
			nsOK = matches(p.NamespaceSelector, e.nsLabels)
		}
		podOK := p.PodSelector == nil || matches(p.PodSelector, e.pod)
		if nsOK && podOK {
			return true
		}
	}
	return false
}

func inBlock(b *networkingv1.IPBlock, ip netip.Addr) bool {
	if !netip.MustParsePrefix(b.CIDR).Contains(ip) {
		return false
	}
	for _, ex := range b.Except {
		if netip.MustParsePrefix(ex).Contains(ip) {
			return false
		}
	}
	return true
}

func portsMatch(ports []networkingv1.NetworkPolicyPort, f flow) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		if proto != f.protocol {
			continue
		}
		if p.Port == nil {
			return true
		}
		if p.Port.Type != 0 {
			panic(fmt.Sprintf("named port %s: the evaluator handles numbers only", p.Port.StrVal))
		}
		end := p.Port.IntVal
		if p.EndPort != nil {
			end = *p.EndPort
		}
		if f.port >= p.Port.IntVal && f.port <= end {
			return true
		}
	}
	return false
}

func nsLabels(name string, extra map[string]string) map[string]string {
	l := map[string]string{corev1.LabelMetadataName: name}
	for k, v := range extra {
		l[k] = v
	}
	return l
}

// The chart's NetworkPolicy and a region's (with a connector) allow the
// flows the design needs and no flow it forbids. kwok does not enforce
// NetworkPolicies, so this evaluation is what tests them.
func TestNetworkPoliciesAllowTheNeededFlowsAndNoOther(t *testing.T) {
	const operatorNS = "shcr-system"
	objs := helmTemplate(t)
	var policies []networkingv1.NetworkPolicy
	for _, u := range ofKind(objs, "NetworkPolicy") {
		np := convert[networkingv1.NetworkPolicy](t, u)
		if np.Namespace == "" {
			np.Namespace = operatorNS
		}
		policies = append(policies, *np)
	}
	deploys := ofKind(objs, "Deployment")
	if len(deploys) != 1 || len(policies) != 1 {
		t.Fatalf("want the manager's Deployment and NetworkPolicy, got %d and %d", len(deploys), len(policies))
	}
	manager := endpoint{name: "manager", ns: operatorNS, nsLabels: nsLabels(operatorNS, nil),
		pod: convert[appsv1.Deployment](t, deploys[0]).Spec.Template.Labels}

	region := &shcrv1alpha1.ShCRRegion{}
	region.Name = "tv"
	region.Spec.Gateway = shcrv1alpha1.GatewaySpec{Replicas: 2, ClientNamespaces: []string{"clinical-portal"}}
	region.Spec.RecordService = shcrv1alpha1.RecordServiceSpec{Replicas: 1, Database: &shcrv1alpha1.DatabaseSpec{
		CredentialsSecretRef: corev1.LocalObjectReference{Name: "db"}, NetworkRanges: []string{"10.20.0.0/16"}, Port: 5432,
	}}
	regionNS := shcrv1alpha1.NamespaceFor(region.Name)
	member := &shcrv1alpha1.MemberOrganisation{}
	member.Name, member.Namespace = "gp", regionNS
	member.Spec.ODSCode = "A81001"
	member.Spec.Connector = &shcrv1alpha1.ConnectorSpec{
		Endpoint: "https://fhir.gp.example.nhs.uk/R4", NetworkRanges: []string{"192.0.2.0/24"},
		CredentialsSecretRef: shcrv1alpha1.LocalSecretReference{Name: "gp-creds"},
	}
	for _, np := range specs.NetworkPolicies(region) {
		policies = append(policies, *np)
	}
	policies = append(policies, *specs.GatewayOperatorNetworkPolicy(region, operatorNS))
	policies = append(policies, *specs.ConnectorNetworkPolicy(region.Name, member, operatorNS))
	// A pushed FHIR connector: the organisation sends to it from its ranges.
	pusher := &shcrv1alpha1.MemberOrganisation{}
	pusher.Name, pusher.Namespace = "trust", regionNS
	pusher.Spec.ODSCode = "RX1"
	pusher.Spec.Connector = &shcrv1alpha1.ConnectorSpec{
		Kind: shcrv1alpha1.ConnectorFHIR, Mode: shcrv1alpha1.ConnectorPush,
		Endpoint: "https://epr.trust.example.nhs.uk/fhir", NetworkRanges: []string{"198.18.0.0/24"},
		CredentialsSecretRef: shcrv1alpha1.LocalSecretReference{Name: "trust-creds"},
	}
	policies = append(policies, *specs.ConnectorNetworkPolicy(region.Name, pusher, operatorNS))
	// A GP Connect practice the gateway reads at the moment of care.
	practice := &shcrv1alpha1.MemberOrganisation{}
	practice.Name, practice.Namespace = "practice", regionNS
	practice.Spec.ODSCode = "B82001"
	practice.Spec.Connector = &shcrv1alpha1.ConnectorSpec{
		Kind: shcrv1alpha1.ConnectorGPConnect, ASID: "918999198738",
		Endpoint: "https://gpconnect.practice.example.nhs.uk/B82001/STU3/1/gpconnect", NetworkRanges: []string{"203.0.113.0/28"},
	}
	policies = append(policies, *specs.GatewayGPConnectNetworkPolicy(region, []shcrv1alpha1.MemberOrganisation{*practice},
		[]gpconnect.Practice{{ODSCode: practice.Spec.ODSCode, ASID: practice.Spec.Connector.ASID, Endpoint: practice.Spec.Connector.Endpoint}}))

	regionNSLabels := nsLabels(regionNS, specs.Namespace(region).Labels)
	inRegion := func(name string, pod map[string]string) endpoint {
		return endpoint{name: name, ns: regionNS, nsLabels: regionNSLabels, pod: pod}
	}
	var (
		record    = inRegion("record service", specs.RecordServiceStatefulSet(region).Spec.Template.Labels)
		gateway   = inRegion("gateway", specs.GatewayDeployment(region).Spec.Template.Labels)
		connector = inRegion("connector", specs.ConnectorDeployment(region.Name, member).Spec.Template.Labels)
		pushed    = inRegion("pushed connector", specs.ConnectorDeployment(region.Name, pusher).Spec.Template.Labels)
		purge     = inRegion("purge Job", specs.PurgeJob(region.Name, member, "purge-a81001-1-0", "", []string{"TestResults"}, "narrowed").Spec.Template.Labels)
		dns       = endpoint{name: "kube-dns", ns: "kube-system", nsLabels: nsLabels("kube-system", nil), pod: map[string]string{"k8s-app": "kube-dns"}}
		portal    = endpoint{name: "clinical portal", ns: "clinical-portal", nsLabels: nsLabels("clinical-portal", nil), pod: map[string]string{"app": "portal"}}
		intruder  = endpoint{name: "other namespace", ns: "elsewhere", nsLabels: nsLabels("elsewhere", nil), pod: map[string]string{"app": "x"}}
		// A pod in the region namespace that the operator did not make.
		stranger   = inRegion("stranger in the region", map[string]string{"app": "stranger"})
		apiServer  = endpoint{name: "API server", ip: netip.MustParseAddr("172.18.0.2")}
		gpSystem   = endpoint{name: "GP system", ip: netip.MustParseAddr("192.0.2.10")}
		database   = endpoint{name: "database", ip: netip.MustParseAddr("10.20.0.5")}
		internet   = endpoint{name: "internet", ip: netip.MustParseAddr("198.51.100.7")}
		sender     = endpoint{name: "trust EPR", ip: netip.MustParseAddr("198.18.0.9")}
		gpPractice = endpoint{name: "GP Connect practice", ip: netip.MustParseAddr("203.0.113.4")}
	)
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	cases := []struct {
		f    flow
		want bool
	}{
		// Needed.
		{flow{manager, connector, specs.ConnectorStatusPort, tcp}, true},
		// The break-glass count (GET /v1/break-glass-count) the operator reads.
		{flow{manager, gateway, specs.GatewayPort, tcp}, true},
		{flow{manager, dns, 53, udp}, true},
		{flow{manager, dns, 53, tcp}, true},
		{flow{manager, apiServer, 6443, tcp}, true},
		{flow{manager, apiServer, 443, tcp}, true},
		{flow{apiServer, manager, 9443, tcp}, true},
		{flow{portal, gateway, specs.GatewayPort, tcp}, true},
		{flow{gateway, record, specs.RecordServicePort, tcp}, true},
		{flow{connector, record, specs.RecordServicePort, tcp}, true},
		// The purge Job removes records outside an organisation's scope.
		{flow{purge, record, specs.RecordServicePort, tcp}, true},
		{flow{purge, dns, 53, udp}, true},
		{flow{connector, gpSystem, 443, tcp}, true},
		{flow{record, database, 5432, tcp}, true},
		{flow{gateway, dns, 53, udp}, true},
		{flow{connector, dns, 53, udp}, true},
		{flow{record, dns, 53, udp}, true},
		// FHIR push from the organisation's own ranges, and the gateway
		// reading a GP Connect practice at the moment of care.
		{flow{sender, pushed, specs.ConnectorPushPort, tcp}, true},
		{flow{pushed, record, specs.RecordServicePort, tcp}, true},
		{flow{gateway, gpPractice, 443, tcp}, true},
		// Forbidden.
		{flow{internet, pushed, specs.ConnectorPushPort, tcp}, false},
		{flow{sender, connector, specs.ConnectorStatusPort, tcp}, false},
		{flow{sender, pushed, specs.ConnectorStatusPort, tcp}, false},
		{flow{pushed, sender, 443, tcp}, false},
		{flow{gateway, gpPractice, 80, tcp}, false},
		{flow{connector, gpPractice, 443, tcp}, false},
		{flow{record, gpPractice, 443, tcp}, false},
		{flow{purge, gpPractice, 443, tcp}, false},
		{flow{manager, record, specs.RecordServicePort, tcp}, false},
		{flow{manager, connector, 9090, tcp}, false},
		{flow{manager, internet, 80, tcp}, false},
		{flow{intruder, connector, specs.ConnectorStatusPort, tcp}, false},
		{flow{intruder, gateway, specs.GatewayPort, tcp}, false},
		{flow{intruder, record, specs.RecordServicePort, tcp}, false},
		{flow{stranger, record, specs.RecordServicePort, tcp}, false},
		{flow{stranger, connector, specs.ConnectorStatusPort, tcp}, false},
		{flow{portal, record, specs.RecordServicePort, tcp}, false},
		{flow{portal, connector, specs.ConnectorStatusPort, tcp}, false},
		{flow{connector, gateway, specs.GatewayPort, tcp}, false},
		{flow{connector, internet, 443, tcp}, false},
		{flow{purge, gpSystem, 443, tcp}, false},
		{flow{purge, internet, 443, tcp}, false},
		{flow{purge, gateway, specs.GatewayPort, tcp}, false},
		{flow{intruder, purge, specs.ConnectorStatusPort, tcp}, false},
		{flow{connector, gpSystem, 80, tcp}, false},
		{flow{connector, database, 5432, tcp}, false},
		{flow{gateway, internet, 443, tcp}, false},
		{flow{gateway, database, 5432, tcp}, false},
		{flow{record, internet, 443, tcp}, false},
		{flow{record, gpSystem, 443, tcp}, false},
		{flow{record, gateway, specs.GatewayPort, tcp}, false},
		{flow{internet, gateway, specs.GatewayPort, tcp}, false},
		{flow{internet, record, specs.RecordServicePort, tcp}, false},
	}
	for _, tc := range cases {
		name := fmt.Sprintf("%s to %s on %d/%s", tc.f.src.name, tc.f.dst.name, tc.f.port, tc.f.protocol)
		if got := allowed(policies, tc.f); got != tc.want {
			t.Errorf("%s: allowed %v, want %v", name, got, tc.want)
		}
	}
}
