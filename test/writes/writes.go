/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package writes wraps the operator's client to count its API writes (for
// the tests that prove a no-op reconcile writes nothing), to make some of
// them fail or slow (as a loaded cluster does) and to stop them all after a
// given one (as a crash does).
package writes

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// Counter counts the API writes (create, update, patch, apply, delete,
// and their status forms) made through the clients it wraps, and names the
// first of them since the last Reset, for a failing test to show.
type Counter struct {
	n      atomic.Int64
	mu     sync.Mutex
	recent []string
}

// maxRecent is how many writes a Counter names.
const maxRecent = 256

// Wrap returns a client that counts its writes in w.
func (w *Counter) Wrap(c client.Client) client.Client {
	return gated(c, func(obj client.Object) (func(), error) {
		w.n.Add(1)
		w.mu.Lock()
		defer w.mu.Unlock()
		if len(w.recent) < maxRecent {
			kind := obj.GetObjectKind().GroupVersionKind().Kind
			if kind == "" {
				kind = fmt.Sprintf("%T", obj)
			}
			w.recent = append(w.recent, kind+" "+obj.GetNamespace()+"/"+obj.GetName())
		}
		return nil, nil
	})
}

// Count is the number of writes so far.
func (w *Counter) Count() int64 { return w.n.Load() }

// Recent names the first writes since the last Reset (at most 256), as
// "Kind namespace/name".
func (w *Counter) Recent() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.recent...)
}

// Reset sets the count to zero.
func (w *Counter) Reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n.Store(0)
	w.recent = nil
}

// Faulty returns a client whose writes fail, with probability p, with an API
// conflict, throttling or internal error (in turn) instead of reaching the
// API server: the faults a real cluster produces under load.
func Faulty(c client.Client, p float64, seed int64) client.Client {
	d := &dice{rng: rand.New(rand.NewSource(seed)), p: p}
	return gated(c, func(obj client.Object) (func(), error) { return nil, d.roll(obj) })
}

type dice struct {
	mu  sync.Mutex
	rng *rand.Rand
	p   float64
	n   int
}

// roll returns the fault to inject, or nil.
func (d *dice) roll(obj client.Object) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.rng.Float64() >= d.p {
		return nil
	}
	d.n++
	gr := schema.GroupResource{Resource: obj.GetObjectKind().GroupVersionKind().Kind}
	switch d.n % 3 {
	case 0:
		return apierrors.NewConflict(gr, obj.GetName(), errors.New("injected conflict"))
	case 1:
		return apierrors.NewTooManyRequests("injected throttling", 1)
	}
	return apierrors.NewInternalError(errors.New("injected server error"))
}

// Slow returns a client whose writes each take d longer, as on a loaded API
// server.
func Slow(c client.Client, d time.Duration) client.Client {
	return gated(c, func(client.Object) (func(), error) {
		time.Sleep(d) // the injected latency itself, not a wait for anything
		return nil, nil
	})
}

// ErrCrashed is what every write after the crash returns.
var ErrCrashed = errors.New("injected crash: the process is gone")

// CrashAfter returns a client that lets the first k writes through, calls
// crash (cancelling the manager, as the process dying would) right after the
// k-th has returned, and fails every later write with ErrCrashed, so that
// nothing after the k-th write reaches the API server.
func CrashAfter(c client.Client, k int64, crash func()) client.Client {
	var started atomic.Int64
	return gated(c, func(client.Object) (func(), error) {
		switch n := started.Add(1); {
		case n > k:
			return nil, ErrCrashed
		case n == k:
			return crash, nil
		}
		return nil, nil
	})
}

// gate runs before each write: an error stops the write, and after, when not
// nil, runs once the write has returned.
type gate func(obj client.Object) (after func(), err error)

// gated wraps c with controller-runtime's client interceptor so that every
// write (create, update, patch, apply, delete, delete-all-of, and their
// sub-resource forms) passes g; reads go straight to c.
func gated(c client.Client, g gate) client.Client {
	through := func(obj client.Object, write func() error) error {
		after, err := g(obj)
		if err != nil {
			return err
		}
		if after != nil {
			defer after()
		}
		return write()
	}
	applied := &unstructured.Unstructured{} // an apply configuration is not a client.Object
	return interceptor.NewClient(withWatch{c}, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			return through(obj, func() error { return c.Create(ctx, obj, opts...) })
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			return through(obj, func() error { return c.Update(ctx, obj, opts...) })
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			return through(obj, func() error { return c.Patch(ctx, obj, patch, opts...) })
		},
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			return through(applied, func() error { return c.Apply(ctx, obj, opts...) })
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			return through(obj, func() error { return c.Delete(ctx, obj, opts...) })
		},
		DeleteAllOf: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteAllOfOption) error {
			return through(obj, func() error { return c.DeleteAllOf(ctx, obj, opts...) })
		},
		SubResourceCreate: func(ctx context.Context, c client.Client, sub string, obj, subObj client.Object, opts ...client.SubResourceCreateOption) error {
			return through(obj, func() error { return c.SubResource(sub).Create(ctx, obj, subObj, opts...) })
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			return through(obj, func() error { return c.SubResource(sub).Update(ctx, obj, opts...) })
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			return through(obj, func() error { return c.SubResource(sub).Patch(ctx, obj, patch, opts...) })
		},
		SubResourceApply: func(ctx context.Context, c client.Client, sub string, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
			return through(applied, func() error { return c.SubResource(sub).Apply(ctx, obj, opts...) })
		},
	})
}

// withWatch lets the interceptor wrap the manager's client, which reads from
// its cache and cannot watch; the operator never calls Watch on it.
type withWatch struct{ client.Client }

func (withWatch) Watch(context.Context, client.ObjectList, ...client.ListOption) (watch.Interface, error) {
	return nil, errors.New("the operator's client does not watch")
}
