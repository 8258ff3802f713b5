/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/shcr-io/shcr-operator/internal/apply"
	"github.com/shcr-io/shcr-operator/internal/conditions"
	"github.com/shcr-io/shcr-operator/internal/kube"
	"github.com/shcr-io/shcr-operator/internal/specs"
	"github.com/shcr-io/shcr-operator/test/fixtures"
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
	ca, c := startCache(t)
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

// startCache starts a cache of the operator's shape (kube.CacheOptions) for
// one test, and a client that reads from it.
func startCache(t *testing.T) (cache.Cache, client.Client) {
	t.Helper()
	opts := kube.CacheOptions()
	opts.Scheme = kube.Scheme
	ca, err := cache.New(op.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	go func() { _ = ca.Start(cctx) }()
	if !ca.WaitForCacheSync(cctx) {
		t.Fatal("the cache did not start")
	}
	c, err := client.New(op.Config, client.Options{Scheme: kube.Scheme, Cache: &client.CacheOptions{Reader: ca}})
	if err != nil {
		t.Fatal(err)
	}
	return ca, c
}

// newCreator is a Creator for the suite's API server, as the manager makes
// one; wrap, if set, wraps its transport.
func newCreator(t *testing.T, wrap func(http.RoundTripper) http.RoundTripper) *apply.Creator {
	t.Helper()
	cfg := rest.CopyConfig(op.Config)
	if wrap != nil {
		cfg.Wrap(wrap)
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, hc)
	if err != nil {
		t.Fatal(err)
	}
	creator, err := apply.NewCreator(cfg, hc, mapper)
	if err != nil {
		t.Fatal(err)
	}
	return creator
}

// answers records the body of the API server's answer to each create
// (POST) that passes through it.
type answers struct {
	next   http.RoundTripper
	mu     sync.Mutex
	bodies [][]byte
}

func (a *answers) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := a.next.RoundTrip(req)
	if err != nil || req.Method != http.MethodPost {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	a.mu.Lock()
	a.bodies = append(a.bodies, body)
	a.mu.Unlock()
	return resp, nil
}

func (a *answers) last() []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.bodies) == 0 {
		return nil
	}
	return a.bodies[len(a.bodies)-1]
}

// The Applier's creates ask for, and get, an answer of the object's
// metadata only, for a cluster-scoped kind and a namespaced one: the API
// server encodes no more than that and the operator decodes no more. What
// the Applier keeps of the answer is what was written: the same apply
// again, once the cache holds the object, neither writes nor reads the API
// server; and Written is given the object's uid, resourceVersion and the
// operator's managedFields entry (a Deployment's has no status writer yet,
// which is how conditions.Deployments knows it is not rolled out).
func TestApplierCreatesWithAnAnswerOfMetadataOnly(t *testing.T) {
	answers := &answers{}
	creator := newCreator(t, func(rt http.RoundTripper) http.RoundTripper {
		answers.next = rt
		return answers
	})
	ca, c := startCache(t)
	reads := &writes.Reads{Reader: k8s}
	var written []*metav1.PartialObjectMetadata
	a := &apply.Applier{Client: c, APIReader: reads, Creator: creator,
		Written: func(_ schema.GroupVersionKind, answer *metav1.PartialObjectMetadata) {
			written = append(written, answer)
		}}
	managed := map[string]string{specs.LabelManagedBy: specs.ManagedBy}
	ns := "applier-metadata"
	for _, tc := range []struct {
		desired client.Object
		live    client.Object
	}{
		{&corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: managed}}, &corev1.Namespace{}},
		{connectorDeployment(ns), &appsv1.Deployment{}},
	} {
		kind := tc.desired.GetObjectKind().GroupVersionKind().Kind
		if wrote, err := a.Apply(ctx, tc.desired.DeepCopyObject().(client.Object)); err != nil || !wrote {
			t.Fatalf("%s: the first apply wrote %v, %v", kind, wrote, err)
		}
		// The answer names its kind (in JSON or in protobuf's envelope)
		// and holds nothing of the object but its metadata.
		if got := answers.last(); !bytes.Contains(got, []byte("PartialObjectMetadata")) || bytes.Contains(got, []byte("connector:1")) {
			t.Errorf("%s: the create was answered with %d bytes %q, want the object's metadata only", kind, len(got), got)
		}
		if n := reads.Count(); n != 0 {
			t.Errorf("%s: creating it read the API server %d times, want 0", kind, n)
		}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(tc.desired), tc.live); err != nil {
			t.Fatal(err)
		}
		answer := written[len(written)-1]
		if answer.ResourceVersion != tc.live.GetResourceVersion() || answer.UID != tc.live.GetUID() || answer.Name != tc.live.GetName() {
			t.Errorf("%s: Written was given %s/%s at %s, uid %s; the API server holds it at %s, uid %s",
				kind, answer.Namespace, answer.Name, answer.ResourceVersion, answer.UID, tc.live.GetResourceVersion(), tc.live.GetUID())
		}
		if answer.GroupVersionKind() != tc.desired.GetObjectKind().GroupVersionKind() {
			t.Errorf("%s: Written was given kind %v", kind, answer.GroupVersionKind())
		}
		if got := operatorEntries(answer); got[metav1.ManagedFieldsOperationUpdate] != 1 {
			t.Errorf("%s: the answer's managedFields hold the operator's entries %v, want its create's Update entry", kind, got)
		}
		waitFor(t, kind+" in the cache", func() (bool, string) {
			got := kube.ForCache(tc.live.DeepCopyObject().(client.Object))
			err := ca.Get(ctx, client.ObjectKeyFromObject(tc.desired), got)
			return err == nil && got.GetResourceVersion() == tc.live.GetResourceVersion(), fmt.Sprint(err)
		})
		if wrote, err := a.Apply(ctx, tc.desired.DeepCopyObject().(client.Object)); err != nil || wrote {
			t.Errorf("%s: the same apply again wrote %v, %v", kind, wrote, err)
		}
		if n := reads.Count(); n != 0 {
			t.Errorf("%s: the same apply again read the API server %d times, want 0", kind, n)
		}
	}
}

