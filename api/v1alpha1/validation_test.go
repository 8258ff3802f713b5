/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package v1alpha1

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validRegion is a region as the API server stores it after defaulting.
func validRegion() *ShCRRegion {
	r := &ShCRRegion{}
	r.Name = "unit"
	r.Spec.RecordService.Image = "hapiproject/hapi:v8.0.0"
	r.Spec.RecordService.Storage.Size = resource.MustParse("10Gi")
	r.Spec.Gateway.Image = "ghcr.io/shcr-io/shcr-gateway:v0.1.0"
	r.Spec.Quota = QuotaSpec{CPU: resource.MustParse("8"), Memory: resource.MustParse("16Gi"), Storage: resource.MustParse("200Gi"), Pods: 100}
	return r
}

func validMember() *MemberOrganisation {
	m := &MemberOrganisation{}
	m.Spec.Connector = &ConnectorSpec{Kind: ConnectorFHIR, Endpoint: "https://fhir.example.nhs.uk/R4"}
	return m
}

func wantOneError(t *testing.T, errs field.ErrorList, field, rule string) {
	t.Helper()
	if len(errs) != 1 {
		t.Fatalf("want one error naming %s, got %v", field, errs)
	}
	msg := errs[0].Error()
	if !strings.HasPrefix(msg, field+":") || !strings.Contains(msg, rule) {
		t.Errorf("error %q should name %s and say %q", msg, field, rule)
	}
}

// The reconciler's own checks refuse what the CRD's CEL rules refuse, for
// objects stored before those rules existed, naming the region's field.
func TestValidateRegionRefusesWhatOnlyAChildWouldRefuse(t *testing.T) {
	if errs := ValidateRegion(validRegion()); len(errs) != 0 {
		t.Fatalf("the valid region was refused: %v", errs)
	}
	cases := []struct {
		name  string
		mod   func(*ShCRRegion)
		field string
		rule  string
	}{
		{"record service image with a space", func(r *ShCRRegion) { r.Spec.RecordService.Image = "hapi project/hapi:v8" }, "spec.recordService.image", "must be an image reference"},
		{"record service image upper case", func(r *ShCRRegion) { r.Spec.RecordService.Image = "hapiproject/HAPI:v8" }, "spec.recordService.image", "must be an image reference"},
		{"record service image empty", func(r *ShCRRegion) { r.Spec.RecordService.Image = "" }, "spec.recordService.image", "must be an image reference"},
		{"sha256 digest of the wrong length", func(r *ShCRRegion) {
			r.Spec.RecordService.Image = "hapiproject/hapi@sha256:" + strings.Repeat("a", 40)
		}, "spec.recordService.image", "must be an image reference"},
		{"gateway image with an empty tag", func(r *ShCRRegion) { r.Spec.Gateway.Image = "ghcr.io/shcr-io/shcr-gateway:" }, "spec.gateway.image", "must be an image reference"},
		{"gateway image unknown digest algorithm form", func(r *ShCRRegion) { r.Spec.Gateway.Image = "ghcr.io/x@sha256" }, "spec.gateway.image", "must be an image reference"},
		{"two record service replicas, embedded store", func(r *ShCRRegion) { r.Spec.RecordService.Replicas = 2 }, "spec.recordService.replicas", "needs spec.recordService.database"},
		{"nine record service replicas, embedded store", func(r *ShCRRegion) { r.Spec.RecordService.Replicas = 9 }, "spec.recordService.replicas", "needs spec.recordService.database"},
		{"storage size zero", func(r *ShCRRegion) { r.Spec.RecordService.Storage.Size = resource.MustParse("0") }, "spec.recordService.storage.size", "greater than zero"},
		{"storage size negative", func(r *ShCRRegion) { r.Spec.RecordService.Storage.Size = resource.MustParse("-1Gi") }, "spec.recordService.storage.size", "greater than zero"},
		{"audit storage negative", func(r *ShCRRegion) { r.Spec.Audit.Storage = &StorageSpec{Size: resource.MustParse("-1Gi")} }, "spec.audit.storage.size", "greater than zero"},
		{"quota cpu negative", func(r *ShCRRegion) { r.Spec.Quota.CPU = resource.MustParse("-2") }, "spec.quota.cpu", "greater than zero"},
		{"quota memory zero", func(r *ShCRRegion) { r.Spec.Quota.Memory = resource.MustParse("0") }, "spec.quota.memory", "greater than zero"},
		{"quota storage negative", func(r *ShCRRegion) { r.Spec.Quota.Storage = resource.MustParse("-100Gi") }, "spec.quota.storage", "greater than zero"},
		{"quota pods zero", func(r *ShCRRegion) { r.Spec.Quota.Pods = 0 }, "spec.quota.pods", "at least 1"},
		{"admin of unknown kind", func(r *ShCRRegion) { r.Spec.Admins = []rbacv1.Subject{{Kind: "Robot", Name: "x"}} }, "spec.admins[0].kind", "Unsupported value"},
		{"admin kind in lower case", func(r *ShCRRegion) { r.Spec.Admins = []rbacv1.Subject{{Kind: "user", Name: "x"}} }, "spec.admins[0].kind", "Unsupported value"},
		{"admin service account without namespace", func(r *ShCRRegion) {
			r.Spec.Admins = []rbacv1.Subject{{Kind: "ServiceAccount", Name: "deployer"}}
		}, "spec.admins[0].namespace", "Required"},
		{"admin user of another API group", func(r *ShCRRegion) {
			r.Spec.Admins = []rbacv1.Subject{{Kind: "User", APIGroup: "example.org", Name: "x"}}
		}, "spec.admins[0].apiGroup", "must be rbac.authorization.k8s.io"},
		{"admin without name", func(r *ShCRRegion) { r.Spec.Admins = []rbacv1.Subject{{Kind: "Group"}} }, "spec.admins[0].name", "Required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := validRegion()
			tc.mod(r)
			wantOneError(t, ValidateRegion(r), tc.field, tc.rule)
		})
	}
}

