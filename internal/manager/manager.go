/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package manager registers the operator's controllers with a manager.
package manager

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/shcr-io/shcr-operator/controllers/accesspolicy"
	"github.com/shcr-io/shcr-operator/controllers/datasharingagreement"
	"github.com/shcr-io/shcr-operator/controllers/memberorganisation"
	"github.com/shcr-io/shcr-operator/controllers/shcrregion"
	"github.com/shcr-io/shcr-operator/internal/index"
)

// Setup registers the field indexes and every controller with the manager.
func Setup(ctx context.Context, mgr ctrl.Manager) error {
	if err := index.Setup(ctx, mgr); err != nil {
		return fmt.Errorf("registering field indexes: %w", err)
	}
	recorder := mgr.GetEventRecorder("shcr-operator")
	if err := (&shcrregion.Reconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: recorder,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the ShCRRegion controller: %w", err)
	}
	if err := (&memberorganisation.Reconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: recorder,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the MemberOrganisation controller: %w", err)
	}
	if err := (&datasharingagreement.Reconciler{Client: mgr.GetClient(), Recorder: recorder}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the DataSharingAgreement controller: %w", err)
	}
	if err := (&accesspolicy.Reconciler{Client: mgr.GetClient(), Recorder: recorder}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the AccessPolicy controller: %w", err)
	}
	return nil
}
