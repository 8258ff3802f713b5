/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package kube

import (
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/governance"
)

// A typed read, list or watch of a metadata-only kind through the cache is
// refused with an error naming the kind (it would start a full informer of
// every such object); its metadata, and every other kind, pass.
func TestGuardedCacheRefusesTypedMetadataOnlyKinds(t *testing.T) {
	g := guardedCache{}
	refused := []runtime.Object{
		&corev1.ServiceAccount{}, &corev1.ServiceAccountList{}, &corev1.Service{}, &corev1.ServiceList{},
		&networkingv1.NetworkPolicy{}, &networkingv1.NetworkPolicyList{},
		&corev1.PersistentVolumeClaim{}, &corev1.PersistentVolumeClaimList{},
		&appsv1.Deployment{}, &appsv1.DeploymentList{},
	}
	for _, obj := range refused {
		var e *ErrMetadataOnly
		if err := g.check(obj); !errors.As(err, &e) {
			t.Errorf("%T: %v, want ErrMetadataOnly", obj, err)
		}
	}
	allowed := []runtime.Object{
		&metav1.PartialObjectMetadata{}, &metav1.PartialObjectMetadataList{}, ForCache(&corev1.Service{}),
		&corev1.ConfigMap{}, &corev1.Namespace{}, &appsv1.StatefulSet{},
		&shcrv1alpha1.MemberOrganisation{}, &shcrv1alpha1.ShCRRegionList{},
	}
	for _, obj := range allowed {
		if err := g.check(obj); err != nil {
			t.Errorf("%T: %v", obj, err)
		}
	}
	for _, obj := range MetadataOnlyKinds() {
		if ShapeOf(kindOf(obj)) != MetadataOnly {
			t.Errorf("%T is listed as metadata only but not shaped so", obj)
		}
		if _, ok := ForCache(obj).(*metav1.PartialObjectMetadata); !ok {
			t.Errorf("ForCache(%T) is not metadata", obj)
		}
	}
	if _, ok := ForCache(&appsv1.StatefulSet{}).(*appsv1.StatefulSet); !ok {
		t.Error("ForCache changed a StatefulSet, which the cache holds typed")
	}
}

// The cache drops every ConfigMap's data but the agreement ledger's and
// the provider records', and keeps what the operator reads.
func TestTrimForCache(t *testing.T) {
	for name, keep := range map[string]bool{governance.LedgerName: true, "connector-y1g01": false, "policy-bundle": false} {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{"a": "b"}}, Data: map[string]string{"k": "v"}, BinaryData: map[string][]byte{"b": {1}}}
		out, _ := trimForCache(cm)
		got := out.(*corev1.ConfigMap)
		if (got.Data != nil) != keep || (got.BinaryData != nil) != keep || got.Annotations["a"] != "b" {
			t.Errorf("ConfigMap %s: data kept %v, want %v; annotations %v", name, got.Data != nil, keep, got.Annotations)
		}
	}
	if ShapeOf(appsv1.SchemeGroupVersion.WithKind("Deployment")) != MetadataOnly {
		t.Errorf("Deployments are not held as metadata only")
	}
}