// connectorDeployment is a Deployment labelled as the operator's, named
// connector, in ns, with the image connector:1.
func connectorDeployment(ns string) *appsv1.Deployment {
	return &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "connector", Labels: map[string]string{specs.LabelManagedBy: specs.ManagedBy}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "connector"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "connector"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "connector:1"}}},
			},
		}}
}

// operatorEntries returns the operator's field manager's entries of the
// object's managedFields (its main resource), by operation.
func operatorEntries(obj client.Object) map[metav1.ManagedFieldsOperationType]int {
	out := map[metav1.ManagedFieldsOperationType]int{}
	for _, f := range obj.GetManagedFields() {
		if f.Manager == apply.FieldOwner && f.Subresource == "" {
			out[f.Operation]++
		}
	}
	return out
}

// The Applier creates an object that does not exist (a create is cheaper
// for the API server than an apply that creates), which leaves the
// operator's fields with an Update entry. A later apply must still remove
// what the operator no longer sets, whether the same Applier created the
// object or one that remembers nothing (the operator restarted): a label,
// an annotation, a ConfigMap's key, a container's environment variable
// (without the hand-over from the create's Update entry, each of these
// stays). A Role's rules and a NetworkPolicy's peers are atomic lists, which
// an apply replaces whole either way; they are checked all the same, as
// they are what would leave access the operator meant to withdraw. For a
// kind the cache holds trimmed (ConfigMap) and four it holds as metadata
// only.
func TestApplierCreatesAndLaterAppliesStillRemoveWhatIsNoLongerSet(t *testing.T) {
	ns := "applier-create"
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	ca, c := startCache(t)
	managed := map[string]string{specs.LabelManagedBy: specs.ManagedBy}
	labels := func(dropped bool) map[string]string {
		l := map[string]string{specs.LabelManagedBy: specs.ManagedBy}
		if dropped {
			l["shcr.test/dropped"] = "yes"
		}
		return l
	}
	kinds := []struct {
		desired func(name string, dropped bool) client.Object
		cached  client.Object
		// dropped reports what of the dropped fields the live object holds.
		dropped func(live client.Object) string
	}{
		{func(name string, dropped bool) client.Object {
			cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels(dropped)}, Data: map[string]string{"kept": "1"}}
			if dropped {
				cm.Data["dropped"] = "1"
			}
			return cm
		}, &corev1.ConfigMap{}, func(live client.Object) string {
			if _, ok := live.(*corev1.ConfigMap).Data["dropped"]; ok {
				return "data key"
			}
			return ""
		}},
		{func(name string, dropped bool) client.Object {
			sa := &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels(dropped)}}
			if dropped {
				sa.Annotations = map[string]string{"shcr.test/dropped": "yes"}
			}
			return sa
		}, kube.ForCache(&corev1.ServiceAccount{}), func(live client.Object) string {
			if _, ok := live.GetAnnotations()["shcr.test/dropped"]; ok {
				return "annotation"
			}
			return ""
		}},
		{func(name string, dropped bool) client.Object {
			env := []corev1.EnvVar{{Name: "KEPT", Value: "1"}}
			if dropped {
				env = append(env, corev1.EnvVar{Name: "DROPPED", Value: "1"})
			}
			return &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels(dropped)},
				Spec: appsv1.DeploymentSpec{
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
						Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "connector:1", Env: env}}},
					},
				}}
		}, kube.ForCache(&appsv1.Deployment{}), func(live client.Object) string {
			for _, e := range live.(*appsv1.Deployment).Spec.Template.Spec.Containers[0].Env {
				if e.Name == "DROPPED" {
					return "environment variable"
				}
			}
			return ""
		}},
		{func(name string, dropped bool) client.Object {
			rules := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}}}
			if dropped {
				rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}})
			}
			return &rbacv1.Role{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels(dropped)}, Rules: rules}
		}, kube.ForCache(&rbacv1.Role{}), func(live client.Object) string {
			if len(live.(*rbacv1.Role).Rules) != 1 {
				return "rule"
			}
			return ""
		}},
		{func(name string, dropped bool) client.Object {
			peers := []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.1.0.0/16"}}}
			if dropped {
				peers = append(peers, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}})
			}
			return &networkingv1.NetworkPolicy{TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels(dropped)},
				Spec: networkingv1.NetworkPolicySpec{
					PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
					Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: peers}},
				}}
		}, kube.ForCache(&networkingv1.NetworkPolicy{}), func(live client.Object) string {
			if len(live.(*networkingv1.NetworkPolicy).Spec.Ingress[0].From) != 1 {
				return "ingress peer"
			}
			return ""
		}},
	}
	for _, restart := range []bool{false, true} {
		for _, k := range kinds {
			for _, creator := range []*apply.Creator{nil, newCreator(t, nil)} {
				name := fmt.Sprintf("restart-%v-creator-%v", restart, creator != nil)
				kind := k.desired(name, true).GetObjectKind().GroupVersionKind().Kind
				reads := &writes.Reads{Reader: k8s}
				first := &apply.Applier{Client: c, APIReader: reads, Creator: creator}
				if wrote, err := first.Apply(ctx, k.desired(name, true)); err != nil || !wrote {
					t.Fatalf("%s %s: the first write wrote %v, %v", kind, name, wrote, err)
				}
				if n := reads.Count(); n != 0 {
					t.Errorf("%s %s: creating it read the API server %d times, want 0 (the create tells absent from present)", kind, name, n)
				}
				live := k.desired(name, true)
				if err := k8s.Get(ctx, client.ObjectKeyFromObject(live), live); err != nil {
					t.Fatal(err)
				}
				if got := operatorEntries(live); got[metav1.ManagedFieldsOperationUpdate] != 1 || got[metav1.ManagedFieldsOperationApply] != 0 {
					t.Errorf("%s %s: the first write left the operator's entries %v, want one Update (a create)", kind, name, got)
				}
				waitFor(t, kind+" "+name+" in the cache", func() (bool, string) {
					got := k.cached.DeepCopyObject().(client.Object)
					err := ca.Get(ctx, client.ObjectKeyFromObject(live), got)
					return err == nil && got.GetResourceVersion() == live.GetResourceVersion(), fmt.Sprint(err)
				})
				second := first
				if restart {
					second = &apply.Applier{Client: c, APIReader: k8s, Creator: creator}
				}
				if wrote, err := second.Apply(ctx, k.desired(name, false)); err != nil || !wrote {
					t.Fatalf("%s %s: the apply without the dropped fields wrote %v, %v", kind, name, wrote, err)
				}
				live = k.desired(name, false)
				if err := k8s.Get(ctx, client.ObjectKeyFromObject(live), live); err != nil {
					t.Fatal(err)
				}
				if d := k.dropped(live); d != "" {
					t.Errorf("%s %s (restart %v): the apply left the dropped %s", kind, name, restart, d)
				}
				if _, ok := live.GetLabels()["shcr.test/dropped"]; ok {
					t.Errorf("%s %s (restart %v): the apply left the dropped label", kind, name, restart)
				}
				if got := operatorEntries(live); got[metav1.ManagedFieldsOperationUpdate] != 0 || got[metav1.ManagedFieldsOperationApply] != 1 {
					t.Errorf("%s %s (restart %v): the operator's entries are %v, want one Apply", kind, name, restart, got)
				}
				if live.GetLabels()[specs.LabelManagedBy] != managed[specs.LabelManagedBy] {
					t.Errorf("%s %s: the kept label went", kind, name)
				}
				waitFor(t, kind+" "+name+" in the cache again", func() (bool, string) {
					got := k.cached.DeepCopyObject().(client.Object)
					err := ca.Get(ctx, client.ObjectKeyFromObject(live), got)
					return err == nil && got.GetResourceVersion() == live.GetResourceVersion(), fmt.Sprint(err)
				})
				if wrote, err := second.Apply(ctx, k.desired(name, false)); err != nil || wrote {
					t.Errorf("%s %s: the same apply again wrote %v, %v", kind, name, wrote, err)
				}
			}
		}
	}
}

