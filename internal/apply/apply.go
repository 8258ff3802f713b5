/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package apply server-side applies the objects the operator owns, and skips
// the write when the live object already holds the desired configuration, so
// that a reconcile that changes nothing writes nothing.
package apply

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"unique"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/util/csaupgrade"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/kube"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// FieldOwner is the server-side apply field manager of the operator.
const FieldOwner = "shcr-operator"

// NotOwnedError reports an object that exists but is not the operator's: the
// operator will not take it over.
type NotOwnedError struct {
	Kind, Namespace, Name, Why string
}

func (e *NotOwnedError) Error() string {
	name := e.Name
	if e.Namespace != "" {
		name = e.Namespace + "/" + e.Name
	}
	return fmt.Sprintf("%s %s exists and is not managed by shcr-operator (%s); it will not be taken over", e.Kind, name, e.Why)
}

// IsNotOwned reports whether err is, or wraps, a NotOwnedError.
func IsNotOwned(err error) bool {
	var e *NotOwnedError
	return errors.As(err, &e)
}

// Applier applies desired objects. Client reads from the manager's cache,
// which holds only objects labelled as managed by the operator, some kinds
// trimmed or as metadata only (kube.ShapeOf); APIReader reads the API server
// directly: an object the cache does not hold that a create finds present
// (not the operator's, or not yet in the cache), an object of a kind the
// cache does not hold in full, and managed fields.
//
// Whether to re-apply is decided, for kinds the cache holds in full, from
// the applied-hash annotation and the fields; for the others (which the
// cache holds without that annotation), from the resourceVersion at which
// the Applier last wrote the object or found it holding the desired
// fields, and the applied hash of what it held there: an object whose
// resourceVersion is that one is not read again. An object that changed
// (someone edited it, its status moved, or the operator restarted and
// remembers nothing) is read in full once and compared field by field
// (Difference), and re-applied only if it differs. An Applier is safe for
// concurrent use.
type Applier struct {
	Client    client.Client
	APIReader client.Reader
	// Written, when set, is given the kind and the API server's answer to
	// each create or apply that wrote: the object's metadata as written,
	// managedFields included.
	Written func(kind schema.GroupVersionKind, answer *metav1.PartialObjectMetadata)
	// Read, when set, is given each object the Applier read in full from
	// the API server to tell whether it still holds the desired
	// configuration (its resourceVersion moved: a Deployment's status
	// written by its controller, say), so that a caller who needs the same
	// object at the same version does not read it again.
	Read func(kind schema.GroupVersionKind, obj *unstructured.Unstructured)
	// Creator, when set, makes the Applier's creates, answered with the
	// object's metadata only; without it they go through Client and are
	// answered with the whole object.
	Creator *Creator

	mu sync.Mutex
	// verified holds, for each object, the resourceVersion at which it
	// held the desired configuration of its applied-hash annotation. It is
	// keyed by namespace and name first: an organisation's connector
	// objects of six kinds share one name, so one entry holds the six.
	// It is kept small, as it holds an entry for every object the
	// operator owns (several per organisation): names are shared handles,
	// kinds are numbers (kinds), and resourceVersions are numbers when
	// they spell one (opaque holds the others).
	verified map[objectName][]verifiedAt
	// kinds are the kinds verified, numbered by their index.
	kinds []schema.GroupKind
	// opaque holds the resourceVersions that do not spell a decimal
	// number in its shortest form. Kubernetes does not promise that they
	// do; etcd-backed API servers' always do.
	opaque map[objectKey]string
}

// objectKey names one object of one kind.
type objectKey struct {
	kind      schema.GroupKind
	namespace string
	name      string
}

// objectName is an object's namespace and name, shared.
type objectName struct {
	namespace, name unique.Handle[string]
}

func nameOf(key objectKey) objectName {
	return objectName{namespace: unique.Make(key.namespace), name: unique.Make(key.name)}
}

// verifiedAt is the resourceVersion at which the object of one kind was
// verified.
type verifiedAt struct {
	// resourceVersion is the resourceVersion as a number, or 0 when it
	// does not spell one: then Applier.opaque holds it.
	resourceVersion uint64
	// hash is the applied hash of the configuration it held then.
	hash [16]byte
	// kind is the object's kind, as its index in Applier.kinds.
	kind uint8
	// applied is whether the Applier last wrote the object by apply, so
	// that its fields are all the operator's Apply entry's; not when it
	// created it, nor when it has only checked it.
	applied bool
}

// ownership is what a write tells of who owns the object's fields.
type ownership uint8

