/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/connector"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// A FHIR organisation pushing over HTTPS is admitted with a certificate and
// a way to authenticate it in its Secret; its connector then serves HTTPS on
// its own port, lets in only the organisation's ranges, verifies tokens
// against the region's identity provider for its own audience, and keeps
// its progress on a claim the operator creates, owns and mounts at the
// state path, like every connector's.
func TestFHIRPushConnectorRunsWithDurableState(t *testing.T) {
	createRegion(t, "y5push")
	ns := shcrv1alpha1.NamespaceFor("y5push")
	update(t, &shcrv1alpha1.ShCRRegion{}, "", "y5push", func(r *shcrv1alpha1.ShCRRegion) {
		r.Spec.Gateway.Identity.Issuer = "https://idp.y5push.example"
		r.Spec.Gateway.Identity.Audience = "gateway"
		r.Spec.Gateway.Identity.JWKS = &shcrv1alpha1.ConfigMapKeyReference{Name: "idp-keys", Key: "jwks.json"}
	})

	// A Secret with no way to authenticate the organisation is not enough.
	lacking := member(ns, "epr-lacking", "Y5T02", "NHSTrust")
	lacking.Spec.Connector.Mode, lacking.Spec.Connector.Schedule = shcrv1alpha1.ConnectorPush, ""
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: lacking.Spec.Connector.CredentialsSecretRef.Name},
		StringData: map[string]string{"tls.crt": "certificate", "tls.key": "key"}})
	create(t, lacking)

	m := member(ns, "epr", "Y5T01", "NHSTrust")
	m.Spec.Connector.Mode, m.Spec.Connector.Schedule = shcrv1alpha1.ConnectorPush, ""
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: m.Spec.Connector.CredentialsSecretRef.Name},
		StringData: map[string]string{"tls.crt": "certificate", "tls.key": "key", "client-id": "y5t01-epr"}})
	create(t, m)
	pull := member(ns, "gp", "Y5G01", "GPPractice")
	create(t, credentials(ns, pull.Spec.Connector.CredentialsSecretRef.Name))
	create(t, pull)
	// Connectors run once an Active agreement lets the organisations provide.
	op.Share(t, ns, "push-share", "Y5PUSH-001", "Y5T01", "Y5G01")

	waitFor(t, "CredentialsFound=False naming ca.crt or client-id", func() (bool, string) {
		got := &shcrv1alpha1.MemberOrganisation{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(lacking), got); err != nil {
			return false, err.Error()
		}
		c := meta.FindStatusCondition(got.Status.Conditions, shcrv1alpha1.ConditionCredentialsFound)
		return c != nil && c.Status == metav1.ConditionFalse && strings.Contains(c.Message, "ca.crt (mutual TLS) or client-id"), fmt.Sprint(c)
	})

	name := client.ObjectKey{Namespace: ns, Name: "connector-y5t01"}
	deploy := &appsv1.Deployment{}
	waitFor(t, "the pushed FHIR connector with its HTTPS port", func() (bool, string) {
		if err := k8s.Get(ctx, name, deploy); err != nil {
			return false, err.Error()
		}
		ports := deploy.Spec.Template.Spec.Containers[0].Ports
		return len(ports) == 2 && ports[1].ContainerPort == specs.ConnectorPushPort, fmt.Sprint(ports)
	})
	assertStateMounted(t, ns, "y5t01", deploy)
	if jwks := volume(deploy, "jwks"); jwks == nil || jwks.ConfigMap == nil || jwks.ConfigMap.Name != "idp-keys" {
		t.Errorf("the region's JWKS ConfigMap is not mounted: %+v", jwks)
	}

	cm := &corev1.ConfigMap{}
	if err := k8s.Get(ctx, name, cm); err != nil {
		t.Fatal(err)
	}
	var cfg connector.Config
	if err := json.Unmarshal([]byte(cm.Data[specs.ConnectorConfigKey]), &cfg); err != nil {
		t.Fatal(err)
	}
	want := connector.PushAuth{Issuer: "https://idp.y5push.example", Audience: "urn:shcr:connector:y5push:Y5T01", JWKSFile: specs.ConnectorJWKSDir + "/jwks.json"}
	if cfg.Kind != "FHIR" || cfg.Mode != "Push" || cfg.Push == nil || *cfg.Push != want {
		t.Errorf("configuration %+v push %+v, want FHIR Push with %+v", cfg, cfg.Push, want)
	}

	np := &networkingv1.NetworkPolicy{}
	if err := k8s.Get(ctx, name, np); err != nil {
		t.Fatal(err)
	}
	var fromRanges bool
	for _, rule := range np.Spec.Ingress {
		if len(rule.Ports) == 1 && rule.Ports[0].Port.IntValue() == specs.ConnectorPushPort {
			fromRanges = len(rule.From) == 1 && rule.From[0].IPBlock != nil && rule.From[0].IPBlock.CIDR == "10.40.0.0/16"
		}
	}
	if !fromRanges || len(np.Spec.Egress) != 0 {
		t.Errorf("NetworkPolicy must let in only 10.40.0.0/16 on %d and open nothing: %+v", specs.ConnectorPushPort, np.Spec)
	}
	svc := &corev1.Service{}
	if err := k8s.Get(ctx, name, svc); err != nil {
		t.Fatal(err)
	}
	if len(svc.Spec.Ports) != 2 || svc.Spec.Ports[1].Name != "https" || svc.Spec.Ports[1].Port != specs.ConnectorPushPort {
		t.Errorf("Service ports %+v", svc.Spec.Ports)
	}
	waitFor(t, "status.connector kind FHIR mode Push", func() (bool, string) {
		got := &shcrv1alpha1.MemberOrganisation{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(m), got); err != nil {
			return false, err.Error()
		}
		c := got.Status.Connector
		return c != nil && c.Kind == shcrv1alpha1.ConnectorFHIR && c.Mode == shcrv1alpha1.ConnectorPush, fmt.Sprintf("%+v", c)
	})

	// A changed identity provider reaches the connector at once.
	update(t, &shcrv1alpha1.ShCRRegion{}, "", "y5push", func(r *shcrv1alpha1.ShCRRegion) {
		r.Spec.Gateway.Identity.JWKS, r.Spec.Gateway.Identity.JWKSURL = nil, "https://idp.y5push.example/jwks"
	})
	waitFor(t, "the connector configured with the region's JWKS URL", func() (bool, string) {
		if err := k8s.Get(ctx, name, cm); err != nil {
			return false, err.Error()
		}
		var cfg connector.Config
		_ = json.Unmarshal([]byte(cm.Data[specs.ConnectorConfigKey]), &cfg)
		return cfg.Push != nil && cfg.Push.JWKSURL == "https://idp.y5push.example/jwks" && cfg.Push.JWKSFile == "", fmt.Sprintf("%+v", cfg.Push)
	})

	// A pulling connector keeps its watermarks on its own claim too.
	pulled := &appsv1.Deployment{}
	waitFor(t, "the pull connector", func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "connector-y5g01"}, pulled)
		return err == nil, fmt.Sprint(err)
	})
	assertStateMounted(t, ns, "y5g01", pulled)
}

