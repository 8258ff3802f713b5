/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package manager registers the operator's controllers with a manager.
package manager

import (
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/shcr-io/shcr-operator/controllers/shcrregion"
)

// Setup registers every controller with the manager.
func Setup(mgr ctrl.Manager) error {
	if err := (&shcrregion.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder("shcr-operator"),
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the ShCRRegion controller: %w", err)
	}
	return nil
}
