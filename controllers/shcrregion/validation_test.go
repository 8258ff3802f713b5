/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package shcrregion

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// regionObject is a valid ShCRRegion as the API server receives it from
// kubectl, so that a case can set any field to any JSON value.
func regionObject(name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"spec": map[string]any{
			"displayName": "Validation region",
			"icbCode":     "QU9",
		},
	}}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: "shcr.io", Version: "v1alpha1", Kind: "ShCRRegion"})
	u.SetName(name)
	return u
}

func set(path string, value any) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) {
		if err := unstructured.SetNestedField(u.Object, value, strings.Split(path, ".")...); err != nil {
			panic(err)
		}
	}
}

// Each invalid region is refused at admission by the CRD's schema or CEL
// rules, with a message naming the field and the rule.
func TestInvalidRegionsAreRejectedNamingTheField(t *testing.T) {
	cases := []struct {
		name   string
		region string
		mod    func(*unstructured.Unstructured)
		want   []string
	}{
		{"name too long for the namespace", strings.Repeat("a", 59), nil,
			[]string{"metadata.name: Too long: may not be more than 58"}},
		{"name not a DNS label", "thames.valley", nil,
			[]string{"metadata.name", "should match", "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"}},
		{"displayName missing", "v-nodisplay", func(u *unstructured.Unstructured) {
			unstructured.RemoveNestedField(u.Object, "spec", "displayName")
		}, []string{"spec.displayName", "Required"}},
		{"displayName empty", "v-emptydisplay", set("spec.displayName", ""),
			[]string{"spec.displayName", "at least 1 chars long"}},
		{"displayName too long", "v-longdisplay", set("spec.displayName", strings.Repeat("x", 129)),
			[]string{"spec.displayName", "may not be more than 128"}},
		{"icbCode lower case", "v-icblower", set("spec.icbCode", "qu9"),
			[]string{"spec.icbCode", "should match"}},
		{"icbCode too long", "v-icblong", set("spec.icbCode", "QU99999"),
			[]string{"spec.icbCode", "should match"}},
		{"odsCodes item malformed", "v-ods", set("spec.odsCodes", []any{"RR8", "not ods"}),
			[]string{"spec.odsCodes[1]", "should match"}},
		{"odsCodes duplicated", "v-odsdup", set("spec.odsCodes", []any{"RR8", "RR8"}),
			[]string{"spec.odsCodes[1]", "Duplicate value"}},
		{"record service replicas zero", "v-rs0", set("spec.recordService.replicas", int64(0)),
			[]string{"spec.recordService.replicas", "greater than or equal to 1"}},
		{"record service replicas too many", "v-rs10", set("spec.recordService.replicas", int64(10)),
			[]string{"spec.recordService.replicas", "less than or equal to 9"}},
		{"gateway replicas zero", "v-gw0", set("spec.gateway.replicas", int64(0)),
			[]string{"spec.gateway.replicas", "greater than or equal to 1"}},
		{"gateway replicas too many", "v-gw21", set("spec.gateway.replicas", int64(21)),
			[]string{"spec.gateway.replicas", "less than or equal to 20"}},
		{"storage size not a quantity", "v-size", set("spec.recordService.storage.size", "lots"),
			[]string{"spec.recordService.storage.size"}},
		{"deletionPolicy unknown", "v-delpol", set("spec.deletionPolicy", "Forget"),
			[]string{"spec.deletionPolicy", `supported values: "Retain", "Delete"`}},
		{"audit sink unknown", "v-sink", set("spec.audit.sink", "Syslog"),
			[]string{"spec.audit.sink", `supported values: "Stdout", "File"`}},
		{"audit retention too short", "v-retention", set("spec.audit.retentionDays", int64(30)),
			[]string{"spec.audit.retentionDays", "greater than or equal to 180"}},
		{"quota pods zero", "v-pods", set("spec.quota.pods", int64(0)),
			[]string{"spec.quota.pods", "greater than or equal to 1"}},
		{"a region its own peer", "v-selfpeer", set("spec.peers", []any{"v-selfpeer"}),
			[]string{"spec.peers: a region cannot be its own peer"}},
		{"peer not a region name", "v-badpeer", set("spec.peers", []any{"Bad_Peer"}),
			[]string{"spec.peers[0]", "should match"}},
		{"database range not a CIDR", "v-cidr", set("spec.recordService.database", map[string]any{
			"credentialsSecretRef": map[string]any{"name": "db"}, "networkRanges": []any{"10.0.0.1"},
		}), []string{"spec.recordService.database.networkRanges[0]", "must be a CIDR range"}},
		{"database without ranges", "v-noranges", set("spec.recordService.database", map[string]any{
			"credentialsSecretRef": map[string]any{"name": "db"},
		}), []string{"spec.recordService.database.networkRanges", "Required"}},
		{"database without credentials", "v-nocreds", set("spec.recordService.database", map[string]any{
			"networkRanges": []any{"10.0.0.0/16"},
		}), []string{"spec.recordService.database.credentialsSecretRef", "Required"}},
		{"database port out of range", "v-dbport", set("spec.recordService.database", map[string]any{
			"credentialsSecretRef": map[string]any{"name": "db"}, "networkRanges": []any{"10.0.0.0/16"}, "port": int64(70000),
		}), []string{"spec.recordService.database.port", "less than or equal to 65535"}},
		{"two record service replicas without a database", "v-rs2", set("spec.recordService.replicas", int64(2)),
			[]string{"spec.recordService", "spec.recordService.replicas above 1 needs spec.recordService.database"}},
		{"nine record service replicas without a database", "v-rs9", set("spec.recordService.replicas", int64(9)),
			[]string{"spec.recordService", "spec.recordService.replicas above 1 needs spec.recordService.database"}},
		{"client namespace not a name", "v-clientns", set("spec.gateway.clientNamespaces", []any{"Clinical Portal"}),
			[]string{"spec.gateway.clientNamespaces[0]", "should match"}},
		{"admin subject without kind", "v-admin", set("spec.admins", []any{map[string]any{"name": "someone"}}),
			[]string{"spec.admins[0].kind", "Required"}},
		{"recordService image hapi project/hapi:v8", "v-img0", set("spec.recordService.image", "hapi project/hapi:v8"),
			[]string{"spec.recordService.image", "must be an image reference"}},
		{"recordService image hapiproject/HAPI:v8", "v-img1", set("spec.recordService.image", "hapiproject/HAPI:v8"),
			[]string{"spec.recordService.image", "must be an image reference"}},
		{"recordService image hapiproject/hapi@sha256:xyz", "v-img2", set("spec.recordService.image", "hapiproject/hapi@sha256:xyz"),
			[]string{"spec.recordService.image", "must be an image reference"}},
		{"gateway image ghcr.io/shcr-io/shcr-gateway:", "v-img3", set("spec.gateway.image", "ghcr.io/shcr-io/shcr-gateway:"),
			[]string{"spec.gateway.image", "must be an image reference"}},
		{"gateway image ghcr.io/shcr-io/Gateway:v1", "v-img4", set("spec.gateway.image", "ghcr.io/shcr-io/Gateway:v1"),
			[]string{"spec.gateway.image", "must be an image reference"}},
		{"gateway image  ghcr.io/shcr-io/shcr-gateway:v1", "v-img5", set("spec.gateway.image", " ghcr.io/shcr-io/shcr-gateway:v1"),
			[]string{"spec.gateway.image", "must be an image reference"}},
		{"storage size 0", "v-size0", set("spec.recordService.storage.size", "0"),
			[]string{"spec.recordService.storage.size", "must be greater than zero"}},
		{"storage size -1Gi", "v-size1", set("spec.recordService.storage.size", "-1Gi"),
			[]string{"spec.recordService.storage.size", "must be greater than zero"}},
		{"storage size 0Gi", "v-size2", set("spec.recordService.storage.size", "0Gi"),
			[]string{"spec.recordService.storage.size", "must be greater than zero"}},
		{"storage size -5", "v-size3", set("spec.recordService.storage.size", "-5"),
			[]string{"spec.recordService.storage.size", "must be greater than zero"}},
		{"quota cpu -2", "v-quota0", set("spec.quota.cpu", "-2"),
			[]string{"spec.quota.cpu", "must be greater than zero"}},
		{"quota cpu 0", "v-quota1", set("spec.quota.cpu", "0"),
			[]string{"spec.quota.cpu", "must be greater than zero"}},
		{"quota memory -1Gi", "v-quota2", set("spec.quota.memory", "-1Gi"),
			[]string{"spec.quota.memory", "must be greater than zero"}},
		{"quota storage 0", "v-quota3", set("spec.quota.storage", "0"),
			[]string{"spec.quota.storage", "must be greater than zero"}},
		{"quota storage -100Gi", "v-quota4", set("spec.quota.storage", "-100Gi"),
			[]string{"spec.quota.storage", "must be greater than zero"}},
		{"admin subject of kind Robot", "v-kind0", set("spec.admins", []any{map[string]any{"kind": "Robot", "name": "someone"}}),
			[]string{"spec.admins[0]", "kind must be User, Group or ServiceAccount"}},
		{"admin subject of kind user", "v-kind1", set("spec.admins", []any{map[string]any{"kind": "user", "name": "someone"}}),
			[]string{"spec.admins[0]", "kind must be User, Group or ServiceAccount"}},
		{"admin subject of kind Role", "v-kind2", set("spec.admins", []any{map[string]any{"kind": "Role", "name": "someone"}}),
			[]string{"spec.admins[0]", "kind must be User, Group or ServiceAccount"}},
		{"admin service account without namespace", "v-sans", set("spec.admins", []any{map[string]any{"kind": "ServiceAccount", "name": "deployer"}}),
			[]string{"spec.admins[0]", "namespace is required for a ServiceAccount"}},
		{"unknown field", "v-unknown", set("spec.replicas", int64(3)),
			[]string{`unknown field "spec.replicas"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := regionObject(tc.region)
			if tc.mod != nil {
				tc.mod(u)
			}
			err := k8sClient.Create(suiteCtx, u, clientStrict)
			if err == nil {
				_ = k8sClient.Delete(suiteCtx, u)
				t.Fatalf("the API server accepted an invalid region")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err.Error(), want)
				}
			}
		})
	}

	// The valid base is accepted, so each case fails for its own reason.
	valid := regionObject("v-valid")
	if err := k8sClient.Create(suiteCtx, valid, clientStrict); err != nil {
		t.Fatalf("the valid base region was refused: %v", err)
	}
}

// clientStrict asks the API server to refuse unknown fields, as kubectl does.
var clientStrict = client.FieldValidation("Strict")