// Two organisations' connector children, decoded apart, hold their
// repeated strings (namespace, name, label keys and values, owner
// reference) as one shared copy once cached, and read the same as before;
// the applied hash stays each object's own. Conditions of the operator's
// kinds share their type, status and reason.
func TestCachedObjectsShareRepeatedStrings(t *testing.T) {
	child := func(kind string) *metav1.PartialObjectMetadata {
		c := strings.Clone
		return &metav1.PartialObjectMetadata{
			TypeMeta: metav1.TypeMeta{APIVersion: c("v1"), Kind: c(kind)},
			ObjectMeta: metav1.ObjectMeta{
				Name: c("connector-y1g01"), Namespace: c("shcr-r"), UID: types.UID(c("uid-" + kind)), ResourceVersion: c("17"),
				Labels: map[string]string{
					c("app.kubernetes.io/managed-by"): c("shcr-operator"), c("shcr.io/region"): c("r"), c("shcr.io/organisation"): c("Y1G01"),
				},
				Annotations: map[string]string{
					c(shcrv1alpha1.AnnotationAppliedHash): c("0123456789abcdef0123456789abcdef"), c("example.org/team"): c("platform"),
				},
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: c("shcr.io/v1alpha1"), Kind: c("MemberOrganisation"), Name: c("gp"), UID: types.UID(c("member-uid")),
					Controller: new(bool), BlockOwnerDeletion: new(bool),
				}},
			},
		}
	}
	a, b := child("ServiceAccount"), child("Service")
	*a.OwnerReferences[0].Controller, *b.OwnerReferences[0].Controller = true, true
	wantA, wantB := a.DeepCopy(), b.DeepCopy()
	delete(wantA.Annotations, shcrv1alpha1.AnnotationAppliedHash)
	delete(wantB.Annotations, shcrv1alpha1.AnnotationAppliedHash)
	outA, _ := trimForCache(a)
	outB, _ := trimForCache(b)
	gotA, gotB := outA.(*metav1.PartialObjectMetadata), outB.(*metav1.PartialObjectMetadata)
	if !reflect.DeepEqual(gotA, wantA) || !reflect.DeepEqual(gotB, wantB) {
		t.Fatalf("sharing changed the objects:\n%+v\n%+v", gotA, wantA)
	}
	same := func(what, x, y string) {
		t.Helper()
		if unsafe.StringData(x) != unsafe.StringData(y) {
			t.Errorf("%s: %q held twice", what, x)
		}
	}
	same("namespace", gotA.Namespace, gotB.Namespace)
	same("name", gotA.Name, gotB.Name)
	same("apiVersion", gotA.APIVersion, gotB.APIVersion)
	for k, v := range gotA.Labels {
		for k2, v2 := range gotB.Labels {
			if k == k2 {
				same("label key", k, k2)
				same("label value", v, v2)
			}
		}
	}
	ra, rb := gotA.OwnerReferences[0], gotB.OwnerReferences[0]
	same("owner name", ra.Name, rb.Name)
	same("owner kind", ra.Kind, rb.Kind)
	same("owner UID", string(ra.UID), string(rb.UID))
	if ra.Controller != rb.Controller || !*ra.Controller || *ra.BlockOwnerDeletion {
		t.Errorf("owner reference flags: %v %v", *ra.Controller, *ra.BlockOwnerDeletion)
	}
	same("annotation value", gotA.Annotations["example.org/team"], gotB.Annotations["example.org/team"])
	// The Applier never reads the applied hash of these kinds from the
	// cache: an object with no other annotation holds none.
	c := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "connector-y1g01", Annotations: map[string]string{shcrv1alpha1.AnnotationAppliedHash: "0123"}}}
	d := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "connector-y1g01", Annotations: map[string]string{shcrv1alpha1.AnnotationAppliedHash: "0123"}}}
	s := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "records", Annotations: map[string]string{shcrv1alpha1.AnnotationAppliedHash: "0123"}}}
	for _, o := range []metav1.Object{c, d, s} {
		if _, err := trimForCache(o); err != nil {
			t.Fatal(err)
		}
	}
	if c.Annotations != nil || d.Annotations != nil {
		t.Errorf("the applied hash was cached: %v, %v", c.Annotations, d.Annotations)
	}
	if s.Annotations[shcrv1alpha1.AnnotationAppliedHash] != "0123" {
		t.Errorf("the applied hash of a kind the cache holds in full, which the Applier reads, was dropped")
	}

	member := func(name string) *shcrv1alpha1.MemberOrganisation {
		c := strings.Clone
		return &shcrv1alpha1.MemberOrganisation{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c("shcr-r"), Finalizers: []string{c("shcr.io/finalizer")}},
			Status: shcrv1alpha1.MemberOrganisationStatus{
				Conditions: []metav1.Condition{{Type: c("Admitted"), Status: metav1.ConditionStatus(c("True")), Reason: c("Admitted"), Message: c("admitted " + name)}},
				Agreements: []string{c("dsa-1")}, ProvidesCategories: []shcrv1alpha1.DataCategory{shcrv1alpha1.DataCategory(c("Problems"))},
			},
		}
	}
	m1, m2 := member("gp-1"), member("gp-2")
	want1 := m1.DeepCopy()
	out1, _ := slimForCache(m1)
	out2, _ := slimForCache(m2)
	got1, got2 := out1.(*shcrv1alpha1.MemberOrganisation), out2.(*shcrv1alpha1.MemberOrganisation)
	if !reflect.DeepEqual(got1, want1) {
		t.Fatalf("sharing changed the organisation:\n%+v\n%+v", got1, want1)
	}
	c1, c2 := got1.Status.Conditions[0], got2.Status.Conditions[0]
	same("condition type", c1.Type, c2.Type)
	same("condition status", string(c1.Status), string(c2.Status))
	same("condition reason", c1.Reason, c2.Reason)
	same("agreement", got1.Status.Agreements[0], got2.Status.Agreements[0])
	same("category", string(got1.Status.ProvidesCategories[0]), string(got2.Status.ProvidesCategories[0]))
	same("finalizer", got1.Finalizers[0], got2.Finalizers[0])

	// Lists are held in arrays of their own length, as they were.
	m3 := member("gp-3")
	m3.Status.Conditions = append(make([]metav1.Condition, 0, 8), m3.Status.Conditions...)
	m3.Spec.Roles = append(make([]shcrv1alpha1.OrganisationRole, 0, 4), shcrv1alpha1.RoleProvider, shcrv1alpha1.RoleConsumer)
	want3 := m3.DeepCopy()
	out3, _ := slimForCache(m3)
	got3 := out3.(*shcrv1alpha1.MemberOrganisation)
	if !reflect.DeepEqual(got3, want3) {
		t.Fatalf("fitting the lists changed the organisation:\n%+v\n%+v", got3, want3)
	}
	if c := cap(got3.Status.Conditions); c != 1 {
		t.Errorf("one condition is held in room for %d", c)
	}
	if c := cap(got3.Spec.Roles); c != 2 {
		t.Errorf("two roles are held in room for %d", c)
	}
}

