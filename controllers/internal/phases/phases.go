/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package phases runs the phases of a reconcile the same way in every
// controller: a reconcile reads its object, checks what must hold before
// anything is written, then runs its phases, each of which sets its own
// conditions; one deferred status write (conditions.PatchStatus) records
// what they found.
package phases

import (
	"context"
	"errors"

	ctrl "sigs.k8s.io/controller-runtime"
)

// Phase is one step of a reconcile of obj. Each phase sets its own
// conditions. T is the reconciled object, or a scope holding it and what
// earlier phases found.
type Phase[T any] func(ctx context.Context, obj T) (ctrl.Result, error)

// Run runs every phase, joins their errors and keeps the soonest requeue:
// for phases that do not depend on each other, so that one failing does not
// keep the others from converging (the region's children).
func Run[T any](ctx context.Context, obj T, phases ...Phase[T]) (ctrl.Result, error) {
	var (
		errs   []error
		result ctrl.Result
	)
	for _, p := range phases {
		res, err := p(ctx, obj)
		errs = append(errs, err)
		result = soonest(result, res)
	}
	return result, errors.Join(errs...)
}

// RunInOrder runs the phases in order and stops at the first that fails,
// returning its error alone: for phases that build on what the earlier ones
// found (an organisation's connector on its admission). It keeps the
// soonest requeue of the phases that ran.
func RunInOrder[T any](ctx context.Context, obj T, phases ...Phase[T]) (ctrl.Result, error) {
	var result ctrl.Result
	for _, p := range phases {
		res, err := p(ctx, obj)
		if err != nil {
			return ctrl.Result{}, err
		}
		result = soonest(result, res)
	}
	return result, nil
}

// soonest keeps the sooner of two requeues; no requeue is never sooner.
func soonest(a, b ctrl.Result) ctrl.Result {
	if b.RequeueAfter > 0 && (a.RequeueAfter == 0 || b.RequeueAfter < a.RequeueAfter) {
		a.RequeueAfter = b.RequeueAfter
	}
	return a
}
