/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package writes

import (
	"context"
	"sync/atomic"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Reads counts the Gets made through it (for the tests that prove a
// reconcile does not read the API server when it need not).
type Reads struct {
	client.Reader
	n atomic.Int32
}

// Get reads through the wrapped Reader and counts the read.
func (r *Reads) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	r.n.Add(1)
	return r.Reader.Get(ctx, key, obj, opts...)
}

// Count is how many Gets were made.
func (r *Reads) Count() int32 { return r.n.Load() }