// Every endpoint that carries credentials, a query or a fragment, or names
// no host, is refused, and the refusal never repeats the endpoint.
func TestValidateMemberRefusesEndpointsCarryingCredentials(t *testing.T) {
	if errs := ValidateMember(validMember()); len(errs) != 0 {
		t.Fatalf("the valid member was refused: %v", errs)
	}
	for _, ok := range []string{"https://fhir.example.nhs.uk", "https://fhir.example.nhs.uk:8443/R4/", "https://10.20.0.5/fhir", "https://[fd00::5]:443/R4"} {
		if errs := ValidateEndpoint(ok, field.NewPath("e")); len(errs) != 0 {
			t.Errorf("%s was refused: %v", ok, errs)
		}
	}
	cases := []struct{ endpoint, rule string }{
		{"https://svc:s3cret@fhir.example.nhs.uk/R4", "userinfo"},
		{"https://svc@fhir.example.nhs.uk/R4", "userinfo"},
		{"https://:s3cret@fhir.example.nhs.uk", "userinfo"},
		{"https://@fhir.example.nhs.uk", "userinfo"},
		{"https://fhir.example.nhs.uk/R4?access_token=s3cret", "query"},
		{"https://fhir.example.nhs.uk?s3cret", "query"},
		{"https://fhir.example.nhs.uk/R4?", "query"},
		{"https://fhir.example.nhs.uk/R4#s3cret", "fragment"},
		{"https://fhir.example.nhs.uk/R4#", "fragment"},
		{"https:///R4", "must name a host"},
		{"https://:443/R4", "must name a host"},
		{"https:s3cret", "https URL"},
		{"http://fhir.example.nhs.uk", "https URL"},
	}
	for _, tc := range cases {
		t.Run(tc.endpoint, func(t *testing.T) {
			m := validMember()
			m.Spec.Connector.Endpoint = tc.endpoint
			errs := ValidateMember(m)
			wantOneError(t, errs, "spec.connector.endpoint", tc.rule)
			if strings.Contains(errs.ToAggregate().Error(), "s3cret") {
				t.Errorf("the refusal repeats the secret: %v", errs)
			}
		})
	}
	for _, image := range []string{"registry.example/connector :v1", "registry.example/Connector:v1", "registry.example/connector@sha256:abc", "registry.example/connector:"} {
		m := validMember()
		m.Spec.Connector.Image = image
		wantOneError(t, ValidateMember(m), "spec.connector.image", "must be an image reference")
	}
}

// Every kind and mode pair is served (ServedConnectors) or refused naming
// spec.connector.kind, with the same words as the CRD's rule.
func TestValidateMemberRefusesConnectorsNotBuilt(t *testing.T) {
	for _, kind := range []ConnectorKind{ConnectorFHIR, ConnectorHL7v2, ConnectorGPConnect, "", "fhir", "Other"} {
		for _, mode := range []ConnectorMode{"", ConnectorPull, ConnectorPush, "pull", "Both"} {
			m := validMember()
			m.Spec.Connector.Kind, m.Spec.Connector.Mode = kind, mode
			if kind == ConnectorGPConnect {
				m.Spec.Connector.ASID = "918999198738"
			}
			effective := mode
			if effective == "" {
				effective = ConnectorPull
			}
			errs := ValidateMember(m)
			if slices.Contains(ServedConnectors, string(kind)+"/"+string(effective)) {
				if len(errs) != 0 {
					t.Errorf("%s/%s is served but was refused: %v", kind, mode, errs)
				}
				continue
			}
			if kind == ConnectorGPConnect {
				wantOneError(t, errs, "spec.connector.kind", fmt.Sprintf("kind GPConnect with mode %s is not offered: GP practices are read by the record gateway at the moment of care (mode Pull); GP Connect has no push", effective))
				continue
			}
			wantOneError(t, errs, "spec.connector.kind", fmt.Sprintf("kind %s with mode %s is not built yet: the connector serves %s", kind, effective, ServedConnectorsText()))
		}
	}
}

// A GPConnect practice needs its ASID: one stored without it is refused by
// the reconciler, naming the field.
func TestValidateMemberNeedsGPConnectASID(t *testing.T) {
	for _, asid := range []string{"", "abc", "12345678901234567890123", "1 2"} {
		m := validMember()
		m.Spec.Connector.Kind, m.Spec.Connector.ASID = ConnectorGPConnect, asid
		wantOneError(t, ValidateMember(m), "spec.connector.asid", "required for kind GPConnect")
	}
}

// The CRD's rule lists the same pairs as ServedConnectors and says the same
// words (the API server and the reconciler refuse alike).
func TestCRDRuleListsServedConnectors(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "shcr.io_memberorganisations.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	crd := strings.Join(strings.Fields(string(raw)), " ")
	quoted := make([]string, 0, len(ServedConnectors))
	for _, served := range ServedConnectors {
		quoted = append(quoted, "''"+served+"''")
	}
	if want := "in [" + strings.Join(quoted, ", ") + "]"; !strings.Contains(crd, want) {
		t.Errorf("the CRD rule does not list %s", want)
	}
	if want := "is not built yet: the connector serves " + ServedConnectorsText(); !strings.Contains(crd, want) {
		t.Errorf("the CRD rule's message does not say %q", want)
	}
}