// assertStateMounted checks the connector's state claim: created, owned by
// its MemberOrganisation, ReadWriteOnce, mounted read-write at the state
// directory the flags point into, under a Recreate Deployment.
func assertStateMounted(t *testing.T, ns, ods string, deploy *appsv1.Deployment) {
	t.Helper()
	claim := &corev1.PersistentVolumeClaim{}
	waitFor(t, "the state claim of connector-"+ods, func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "connector-" + ods + "-state"}, claim)
		return err == nil, fmt.Sprint(err)
	})
	owner := metav1.GetControllerOf(claim)
	if owner == nil || owner.Kind != "MemberOrganisation" || len(claim.Spec.AccessModes) != 1 || claim.Spec.AccessModes[0] != corev1.ReadWriteOnce {
		t.Errorf("claim owner %+v, access modes %v: want the MemberOrganisation, ReadWriteOnce", owner, claim.Spec.AccessModes)
	}
	v := volume(deploy, specs.ConnectorStateVolume)
	if v == nil || v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != claim.Name {
		t.Errorf("the state volume is not the claim: %+v", v)
	}
	c := deploy.Spec.Template.Spec.Containers[0]
	var mounted bool
	for _, m := range c.VolumeMounts {
		mounted = mounted || (m.Name == specs.ConnectorStateVolume && m.MountPath == specs.ConnectorStateDir && !m.ReadOnly)
	}
	args := strings.Join(c.Args, " ")
	if !mounted || !strings.Contains(args, "--state="+specs.ConnectorStatePath) || !strings.Contains(args, "--mllp-state="+specs.ConnectorControlIDsPath) {
		t.Errorf("mounts %+v, args %s: want the claim at %s and the state flags in it", c.VolumeMounts, args, specs.ConnectorStateDir)
	}
	if deploy.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy %s: two pods would share the claim", deploy.Spec.Strategy.Type)
	}
}

func volume(deploy *appsv1.Deployment, name string) *corev1.Volume {
	for i, v := range deploy.Spec.Template.Spec.Volumes {
		if v.Name == name {
			return &deploy.Spec.Template.Spec.Volumes[i]
		}
	}
	return nil
}
