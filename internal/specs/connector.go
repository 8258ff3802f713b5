/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package specs

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/connector"
)

// LabelOrganisation names the ODS code of the organisation a connector serves.
const LabelOrganisation = "shcr.io/organisation"

// DefaultConnectorImage runs an organisation's connector when neither the
// organisation nor the operator (--connector-image) names one.
const DefaultConnectorImage = "ghcr.io/shcr-io/shcr-connector:v0.1.0"

// DefaultGatewayImage runs a region's record gateway when neither the region
// nor the operator (--gateway-image) names one.
const DefaultGatewayImage = "ghcr.io/shcr-io/shcr-gateway:v0.1.0"

// WithGatewayImage is region, or when it names no gateway image a copy
// naming image (the operator's default).
func WithGatewayImage(region *shcrv1alpha1.ShCRRegion, image string) *shcrv1alpha1.ShCRRegion {
	if region.Spec.Gateway.Image != "" || image == "" {
		return region
	}
	region = region.DeepCopy()
	region.Spec.Gateway.Image = image
	return region
}

// WithConnectorImage is member, or when it names no connector image a copy
// naming image (the operator's default).
func WithConnectorImage(member *shcrv1alpha1.MemberOrganisation, image string) *shcrv1alpha1.MemberOrganisation {
	if member.Spec.Connector == nil || member.Spec.Connector.Image != "" || image == "" {
		return member
	}
	member = member.DeepCopy()
	member.Spec.Connector.Image = image
	return member
}

// Paths inside the connector container.
const (
	ConnectorConfigDir      = "/etc/shcr/connector"
	ConnectorConfigKey      = "config.json"
	ConnectorCredentialsDir = "/var/run/secrets/shcr/credentials"
)

// ConnectorName is the name of an organisation's connector objects.
func ConnectorName(member *shcrv1alpha1.MemberOrganisation) string {
	return "connector-" + strings.ToLower(member.Spec.ODSCode)
}

// ConnectorConfig is what the connector reads at start and on every change:
// where to fetch from, where to write, and what it may forward right now.
// It is the connector's own type, so that the operator writes exactly the
// contract the connector loads (one wire type, not two copies).
type ConnectorConfig = connector.Config

func connectorLabels(region string, member *shcrv1alpha1.MemberOrganisation) map[string]string {
	return map[string]string{
		LabelManagedBy:           ManagedBy,
		LabelPartOf:              "shcr",
		LabelName:                ComponentConnector,
		LabelComponent:           ComponentConnector,
		shcrv1alpha1.LabelRegion: region,
		LabelOrganisation:        member.Spec.ODSCode,
	}
}

func connectorMeta(region string, member *shcrv1alpha1.MemberOrganisation) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:      ConnectorName(member),
		Namespace: member.Namespace,
		Labels:    connectorLabels(region, member),
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(member,
			shcrv1alpha1.GroupVersion.WithKind("MemberOrganisation"))},
	}
}

// ConnectorServiceAccount is the connector's identity, with no API token.
func ConnectorServiceAccount(region string, member *shcrv1alpha1.MemberOrganisation) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   connectorMeta(region, member),
		AutomountServiceAccountToken: ptr.To(false),
	}
}

// ConnectorConfigMap holds the connector's configuration, including the
// categories the organisation may provide right now.
func ConnectorConfigMap(region string, member *shcrv1alpha1.MemberOrganisation, categories []string) *corev1.ConfigMap {
	c := member.Spec.Connector
	cfg := ConnectorConfig{
		ODSCode:       member.Spec.ODSCode,
		Region:        region,
		Kind:          string(c.Kind),
		Endpoint:      c.Endpoint,
		Mode:          string(c.Mode),
		Schedule:      c.Schedule,
		RecordService: serviceURLIn(member.Namespace, RecordServiceName, RecordServicePort, "/fhir"),
		Categories:    append([]string{}, categories...),
	}
	data, _ := json.MarshalIndent(cfg, "", "  ") // plain strings: cannot fail
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: connectorMeta(region, member),
		Data:       map[string]string{ConnectorConfigKey: string(data)},
	}
}

// ConnectorStatusPort is where a connector serves its probes, metrics and
// the /status the operator reads.
const ConnectorStatusPort = 8080

// ConnectorMLLPPort is where an HL7v2 connector receives MLLP over TLS
// (the connector's --mllp-listen default).
const ConnectorMLLPPort = 2575

// isPushedHL7 reports whether the organisation pushes HL7v2 over MLLP.
func isPushedHL7(member *shcrv1alpha1.MemberOrganisation) bool {
	c := member.Spec.Connector
	return c != nil && c.Kind == shcrv1alpha1.ConnectorHL7v2 && c.Mode == shcrv1alpha1.ConnectorPush
}

// pushPort is the port a pushed connector receives on, and its name: MLLP
// for HL7v2, HTTPS for FHIR; ok is false for a pulling connector.
func pushPort(member *shcrv1alpha1.MemberOrganisation) (name string, port int32, ok bool) {
	switch {
	case isPushedHL7(member):
		return "mllp", ConnectorMLLPPort, true
	case isPushedFHIR(member):
		return "https", ConnectorPushPort, true
	}
	return "", 0, false
}

