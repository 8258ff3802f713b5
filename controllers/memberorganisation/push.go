/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package memberorganisation

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// A FHIR Push connector serves HTTPS with tls.crt and tls.key and
// authenticates the organisation by mutual TLS (ca.crt) or an OAuth2
// client (client-id), or both.
var pushCredentialKeySets = [][]string{{"tls.crt", "tls.key", "ca.crt"}, {"tls.crt", "tls.key", "client-id"}}

const pushCredentialsNeed = "tls.crt and tls.key (the HTTPS endpoint's certificate) with ca.crt (mutual TLS) or client-id (the OAuth2 client whose tokens are accepted), or both"

// withPushIdentity gives a FHIR Push connector the region's identity
// provider, from the ShCRRegion's spec.gateway.identity.
func (r *Reconciler) withPushIdentity(ctx context.Context, region string, member *shcrv1alpha1.MemberOrganisation,
	cm *corev1.ConfigMap, deploy *appsv1.Deployment, np *networkingv1.NetworkPolicy) error {
	c := member.Spec.Connector
	if c == nil || c.Kind != shcrv1alpha1.ConnectorFHIR || c.Mode != shcrv1alpha1.ConnectorPush {
		return nil
	}
	owner := &shcrv1alpha1.ShCRRegion{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: region}, owner); err != nil {
		return fmt.Errorf("reading region %s for the identity provider of member %s: %w", region, key(member), err)
	}
	specs.WithPushIdentity(owner.Spec.Gateway.Identity, region, member, cm, deploy, np)
	return nil
}
