/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package integration

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/gpconnect"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// gpConnectMember makes a member's connector a GP Connect endpoint.
func gpConnectMember(c *shcrv1alpha1.ConnectorSpec, endpoint string) {
	c.Kind, c.Mode, c.Endpoint, c.ASID = shcrv1alpha1.ConnectorGPConnect, shcrv1alpha1.ConnectorPull, endpoint, "918999198738"
	c.Schedule, c.CredentialsSecretRef, c.NetworkRanges = "", shcrv1alpha1.LocalSecretReference{}, []string{"10.60.0.0/24"}
}

// What the API server refuses of a GPConnect connector, each naming the
// field and the rule: mode Push, a schedule, a Secret of its own, an image,
// no ASID; and an ASID on another kind.
func TestGPConnectRefusedAtAdmission(t *testing.T) {
	createRegion(t, "gpcrules")
	ns := shcrv1alpha1.NamespaceFor("gpcrules")
	cases := map[string]struct {
		change func(*shcrv1alpha1.ConnectorSpec)
		want   string
	}{
		"mode Push":       {func(c *shcrv1alpha1.ConnectorSpec) { c.Mode = shcrv1alpha1.ConnectorPush }, "kind GPConnect with mode Push is not offered"},
		"schedule":        {func(c *shcrv1alpha1.ConnectorSpec) { c.Schedule = "15m" }, "spec.connector.schedule: not for kind GPConnect"},
		"own credentials": {func(c *shcrv1alpha1.ConnectorSpec) { c.CredentialsSecretRef.Name = "x" }, "spec.connector.credentialsSecretRef: not used for kind GPConnect"},
		"image":           {func(c *shcrv1alpha1.ConnectorSpec) { c.Image = "example/connector:1" }, "spec.connector.image: not for kind GPConnect"},
		"no ASID":         {func(c *shcrv1alpha1.ConnectorSpec) { c.ASID = "" }, "spec.connector.asid: required for kind GPConnect"},
		"ASID not digits": {func(c *shcrv1alpha1.ConnectorSpec) { c.ASID = "ASID-1" }, "spec.connector.asid"},
		"ASID on FHIR": {func(c *shcrv1alpha1.ConnectorSpec) {
			c.Kind, c.Schedule, c.CredentialsSecretRef.Name = shcrv1alpha1.ConnectorFHIR, "15m", "x"
		}, "only for it"},
		"FHIR without Secret": {func(c *shcrv1alpha1.ConnectorSpec) {
			c.Kind, c.Schedule, c.ASID = shcrv1alpha1.ConnectorFHIR, "15m", ""
		}, "spec.connector.credentialsSecretRef: required for kinds FHIR and HL7v2"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			m := member(ns, "gp", "Y3G09", "GPPractice")
			gpConnectMember(m.Spec.Connector, "https://gpconnect.y3g09.nhs.uk/STU3/1/gpconnect/structured/fhir")
			if err := k8s.Create(ctx, m.DeepCopy(), client.DryRunAll); err != nil {
				t.Fatalf("a valid GPConnect member was refused: %v", err)
			}
			c.change(m.Spec.Connector)
			err := k8s.Create(ctx, m, client.DryRunAll)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("refusal %v does not say %q", err, c.want)
			}
		})
	}
}

