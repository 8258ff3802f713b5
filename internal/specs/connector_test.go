/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package specs

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/connector"
)

func connectorMember() *shcrv1alpha1.MemberOrganisation {
	return &shcrv1alpha1.MemberOrganisation{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shcr-wessex", Name: "trust", UID: "uid-m"},
		Spec: shcrv1alpha1.MemberOrganisationSpec{ODSCode: "RHW", Connector: &shcrv1alpha1.ConnectorSpec{
			Kind: "FHIR", Endpoint: "https://fhir.rhw.nhs.uk:8443/R4", NetworkRanges: []string{"10.80.0.0/16"},
			CredentialsSecretRef: shcrv1alpha1.LocalSecretReference{Name: "rhw"},
		}},
	}
}

func TestConnectorNetworkPolicy(t *testing.T) {
	np := ConnectorNetworkPolicy("wessex", connectorMember(), "")
	if len(np.Spec.Egress) != 1 || np.Spec.Egress[0].To[0].IPBlock.CIDR != "10.80.0.0/16" || np.Spec.Egress[0].Ports[0].Port.IntValue() != 8443 {
		t.Errorf("egress must reach only the declared range on the endpoint's port: %+v", np.Spec.Egress)
	}
	if len(np.Spec.Ingress) != 0 {
		t.Errorf("with the operator outside the cluster nothing may reach the connector: %+v", np.Spec.Ingress)
	}
	np = ConnectorNetworkPolicy("wessex", connectorMember(), "shcr-operator-system")
	if len(np.Spec.Ingress) != 1 || np.Spec.Ingress[0].From[0].NamespaceSelector.MatchLabels[corev1.LabelMetadataName] != "shcr-operator-system" ||
		np.Spec.Ingress[0].Ports[0].Port.IntValue() != ConnectorStatusPort {
		t.Errorf("the operator's namespace may read the status port, nothing else: %+v", np.Spec.Ingress)
	}
}

func TestConnectorCredentialsAreMountedNotCopied(t *testing.T) {
	d := ConnectorDeployment("wessex", connectorMember())
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == "credentials" && (v.Secret == nil || v.Secret.SecretName != "rhw") {
			t.Errorf("credentials must be the referenced Secret, mounted: %+v", v)
		}
	}
	if env := d.Spec.Template.Spec.Containers[0].Env; len(env) != 0 {
		t.Errorf("no credentials in the environment: %+v", env)
	}
	cm := ConnectorConfigMap("wessex", connectorMember(), []string{"Medications"})
	if cm.Data[ConnectorConfigKey] == "" || len(cm.OwnerReferences) != 1 || cm.OwnerReferences[0].UID != "uid-m" {
		t.Errorf("configuration owned by the member: %+v", cm)
	}
}

// TestConnectorConfigIsWhatTheConnectorLoads holds the wire contract: the
// ConfigMap the operator writes is loaded by the connector's own LoadConfig,
// field for field, with nothing the connector does not know.
func TestConnectorConfigIsWhatTheConnectorLoads(t *testing.T) {
	member := connectorMember()
	member.Spec.Connector.Mode = shcrv1alpha1.ConnectorPull
	member.Spec.Connector.Schedule = "15m"
	cm := ConnectorConfigMap("wessex", member, []string{"Medications", "Demographics"})
	raw := cm.Data[ConnectorConfigKey]
	path := filepath.Join(t.TempDir(), ConnectorConfigKey)
	if err := os.WriteFile(path, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, err := connector.LoadConfig(path)
	if err != nil {
		t.Fatalf("the connector refuses what the operator writes: %v", err)
	}
	want := connector.Config{
		ODSCode: "RHW", Region: "wessex", Kind: "FHIR", Endpoint: "https://fhir.rhw.nhs.uk:8443/R4", Mode: "Pull",
		Schedule: "15m", RecordService: "http://record-service.shcr-wessex.svc:8080/fhir", Categories: []string{"Medications", "Demographics"},
	}
	if !reflect.DeepEqual(loaded, want) {
		t.Errorf("loaded %+v\nwant   %+v", loaded, want)
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&connector.Config{}); err != nil {
		t.Errorf("the operator writes a field the connector does not know: %v", err)
	}
}

// An HL7v2 connector listens for MLLP: the port is on its container and
// Service, and its NetworkPolicy lets in only the organisation's ranges on
// that port and opens nothing to them.
func TestHL7ConnectorListensOnlyToItsRanges(t *testing.T) {
	member := connectorMember()
	member.Spec.Connector.Kind, member.Spec.Connector.Mode = shcrv1alpha1.ConnectorHL7v2, shcrv1alpha1.ConnectorPush
	np := ConnectorNetworkPolicy("wessex", member, "shcr-operator-system")
	if len(np.Spec.Egress) != 0 {
		t.Errorf("a pushed connector opens nothing to the organisation: %+v", np.Spec.Egress)
	}
	if len(np.Spec.Ingress) != 2 || np.Spec.Ingress[1].From[0].IPBlock.CIDR != "10.80.0.0/16" || np.Spec.Ingress[1].Ports[0].Port.IntValue() != ConnectorMLLPPort {
		t.Errorf("ingress must be the operator on the status port and the declared range on the MLLP port: %+v", np.Spec.Ingress)
	}
	d := ConnectorDeployment("wessex", member)
	if ports := d.Spec.Template.Spec.Containers[0].Ports; len(ports) != 2 || ports[1].ContainerPort != ConnectorMLLPPort {
		t.Errorf("container ports %+v", ports)
	}
	if ports := ConnectorService("wessex", member).Spec.Ports; len(ports) != 2 || ports[1].Name != "mllp" {
		t.Errorf("Service ports %+v", ports)
	}
	// A FHIR Pull connector has neither.
	if ports := ConnectorService("wessex", connectorMember()).Spec.Ports; len(ports) != 1 {
		t.Errorf("a pull connector's Service ports %+v", ports)
	}
}