const (
	// keepOwnership: nothing was written; what was known still holds.
	keepOwnership ownership = iota
	// byApply: the Applier applied the object.
	byApply
	// byCreate: the Applier created the object (an Update entry).
	byCreate
)

// maxKinds is how many kinds an Applier numbers; objects of more kinds
// are not remembered (each apply of them reads the object in full).
const maxKinds = 256

// numericVersion returns resourceVersion as a number, if it spells one
// in its shortest form (no sign, no leading zero, not 0).
func numericVersion(resourceVersion string) (uint64, bool) {
	n, err := strconv.ParseUint(resourceVersion, 10, 64)
	return n, err == nil && n != 0 && strconv.FormatUint(n, 10) == resourceVersion
}

// kindIndex returns the number of kind; add numbers it if it has none.
// a.mu must be held.
func (a *Applier) kindIndex(kind schema.GroupKind, add bool) (uint8, bool) {
	for i, k := range a.kinds {
		if k == kind {
			return uint8(i), true
		}
	}
	if !add || len(a.kinds) == maxKinds {
		return 0, false
	}
	a.kinds = append(a.kinds, kind)
	return uint8(len(a.kinds) - 1), true
}

// Apply makes the cluster hold desired, owned by the operator. It returns
// whether it wrote anything. desired must have its TypeMeta set.
//
// An object that does not exist is created, not applied: the API server
// creates an object at about 1.6 times the rate it creates one by
// server-side apply (docs/benchmarks.md), and an onboarding is mostly
// first writes. A create records the operator's fields under an Update
// entry of its field manager, which a later apply would leave owning any
// field that apply no longer sets, so before the first apply of an object
// the Applier did not itself apply, those fields are handed to the
// operator's apply entry (ownByApply).
func (a *Applier) Apply(ctx context.Context, desired client.Object) (bool, error) {
	want, err := toUnstructured(desired)
	if err != nil {
		return false, err
	}
	hash := hashOf(want)
	annotations := want.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[shcrv1alpha1.AnnotationAppliedHash] = hash
	want.SetAnnotations(annotations)
	gvk := want.GroupVersionKind()
	key := objectKey{kind: gvk.GroupKind(), namespace: want.GetNamespace(), name: want.GetName()}

	live, full, err := a.live(ctx, desired, gvk, false)
	if err != nil {
		return false, err
	}
	if live == nil {
		// Not in the cache. The create itself tells "absent" from
		// "present" (ours, and not yet in the cache; or not labelled as
		// ours, so never in it), without a read of the API server first.
		a.forget(key)
		wrote, err := a.create(ctx, want, gvk, key, hash)
		if !apierrors.IsAlreadyExists(err) {
			return wrote, err
		}
		// It is judged as any live object is, and applied only if it is
		// the operator's.
		if live, full, err = a.live(ctx, desired, gvk, true); err != nil {
			return false, err
		}
		if live == nil {
			// Deleted since the create found it: never applied unseen.
			return false, fmt.Errorf("%s %s existed when it was created and not when read; it will be written on the next reconcile",
				want.GetKind(), client.ObjectKeyFromObject(want))
		}
	}
	// read is the object as read from the API server in this call, with
	// its managedFields, if it was.
	var read metav1.Object
	if live != nil {
		if err := checkOwned(desired, live); err != nil {
			return false, err
		}
		diff, compare := "the applied-hash annotation", true
		if full == nil {
			// The cache holds this kind without its applied hash: what the
			// object held at its resourceVersion is known if the Applier
			// wrote or checked it there, and read from the API server if not.
			held, known := a.heldAt(key, live.GetResourceVersion())
			switch {
			case known && held == hashKey(hash):
				return false, nil
			case known:
				compare = false // an earlier configuration
			default:
				if full, err = a.readFull(ctx, gvk, client.ObjectKeyFromObject(want)); err != nil {
					return false, err
				}
				if full != nil {
					read = full
					if a.Read != nil {
						a.Read(gvk, full)
					}
				}
			}
		}
		if compare && full != nil && full.GetAnnotations()[shcrv1alpha1.AnnotationAppliedHash] == hash {
			if diff = Difference(full.Object, want.Object); diff == "" {
				a.remember(key, full.GetResourceVersion(), hash, keepOwnership)
				return false, nil
			}
		}
		log.FromContext(ctx).V(1).Info("Applying a changed object", "kind", want.GetKind(),
			"object", klog.KObj(want), "firstDifference", diff)
		if !a.fieldsApplied(key) {
			if err := a.ownByApply(ctx, gvk, client.ObjectKeyFromObject(want), read); err != nil {
				a.forget(key)
				return false, err
			}
		}
	}
	// The apply is sent as the metadata client sends a patch, so the API
	// server answers with the object's metadata only: all the Applier
	// reads of the answer is the resourceVersion written. Encoding and
	// decoding the whole object (a Deployment's spec, status and managed
	// fields) was most of what an apply cost both sides at 5,000
	// organisations (docs/benchmarks.md).
	body, err := want.MarshalJSON()
	if err != nil {
		return false, fmt.Errorf("encoding %s %s: %w", want.GetKind(), client.ObjectKeyFromObject(want), err)
	}
	written := &metav1.PartialObjectMetadata{}
	written.SetGroupVersionKind(gvk)
	written.SetNamespace(want.GetNamespace())
	written.SetName(want.GetName())
	if err := a.Client.Patch(ctx, written, client.RawPatch(types.ApplyPatchType, body),
		client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		a.forget(key)
		return false, fmt.Errorf("applying %s %s: %w", want.GetKind(), client.ObjectKeyFromObject(want), err)
	}
	// The answer is the object as written: it holds the desired fields.
	a.remember(key, written.GetResourceVersion(), hash, byApply)
	if a.Written != nil {
		a.Written(gvk, written)
	}
	return true, nil
}