// Objects with equal labels, or equal owner references, share one map or
// list; objects whose labels differ (another organisation) do not.
func TestCachedObjectsShareEqualLabelsAndOwners(t *testing.T) {
	child := func(ods, uid string) *metav1.PartialObjectMetadata {
		return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
			Name: "connector-" + ods, Namespace: "shcr-r",
			Labels: map[string]string{"app.kubernetes.io/managed-by": "shcr-operator", "shcr.io/organisation": strings.Clone(ods)},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "shcr.io/v1alpha1", Kind: "MemberOrganisation", Name: "gp-" + ods,
				UID: types.UID(strings.Clone(uid)), Controller: ptrTo(true)}},
		}}
	}
	a, b, other := child("Y1G01", "u1"), child("Y1G01", "u1"), child("Y1G02", "u2")
	want := other.DeepCopy()
	for _, o := range []*metav1.PartialObjectMetadata{a, b, other} {
		if _, err := trimForCache(o); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(other, want) {
		t.Fatalf("sharing changed the object:\n%+v\n%+v", other, want)
	}
	same := func(x, y any) bool { return reflect.ValueOf(x).UnsafePointer() == reflect.ValueOf(y).UnsafePointer() }
	if !same(a.Labels, b.Labels) || !same(a.OwnerReferences, b.OwnerReferences) {
		t.Errorf("equal labels or owners are held twice")
	}
	if same(a.Labels, other.Labels) || same(a.OwnerReferences, other.OwnerReferences) {
		t.Errorf("another organisation's labels or owners are shared with the first's")
	}

	// Equal annotations are one map (a Deployment's revision); a Full
	// kind's annotations with its own applied hash are its own.
	revision := func() *metav1.PartialObjectMetadata {
		return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "connector-x", Annotations: map[string]string{
			"deployment.kubernetes.io/revision": strings.Clone("1")}}}
	}
	d1, d2 := revision(), revision()
	_, _ = trimForCache(d1)
	_, _ = trimForCache(d2)
	if !same(d1.Annotations, d2.Annotations) || d1.Annotations["deployment.kubernetes.io/revision"] != "1" {
		t.Errorf("equal annotations are held twice: %v", d1.Annotations)
	}
	full := func(hash string) *appsv1.StatefulSet {
		return &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "records", Annotations: map[string]string{
			"team": "x", shcrv1alpha1.AnnotationAppliedHash: hash}}}
	}
	s1, s2 := full("0123"), full("4567")
	_, _ = slimForCache(s1)
	_, _ = slimForCache(s2)
	if same(s1.Annotations, s2.Annotations) || s1.Annotations[shcrv1alpha1.AnnotationAppliedHash] != "0123" || s2.Annotations[shcrv1alpha1.AnnotationAppliedHash] != "4567" {
		t.Errorf("annotations with each object's own applied hash were shared: %v, %v", s1.Annotations, s2.Annotations)
	}
}

