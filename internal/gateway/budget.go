/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"
)

// errNoMemory means a record service answer did not fit in the gateway's
// memory budget; the caller gets 503 and may retry.
var errNoMemory = errors.New("the gateway's memory budget for record service answers is used up")

// memoryBudget bounds the bytes of record service answers that all
// requests hold at once, so that a few large answers cannot take the
// process beyond its container's memory. An answer reserves its size
// before its buffer is allocated, waits at most wait for room, and holds
// the reservation until its own answer is written.
type memoryBudget struct {
	sem   *semaphore.Weighted
	total int64
	wait  time.Duration
	// inUse is the bytes reserved now, for the metric.
	inUse prometheus.Gauge
}

func newMemoryBudget(total int64, wait time.Duration, inUse prometheus.Gauge) *memoryBudget {
	return &memoryBudget{sem: semaphore.NewWeighted(total), total: total, wait: wait, inUse: inUse}
}

// reservation starts an empty reservation.
func (b *memoryBudget) reservation() *reservation { return &reservation{budget: b} }

// reservation is one answer's share of the budget.
type reservation struct {
	budget *memoryBudget
	mu     sync.Mutex
	held   int64
	// buf is the pooled buffer the answer is read into, given back to
	// upstreamBodies by the first release.
	buf *[]byte
}

// keep makes buf the answer's buffer, which release gives back to the pool.
func (r *reservation) keep(buf *[]byte) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = buf
}

// grow makes the reservation at least size bytes, waiting for room until
// ctx ends or the budget's wait is over.
func (r *reservation) grow(ctx context.Context, size int64) error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	more := size - r.held
	if more <= 0 {
		return nil
	}
	if size > r.budget.total {
		return fmt.Errorf("%w: an answer of %d bytes is larger than the whole budget of %d bytes", errNoMemory, size, r.budget.total)
	}
	if !r.budget.sem.TryAcquire(more) {
		waitCtx, cancel := context.WithTimeout(ctx, r.budget.wait)
		defer cancel()
		if err := r.budget.sem.Acquire(waitCtx, more); err != nil {
			return fmt.Errorf("%w: no room for %d more bytes within %s", errNoMemory, more, r.budget.wait)
		}
	}
	r.held = size
	r.budget.inUse.Add(float64(more))
	return nil
}

// release gives the whole reservation back, and the answer's buffer to its
// pool; it may be called more than once, and the buffer goes back once.
func (r *reservation) release() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.buf != nil {
		upstreamBodies.put(r.buf)
		r.buf = nil
	}
	if r.held > 0 {
		r.budget.sem.Release(r.held)
		r.budget.inUse.Sub(float64(r.held))
		r.held = 0
	}
}