// create creates want, which was read as absent. An AlreadyExists error
// is returned as it came, for Apply to read the object again.
func (a *Applier) create(ctx context.Context, want *unstructured.Unstructured, gvk schema.GroupVersionKind, key objectKey, hash string) (bool, error) {
	written, err := a.createdAs(ctx, want, gvk)
	if err != nil {
		if apierrors.IsAlreadyExists(err) {
			return false, err
		}
		return false, fmt.Errorf("creating %s %s: %w", want.GetKind(), client.ObjectKeyFromObject(want), err)
	}
	a.remember(key, written.GetResourceVersion(), hash, byCreate)
	if a.Written != nil {
		a.Written(gvk, written)
	}
	return true, nil
}

// createdAs creates want and returns the metadata it was created with:
// through the Creator, which asks for no more, or else through the client,
// whose answer is the whole object, decoded into a copy so that want stays
// as desired.
func (a *Applier) createdAs(ctx context.Context, want *unstructured.Unstructured, gvk schema.GroupVersionKind) (*metav1.PartialObjectMetadata, error) {
	if a.Creator != nil {
		body, err := want.MarshalJSON()
		if err != nil {
			return nil, err
		}
		written, err := a.Creator.Create(ctx, gvk, want.GetNamespace(), body)
		if err != nil {
			return nil, err
		}
		written.SetGroupVersionKind(gvk)
		return written, nil
	}
	obj := want.DeepCopy()
	if err := a.Client.Create(ctx, obj, client.FieldOwner(FieldOwner)); err != nil {
		return nil, err
	}
	written := &metav1.PartialObjectMetadata{}
	written.SetGroupVersionKind(gvk)
	written.ObjectMeta = metav1.ObjectMeta{
		Namespace: obj.GetNamespace(), Name: obj.GetName(), UID: obj.GetUID(),
		ResourceVersion: obj.GetResourceVersion(), Generation: obj.GetGeneration(),
		ManagedFields: obj.GetManagedFields(),
	}
	return written, nil
}

// ownByApply hands the fields the operator's field manager owns through
// an Update entry (the record of its create) to its Apply entry, so that
// the next apply removes what it no longer sets. read is the object as
// just read from the API server, if it was; if not, its metadata is read.
// An object whose fields are all the Apply entry's is not written to.
func (a *Applier) ownByApply(ctx context.Context, gvk schema.GroupVersionKind, key client.ObjectKey, read metav1.Object) error {
	if read == nil {
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(gvk)
		if err := a.APIReader.Get(ctx, key, m); err != nil {
			if apierrors.IsNotFound(err) {
				return nil // the apply creates it, owned by the Apply entry
			}
			return fmt.Errorf("reading %s %s's managed fields: %w", gvk.Kind, key, err)
		}
		read = m
	}
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(gvk)
	m.ObjectMeta = metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name,
		ResourceVersion: read.GetResourceVersion(), ManagedFields: read.GetManagedFields()}
	// The patch replaces the managed fields, and the resourceVersion, so
	// that it fails with a conflict if the object changed since read.
	patch, err := csaupgrade.UpgradeManagedFieldsPatch(m, sets.New(FieldOwner), FieldOwner)
	if err != nil {
		return fmt.Errorf("handing %s %s's fields to the operator's apply: %w", gvk.Kind, key, err)
	}
	if patch == nil {
		return nil
	}
	if err := a.Client.Patch(ctx, m, client.RawPatch(types.JSONPatchType, patch)); err != nil {
		return fmt.Errorf("handing %s %s's fields to the operator's apply: %w", gvk.Kind, key, err)
	}
	return nil
}

