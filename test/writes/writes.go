/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package writes counts the API writes a client makes, for the tests that
// prove a no-op reconcile writes nothing.
package writes

import (
	"context"
	"errors"
	"math/rand"
	"sync"
	"sync/atomic"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Counter counts the API writes (create, update, patch, apply, delete,
// and their status forms) made through the clients it wraps.
type Counter struct{ n atomic.Int64 }

// Wrap returns a client that counts its writes in w.
func (w *Counter) Wrap(c client.Client) client.Client { return countingClient{Client: c, n: &w.n} }

// Count is the number of writes so far.
func (w *Counter) Count() int64 { return w.n.Load() }

// Reset sets the count to zero.
func (w *Counter) Reset() { w.n.Store(0) }

type countingClient struct {
	client.Client
	n *atomic.Int64
}

func (c countingClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	c.n.Add(1)
	return c.Client.Create(ctx, obj, opts...)
}

func (c countingClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	c.n.Add(1)
	return c.Client.Update(ctx, obj, opts...)
}

func (c countingClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	c.n.Add(1)
	return c.Client.Patch(ctx, obj, patch, opts...)
}

func (c countingClient) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
	c.n.Add(1)
	return c.Client.Apply(ctx, obj, opts...)
}

func (c countingClient) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	c.n.Add(1)
	return c.Client.Delete(ctx, obj, opts...)
}

func (c countingClient) DeleteAllOf(ctx context.Context, obj client.Object, opts ...client.DeleteAllOfOption) error {
	c.n.Add(1)
	return c.Client.DeleteAllOf(ctx, obj, opts...)
}

func (c countingClient) Status() client.SubResourceWriter {
	return countingSubResource{SubResourceWriter: c.Client.Status(), n: c.n}
}

type countingSubResource struct {
	client.SubResourceWriter
	n *atomic.Int64
}

func (c countingSubResource) Create(ctx context.Context, obj, sub client.Object, opts ...client.SubResourceCreateOption) error {
	c.n.Add(1)
	return c.SubResourceWriter.Create(ctx, obj, sub, opts...)
}

func (c countingSubResource) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	c.n.Add(1)
	return c.SubResourceWriter.Update(ctx, obj, opts...)
}

func (c countingSubResource) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	c.n.Add(1)
	return c.SubResourceWriter.Patch(ctx, obj, patch, opts...)
}

func (c countingSubResource) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
	c.n.Add(1)
	return c.SubResourceWriter.Apply(ctx, obj, opts...)
}

// Faulty returns a client whose writes fail, with probability p, with an API
// conflict, throttling or internal error (in turn) instead of reaching the
// API server: the faults a real cluster produces under load.
func Faulty(c client.Client, p float64, seed int64) client.Client {
	return faultyClient{Client: c, dice: &dice{rng: rand.New(rand.NewSource(seed)), p: p}}
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

type faultyClient struct {
	client.Client
	dice *dice
}

func (c faultyClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	if err := c.dice.roll(obj); err != nil {
		return err
	}
	return c.Client.Create(ctx, obj, opts...)
}

func (c faultyClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	if err := c.dice.roll(obj); err != nil {
		return err
	}
	return c.Client.Update(ctx, obj, opts...)
}

func (c faultyClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	if err := c.dice.roll(obj); err != nil {
		return err
	}
	return c.Client.Patch(ctx, obj, patch, opts...)
}

func (c faultyClient) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
	if err := c.dice.roll(&unstructured.Unstructured{}); err != nil {
		return err
	}
	return c.Client.Apply(ctx, obj, opts...)
}

func (c faultyClient) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	if err := c.dice.roll(obj); err != nil {
		return err
	}
	return c.Client.Delete(ctx, obj, opts...)
}

func (c faultyClient) Status() client.SubResourceWriter {
	return faultySubResource{SubResourceWriter: c.Client.Status(), dice: c.dice}
}

type faultySubResource struct {
	client.SubResourceWriter
	dice *dice
}

func (c faultySubResource) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	if err := c.dice.roll(obj); err != nil {
		return err
	}
	return c.SubResourceWriter.Patch(ctx, obj, patch, opts...)
}

func (c faultySubResource) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	if err := c.dice.roll(obj); err != nil {
		return err
	}
	return c.SubResourceWriter.Update(ctx, obj, opts...)
}
