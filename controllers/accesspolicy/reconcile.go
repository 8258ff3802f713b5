/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package accesspolicy

import (
	"context"
	"fmt"
	"strings"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/controllers/internal/phases"
	"github.com/shcr-io/shcr-operator/internal/governance"
	"github.com/shcr-io/shcr-operator/internal/index"
)

// scope is one reconcile of a policy: the policy, and what the phases
// found of its agreement.
type scope struct {
	ap *shcrv1alpha1.AccessPolicy
	// versions are the policy's agreement's versions in its namespace.
	versions []shcrv1alpha1.DataSharingAgreement
	// governing is the version the policy is judged against, nil when none.
	governing *shcrv1alpha1.DataSharingAgreement
}

// Reconcile reports one policy's effective grants, and writes its status
// once (patchStatus).
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return phases.Reconcile(ctx, r.Client, "AccessPolicy", req, &shcrv1alpha1.AccessPolicy{}, r.reconcile, r.patchStatus)
}

// reconcile checks that the policy is in a region, then runs its phases.
func (r *Reconciler) reconcile(ctx context.Context, ap *shcrv1alpha1.AccessPolicy) (ctrl.Result, error) {
	ap.Status.RolesDisplay = strings.Join(ap.Spec.Subjects.Roles, ",")

	if _, err := phases.RegionOf(ctx, r.Client, "AccessPolicy", ap, func() { markNotInRegion(ap) }); err != nil {
		return ctrl.Result{}, err
	}
	// The grants are judged against the governing version the first phase finds.
	return phases.RunInOrder(ctx, &scope{ap: ap},
		r.reconcileGoverning,
		r.reconcileGrants,
	)
}

// reconcileGoverning finds the policy's agreement's versions and the one
// that governs it, and warns of what the policy says but will not do.
func (r *Reconciler) reconcileGoverning(ctx context.Context, s *scope) (ctrl.Result, error) {
	ap := s.ap
	versions := &shcrv1alpha1.DataSharingAgreementList{}
	if err := r.Client.List(ctx, versions, client.InNamespace(ap.Namespace),
		client.MatchingFields{index.AgreementID: ap.Spec.AgreementID}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing the versions of agreement %s for AccessPolicy %s/%s: %w", ap.Spec.AgreementID, ap.Namespace, ap.Name, err)
	}
	s.versions = versions.Items
	s.governing = governance.GoverningVersion(versions.Items)
	warn(ap, s.governing)
	return ctrl.Result{}, nil
}

// reconcileGrants reports what the policy grants under its governing
// version: nothing unless that version is Active.
func (r *Reconciler) reconcileGrants(_ context.Context, s *scope) (ctrl.Result, error) {
	switch {
	case s.governing == nil:
		markNoAgreement(s.ap)
	case s.governing.Status.Phase != shcrv1alpha1.PhaseActive:
		markNotActive(s.ap, s.governing, len(s.versions))
	default:
		report(s.ap, s.governing)
	}
	return ctrl.Result{}, nil
}
