/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package memberorganisation

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// reconcileGPConnect serves an admitted GP Connect practice: it runs no
// connector (the record gateway reads the practice at the moment of care,
// from the endpoint the region controller writes into the gateway's
// configuration), so any connector left from another kind is removed. It
// is available when the region is a GP Connect consumer.
func (r *Reconciler) reconcileGPConnect(ctx context.Context, member *shcrv1alpha1.MemberOrganisation, region string) error {
	if err := r.removeConnector(ctx, member); err != nil {
		return err
	}
	owner := &shcrv1alpha1.ShCRRegion{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: region}, owner); err != nil {
		return fmt.Errorf("reading region %s of member %s/%s: %w", region, member.Namespace, member.Name, err)
	}
	if owner.Spec.Gateway.GPConnect == nil {
		setCondition(member, shcrv1alpha1.ConditionConnectorAvailable, metav1.ConditionFalse, shcrv1alpha1.ReasonGPConnectNotConfigured,
			"connector kind GPConnect: ShCRRegion "+region+" has no spec.gateway.gpConnect (the region's ASID), so its gateway cannot read the practice")
		return nil
	}
	setCondition(member, shcrv1alpha1.ConditionConnectorAvailable, metav1.ConditionTrue, shcrv1alpha1.ReasonReadByGateway,
		"connector kind GPConnect runs no connector: the record gateway reads the practice at the moment of care")
	return nil
}

// gpConnectChanged passes the update of a region whose spec.gateway.gpConnect
// changed: its GP Connect members become available or not.
var gpConnectChanged = predicate.Funcs{
	CreateFunc: func(event.CreateEvent) bool { return false },
	DeleteFunc: func(event.DeleteEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		before, ok1 := e.ObjectOld.(*shcrv1alpha1.ShCRRegion)
		after, ok2 := e.ObjectNew.(*shcrv1alpha1.ShCRRegion)
		return ok1 && ok2 && !equality.Semantic.DeepEqual(before.Spec.Gateway.GPConnect, after.Spec.Gateway.GPConnect)
	},
	GenericFunc: func(event.GenericEvent) bool { return false },
}
