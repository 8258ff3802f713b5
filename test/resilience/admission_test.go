/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package resilience

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/specs"
	"github.com/shcr-io/shcr-operator/test/fixtures"
	"github.com/shcr-io/shcr-operator/test/testenv"
)

// With the webhooks unavailable, the rules that keep credentials out of
// connector endpoints, unparseable images out of workloads and bad values
// out of child objects still hold: they are the CRD's own CEL rules and the
// region-namespace admission policy, inside the API server.
func TestWithoutWebhooksBadInputsAreStillRefusedNamingTheField(t *testing.T) {
	op, err := testenv.StartOperator(filepath.Join("..", ".."), testenv.WithoutWebhooks())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = op.Stop() }()
	ctx := context.Background()
	k8s := op.Client

	if err := k8s.Create(ctx, &shcrv1alpha1.ShCRRegion{ObjectMeta: metav1.ObjectMeta{Name: "nohooks-admission"},
		Spec: shcrv1alpha1.ShCRRegionSpec{DisplayName: "No webhooks"}}); err != nil {
		t.Fatal(err)
	}
	ns := shcrv1alpha1.NamespaceFor("nohooks-admission")
	testenv.WaitFor(t, "the region namespace", 30*time.Second, func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{})
		return err == nil, fmt.Sprint(err)
	})
	lookalike := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "nohooks-lookalike",
		Labels: map[string]string{shcrv1alpha1.LabelRegion: "nohooks-admission", specs.LabelManagedBy: specs.ManagedBy}}}
	if err := k8s.Create(ctx, lookalike); err != nil {
		t.Fatal(err)
	}

	member := func(mod func(*shcrv1alpha1.MemberOrganisation)) client.Object {
		m := fixtures.Member(ns, "bad", "X86001", "GPPractice")
		mod(m)
		return m
	}
	region := func(name string, mod func(*shcrv1alpha1.ShCRRegion)) client.Object {
		r := &shcrv1alpha1.ShCRRegion{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: shcrv1alpha1.ShCRRegionSpec{DisplayName: "Bad"}}
		mod(r)
		return r
	}
	for _, tc := range []struct {
		name string
		obj  client.Object
		want []string
	}{
		{"endpoint with a password", member(func(m *shcrv1alpha1.MemberOrganisation) {
			m.Spec.Connector.Endpoint = "https://svc:s3cret@fhir.example.nhs.uk/R4"
		}), []string{"spec.connector.endpoint", "userinfo"}},
		{"endpoint with a token", member(func(m *shcrv1alpha1.MemberOrganisation) {
			m.Spec.Connector.Endpoint = "https://fhir.example.nhs.uk/R4?token=s3cret"
		}), []string{"spec.connector.endpoint", "must not carry a query"}},
		{"endpoint with a fragment", member(func(m *shcrv1alpha1.MemberOrganisation) {
			m.Spec.Connector.Endpoint = "https://fhir.example.nhs.uk/R4#s3cret"
		}), []string{"spec.connector.endpoint", "must not carry a fragment"}},
		{"endpoint without a host", member(func(m *shcrv1alpha1.MemberOrganisation) { m.Spec.Connector.Endpoint = "https:///R4" }),
			[]string{"spec.connector.endpoint", "must name a host"}},
		{"connector image with a space", member(func(m *shcrv1alpha1.MemberOrganisation) { m.Spec.Connector.Image = "reg.example/conn :v1" }),
			[]string{"spec.connector.image", "must be an image reference"}},
		{"member in a hand-made namespace", member(func(m *shcrv1alpha1.MemberOrganisation) { m.Namespace = lookalike.Name }),
			[]string{"nohooks-lookalike is not a region namespace"}},
		{"record service image upper case", region("nohooks-img", func(r *shcrv1alpha1.ShCRRegion) { r.Spec.RecordService.Image = "hapiproject/HAPI:v8" }),
			[]string{"spec.recordService.image", "must be an image reference"}},
		{"gateway image bad digest", region("nohooks-gwimg", func(r *shcrv1alpha1.ShCRRegion) { r.Spec.Gateway.Image = "ghcr.io/shcr-io/gw@sha256:zz" }),
			[]string{"spec.gateway.image", "must be an image reference"}},
		{"storage size negative", region("nohooks-size", func(r *shcrv1alpha1.ShCRRegion) { r.Spec.RecordService.Storage.Size = resource.MustParse("-1Gi") }),
			[]string{"spec.recordService.storage.size", "must be greater than zero"}},
		{"quota cpu negative", region("nohooks-quota", func(r *shcrv1alpha1.ShCRRegion) { r.Spec.Quota.CPU = resource.MustParse("-2") }),
			[]string{"spec.quota.cpu", "must be greater than zero"}},
		{"admin of unknown kind", region("nohooks-admin", func(r *shcrv1alpha1.ShCRRegion) {
			r.Spec.Admins = []rbacv1.Subject{{Kind: "Robot", Name: "r2"}}
		}), []string{"spec.admins[0]", "kind must be User, Group or ServiceAccount"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := k8s.Create(ctx, tc.obj)
			if err == nil {
				t.Fatalf("admitted with the webhooks down")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err.Error(), want)
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the refusal repeats the credential: %v", err)
			}
		})
	}
}
