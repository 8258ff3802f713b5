/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for value, want := range map[string]time.Duration{
		"7":                             7 * time.Second,
		"0":                             0,
		"Sun, 01 Mar 2026 10:00:30 GMT": 30 * time.Second,
		"Sun, 01 Mar 2026 09:00:00 GMT": 0,
	} {
		if got, ok := parseRetryAfter(value, now); !ok || got != want {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v", value, got, ok, want)
		}
	}
	for _, value := range []string{"", "-1", "soon"} {
		if _, ok := parseRetryAfter(value, now); ok {
			t.Errorf("parseRetryAfter(%q) is ok, want ignored", value)
		}
	}
}

func TestBackoffIsFullJitterUnderAnExponentialCeiling(t *testing.T) {
	p := RetryPolicy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}
	for n, ceiling := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 10: time.Second} {
		var longest time.Duration
		for range 200 {
			d := p.backoff(n)
			if d < 0 || d > ceiling {
				t.Fatalf("backoff(%d) = %v, outside [0, %v]", n, d, ceiling)
			}
			longest = max(longest, d)
		}
		if longest < ceiling/2 {
			t.Errorf("backoff(%d) never exceeded %v in 200 draws: not jittered over [0, %v]", n, longest, ceiling)
		}
	}
}

func TestBreakerOpensCoolsDownAndClosesOnSuccess(t *testing.T) {
	b := &breaker{policy: BreakerPolicy{Failures: 2, Cooldown: time.Minute}}
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	b.failed(now)
	if b.allow("source", now) != nil || b.state(now) != CircuitClosed {
		t.Fatal("one failure must not open the circuit")
	}
	b.failed(now)
	if err := b.allow("source", now.Add(59*time.Second)); err == nil || b.state(now) != CircuitOpen {
		t.Fatal("two failures must open the circuit for the cool-down")
	}
	trial := now.Add(time.Minute)
	if b.allow("source", trial) != nil || b.state(trial) != CircuitHalfOpen {
		t.Fatal("after the cool-down one trial call must be let through")
	}
	b.failed(trial)
	if b.allow("source", trial.Add(time.Second)) == nil {
		t.Fatal("a failed trial must open the circuit again")
	}
	b.succeeded()
	if b.state(trial) != CircuitClosed {
		t.Fatal("a success must close the circuit")
	}
}