// notCached is a cache that has not yet seen any object: a Get finds
// nothing, as the manager's cache does for a moment after a create.
type notCached struct{ client.Client }

func (n notCached) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	return apierrors.NewNotFound(schema.GroupResource{Resource: obj.GetObjectKind().GroupVersionKind().Kind}, key.Name)
}

// The Applier does not read the API server before creating an object the
// cache does not hold: the create finds one that is present. Such an
// object is then judged as any live object is: one not labelled as the
// operator's is left as it is, and one that is the operator's (created by
// an earlier run of it, and not yet in the cache) is applied, its create's
// fields included.
func TestApplierJudgesAnObjectItsCreateFindsPresent(t *testing.T) {
	for _, creator := range []*apply.Creator{nil, newCreator(t, nil)} {
		t.Run(fmt.Sprintf("creator-%v", creator != nil), func(t *testing.T) {
			judgeWhatTheCreateFinds(t, creator)
		})
	}
}

func judgeWhatTheCreateFinds(t *testing.T, creator *apply.Creator) {
	ns := fmt.Sprintf("applier-race-%v", creator != nil)
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	desired := func(name string) *corev1.ConfigMap {
		return &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{specs.LabelManagedBy: specs.ManagedBy}},
			Data:       map[string]string{"ours": "1"}}
	}

	theirs := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "theirs"}, Data: map[string]string{"theirs": "1"}}
	create(t, theirs)
	a := &apply.Applier{Client: notCached{k8s}, APIReader: k8s, Creator: creator}
	if wrote, err := a.Apply(ctx, desired("theirs")); !apply.IsNotOwned(err) || wrote {
		t.Errorf("an unlabelled ConfigMap created after the Applier looked: wrote %v, %v; want a NotOwnedError", wrote, err)
	}
	after := &corev1.ConfigMap{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(theirs), after); err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != theirs.ResourceVersion || after.Data["ours"] != "" {
		t.Errorf("the unlabelled ConfigMap was written: %v", after.Data)
	}

	// Created as an earlier run of the operator did: by a plain create,
	// under the operator's field manager.
	earlier := desired("ours")
	earlier.Data = map[string]string{"earlier": "1"}
	if err := k8s.Create(ctx, earlier, client.FieldOwner(apply.FieldOwner)); err != nil {
		t.Fatal(err)
	}
	a = &apply.Applier{Client: notCached{k8s}, APIReader: k8s, Creator: creator}
	if wrote, err := a.Apply(ctx, desired("ours")); err != nil || !wrote {
		t.Fatalf("the operator's ConfigMap created after the Applier looked: wrote %v, %v", wrote, err)
	}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(earlier), after); err != nil {
		t.Fatal(err)
	}
	if after.Data["ours"] != "1" || after.Data["earlier"] != "" {
		t.Errorf("the operator's ConfigMap holds %v, want only ours=1", after.Data)
	}
}

