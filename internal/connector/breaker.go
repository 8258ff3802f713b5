/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"fmt"
	"sync"
	"time"
)

// The states of a circuit breaker, as /status and readiness report them.
const (
	CircuitClosed   = "closed"
	CircuitOpen     = "open"
	CircuitHalfOpen = "half-open"
)

// BreakerPolicy says when a circuit opens and for how long.
type BreakerPolicy struct {
	// Failures is how many consecutive failed calls open the circuit.
	Failures int
	// Cooldown is how long an open circuit refuses every call. After it,
	// one trial call is let through: success closes the circuit, failure
	// opens it for another cool-down.
	Cooldown time.Duration
}

// breaker stops calls to an endpoint that keeps failing, so that a broken
// system is left alone to recover instead of being hammered by retries.
type breaker struct {
	policy BreakerPolicy

	mu        sync.Mutex
	failures  int
	openUntil time.Time
}

// circuitOpenError is returned instead of calling an endpoint whose
// circuit is open.
type circuitOpenError struct {
	target   string
	until    time.Time
	failures int
}

func (e *circuitOpenError) Error() string {
	return fmt.Sprintf("not calling the %s: its circuit is open after %d consecutive failures, until %s",
		e.target, e.failures, e.until.UTC().Format(time.RFC3339))
}

// allow says whether a call may be made now.
func (b *breaker) allow(target string, now time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures >= b.policy.Failures && now.Before(b.openUntil) {
		return &circuitOpenError{target: target, until: b.openUntil, failures: b.failures}
	}
	return nil
}

// succeeded closes the circuit.
func (b *breaker) succeeded() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures = 0
}

// failed counts a failure and opens the circuit at the threshold, or again
// after a failed trial call.
func (b *breaker) failed(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures++
	if b.failures >= b.policy.Failures {
		b.openUntil = now.Add(b.policy.Cooldown)
	}
}

// state is closed, open, or half-open once the cool-down is over and the
// trial call has not yet been made.
func (b *breaker) state(now time.Time) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.failures < b.policy.Failures:
		return CircuitClosed
	case now.Before(b.openUntil):
		return CircuitOpen
	default:
		return CircuitHalfOpen
	}
}
