/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package memberorganisation

import (
	"context"
	"fmt"
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

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

// regionIdentityChanged passes the updates of a region that change its
// identity provider, which its FHIR Push connectors verify tokens with.
var regionIdentityChanged = predicate.Funcs{
	CreateFunc:  func(event.CreateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		before, ok1 := e.ObjectOld.(*shcrv1alpha1.ShCRRegion)
		after, ok2 := e.ObjectNew.(*shcrv1alpha1.ShCRRegion)
		return ok1 && ok2 && !reflect.DeepEqual(before.Spec.Gateway.Identity, after.Spec.Gateway.Identity)
	},
}

// pushMembersOfRegion maps a region to its FHIR Push organisations, so that
// a changed identity provider reaches their connectors at once.
func (r *Reconciler) pushMembersOfRegion(ctx context.Context, region client.Object) []reconcile.Request {
	members := &shcrv1alpha1.MemberOrganisationList{}
	if err := r.Client.List(ctx, members, client.InNamespace(shcrv1alpha1.NamespaceFor(region.GetName()))); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing a region's organisations after its identity provider changed; they wait for their next event",
			"region", region.GetName())
		return nil
	}
	var out []reconcile.Request
	for i := range members.Items {
		if c := members.Items[i].Spec.Connector; c != nil && c.Kind == shcrv1alpha1.ConnectorFHIR && c.Mode == shcrv1alpha1.ConnectorPush {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&members.Items[i])})
		}
	}
	return out
}
