/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package specs

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/gpconnect"
)

// gpMember is a GP Connect practice, admitted for its generation unless
// changed.
func gpMember(ods string, changes ...func(*shcrv1alpha1.MemberOrganisation)) shcrv1alpha1.MemberOrganisation {
	m := shcrv1alpha1.MemberOrganisation{
		ObjectMeta: metav1.ObjectMeta{Name: ods, Generation: 2},
		Spec: shcrv1alpha1.MemberOrganisationSpec{
			ODSCode: ods, Roles: []shcrv1alpha1.OrganisationRole{shcrv1alpha1.RoleProvider},
			Connector: &shcrv1alpha1.ConnectorSpec{
				Kind: shcrv1alpha1.ConnectorGPConnect, ASID: "9180" + ods[len(ods)-2:], Mode: shcrv1alpha1.ConnectorPull,
				Endpoint: "https://gp.example.nhs.uk/" + ods + "/STU3/1/gpconnect", NetworkRanges: []string{"10.60.0.0/24"},
			},
		},
		Status: shcrv1alpha1.MemberOrganisationStatus{Conditions: []metav1.Condition{
			{Type: shcrv1alpha1.ConditionAdmitted, Status: metav1.ConditionTrue, ObservedGeneration: 2},
		}},
	}
	for _, c := range changes {
		c(&m)
	}
	return m
}

// Only admitted, unsuspended GP Connect Providers reach the gateway's
// configuration, sorted; the egress NetworkPolicy opens only their ranges
// on their endpoints' ports.
func TestGPConnectPracticesAndNetworkPolicy(t *testing.T) {
	members := []shcrv1alpha1.MemberOrganisation{
		gpMember("Y3G02"),
		gpMember("Y3G01", func(m *shcrv1alpha1.MemberOrganisation) {
			m.Spec.Connector.Endpoint = "https://gp.example.nhs.uk:8443/Y3G01"
			m.Spec.Connector.NetworkRanges = []string{"10.61.0.0/24", "10.62.0.0/24"}
		}),
		gpMember("Y3G03", func(m *shcrv1alpha1.MemberOrganisation) { m.Spec.Suspended = true }),
		gpMember("Y3G04", func(m *shcrv1alpha1.MemberOrganisation) { m.Status.Conditions[0].Status = metav1.ConditionFalse }),
		gpMember("Y3G05", func(m *shcrv1alpha1.MemberOrganisation) { m.Status.Conditions[0].ObservedGeneration = 1 }),
		gpMember("Y3G06", func(m *shcrv1alpha1.MemberOrganisation) {
			m.Spec.Roles = []shcrv1alpha1.OrganisationRole{shcrv1alpha1.RoleConsumer}
		}),
		gpMember("Y3T01", func(m *shcrv1alpha1.MemberOrganisation) { m.Spec.Connector.Kind = shcrv1alpha1.ConnectorFHIR }),
	}
	practices := GPConnectPractices(members, "tvs")
	want := []gpconnect.Practice{
		{ODSCode: "Y3G01", ASID: "918001", Endpoint: "https://gp.example.nhs.uk:8443/Y3G01"},
		{ODSCode: "Y3G02", ASID: "918002", Endpoint: "https://gp.example.nhs.uk/Y3G02/STU3/1/gpconnect"},
	}
	if !reflect.DeepEqual(practices, want) {
		t.Fatalf("practices %+v, want %+v", practices, want)
	}
	r := region(func(r *shcrv1alpha1.ShCRRegion) {
		r.Spec.Gateway.GPConnect = &shcrv1alpha1.GatewayGPConnect{ASID: "200000000115"}
	})
	cm, err := GatewayGPConnectConfigMap(r, practices)
	if err != nil {
		t.Fatal(err)
	}
	var file gpconnect.File
	if err := json.Unmarshal([]byte(cm.Data[GatewayGPConnectKey]), &file); err != nil || file.ASID != "200000000115" || !reflect.DeepEqual(file.Practices, want) {
		t.Fatalf("ConfigMap %s: %v", cm.Data[GatewayGPConnectKey], err)
	}
	np := GatewayGPConnectNetworkPolicy(r, members, practices)
	type flow struct {
		cidr string
		port int
	}
	var flows []flow
	for _, rule := range np.Spec.Egress {
		for _, to := range rule.To {
			for _, p := range rule.Ports {
				flows = append(flows, flow{to.IPBlock.CIDR, p.Port.IntValue()})
			}
		}
	}
	wantFlows := []flow{{"10.60.0.0/24", 443}, {"10.61.0.0/24", 8443}, {"10.62.0.0/24", 8443}}
	if len(flows) != 3 || !slices.Contains(flows, wantFlows[0]) || !slices.Contains(flows, wantFlows[1]) || !slices.Contains(flows, wantFlows[2]) {
		t.Fatalf("egress %+v, want %+v", flows, wantFlows)
	}
	if np.Spec.PodSelector.MatchLabels["app.kubernetes.io/component"] != ComponentGateway || len(np.Spec.Ingress) != 0 {
		t.Errorf("policy selects %v", np.Spec.PodSelector)
	}

	// No GP Connect on the region: no flags or mounts; with it, both.
	args, _, _ := gatewayConfiguration(region())
	for _, a := range args {
		if a == "--gpconnect-config="+GatewayGPConnectDir+"/"+GatewayGPConnectKey {
			t.Error("GP Connect configured without spec.gateway.gpConnect")
		}
	}
	r.Spec.Gateway.GPConnect.CredentialsSecretRef = &shcrv1alpha1.LocalSecretReference{Name: "gpc-client"}
	args, mounts, volumes := gatewayConfiguration(r)
	if !slices.Contains(args, "--gpconnect-credentials="+GatewayGPConnectCredentialsDir) || len(mounts) < 3 ||
		!slices.ContainsFunc(volumes, func(v corev1.Volume) bool { return v.Secret != nil && v.Secret.SecretName == "gpc-client" }) {
		t.Errorf("args %v, volumes %+v", args, volumes)
	}
}
