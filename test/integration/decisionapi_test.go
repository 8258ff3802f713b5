/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package integration

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// TestDecisionAPIAccessReachesTheGateway refuses decision API roles that are
// not national RBAC role codes, naming the field, and passes valid ones and
// the audience to the gateway; a region without them leaves the API closed.
func TestDecisionAPIAccessReachesTheGateway(t *testing.T) {
	for _, tc := range []struct {
		roles    []string
		audience string
		want     string
	}{
		{roles: []string{"r8000"}, want: "spec.gateway.decisionAPI.roles[0]"},
		{roles: []string{"R8000", "S8000:G8000:R8000"}, want: "spec.gateway.decisionAPI.roles[1]"},
		{roles: []string{"R8000", "R8000"}, want: "Duplicate value"},
		{audience: "", roles: []string{"R80"}, want: "should match"},
		{audience: strings.Repeat("a", 513), want: "spec.gateway.decisionAPI.audience"},
	} {
		region := &shcrv1alpha1.ShCRRegion{
			ObjectMeta: metav1.ObjectMeta{Name: "dapi-invalid"},
			Spec: shcrv1alpha1.ShCRRegionSpec{
				DisplayName: "Integration decision API",
				Gateway:     shcrv1alpha1.GatewaySpec{DecisionAPI: shcrv1alpha1.GatewayDecisionAPI{Roles: tc.roles, Audience: tc.audience}},
			},
		}
		err := k8s.Create(ctx, region)
		if err == nil {
			t.Fatalf("roles %q audience %.20q: accepted", tc.roles, tc.audience)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("roles %q: error %q does not contain %q", tc.roles, err, tc.want)
		}
	}

	createRegion(t, "dapi")
	gateway := &appsv1.Deployment{}
	key := client.ObjectKey{Namespace: shcrv1alpha1.NamespaceFor("dapi"), Name: specs.GatewayName}
	args := func() []string {
		if err := k8s.Get(ctx, key, gateway); err != nil || len(gateway.Spec.Template.Spec.Containers) == 0 {
			return nil
		}
		return gateway.Spec.Template.Spec.Containers[0].Args
	}
	waitFor(t, "the gateway", func() (bool, string) { return args() != nil, "no gateway Deployment" })
	for _, arg := range args() {
		if strings.HasPrefix(arg, "--decision-api-") {
			t.Errorf("a region without spec.gateway.decisionAPI passes %s", arg)
		}
	}
	update(t, &shcrv1alpha1.ShCRRegion{}, "", "dapi", func(r *shcrv1alpha1.ShCRRegion) {
		r.Spec.Gateway.DecisionAPI = shcrv1alpha1.GatewayDecisionAPI{Roles: []string{"R8000", "R0260"}, Audience: "dapi-pep"}
	})
	waitFor(t, "the decision API flags", func() (bool, string) {
		a := args()
		return slices.Contains(a, "--decision-api-roles=R8000,R0260") && slices.Contains(a, "--decision-api-audience=dapi-pep"), fmt.Sprint(a)
	})
}
