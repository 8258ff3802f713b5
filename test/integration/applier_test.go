/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package integration

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/shcr-io/shcr-operator/internal/apply"
	"github.com/shcr-io/shcr-operator/internal/kube"
	"github.com/shcr-io/shcr-operator/internal/specs"
	"github.com/shcr-io/shcr-operator/test/writes"
)

// The Applier's apply is answered with the written object's metadata only;
// the resourceVersion it keeps from that answer must be the one the cache
// then holds, or every later reconcile would read the object in full from
// the API server again. For a kind the cache holds as metadata (a
// ServiceAccount) and one it holds trimmed (a ConfigMap): the first apply
// writes, and once the cache has the object, the same apply writes nothing
// and reads nothing from the API server; a changed one writes again.
func TestApplierKeepsTheWrittenVersionFromTheAnswer(t *testing.T) {
	ns := "applier-answer"
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	opts := kube.CacheOptions()
	opts.Scheme = kube.Scheme
	ca, err := cache.New(op.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = ca.Start(cctx) }()
	if !ca.WaitForCacheSync(cctx) {
		t.Fatal("the cache did not start")
	}
	c, err := client.New(op.Config, client.Options{Scheme: kube.Scheme, Cache: &client.CacheOptions{Reader: ca}})
	if err != nil {
		t.Fatal(err)
	}
	direct := &writes.Reads{Reader: k8s}
	a := &apply.Applier{Client: c, APIReader: direct}
	managed := map[string]string{specs.LabelManagedBy: specs.ManagedBy}

	for _, tc := range []struct {
		desired func(v string) client.Object
		cached  client.Object
	}{
		{func(v string) client.Object {
			return &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sa", Labels: managed, Annotations: map[string]string{"v": v}}}
		}, kube.ForCache(&corev1.ServiceAccount{})},
		{func(v string) client.Object {
			return &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cm", Labels: managed}, Data: map[string]string{"v": v}}
		}, &corev1.ConfigMap{}},
	} {
		kind := tc.desired("").GetObjectKind().GroupVersionKind().Kind
		for _, v := range []string{"1", "2"} {
			wrote, err := a.Apply(ctx, tc.desired(v))
			if err != nil || !wrote {
				t.Fatalf("%s %s: first apply wrote %v, %v", kind, v, wrote, err)
			}
			written := tc.desired(v)
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(written), written); err != nil {
				t.Fatal(err)
			}
			waitFor(t, kind+" in the cache at the written version", func() (bool, string) {
				got := tc.cached.DeepCopyObject().(client.Object)
				err := ca.Get(ctx, client.ObjectKeyFromObject(written), got)
				return err == nil && got.GetResourceVersion() == written.GetResourceVersion(), fmt.Sprint(err)
			})
			before := direct.Count()
			if wrote, err := a.Apply(ctx, tc.desired(v)); err != nil || wrote {
				t.Fatalf("%s %s: the same apply again wrote %v, %v", kind, v, wrote, err)
			}
			if n := direct.Count() - before; n != 0 {
				t.Errorf("%s %s: the same apply again read the API server %d times, want 0 (the answer's resourceVersion was not the one written)", kind, v, n)
			}
		}
	}
}
