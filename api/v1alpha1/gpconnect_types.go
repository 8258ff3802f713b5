/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package v1alpha1

// GatewayGPConnect makes the region's record gateway a GP Connect consumer:
// GP practices whose connector kind is GPConnect are read at the moment of
// care (Access Record Structured), never copied. Without it, no GP Connect
// practice of the region can be read, and such members are not Ready.
type GatewayGPConnect struct {
	// ASID is the region's accredited system id (Spine), sent as Ssp-From
	// on every GP Connect request.
	// +kubebuilder:validation:Pattern=`^[0-9]{1,20}$`
	// +required
	ASID string `json:"asid"`

	// CredentialsSecretRef names a Secret in the region namespace with the
	// client certificate the gateway presents to GP practices (tls.crt and
	// tls.key, mutual TLS as Spine requires) and, optionally, ca.crt to
	// verify them instead of the system roots. Each key is optional; the
	// Secret is mounted into the gateway, never copied.
	// +optional
	CredentialsSecretRef *LocalSecretReference `json:"credentialsSecretRef,omitempty"`
}

// Reasons of a GPConnect member's ConnectorAvailable condition.
const (
	// ReasonReadByGateway: a GPConnect practice runs no connector; the
	// record gateway reads it at the moment of care.
	ReasonReadByGateway = "ReadByGateway"
	// ReasonGPConnectNotConfigured: the region has no
	// spec.gateway.gpConnect, so its gateway cannot read GP Connect.
	ReasonGPConnectNotConfigured = "GPConnectNotConfigured"
)
