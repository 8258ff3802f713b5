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

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
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
// which holds only objects labelled as managed by the operator; APIReader
// reads the API server directly, to tell "absent" from "present but not ours".
type Applier struct {
	Client    client.Client
	APIReader client.Reader
}

// Apply makes the cluster hold desired, owned by the operator. It returns
// whether it wrote anything. desired must have its TypeMeta set.
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

	live, err := a.live(ctx, desired)
	if err != nil {
		return false, err
	}
	if live != nil {
		if err := checkOwned(desired, live); err != nil {
			return false, err
		}
		liveMap, err := runtime.DefaultUnstructuredConverter.ToUnstructured(live)
		if err != nil {
			return false, err
		}
		diff := Difference(liveMap, want.Object)
		if live.GetAnnotations()[shcrv1alpha1.AnnotationAppliedHash] == hash && diff == "" {
			return false, nil
		}
		log.FromContext(ctx).V(1).Info("Applying a changed object", "kind", want.GetKind(),
			"object", klog.KObj(want), "firstDifference", diff)
	}
	if err := a.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(want),
		client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return false, fmt.Errorf("applying %s %s: %w", want.GetKind(), client.ObjectKeyFromObject(want), err)
	}
	return true, nil
}

// live reads the object from the cache and, when the cache does not have it,
// from the API server: an object without the operator's label never reaches
// the cache, and must not be overwritten unseen.
func (a *Applier) live(ctx context.Context, desired client.Object) (client.Object, error) {
	live, ok := desired.DeepCopyObject().(client.Object)
	if !ok {
		return nil, fmt.Errorf("%T is not a client.Object", desired)
	}
	key := client.ObjectKeyFromObject(desired)
	err := a.Client.Get(ctx, key, live)
	if apierrors.IsNotFound(err) {
		err = a.APIReader.Get(ctx, key, live)
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading %T %s: %w", desired, key, err)
	}
	return live, nil
}

// checkOwned refuses to touch a live object that does not carry the
// operator's managed-by label, or that another object controls. A live object
// controlled by an earlier owner of the same kind and name (a region deleted
// with Retain and created again) may be adopted.
func checkOwned(desired, live client.Object) error {
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