// live reads the object's metadata from the cache and, when the cache does
// not have it and askServer is set, from the API server: an object without
// the operator's label never reaches the cache, and must not be
// overwritten unseen. For a kind the cache holds in full, it also returns
// the whole object.
func (a *Applier) live(ctx context.Context, desired client.Object, gvk schema.GroupVersionKind, askServer bool) (metav1.Object, *unstructured.Unstructured, error) {
	key := client.ObjectKeyFromObject(desired)
	var live client.Object
	switch kube.ShapeOf(gvk) {
	case kube.MetadataOnly:
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(gvk)
		live = m
	default:
		obj, ok := desired.DeepCopyObject().(client.Object)
		if !ok {
			return nil, nil, fmt.Errorf("%T is not a client.Object", desired)
		}
		live = obj
	}
	err := a.Client.Get(ctx, key, live)
	if apierrors.IsNotFound(err) && askServer {
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(gvk)
		if err = a.APIReader.Get(ctx, key, m); err == nil {
			return m, nil, nil
		}
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil, nil
	case err != nil:
		return nil, nil, fmt.Errorf("reading %s %s: %w", gvk.Kind, key, err)
	}
	if kube.ShapeOf(gvk) != kube.Full {
		return live, nil, nil
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(live)
	if err != nil {
		return nil, nil, err
	}
	return live, &unstructured.Unstructured{Object: m}, nil
}

// readFull reads the whole object from the API server; nil if it is gone.
func (a *Applier) readFull(ctx context.Context, gvk schema.GroupVersionKind, key client.ObjectKey) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	if err := a.APIReader.Get(ctx, key, u); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading %s %s: %w", gvk.Kind, key, err)
	}
	return u, nil
}

// UpToDate reports whether live, the metadata of desired's object as read
// from the cache, is as the Applier last wrote or verified it with desired's
// configuration: then none of its other fields need be read.
func (a *Applier) UpToDate(desired client.Object, live metav1.Object) bool {
	want, err := toUnstructured(desired)
	if err != nil {
		return false
	}
	gvk := want.GroupVersionKind()
	held, known := a.heldAt(objectKey{kind: gvk.GroupKind(), namespace: want.GetNamespace(), name: want.GetName()}, live.GetResourceVersion())
	return known && held == hashKey(hashOf(want))
}

// heldAt returns the applied hash of the configuration the object held at
// resourceVersion, if the Applier wrote or checked it there.
func (a *Applier) heldAt(key objectKey, resourceVersion string) ([16]byte, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	kind, ok := a.kindIndex(key.kind, false)
	if !ok {
		return [16]byte{}, false
	}
	for _, v := range a.verified[nameOf(key)] {
		if v.kind != kind {
			continue
		}
		if v.resourceVersion == 0 {
			held, ok := a.opaque[key]
			return v.hash, ok && held != "" && held == resourceVersion
		}
		n, ok := numericVersion(resourceVersion)
		return v.hash, ok && n == v.resourceVersion
	}
	return [16]byte{}, false
}

// hashKey is the bytes an applied hash (hashOf) spells in hex.
func hashKey(hash string) [16]byte {
	var k [16]byte
	_, _ = hex.Decode(k[:], []byte(hash))
	return k
}

// fieldsApplied reports whether the Applier last wrote the object by
// apply, at whatever resourceVersion: no one else writes as the operator's
// field manager, so its fields are still all its Apply entry's.
func (a *Applier) fieldsApplied(key objectKey) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	kind, ok := a.kindIndex(key.kind, false)
	if !ok {
		return false
	}
	for _, v := range a.verified[nameOf(key)] {
		if v.kind == kind {
			return v.applied
		}
	}
	return false
}

func (a *Applier) remember(key objectKey, resourceVersion, hash string, owner ownership) {
	name := nameOf(key)
	a.mu.Lock()
	defer a.mu.Unlock()
	kind, ok := a.kindIndex(key.kind, true)
	if !ok {
		a.forgetLocked(key)
		return
	}
	at := verifiedAt{hash: hashKey(hash), kind: kind, applied: owner == byApply}
	if n, ok := numericVersion(resourceVersion); ok {
		at.resourceVersion = n
		delete(a.opaque, key)
	} else {
		if a.opaque == nil {
			a.opaque = map[objectKey]string{}
		}
		a.opaque[key] = resourceVersion
	}
	if a.verified == nil {
		a.verified = map[objectName][]verifiedAt{}
	}
	kinds := a.verified[name]
	for i := range kinds {
		if kinds[i].kind == kind {
			if owner == keepOwnership {
				at.applied = kinds[i].applied
			}
			kinds[i] = at
			return
		}
	}
	// Grown one at a time: a name has a few kinds, and doubling would
	// leave room for as many again in every entry.
	grown := make([]verifiedAt, len(kinds)+1)
	copy(grown, kinds)
	grown[len(kinds)] = at
	a.verified[name] = grown
}

