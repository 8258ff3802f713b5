/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package integration

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// TestGatewayPageSizeAndExternalURL checks spec.gateway.maxPageSize and
// spec.gateway.externalURL in the API server: the page size defaults to
// 50 and stays within 1..1000; the external URL is an absolute http(s) URL
// without user, query or fragment. Nothing is stored (dry run).
func TestGatewayPageSizeAndExternalURL(t *testing.T) {
	region := func(change func(*shcrv1alpha1.GatewaySpec)) *shcrv1alpha1.ShCRRegion {
		r := &shcrv1alpha1.ShCRRegion{
			ObjectMeta: metav1.ObjectMeta{Name: "pagesize"},
			Spec:       shcrv1alpha1.ShCRRegionSpec{DisplayName: "Page size"},
		}
		change(&r.Spec.Gateway)
		return r
	}
	for name, tc := range map[string]struct {
		change func(*shcrv1alpha1.GatewaySpec)
		want   string
	}{
		"page size above 1000":  {func(g *shcrv1alpha1.GatewaySpec) { g.MaxPageSize = 1001 }, "spec.gateway.maxPageSize"},
		"page size negative":    {func(g *shcrv1alpha1.GatewaySpec) { g.MaxPageSize = -1 }, "spec.gateway.maxPageSize"},
		"external URL ftp":      {func(g *shcrv1alpha1.GatewaySpec) { g.ExternalURL = "ftp://records.example/" }, "spec.gateway.externalURL"},
		"external URL relative": {func(g *shcrv1alpha1.GatewaySpec) { g.ExternalURL = "/fhir" }, "spec.gateway.externalURL"},
		"external URL query":    {func(g *shcrv1alpha1.GatewaySpec) { g.ExternalURL = "https://records.example/?a=b" }, "spec.gateway.externalURL"},
		"external URL fragment": {func(g *shcrv1alpha1.GatewaySpec) { g.ExternalURL = "https://records.example/#x" }, "spec.gateway.externalURL"},
		"external URL user":     {func(g *shcrv1alpha1.GatewaySpec) { g.ExternalURL = "https://u:p@records.example/" }, "spec.gateway.externalURL"},
		"external URL space":    {func(g *shcrv1alpha1.GatewaySpec) { g.ExternalURL = "https://records.example/a b" }, "spec.gateway.externalURL"},
	} {
		err := k8s.Create(ctx, region(tc.change), client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one naming %s", name, err, tc.want)
		}
	}
	defaulted := region(func(*shcrv1alpha1.GatewaySpec) {})
	if err := k8s.Create(ctx, defaulted, client.DryRunAll); err != nil {
		t.Fatal(err)
	}
	if defaulted.Spec.Gateway.MaxPageSize != 50 {
		t.Errorf("maxPageSize defaulted to %d, want 50", defaulted.Spec.Gateway.MaxPageSize)
	}
	largest := region(func(g *shcrv1alpha1.GatewaySpec) {
		g.MaxPageSize, g.ExternalURL = 1000, "https://records.wessex.example.nhs.uk:8443/fhir/"
	})
	if err := k8s.Create(ctx, largest, client.DryRunAll); err != nil {
		t.Errorf("the largest page size and an ingress URL must be accepted: %v", err)
	}
}
