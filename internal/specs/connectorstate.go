/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package specs

import (
	"encoding/json"
	"path"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/connector"
)

// The connector's durable progress: a volume claim per connector, mounted
// at ConnectorStateDir, holding the pull watermarks and the control ids of
// committed HL7v2 messages, so that a new pod resumes where the last
// stopped.
const (
	ConnectorStateDir       = "/var/lib/shcr/connector"
	ConnectorStatePath      = ConnectorStateDir + "/state.json"
	ConnectorControlIDsPath = ConnectorStateDir + "/hl7-control-ids"
	// ConnectorStateVolume is the pod's name for the claim.
	ConnectorStateVolume = "state"
	// ConnectorStateSize is what each connector's claim requests: the
	// watermarks are a few kilobytes, the control ids 65 bytes a message.
	ConnectorStateSize = "128Mi"
)

// ConnectorPushPort is where a FHIR Push connector serves HTTPS (the
// connector's --push-listen default).
const ConnectorPushPort = 8443

// ConnectorJWKSDir is where a FHIR Push connector finds the region
// identity provider's keys, when the region names them in a ConfigMap.
const ConnectorJWKSDir = "/etc/shcr/jwks"

// ConnectorStateClaimName is the name of the connector's state claim.
func ConnectorStateClaimName(member *shcrv1alpha1.MemberOrganisation) string {
	return ConnectorName(member) + "-state"
}

// ConnectorStateClaim is the connector's state volume claim. It is owned by
// the MemberOrganisation, not by the Deployment: it outlives a removed
// connector (an organisation not admitted for a while resumes where it
// stopped) and goes with the organisation. It holds no patient data: source
// ids, update times and hashes of message control ids.
func ConnectorStateClaim(region string, member *shcrv1alpha1.MemberOrganisation) *corev1.PersistentVolumeClaim {
	meta := connectorMeta(region, member)
	meta.Name = ConnectorStateClaimName(member)
	return &corev1.PersistentVolumeClaim{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: meta,
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: resource.MustParse(ConnectorStateSize),
			}},
		},
	}
}

// isPushedFHIR reports whether the organisation pushes FHIR over HTTPS.
func isPushedFHIR(member *shcrv1alpha1.MemberOrganisation) bool {
	c := member.Spec.Connector
	return c != nil && c.Kind == shcrv1alpha1.ConnectorFHIR && c.Mode == shcrv1alpha1.ConnectorPush
}

// ConnectorPushAudience is the aud the region's identity provider must
// issue an organisation's push tokens for: one per connector, never the
// gateway's, so that no staff token and no other organisation's token
// pushes records.
func ConnectorPushAudience(region string, member *shcrv1alpha1.MemberOrganisation) string {
	return "urn:shcr:connector:" + region + ":" + member.Spec.ODSCode
}

// WithPushIdentity gives a FHIR Push connector the region's identity
// provider: the issuer, its keys (the region's JWKS ConfigMap, mounted, or
// its JWKS URL, with HTTPS egress to reach it) and the connector's own
// audience, in its configuration. It changes nothing for other connectors,
// or while the region names no issuer or keys: the connector then accepts
// no bearer token (fail closed) and says so in its readiness.
func WithPushIdentity(identity shcrv1alpha1.GatewayIdentity, region string, member *shcrv1alpha1.MemberOrganisation,
	cm *corev1.ConfigMap, deploy *appsv1.Deployment, np *networkingv1.NetworkPolicy) {
	if !isPushedFHIR(member) || identity.Issuer == "" || (identity.JWKS == nil && identity.JWKSURL == "") {
		return
	}
	var cfg connector.Config
	if err := json.Unmarshal([]byte(cm.Data[ConnectorConfigKey]), &cfg); err != nil {
		return // written by ConnectorConfigMap: cannot fail
	}
	cfg.Push = &connector.PushAuth{Issuer: identity.Issuer, Audience: ConnectorPushAudience(region, member), JWKSURL: identity.JWKSURL}
	if identity.JWKS != nil {
		cfg.Push.JWKSURL, cfg.Push.JWKSFile = "", path.Join(ConnectorJWKSDir, identity.JWKS.Key)
		pod := &deploy.Spec.Template.Spec
		pod.Volumes = append(pod.Volumes, configMapVolume("jwks", identity.JWKS.Name))
		pod.Containers[0].VolumeMounts = append(pod.Containers[0].VolumeMounts,
			corev1.VolumeMount{Name: "jwks", MountPath: ConnectorJWKSDir, ReadOnly: true})
	} else {
		np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{Ports: tcpPort(443)})
	}
	data, _ := json.MarshalIndent(cfg, "", "  ") // plain strings: cannot fail
	cm.Data[ConnectorConfigKey] = string(data)
}
