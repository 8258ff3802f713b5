/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package phases

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// step is a phase's outcome in a table: its requeue and its error.
type step struct {
	requeue time.Duration
	err     error
}

// phasesOf makes phases that return the steps' outcomes and record, in the
// object, which of them ran.
func phasesOf(steps []step) []Phase[*[]int] {
	var out []Phase[*[]int]
	for i, s := range steps {
		out = append(out, func(_ context.Context, ran *[]int) (ctrl.Result, error) {
			*ran = append(*ran, i)
			return ctrl.Result{RequeueAfter: s.requeue}, s.err
		})
	}
	return out
}

var (
	errA = errors.New("a failed")
	errB = reconcile.TerminalError(errors.New("b refused"))
)

// Run runs every phase whatever the others return, joins every error (a
// terminal one stays terminal) and keeps the soonest requeue.
func TestRunRunsEveryPhase(t *testing.T) {
	cases := []struct {
		name    string
		steps   []step
		requeue time.Duration
		errs    []error
	}{
		{"none", nil, 0, nil},
		{"no requeue", []step{{}, {}}, 0, nil},
		{"one requeue", []step{{}, {requeue: time.Minute}}, time.Minute, nil},
		{"the soonest requeue", []step{{requeue: time.Minute}, {}, {requeue: time.Second}, {requeue: time.Hour}}, time.Second, nil},
		{"an error does not stop the rest", []step{{err: errA}, {requeue: time.Second}}, time.Second, []error{errA}},
		{"errors are joined", []step{{err: errA}, {}, {err: errB}}, 0, []error{errA, errB}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ran []int
			res, err := Run(context.Background(), &ran, phasesOf(tc.steps)...)
			if len(ran) != len(tc.steps) {
				t.Errorf("ran %v of %d phases", ran, len(tc.steps))
			}
			if res.RequeueAfter != tc.requeue {
				t.Errorf("requeue %v, want %v", res.RequeueAfter, tc.requeue)
			}
			checkErrors(t, err, tc.errs)
		})
	}
}

// RunInOrder stops at the first phase that fails, returns its error alone
// with no requeue, and otherwise keeps the soonest requeue.
func TestRunInOrderStopsAtTheFirstFailure(t *testing.T) {
	cases := []struct {
		name    string
		steps   []step
		ran     []int
		requeue time.Duration
		errs    []error
	}{
		{"none", nil, nil, 0, nil},
		{"the soonest requeue", []step{{requeue: time.Minute}, {}, {requeue: time.Second}}, []int{0, 1, 2}, time.Second, nil},
		{"the first fails", []step{{err: errA}, {requeue: time.Second}}, []int{0}, 0, []error{errA}},
		{"a later one fails after a requeue", []step{{requeue: time.Second}, {err: errB}, {err: errA}}, []int{0, 1}, 0, []error{errB}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ran []int
			res, err := RunInOrder(context.Background(), &ran, phasesOf(tc.steps)...)
			if !slices.Equal(ran, tc.ran) {
				t.Errorf("ran %v, want %v", ran, tc.ran)
			}
			if res.RequeueAfter != tc.requeue {
				t.Errorf("requeue %v, want %v", res.RequeueAfter, tc.requeue)
			}
			checkErrors(t, err, tc.errs)
		})
	}
}

func checkErrors(t *testing.T, err error, want []error) {
	t.Helper()
	if (err == nil) != (len(want) == 0) {
		t.Fatalf("error %v, want %v", err, want)
	}
	for _, w := range want {
		if !errors.Is(err, w) {
			t.Errorf("error %v does not hold %v", err, w)
		}
	}
	terminal := slices.ContainsFunc(want, func(e error) bool { return errors.Is(e, reconcile.TerminalError(nil)) })
	if errors.Is(err, reconcile.TerminalError(nil)) != terminal {
		t.Errorf("error %v: terminal %v, want %v", err, !terminal, terminal)
	}
}