// A Deployment whose status its controller wrote is at a resourceVersion
// the Applier has not seen, so the Applier reads it in full to see whether
// it still holds the desired spec; its availability then comes from that
// same read (Applier.Read): one read of the API server for the two, not one
// each, and the availability is the Deployment's own.
func TestApplierAndAvailabilityShareTheirRead(t *testing.T) {
	ns := "applier-shared-read"
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	ca, c := startCache(t)
	reads := &writes.Reads{Reader: k8s}
	d := &conditions.Deployments{Cache: c, API: reads}
	a := &apply.Applier{Client: c, APIReader: reads, Creator: newCreator(t, nil), Written: d.Written, Read: d.Read}
	desired := func() *appsv1.Deployment { return connectorDeployment(ns) }
	key := client.ObjectKeyFromObject(desired())
	if wrote, err := a.Apply(ctx, desired()); err != nil || !wrote {
		t.Fatalf("the first apply wrote %v, %v", wrote, err)
	}
	live := &appsv1.Deployment{}
	if err := k8s.Get(ctx, key, live); err != nil {
		t.Fatal(err)
	}
	fixtures.RolledOut(live)
	if err := k8s.Status().Update(ctx, live); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rolled-out Deployment in the cache", func() (bool, string) {
		got := kube.ForCache(&appsv1.Deployment{})
		err := ca.Get(ctx, key, got)
		return err == nil && got.GetResourceVersion() == live.ResourceVersion, fmt.Sprint(err)
	})
	before := reads.Count()
	if wrote, err := a.Apply(ctx, desired()); err != nil || wrote {
		t.Fatalf("the same apply after the status write wrote %v, %v", wrote, err)
	}
	status, reason, _, err := d.Availability(ctx, key)
	if err != nil || status != metav1.ConditionTrue {
		t.Errorf("the rolled-out Deployment's availability: %s %s %v, want True", status, reason, err)
	}
	if n := reads.Count() - before; n != 1 {
		t.Errorf("the apply and the availability read the API server %d times, want once between them", n)
	}
}
