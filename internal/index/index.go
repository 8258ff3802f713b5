/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package index registers the cache field indexes the controllers look
// related objects up by, so that no controller lists everything.
package index

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// Index names.
const (
	// MemberODSCode indexes MemberOrganisations by spec.odsCode.
	MemberODSCode = "spec.odsCode"
	// AgreementParty indexes DataSharingAgreements by each party's ODS code.
	AgreementParty = "spec.terms.parties.odsCode"
	// AgreementID indexes DataSharingAgreements by spec.agreementId.
	AgreementID = "spec.agreementId"
	// PolicyAgreementID indexes AccessPolicies by spec.agreementId.
	PolicyAgreementID = "spec.agreementId"
	// CrossRegionNamespace indexes CrossRegion DataSharingAgreements by the
	// two region namespaces whose spec.peers confirm them: their own and
	// their peer region's. Other agreements are not indexed.
	CrossRegionNamespace = "crossRegion.namespace"
	// RegionPeer indexes ShCRRegions by each name in spec.peers.
	RegionPeer = "spec.peers"
)

// Setup registers every index with the manager's cache.
func Setup(ctx context.Context, mgr ctrl.Manager) error {
	fi := mgr.GetFieldIndexer()
	if err := fi.IndexField(ctx, &shcrv1alpha1.MemberOrganisation{}, MemberODSCode, func(o client.Object) []string {
		return []string{o.(*shcrv1alpha1.MemberOrganisation).Spec.ODSCode}
	}); err != nil {
		return err
	}
	if err := fi.IndexField(ctx, &shcrv1alpha1.DataSharingAgreement{}, AgreementParty, func(o client.Object) []string {
		var codes []string
		for _, p := range o.(*shcrv1alpha1.DataSharingAgreement).Spec.Terms.Parties {
			codes = append(codes, p.ODSCode)
		}
		return codes
	}); err != nil {
		return err
	}
	if err := fi.IndexField(ctx, &shcrv1alpha1.DataSharingAgreement{}, AgreementID, func(o client.Object) []string {
		return []string{o.(*shcrv1alpha1.DataSharingAgreement).Spec.AgreementID}
	}); err != nil {
		return err
	}
	if err := fi.IndexField(ctx, &shcrv1alpha1.ShCRRegion{}, RegionPeer, func(o client.Object) []string {
		return o.(*shcrv1alpha1.ShCRRegion).Spec.Peers
	}); err != nil {
		return err
	}
	if err := fi.IndexField(ctx, &shcrv1alpha1.DataSharingAgreement{}, CrossRegionNamespace, crossRegionNamespaces); err != nil {
		return err
	}
	return fi.IndexField(ctx, &shcrv1alpha1.AccessPolicy{}, PolicyAgreementID, func(o client.Object) []string {
		return []string{o.(*shcrv1alpha1.AccessPolicy).Spec.AgreementID}
	})
}

// crossRegionNamespaces are the values of CrossRegionNamespace for o.
func crossRegionNamespaces(o client.Object) []string {
	a := o.(*shcrv1alpha1.DataSharingAgreement)
	if a.Spec.Terms.Journey != shcrv1alpha1.JourneyCrossRegion {
		return nil
	}
	return []string{a.Namespace, shcrv1alpha1.NamespaceFor(a.Spec.Terms.PeerRegion)}
}