func (a *Applier) forget(key objectKey) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.forgetLocked(key)
}

// forgetLocked is forget with a.mu held.
func (a *Applier) forgetLocked(key objectKey) {
	delete(a.opaque, key)
	kind, ok := a.kindIndex(key.kind, false)
	if !ok {
		return
	}
	name := nameOf(key)
	kinds := slices.DeleteFunc(a.verified[name], func(v verifiedAt) bool { return v.kind == kind })
	if len(kinds) == 0 {
		delete(a.verified, name)
	} else {
		a.verified[name] = kinds
	}
}

// checkOwned refuses to touch a live object that does not carry the
// operator's managed-by label, or that another object controls. A live object
// controlled by an earlier owner of the same kind and name (a region deleted
// with Retain and created again) may be adopted.
func checkOwned(desired client.Object, live metav1.Object) error {
	kind := desired.GetObjectKind().GroupVersionKind().Kind
	notOwned := func(why string) error {
		return &NotOwnedError{Kind: kind, Namespace: live.GetNamespace(), Name: live.GetName(), Why: why}
	}
	if live.GetLabels()[specs.LabelManagedBy] != specs.ManagedBy {
		return notOwned("no " + specs.LabelManagedBy + "=" + specs.ManagedBy + " label")
	}
	if region := desired.GetLabels()[shcrv1alpha1.LabelRegion]; live.GetLabels()[shcrv1alpha1.LabelRegion] != region {
		return notOwned("it belongs to region " + live.GetLabels()[shcrv1alpha1.LabelRegion])
	}
	wantOwner, liveOwner := metav1.GetControllerOf(desired), metav1.GetControllerOf(live)
	if wantOwner == nil || liveOwner == nil || liveOwner.UID == wantOwner.UID {
		return nil
	}
	if liveOwner.Kind != wantOwner.Kind || liveOwner.Name != wantOwner.Name {
		return notOwned("it is controlled by " + liveOwner.Kind + " " + liveOwner.Name)
	}
	return nil
}

func toUnstructured(obj client.Object) (*unstructured.Unstructured, error) {
	if obj.GetObjectKind().GroupVersionKind().Kind == "" {
		return nil, fmt.Errorf("%T %s has no kind set", obj, client.ObjectKeyFromObject(obj))
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "status")
	removeEmptyCreationTimestamps(u.Object)
	return u, nil
}

// removeEmptyCreationTimestamps drops the null creationTimestamp that typed
// embedded object metas (pod templates, claim templates) serialise to, which
// would otherwise never match the live object.
func removeEmptyCreationTimestamps(v any) {
	switch t := v.(type) {
	case map[string]any:
		if ts, ok := t["creationTimestamp"]; ok && ts == nil {
			delete(t, "creationTimestamp")
		}
		for _, child := range t {
			removeEmptyCreationTimestamps(child)
		}
	case []any:
		for _, child := range t {
			removeEmptyCreationTimestamps(child)
		}
	}
}

func hashOf(u *unstructured.Unstructured) string {
	// encoding/json sorts map keys, so equal objects give equal bytes.
	data, _ := json.Marshal(u.Object)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

// Difference returns the path of the first field set in want that live does
// not hold, or "" when live contains want.
func Difference(live, want any) string {
	switch w := want.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return "."
		}
		for k, wv := range w {
			lv, ok := l[k]
			if !ok {
				if isEmpty(wv) {
					continue
				}
				return "." + k
			}
			if d := Difference(lv, wv); d != "" {
				return "." + k + d
			}
		}
		return ""
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(w) {
			if isEmpty(w) && isEmpty(live) {
				return ""
			}
			return fmt.Sprintf("[len %d]", len(w))
		}
		for i := range w {
			if d := Difference(l[i], w[i]); d != "" {
				return fmt.Sprintf("[%d]%s", i, d)
			}
		}
		return ""
	default:
		if reflect.DeepEqual(live, want) {
			return ""
		}
		return fmt.Sprintf(" (%v, want %v)", live, want)
	}
}

func isEmpty(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(t) == 0
	case []any:
		return len(t) == 0
	}
	return false
}
