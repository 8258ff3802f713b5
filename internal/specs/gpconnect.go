/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package specs

import (
	"encoding/json"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/governance"
	"github.com/shcr-io/shcr-operator/internal/gpconnect"
)

// GP Connect: the gateway reads GP practices at the moment of care. The
// operator writes their endpoints into a ConfigMap the gateway mounts and
// reloads, and lets the gateway reach them and nowhere else beyond.
const (
	// GatewayGPConnectName names the ConfigMap of the gateway's GP Connect
	// configuration and the NetworkPolicy that lets it reach the practices.
	GatewayGPConnectName = "record-gateway-gpconnect"
	// GatewayGPConnectKey is the ConfigMap's key.
	GatewayGPConnectKey = "gpconnect.json"
	// GatewayGPConnectDir and GatewayGPConnectCredentialsDir are where the
	// gateway finds the configuration and the region's GP Connect
	// credentials.
	GatewayGPConnectDir            = "/etc/shcr/gpconnect"
	GatewayGPConnectCredentialsDir = "/var/run/secrets/shcr/gpconnect"
)

// IsGPConnect reports whether a member's records are read with GP Connect.
func IsGPConnect(m *shcrv1alpha1.MemberOrganisation) bool {
	return m.Spec.Connector != nil && m.Spec.Connector.Kind == shcrv1alpha1.ConnectorGPConnect
}

// GPConnectPractices are the region's GP practices the gateway may read:
// admitted Providers, not suspended, whose connector kind is GPConnect,
// sorted by ODS code.
func GPConnectPractices(members []shcrv1alpha1.MemberOrganisation, region string) []gpconnect.Practice {
	var out []gpconnect.Practice
	for i := range members {
		m := &members[i]
		if !IsGPConnect(m) || m.Spec.Suspended || !m.DeletionTimestamp.IsZero() {
			continue
		}
		if p := governance.PolicyMember(m, region); !p.Admitted || !p.Provider {
			continue
		}
		out = append(out, gpconnect.Practice{ODSCode: m.Spec.ODSCode, ASID: m.Spec.Connector.ASID, Endpoint: m.Spec.Connector.Endpoint})
	}
	slices.SortFunc(out, func(a, b gpconnect.Practice) int { return strings.Compare(a.ODSCode, b.ODSCode) })
	return out
}

// GatewayGPConnectConfigMap is the gateway's GP Connect configuration: the
// region's ASID and its practices.
func GatewayGPConnectConfigMap(region *shcrv1alpha1.ShCRRegion, practices []gpconnect.Practice) (*corev1.ConfigMap, error) {
	file := gpconnect.File{ASID: region.Spec.Gateway.GPConnect.ASID, Practices: practices}
	if file.Practices == nil {
		file.Practices = []gpconnect.Practice{}
	}
	data, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		return nil, err
	}
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: regionMeta(region, GatewayGPConnectName, componentLabels(region, ComponentGateway)),
		Data:       map[string]string{GatewayGPConnectKey: string(data)},
	}, nil
}

// GatewayGPConnectNetworkPolicy lets the gateway open connections to each
// practice's networkRanges on its endpoint's port, and nowhere else.
func GatewayGPConnectNetworkPolicy(region *shcrv1alpha1.ShCRRegion, members []shcrv1alpha1.MemberOrganisation, practices []gpconnect.Practice) *networkingv1.NetworkPolicy {
	var egress []networkingv1.NetworkPolicyEgressRule
	for i := range members {
		m := &members[i]
		if !IsGPConnect(m) || !slices.ContainsFunc(practices, func(p gpconnect.Practice) bool { return p.ODSCode == m.Spec.ODSCode }) {
			continue
		}
		rule := networkingv1.NetworkPolicyEgressRule{Ports: []networkingv1.NetworkPolicyPort{{
			Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(endpointPort(m.Spec.Connector.Endpoint))),
		}}}
		for _, cidr := range m.Spec.Connector.NetworkRanges {
			rule.To = append(rule.To, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr}})
		}
		egress = append(egress, rule)
	}
	return netpol(region, GatewayGPConnectName, podsOf(region, ComponentGateway), nil, egress, false, true)
}

// gpConnectConfiguration adds the gateway's GP Connect flags and volumes
// when the region is a GP Connect consumer.
func gpConnectConfiguration(region *shcrv1alpha1.ShCRRegion, args []string, mounts []corev1.VolumeMount, volumes []corev1.Volume) ([]string, []corev1.VolumeMount, []corev1.Volume) {
	gpc := region.Spec.Gateway.GPConnect
	if gpc == nil {
		return args, mounts, volumes
	}
	args = append(args, "--gpconnect-config="+GatewayGPConnectDir+"/"+GatewayGPConnectKey)
	mounts = append(mounts, corev1.VolumeMount{Name: "gpconnect", MountPath: GatewayGPConnectDir, ReadOnly: true})
	volumes = append(volumes, configMapVolume("gpconnect", GatewayGPConnectName))
	if ref := gpc.CredentialsSecretRef; ref != nil {
		args = append(args, "--gpconnect-credentials="+GatewayGPConnectCredentialsDir)
		mounts = append(mounts, corev1.VolumeMount{Name: "gpconnect-credentials", MountPath: GatewayGPConnectCredentialsDir, ReadOnly: true})
		volumes = append(volumes, corev1.Volume{Name: "gpconnect-credentials", VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: ref.Name, DefaultMode: ptr.To[int32](0o440)},
		}})
	}
	return args, mounts, volumes
}