// The table of shared values forgets values no longer asked for: after
// many generations of values that came and went, it holds those of the
// last two generations, and still answers a value asked for in every
// generation with the one shared value.
func TestSharedTableForgetsValuesNoLongerUsed(t *testing.T) {
	clock := time.Unix(0, 0)
	table := &sharedTable[*string]{now: func() time.Time { return clock }}
	made := 0
	get := func(key string) *string {
		return table.get(maphash.String(shareSeed, key), func(v *string) bool { return *v == key },
			func() *string { made++; return &key })
	}
	kept := get("kept")
	const perGeneration = 1000
	for i := range 50 * perGeneration {
		if i%perGeneration == 0 {
			clock = clock.Add(sharedTableGeneration)
			if get("kept") != kept {
				t.Fatalf("in generation %d, the kept value was made again", i/perGeneration)
			}
		}
		get(fmt.Sprint("gone-", i))
		if again := get(fmt.Sprint("gone-", i)); again == nil || *again != fmt.Sprint("gone-", i) {
			t.Fatal("not the value asked for")
		}
	}
	if n := len(table.cur) + len(table.older); n > 2*perGeneration+2 {
		t.Errorf("the table holds %d values after 50 generations of %d came and went", n, perGeneration)
	}
	if made != 1+50*perGeneration {
		t.Errorf("made %d values, want one per distinct key", made)
	}
}

// Two different values whose hashes collide are never given one another:
// the first asked for is shared, the other gets a copy of its own, in the
// current generation and from the retired one alike.
func TestSharedTableTellsCollidingValuesApart(t *testing.T) {
	clock := time.Unix(0, 0)
	table := &sharedTable[*string]{now: func() time.Time { return clock }}
	get := func(key string) *string {
		return table.get(7, func(v *string) bool { return *v == key }, func() *string { return &key })
	}
	for round := range 3 {
		a, b := get("a"), get("b")
		if *a != "a" || *b != "b" {
			t.Fatalf("round %d: asked for a and b, got %q and %q", round, *a, *b)
		}
		clock = clock.Add(sharedTableGeneration)
	}
	if a1, a2 := get("a"), get("a"); a1 != a2 {
		t.Errorf("the value first shared under its hash is not shared")
	}
	// Maps whose labels differ are never taken for one another, whatever
	// their hashes: every map asked for comes back equal to it.
	for i := range 2000 {
		labels := map[string]string{"k": fmt.Sprint(i % 97), fmt.Sprint("k", i%13): "v"}
		if got := sharedLabels(labels); !maps.Equal(got, labels) {
			t.Fatalf("sharedLabels(%v) = %v", labels, got)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }
