/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package kube

import (
	"hash/maphash"
	"maps"
	"reflect"
	"slices"
	"sync"
	"time"
	"unique"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// A region's cached objects repeat the same strings thousands of times:
// every connector child of every organisation carries the same six label
// keys, most of the same label values, the same namespace, and an owner
// reference naming its organisation, whose name and UID its five siblings
// repeat; every condition of every organisation repeats the same types,
// statuses and reasons. The API server's answers are decoded into a new
// copy of each string, so the cache would hold each of them once per
// object. The cache's transforms make these strings point to one shared
// copy (the unique package's canonical value, dropped when no object
// holds it any more). Strings that are unique to one object (its UID,
// resourceVersion, the applied-hash annotation's value) are left alone:
// sharing them would only add the canonical map's entry.
//
// Cached objects are never written in place (the cache hands out deep
// copies, and event handlers only read), so sharing a string, or the
// pointer to a true or false of an owner reference, is safe.

// share returns the shared copy of s.
func share(s string) string {
	if s == "" {
		return s
	}
	return unique.Make(s).Value()
}

var yes, no = true, false

// sharedBool returns a pointer to a shared bool equal to *b, or nil.
func sharedBool(b *bool) *bool {
	switch {
	case b == nil:
		return nil
	case *b:
		return &yes
	default:
		return &no
	}
}

// shareMetadata makes the strings of m that repeat across objects shared:
// its namespace, label keys and values, annotation keys and values (but
// the applied hash's), finalizers and owner references, and its name when
// names is set (the operator's children: an organisation's connector
// objects all have one name). Equal label maps, and equal annotation maps
// without an applied hash, are one shared map.
func shareMetadata(m *metav1.ObjectMeta, names bool) {
	m.Namespace = share(m.Namespace)
	if names {
		m.Name = share(m.Name)
	}
	m.Labels = sharedLabels(m.Labels)
	if _, own := m.Annotations[shcrv1alpha1.AnnotationAppliedHash]; own {
		m.Annotations = shareMap(m.Annotations, shcrv1alpha1.AnnotationAppliedHash)
	} else {
		// Such as a Deployment's revision, the same on every connector's.
		m.Annotations = sharedLabels(m.Annotations)
	}
	for i := range m.Finalizers {
		m.Finalizers[i] = share(m.Finalizers[i])
	}
	m.OwnerReferences = sharedOwners(m.OwnerReferences)
}

// labelSets and ownerLists hold the label maps and owner reference lists
// the cache's objects share: an organisation's connector objects all carry
// the same labels and the same owner reference.
var (
	labelSets  = &sharedTable[map[string]string]{}
	ownerLists = &sharedTable[[]metav1.OwnerReference]{}
)

// sharedLabels returns the shared map equal to labels.
func sharedLabels(labels map[string]string) map[string]string {
	if len(labels) == 0 {
		return labels
	}
	// The pairs' hashes are summed, so that the map's order does not
	// matter; equal maps are told from colliding ones by comparing them.
	var h maphash.Hash
	h.SetSeed(shareSeed)
	var sum uint64
	for k, v := range labels {
		h.Reset()
		h.WriteString(k)
		h.WriteByte(0) // label keys and values never hold a NUL byte
		h.WriteString(v)
		sum += h.Sum64()
	}
	return labelSets.get(sum, func(m map[string]string) bool { return maps.Equal(m, labels) },
		func() map[string]string { return shareMap(labels, "") })
}

// sharedOwners returns the shared list equal to refs.
func sharedOwners(refs []metav1.OwnerReference) []metav1.OwnerReference {
	if len(refs) == 0 {
		return refs
	}
	var h maphash.Hash
	h.SetSeed(shareSeed)
	for _, r := range refs {
		for _, s := range []string{r.APIVersion, r.Kind, r.Name, string(r.UID), flag(r.Controller), flag(r.BlockOwnerDeletion)} {
			h.WriteString(s)
			h.WriteByte(0)
		}
	}
	return ownerLists.get(h.Sum64(), func(l []metav1.OwnerReference) bool { return slices.EqualFunc(l, refs, sameOwner) },
		func() []metav1.OwnerReference {
			out := slices.Clone(refs)
			for i := range out {
				r := &out[i]
				r.APIVersion, r.Kind, r.Name = share(r.APIVersion), share(r.Kind), share(r.Name)
				r.UID = types.UID(share(string(r.UID)))
				r.Controller, r.BlockOwnerDeletion = sharedBool(r.Controller), sharedBool(r.BlockOwnerDeletion)
			}
			return out
		})
}

// shareSeed seeds the hashes of the shared values' keys.
var shareSeed = maphash.MakeSeed()

// sameOwner says whether two owner references are equal.
func sameOwner(a, b metav1.OwnerReference) bool {
	return a.APIVersion == b.APIVersion && a.Kind == b.Kind && a.Name == b.Name && a.UID == b.UID &&
		flag(a.Controller) == flag(b.Controller) && flag(a.BlockOwnerDeletion) == flag(b.BlockOwnerDeletion)
}

// flag spells an optional bool for a sharedOwners key.
func flag(b *bool) string {
	switch {
	case b == nil:
		return "-"
	case *b:
		return "t"
	default:
		return "f"
	}
}

// sharedTable shares values that cannot be made canonical by the unique
// package (maps and slices), by a hash of what they hold: a value whose
// hash another value already has is compared with it, and, if the two
// differ, gets a copy of its own that is not shared. (Keys that spelled
// the values out cost more than the values they shared at 5,000
// organisations.) It forgets values no longer asked for, in generations:
// a generation at least sharedTableGeneration old is retired by the next
// value asked for, and values asked for again move back from the retired
// one to the new one. So it holds what the cache asked for in the last two
// generations (a settled region's objects, or the ones that changed), and
// nothing of the objects that came and went before. An object whose value
// was forgotten keeps it; its next version is given a new shared one.
type sharedTable[V any] struct {
	mu         sync.Mutex
	cur, older map[uint64]V
	// since is when the current generation began; now reads the clock.
	since time.Time
	now   func() time.Time
}

// sharedTableGeneration is how long a generation of a sharedTable lasts at
// least.
const sharedTableGeneration = 10 * time.Minute

// get returns the value shared under hash if equal says it is the one
// asked for, and otherwise a value made by newValue: shared under hash
// if no other value is.
func (t *sharedTable[V]) get(hash uint64, equal func(V) bool, newValue func() V) V {
	t.mu.Lock()
	defer t.mu.Unlock()
	if v, ok := t.cur[hash]; ok {
		if equal(v) {
			return v
		}
		return newValue() // another value with the same hash
	}
	v, ok := t.older[hash]
	if !ok || !equal(v) {
		v = newValue()
	}
	now := time.Now
	if t.now != nil {
		now = t.now
	}
	if at := now(); t.cur == nil || at.Sub(t.since) >= sharedTableGeneration {
		t.older, t.cur, t.since = t.cur, map[uint64]V{}, at
	}
	t.cur[hash] = v
	return v
}

// shareMap returns a copy of m with its keys and values shared, but the
// value of the key own (a value unique to the object).
func shareMap(m map[string]string, own string) map[string]string {
	if len(m) == 0 {
		return m
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if k != own {
			v = share(v)
		}
		out[share(k)] = v
	}
	return out
}

// shareStatus shares the repeated strings of the spec and status of the
// operator's own kinds (shareValues), and an organisation's agreements
// (each named by every party).
func shareStatus(obj any) {
	switch obj.(type) {
	case *shcrv1alpha1.MemberOrganisation, *shcrv1alpha1.DataSharingAgreement, *shcrv1alpha1.AccessPolicy, *shcrv1alpha1.ShCRRegion:
	default:
		return
	}
	o := reflect.ValueOf(obj).Elem()
	shareValues(o.FieldByName("Spec"))
	shareValues(o.FieldByName("Status"))
	if m, ok := obj.(*shcrv1alpha1.MemberOrganisation); ok {
		for i := range m.Status.Agreements {
			m.Status.Agreements[i] = share(m.Status.Agreements[i])
		}
	}
}

var (
	stringType    = reflect.TypeFor[string]()
	uidType       = reflect.TypeFor[types.UID]()
	conditionType = reflect.TypeFor[metav1.Condition]()
)

// shareValues shares, within v, the strings of the API's enumerations
// (every string type the API names, as DataCategory or ConditionStatus:
// a handful of values across a region), and the type and reason of each
// condition. Other strings (names, codes, messages) are mostly the
// object's own. Maps are left alone. Lists are moved to arrays of their
// own length.
func shareValues(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() && v.Type() != stringType && v.Type() != uidType {
			v.SetString(share(v.String()))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			shareValues(v.Elem())
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			shareValues(v.Index(i))
		}
		if v.Kind() == reflect.Slice && v.Cap() > v.Len() && v.CanSet() {
			// The JSON decoder grows a list by doubling it: a list of
			// five conditions is held in room for eight.
			exact := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
			reflect.Copy(exact, v)
			v.Set(exact)
		}
	case reflect.Struct:
		if v.Type() == conditionType && v.CanAddr() {
			c := v.Addr().Interface().(*metav1.Condition)
			c.Type, c.Reason = share(c.Type), share(c.Reason)
		}
		if v.Type().PkgPath() == "time" {
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				shareValues(v.Field(i))
			}
		}
	}
}
