/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package specs

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/connector"
)

// Every connector keeps its progress on its own claim, mounted where its
// state flags point, and its Deployment never runs two pods on it.
func TestConnectorStateIsOnItsOwnClaim(t *testing.T) {
	for _, kind := range []struct {
		kind shcrv1alpha1.ConnectorKind
		mode shcrv1alpha1.ConnectorMode
	}{{shcrv1alpha1.ConnectorFHIR, shcrv1alpha1.ConnectorPull}, {shcrv1alpha1.ConnectorHL7v2, shcrv1alpha1.ConnectorPush}, {shcrv1alpha1.ConnectorFHIR, shcrv1alpha1.ConnectorPush}} {
		member := connectorMember()
		member.Spec.Connector.Kind, member.Spec.Connector.Mode = kind.kind, kind.mode
		claim := ConnectorStateClaim("wessex", member)
		if claim.Name != "connector-rhw-state" || claim.Namespace != "shcr-wessex" || len(claim.OwnerReferences) != 1 ||
			claim.OwnerReferences[0].UID != "uid-m" || !slices.Equal(claim.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}) {
			t.Errorf("%s/%s: claim %+v, want connector-rhw-state owned by the member, ReadWriteOnce", kind.kind, kind.mode, claim.ObjectMeta)
		}
		d := ConnectorDeployment("wessex", member)
		if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType || *d.Spec.Replicas != 1 {
			t.Errorf("strategy %s, replicas %d: two pods would share the state", d.Spec.Strategy.Type, *d.Spec.Replicas)
		}
		var mounted bool
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name == ConnectorStateVolume {
				mounted = v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == claim.Name
			}
		}
		c := d.Spec.Template.Spec.Containers[0]
		if !mounted || !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
			return m.Name == ConnectorStateVolume && m.MountPath == ConnectorStateDir && !m.ReadOnly
		}) {
			t.Errorf("the claim is not mounted at %s: %+v %+v", ConnectorStateDir, d.Spec.Template.Spec.Volumes, c.VolumeMounts)
		}
		for _, want := range []string{"--state=" + ConnectorStateDir + "/state.json", "--mllp-state=" + ConnectorStateDir + "/hl7-control-ids"} {
			if !slices.Contains(c.Args, want) {
				t.Errorf("args %v lack %s", c.Args, want)
			}
		}
	}
}

// A FHIR Push connector serves HTTPS: the port is on its container and
// Service, and its NetworkPolicy lets in only the organisation's ranges on
// that port and opens nothing to them.
func TestFHIRPushConnectorListensOnlyToItsRanges(t *testing.T) {
	member := connectorMember()
	member.Spec.Connector.Mode = shcrv1alpha1.ConnectorPush
	np := ConnectorNetworkPolicy("wessex", member, "shcr-operator-system")
	if len(np.Spec.Egress) != 0 {
		t.Errorf("a pushed connector opens nothing to the organisation: %+v", np.Spec.Egress)
	}
	if len(np.Spec.Ingress) != 2 || len(np.Spec.Ingress[1].From) != 1 || np.Spec.Ingress[1].From[0].IPBlock.CIDR != "10.80.0.0/16" ||
		np.Spec.Ingress[1].Ports[0].Port.IntValue() != ConnectorPushPort {
		t.Errorf("ingress must be the operator on the status port and the declared range on the HTTPS port: %+v", np.Spec.Ingress)
	}
	d := ConnectorDeployment("wessex", member)
	if ports := d.Spec.Template.Spec.Containers[0].Ports; len(ports) != 2 || ports[1].ContainerPort != ConnectorPushPort || ports[1].Name != "https" {
		t.Errorf("container ports %+v", ports)
	}
	if ports := ConnectorService("wessex", member).Spec.Ports; len(ports) != 2 || ports[1].Name != "https" || ports[1].Port != ConnectorPushPort {
		t.Errorf("Service ports %+v", ports)
	}
}

