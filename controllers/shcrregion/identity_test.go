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
// naming the fields, and is not Ready for that reason, even where the
// cluster reports the workload Available (kwok, envtest): on a real cluster
// its readiness probe never passes.
func TestRegionWithoutGatewayIdentityReportsIt(t *testing.T) {
	region := createRegion(t, newRegion("identity-missing", func(r *shcrv1alpha1.ShCRRegion) {
		r.Spec.Gateway.Identity = shcrv1alpha1.GatewayIdentity{}
	}))
	markWorkloadsAvailable(t, region.Name)
	waitFor(t, "GatewayIdentity False naming the fields",
		conditionIs(t, region.Name, shcrv1alpha1.ConditionGatewayIdentity, metav1.ConditionFalse, shcrv1alpha1.ReasonIdentityMissing))
	waitFor(t, "Ready False for the missing identity",
		conditionIs(t, region.Name, shcrv1alpha1.ConditionReady, metav1.ConditionFalse, shcrv1alpha1.ReasonIdentityMissing))
	conds := getRegion(t, region.Name).Status.Conditions
	for _, c := range []*metav1.Condition{
		meta.FindStatusCondition(conds, shcrv1alpha1.ConditionGatewayIdentity),
		meta.FindStatusCondition(conds, shcrv1alpha1.ConditionReady),
	} {
		for _, field := range []string{"spec.gateway.identity.issuer", "spec.gateway.identity.audience", "spec.gateway.identity.jwks or jwksURL"} {
			if !strings.Contains(c.Message, field) {
				t.Errorf("%s's message should name %s: %q", c.Type, field, c.Message)
			}
		}
	}
	// Each field alone is not enough: the message names what is still missing.
	region = getRegion(t, region.Name)
	base := region.DeepCopy()
	region.Spec.Gateway.Identity = shcrv1alpha1.GatewayIdentity{Issuer: "https://issuer.example.nhs.uk", Audience: "identity-missing"}
	if err := k8sClient.Patch(suiteCtx, region, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Ready False naming only the keys", func() (bool, string) {
		r := getRegion(t, region.Name)
		c := meta.FindStatusCondition(r.Status.Conditions, shcrv1alpha1.ConditionReady)
		if c == nil || c.ObservedGeneration != r.Generation {
			return false, "Ready not yet for the latest generation"
		}
		return c.Status == metav1.ConditionFalse && strings.Contains(c.Message, "jwks or jwksURL") &&
			!strings.Contains(c.Message, "identity.issuer"), c.Message
	})

	region = getRegion(t, region.Name)
	base = region.DeepCopy()
	region.Spec.Gateway.Identity = shcrv1alpha1.GatewayIdentity{
		Issuer: "https://issuer.example.nhs.uk", Audience: "identity-missing", JWKSURL: "https://issuer.example.nhs.uk/jwks",
	}
	if err := k8sClient.Patch(suiteCtx, region, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "GatewayIdentity True once issuer, audience and keys are set",
		conditionIs(t, region.Name, shcrv1alpha1.ConditionGatewayIdentity, metav1.ConditionTrue, shcrv1alpha1.ReasonIdentityConfigured))
	// The gateway's args changed with the identity: its rollout again.
	markWorkloadsAvailable(t, region.Name)
	waitFor(t, "Ready once the identity is complete",
		conditionIs(t, region.Name, shcrv1alpha1.ConditionReady, metav1.ConditionTrue, shcrv1alpha1.ReasonReady))
}