// ConnectorNetworkPolicy lets the connector reach its organisation's declared
// ranges on the endpoint's port, and lets the operator (in operatorNamespace,
// when known) read its status. DNS and the record service are allowed by the
// region's own policies; everything else stays denied.
func ConnectorNetworkPolicy(region string, member *shcrv1alpha1.MemberOrganisation, operatorNamespace string) *networkingv1.NetworkPolicy {
	c := member.Spec.Connector
	rule := networkingv1.NetworkPolicyEgressRule{Ports: tcpPort(endpointPort(c.Endpoint))}
	for _, cidr := range c.NetworkRanges {
		rule.To = append(rule.To, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr}})
	}
	np := &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: connectorMeta(region, member),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: connectorSelector(region, member)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress:      []networkingv1.NetworkPolicyEgressRule{rule},
		},
	}
	if operatorNamespace != "" {
		np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
		np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
			From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{corev1.LabelMetadataName: operatorNamespace},
			}}},
			Ports: tcpPort(ConnectorStatusPort),
		}}
	}
	if _, port, ok := pushPort(member); ok {
		// The organisation's system connects in, from its declared ranges,
		// to the MLLP or HTTPS port only; the connector opens nothing to it.
		np.Spec.Egress = nil
		if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
			np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
		}
		np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: rule.To, Ports: tcpPort(port)})
	}
	return np
}

// ConnectorService gives the connector's status endpoint a stable name. It
// is headless: only the operator calls it, and a region of thousands of
// organisations would otherwise hold thousands of cluster IPs and the
// proxy rules for each.
func ConnectorService(region string, member *shcrv1alpha1.MemberOrganisation) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: connectorMeta(region, member),
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeClusterIP,
			ClusterIP: corev1.ClusterIPNone,
			Selector:  connectorSelector(region, member),
			Ports:     connectorServicePorts(member),
		},
	}
}

// connectorServicePorts are the status port and, for a pushed connector,
// the MLLP (HL7v2) or HTTPS (FHIR) port.
func connectorServicePorts(member *shcrv1alpha1.MemberOrganisation) []corev1.ServicePort {
	ports := []corev1.ServicePort{{
		Name: "http", Port: ConnectorStatusPort, TargetPort: intstr.FromInt32(ConnectorStatusPort), Protocol: corev1.ProtocolTCP,
	}}
	if name, port, ok := pushPort(member); ok {
		ports = append(ports, corev1.ServicePort{
			Name: name, Port: port, TargetPort: intstr.FromInt32(port), Protocol: corev1.ProtocolTCP,
		})
	}
	return ports
}

// ConnectorStatusURL is where the operator reads a connector's status.
func ConnectorStatusURL(member *shcrv1alpha1.MemberOrganisation) string {
	return serviceURLIn(member.Namespace, ConnectorName(member), ConnectorStatusPort, "/status")
}

func connectorSelector(region string, member *shcrv1alpha1.MemberOrganisation) map[string]string {
	return map[string]string{
		shcrv1alpha1.LabelRegion: region,
		LabelComponent:           ComponentConnector,
		LabelOrganisation:        member.Spec.ODSCode,
	}
}

// ConnectorDeployment runs the connector with its configuration and its
// credentials mounted; the credentials are never copied anywhere else.
func ConnectorDeployment(region string, member *shcrv1alpha1.MemberOrganisation) *appsv1.Deployment {
	c := member.Spec.Connector
	image := c.Image
	if image == "" {
		image = DefaultConnectorImage
	}
	labels := connectorLabels(region, member)
	tmp, tmpMount := tmpVolume()
	container := corev1.Container{
		Name:            ComponentConnector,
		Image:           image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Args: []string{
			"--config=" + ConnectorConfigDir + "/" + ConnectorConfigKey,
			"--credentials=" + ConnectorCredentialsDir,
			"--state=" + ConnectorStatePath,
			"--mllp-state=" + ConnectorControlIDsPath,
		},
		Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: ConnectorStatusPort, Protocol: corev1.ProtocolTCP}},
		Resources:       resourcesOr(nil, "50m", "64Mi", "500m", "256Mi"),
		SecurityContext: restrictedContainerSecurity(),
		VolumeMounts: []corev1.VolumeMount{
			{Name: "config", MountPath: ConnectorConfigDir, ReadOnly: true},
			{Name: "credentials", MountPath: ConnectorCredentialsDir, ReadOnly: true},
			{Name: ConnectorStateVolume, MountPath: ConnectorStateDir},
			tmpMount,
		},
		ReadinessProbe: httpProbe("/readyz", ConnectorStatusPort, 10),
		LivenessProbe:  httpProbe("/healthz", ConnectorStatusPort, 30),
	}
	if name, port, ok := pushPort(member); ok {
		container.Ports = append(container.Ports, corev1.ContainerPort{Name: name, ContainerPort: port, Protocol: corev1.ProtocolTCP})
	}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: connectorMeta(region, member),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: connectorSelector(region, member)},
			// One connector at a time per organisation: its watermarks and
			// control ids (the state volume, ReadWriteOnce) are not shared.
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					ServiceAccountName:           ConnectorName(member),
					AutomountServiceAccountToken: ptr.To(false),
					SecurityContext:              restrictedPodSecurity(),
					Containers:                   []corev1.Container{container},
					Volumes: []corev1.Volume{
						{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
							LocalObjectReference: corev1.LocalObjectReference{Name: ConnectorName(member)},
						}}},
						{Name: "credentials", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
							SecretName: c.CredentialsSecretRef.Name,
						}}},
						{Name: ConnectorStateVolume, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
							ClaimName: ConnectorStateClaimName(member),
						}}},
						tmp,
					},
				},
			},
		},
	}
}

// endpointPort is the TCP port of an https URL, 443 unless it says otherwise.
func endpointPort(endpoint string) int32 {
	u, err := url.Parse(endpoint)
	if err != nil || u.Port() == "" {
		return 443
	}
	p, err := strconv.ParseInt(u.Port(), 10, 32)
	if err != nil {
		return 443
	}
	return int32(p)
}