// The region's identity provider reaches a FHIR Push connector's
// configuration, which the connector loads; nothing else is touched.
func TestWithPushIdentity(t *testing.T) {
	member := connectorMember()
	member.Spec.Connector.Mode = shcrv1alpha1.ConnectorPush
	load := func(cm *corev1.ConfigMap) connector.Config {
		path := filepath.Join(t.TempDir(), ConnectorConfigKey)
		if err := os.WriteFile(path, []byte(cm.Data[ConnectorConfigKey]), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := connector.LoadConfig(path)
		if err != nil {
			t.Fatalf("the connector refuses what the operator writes: %v", err)
		}
		return cfg
	}
	objects := func(m *shcrv1alpha1.MemberOrganisation) (*corev1.ConfigMap, *appsv1.Deployment, *networkingv1.NetworkPolicy) {
		return ConnectorConfigMap("wessex", m, []string{"Demographics"}), ConnectorDeployment("wessex", m), ConnectorNetworkPolicy("wessex", m, "")
	}

	byFile := shcrv1alpha1.GatewayIdentity{Issuer: "https://idp.example", Audience: "gateway",
		JWKS: &shcrv1alpha1.ConfigMapKeyReference{Name: "idp-keys", Key: "jwks.json"}}
	cm, d, np := objects(member)
	WithPushIdentity(byFile, "wessex", member, cm, d, np)
	want := connector.PushAuth{Issuer: "https://idp.example", Audience: "urn:shcr:connector:wessex:RHW", JWKSFile: "/etc/shcr/jwks/jwks.json"}
	if got := load(cm).Push; got == nil || *got != want {
		t.Errorf("push %+v, want %+v", got, want)
	}
	if vs := d.Spec.Template.Spec.Volumes; vs[len(vs)-1].ConfigMap == nil || vs[len(vs)-1].ConfigMap.Name != "idp-keys" {
		t.Errorf("the region's JWKS ConfigMap is not mounted: %+v", vs)
	}
	if len(np.Spec.Egress) != 0 {
		t.Errorf("keys from a file need no egress: %+v", np.Spec.Egress)
	}

	byURL := shcrv1alpha1.GatewayIdentity{Issuer: "https://idp.example", Audience: "gateway", JWKSURL: "https://idp.example/jwks"}
	cm, d, np = objects(member)
	volumes := len(d.Spec.Template.Spec.Volumes)
	WithPushIdentity(byURL, "wessex", member, cm, d, np)
	if got := load(cm).Push; got == nil || got.JWKSURL != "https://idp.example/jwks" || got.JWKSFile != "" {
		t.Errorf("push %+v, want the JWKS URL", got)
	}
	if len(d.Spec.Template.Spec.Volumes) != volumes || len(np.Spec.Egress) != 1 || np.Spec.Egress[0].Ports[0].Port.IntValue() != 443 {
		t.Errorf("keys from a URL: volumes %d (want %d), egress %+v (want HTTPS)", len(d.Spec.Template.Spec.Volumes), volumes, np.Spec.Egress)
	}

	// No issuer or keys: no push block, so the connector accepts no token.
	for _, identity := range []shcrv1alpha1.GatewayIdentity{{}, {Issuer: "https://idp.example"}, {JWKSURL: "https://idp.example/jwks"}} {
		cm, d, np = objects(member)
		WithPushIdentity(identity, "wessex", member, cm, d, np)
		if load(cm).Push != nil {
			t.Errorf("identity %+v gave a push block", identity)
		}
	}
	// Other kinds are untouched.
	pull := connectorMember()
	pull.Spec.Connector.Schedule = "15m"
	cm, d, np = objects(pull)
	before := cm.Data[ConnectorConfigKey]
	WithPushIdentity(byFile, "wessex", pull, cm, d, np)
	if cm.Data[ConnectorConfigKey] != before {
		t.Error("a pull connector's configuration changed")
	}
}
