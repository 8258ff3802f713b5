/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package writes

import (
	"context"
	"errors"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// The wrappers themselves, over controller-runtime's in-memory client (a
// small unit: the suites that use them run against a real API server).

func configMap(i int) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: fmt.Sprintf("cm-%d", i)}}
}

func TestCounterCountsEveryKindOfWriteAndNoRead(t *testing.T) {
	ctx := context.Background()
	var n Counter
	c := n.Wrap(fake.NewClientBuilder().Build())
	cm := configMap(0)
	if err := c.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(cm), cm); err != nil {
		t.Fatal(err)
	}
	cm.Data = map[string]string{"k": "v"}
	if err := c.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	if err := c.Patch(ctx, cm, client.MergeFrom(cm.DeepCopy())); err != nil {
		t.Fatal(err)
	}
	_ = c.Status().Update(ctx, cm) // a ConfigMap has no status: the call still counts as a write
	if err := c.Delete(ctx, cm); err != nil {
		t.Fatal(err)
	}
	if got := n.Count(); got != 5 {
		t.Errorf("counted %d writes, want 5 (create, update, patch, status update, delete) and no read", got)
	}
}

func TestFaultyFailsWritesBeforeTheyReachTheServer(t *testing.T) {
	ctx := context.Background()
	inner := fake.NewClientBuilder().Build()
	c := Faulty(inner, 1, 1)
	kinds := map[string]bool{}
	for i := range 6 {
		err := c.Create(ctx, configMap(i))
		switch {
		case apierrors.IsConflict(err):
			kinds["conflict"] = true
		case apierrors.IsTooManyRequests(err):
			kinds["throttled"] = true
		case apierrors.IsInternalError(err):
			kinds["internal"] = true
		default:
			t.Fatalf("write %d: %v, want an injected fault", i, err)
		}
	}
	if len(kinds) != 3 {
		t.Errorf("faults injected: %v, want conflicts, throttling and internal errors", kinds)
	}
	list := &corev1.ConfigMapList{}
	if err := inner.List(ctx, list); err != nil || len(list.Items) != 0 {
		t.Errorf("failed writes reached the store: %d objects, %v", len(list.Items), err)
	}
}

func TestCrashAfterLetsExactlyKWritesThrough(t *testing.T) {
	ctx := context.Background()
	inner := fake.NewClientBuilder().Build()
	crashes := 0
	c := CrashAfter(inner, 2, func() { crashes++ })
	for i := range 4 {
		err := c.Create(ctx, configMap(i))
		if want := i >= 2; (err != nil) != want || (want && !errors.Is(err, ErrCrashed)) {
			t.Errorf("write %d: %v", i+1, err)
		}
	}
	list := &corev1.ConfigMapList{}
	if err := inner.List(ctx, list); err != nil || len(list.Items) != 2 {
		t.Errorf("%d objects reached the store (%v), want 2", len(list.Items), err)
	}
	if crashes != 1 {
		t.Errorf("crash ran %d times, want once", crashes)
	}
}
