/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package shcrregion

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// A region whose gateway cannot verify tokens says so in GatewayIdentity,
// naming the fields, even where the cluster reports the workload Available
// (kwok, envtest): on a real cluster its readiness probe never passes.
func TestRegionWithoutGatewayIdentityReportsIt(t *testing.T) {
	region := createRegion(t, newRegion("identity-missing"))
	markWorkloadsAvailable(t, region.Name)
	waitFor(t, "GatewayIdentity False naming the fields",
		conditionIs(t, region.Name, shcrv1alpha1.ConditionGatewayIdentity, metav1.ConditionFalse, shcrv1alpha1.ReasonIdentityMissing))
	c := meta.FindStatusCondition(getRegion(t, region.Name).Status.Conditions, shcrv1alpha1.ConditionGatewayIdentity)
	for _, field := range []string{"spec.gateway.identity.issuer", "spec.gateway.identity.audience", "spec.gateway.identity.jwks or jwksURL"} {
		if !strings.Contains(c.Message, field) {
			t.Errorf("the message should name %s: %q", field, c.Message)
		}
	}

	region = getRegion(t, region.Name)
	base := region.DeepCopy()
	region.Spec.Gateway.Identity = shcrv1alpha1.GatewayIdentity{
		Issuer: "https://issuer.example.nhs.uk", Audience: "identity-missing", JWKSURL: "https://issuer.example.nhs.uk/jwks",
	}
	if err := k8sClient.Patch(suiteCtx, region, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "GatewayIdentity True once issuer, audience and keys are set",
		conditionIs(t, region.Name, shcrv1alpha1.ConditionGatewayIdentity, metav1.ConditionTrue, shcrv1alpha1.ReasonIdentityConfigured))
}