// A GP practice switched to GP Connect is admitted and Ready with no
// connector: its connector Deployment is removed, and the gateway's
// configuration names its endpoint and ASID (with the region's ASID) once
// the region is a GP Connect consumer; until then it is not Ready and
// says why.
func TestGPConnectMemberIsReadByTheGateway(t *testing.T) {
	s := newScenarioWithCodes(t, "gpc", "Y3G01", "Y3T", "Y3C")
	gpName := "gp"
	members := &shcrv1alpha1.MemberOrganisationList{}
	if err := k8s.List(ctx, members, client.InNamespace(s.ns)); err != nil {
		t.Fatal(err)
	}
	for _, m := range members.Items {
		if m.Spec.ODSCode == s.gp {
			gpName = m.Name
		}
	}
	connector := client.ObjectKey{Namespace: s.ns, Name: "connector-" + strings.ToLower(s.gp)}
	waitFor(t, "the GP's FHIR connector Deployment", func() (bool, string) {
		err := k8s.Get(ctx, connector, &appsv1.Deployment{})
		return err == nil, fmt.Sprint(err)
	})
	endpoint := "https://gpconnect.y3g01.nhs.uk:8443/Y3G01/STU3/1/gpconnect/structured/fhir"
	update(t, &shcrv1alpha1.MemberOrganisation{}, s.ns, gpName, func(m *shcrv1alpha1.MemberOrganisation) {
		gpConnectMember(m.Spec.Connector, endpoint)
	})
	waitFor(t, "no connector Deployment, and ConnectorAvailable=False naming spec.gateway.gpConnect", func() (bool, string) {
		if err := k8s.Get(ctx, connector, &appsv1.Deployment{}); err == nil {
			return false, "the connector Deployment is still there"
		}
		got := &shcrv1alpha1.MemberOrganisation{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: gpName}, got); err != nil {
			return false, err.Error()
		}
		c := meta.FindStatusCondition(got.Status.Conditions, shcrv1alpha1.ConditionConnectorAvailable)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == shcrv1alpha1.ReasonGPConnectNotConfigured &&
			strings.Contains(c.Message, "spec.gateway.gpConnect"), fmt.Sprint(c)
	})

	update(t, &shcrv1alpha1.ShCRRegion{}, "", s.region, func(r *shcrv1alpha1.ShCRRegion) {
		r.Spec.Gateway.GPConnect = &shcrv1alpha1.GatewayGPConnect{
			ASID: "200000000115", CredentialsSecretRef: &shcrv1alpha1.LocalSecretReference{Name: "gpconnect-client"},
		}
	})
	waitFor(t, "the GP Admitted and Ready, read by the gateway", func() (bool, string) {
		got := &shcrv1alpha1.MemberOrganisation{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: gpName}, got); err != nil {
			return false, err.Error()
		}
		available := meta.FindStatusCondition(got.Status.Conditions, shcrv1alpha1.ConditionConnectorAvailable)
		ok := meta.IsStatusConditionTrue(got.Status.Conditions, shcrv1alpha1.ConditionAdmitted) &&
			meta.IsStatusConditionTrue(got.Status.Conditions, shcrv1alpha1.ConditionReady) &&
			available != nil && available.Reason == shcrv1alpha1.ReasonReadByGateway &&
			got.Status.Connector != nil && got.Status.Connector.Kind == shcrv1alpha1.ConnectorGPConnect
		return ok, fmt.Sprintf("%+v %+v", got.Status.Conditions, got.Status.Connector)
	})
	if err := k8s.Get(ctx, connector, &appsv1.Deployment{}); err == nil {
		t.Error("a connector Deployment runs for a GP Connect practice")
	}

	waitFor(t, "the gateway's GP Connect configuration naming the practice", func() (bool, string) {
		cm := &corev1.ConfigMap{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: specs.GatewayGPConnectName}, cm); err != nil {
			return false, err.Error()
		}
		var file gpconnect.File
		if err := json.Unmarshal([]byte(cm.Data[specs.GatewayGPConnectKey]), &file); err != nil {
			return false, err.Error()
		}
		want := gpconnect.File{ASID: "200000000115", Practices: []gpconnect.Practice{{ODSCode: s.gp, ASID: "918999198738", Endpoint: endpoint}}}
		return fmt.Sprint(file) == fmt.Sprint(want), fmt.Sprintf("%+v", file)
	})
	waitFor(t, "the gateway mounting it, with the region's credentials", func() (bool, string) {
		d := &appsv1.Deployment{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: specs.GatewayName}, d); err != nil {
			return false, err.Error()
		}
		args := d.Spec.Template.Spec.Containers[0].Args
		return slices.Contains(args, "--gpconnect-config="+specs.GatewayGPConnectDir+"/"+specs.GatewayGPConnectKey) &&
			slices.Contains(args, "--gpconnect-credentials="+specs.GatewayGPConnectCredentialsDir), fmt.Sprint(args)
	})
	waitFor(t, "the gateway allowed to reach the practice's ranges on its port", func() (bool, string) {
		np := &networkingv1.NetworkPolicy{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: specs.GatewayGPConnectName}, np); err != nil {
			return false, err.Error()
		}
		e := np.Spec.Egress
		return len(e) == 1 && len(e[0].To) == 1 && e[0].To[0].IPBlock.CIDR == "10.60.0.0/24" && e[0].Ports[0].Port.IntValue() == 8443,
			fmt.Sprintf("%+v", e)
	})

	// Suspended, the practice leaves the gateway's configuration.
	update(t, &shcrv1alpha1.MemberOrganisation{}, s.ns, gpName, func(m *shcrv1alpha1.MemberOrganisation) { m.Spec.Suspended = true })
	waitFor(t, "the suspended practice out of the gateway's configuration", func() (bool, string) {
		cm := &corev1.ConfigMap{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: specs.GatewayGPConnectName}, cm); err != nil {
			return false, err.Error()
		}
		return !strings.Contains(cm.Data[specs.GatewayGPConnectKey], s.gp), cm.Data[specs.GatewayGPConnectKey]
	})
}
