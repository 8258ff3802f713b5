/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// maxBody bounds what the connector reads from any answer.
const maxBody = 64 << 20

// RetryPolicy bounds the retries of one call. A call is retried on a
// network error, 429 Too Many Requests and any 5xx answer; nothing else is
// retried.
type RetryPolicy struct {
	// Attempts is how many times a call is made at most, the first included.
	Attempts int
	// BaseDelay and MaxDelay shape the exponential backoff with full
	// jitter: before retry n the connector waits a random time between 0
	// and min(MaxDelay, BaseDelay·2^(n-1)).
	BaseDelay time.Duration
	MaxDelay  time.Duration
	// MaxRetryAfter is the longest Retry-After the connector waits for; an
	// endpoint asking for longer fails the call, and the next cycle tries
	// again.
	MaxRetryAfter time.Duration
}

// backoff is the wait before retry n (n ≥ 1): full jitter over an
// exponentially growing ceiling.
func (p RetryPolicy) backoff(n int) time.Duration {
	ceiling := p.BaseDelay
	for i := 1; i < n && ceiling < p.MaxDelay; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, p.MaxDelay)
	if ceiling <= 0 {
		return 0
	}
	return rand.N(ceiling + 1)
}

// targetNames are how errors, logs and readiness name the targets.
var targetNames = map[string]string{kindSource: "source", kindRecordService: "record service"}

// target is one HTTP service the connector calls, the organisation's
// endpoint or the record service, with its retries and circuit breaker.
type target struct {
	// name is how errors and logs call it.
	name string
	// kind is the error kind its failures are counted under.
	kind    string
	client  *http.Client
	breaker *breaker
	retry   RetryPolicy
	clock   Clock
	log     *slog.Logger
}

// statusError is an answer the connector cannot use.
type statusError struct {
	target string
	method string
	path   string
	status int
	detail string
}

func (e *statusError) Error() string {
	msg := fmt.Sprintf("the %s answered %d %s to %s %s", e.target, e.status, http.StatusText(e.status), e.method, e.path)
	if e.detail != "" {
		msg += ": " + e.detail
	}
	return msg
}

// getFHIR GETs u (FHIR JSON) through call, with its retries, and returns
// the body of a 2xx answer.
func (t *target) getFHIR(ctx context.Context, u string) ([]byte, error) {
	return t.call(ctx, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, fmt.Errorf("building the request: %w", err)
		}
		req.Header.Set("Accept", "application/fhir+json")
		return req, nil
	})
}

// postFHIR POSTs body (FHIR JSON) to u through call, with its retries, and
// returns the body of a 2xx answer.
func (t *target) postFHIR(ctx context.Context, u string, body []byte) ([]byte, error) {
	return t.call(ctx, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("building the request: %w", err)
		}
		req.Header.Set("Content-Type", "application/fhir+json")
		req.Header.Set("Accept", "application/fhir+json")
		return req, nil
	})
}

// call makes the request that build gives, retrying as the policy says, and
// returns the body of a 2xx answer. build is called once per attempt, so
// each attempt has a fresh body.
func (t *target) call(ctx context.Context, build func(context.Context) (*http.Request, error)) ([]byte, error) {
	for attempt := 1; ; attempt++ {
		if err := t.breaker.allow(t.name, t.clock.Now()); err != nil {
			return nil, withKind(kindCircuitOpen, err)
		}
		req, err := build(ctx)
		if err != nil {
			return nil, err
		}
		body, retryAfter, err := t.attempt(req)
		if err == nil || !isRetryable(err) {
			return body, err
		}
		wait, err := t.waitBeforeRetry(req, attempt, retryAfter, err)
		if err != nil {
			return nil, err
		}
		if err := t.clock.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// waitBeforeRetry is how long to wait before the next attempt, or the
// error to give up with.
func (t *target) waitBeforeRetry(req *http.Request, attempt int, retryAfter string, cause error) (time.Duration, error) {
	if attempt >= t.retry.Attempts {
		return 0, withKind(t.kind, fmt.Errorf("giving up after %d attempts: %w", attempt, cause))
	}
	wait := t.retry.backoff(attempt)
	if d, ok := parseRetryAfter(retryAfter, t.clock.Now()); ok {
		if d > t.retry.MaxRetryAfter {
			return 0, withKind(t.kind, fmt.Errorf("the %s asked to wait %s before retrying, longer than the %s the connector waits; the next cycle tries again: %w",
				t.name, d, t.retry.MaxRetryAfter, cause))
		}
		wait = d
	}
	t.log.Warn("Retrying", "target", t.name, "method", req.Method, "path", req.URL.Path,
		"attempt", attempt, "wait", wait.String(), "reason", cause.Error())
	return wait, nil
}

// retryableError marks a failure worth another attempt.
type retryableError struct{ err error }

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

func isRetryable(err error) bool {
	var r *retryableError
	return errors.As(err, &r)
}

// attempt makes one call and feeds its outcome to the circuit breaker. It
// returns the body of a 2xx answer, or an error that is a retryableError
// when another attempt may succeed, along with any Retry-After header.
func (t *target) attempt(req *http.Request) (body []byte, retryAfter string, err error) {
	resp, err := t.client.Do(req)
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, "", ctxErr // stopping is not the target's failure
		}
		if rejected := credentialsRejected(err); rejected != nil {
			t.breaker.succeeded()
			return nil, "", withKind(kindCredentials, rejected)
		}
		t.breaker.failed(t.clock.Now())
		return nil, "", &retryableError{withKind(t.kind, fmt.Errorf("calling the %s: %w", t.name, err))}
	}
	defer resp.Body.Close() //nolint:errcheck // read-only body
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	switch {
	case err != nil:
		t.breaker.failed(t.clock.Now())
		return nil, "", &retryableError{withKind(t.kind, fmt.Errorf("reading the %s's answer: %w", t.name, err))}
	case len(body) > maxBody:
		t.breaker.succeeded()
		return nil, "", withKind(t.kind, fmt.Errorf("the %s's answer to %s %s is larger than %d bytes", t.name, req.Method, req.URL.Path, maxBody))
	}
	failure := &statusError{target: t.name, method: req.Method, path: req.URL.Path, status: resp.StatusCode, detail: describeBody(body)}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		t.breaker.succeeded()
		return body, "", nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		t.breaker.failed(t.clock.Now())
		return nil, resp.Header.Get("Retry-After"), &retryableError{withKind(t.kind, failure)}
	default:
		t.breaker.succeeded()
		return nil, "", withKind(t.kind, failure)
	}
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
func parseRetryAfter(value string, now time.Time) (time.Duration, bool) {
	if value == "" {
		return 0, false
	}
	if seconds, err := strconv.Atoi(value); err == nil && seconds >= 0 {
		return time.Duration(seconds) * time.Second, true
	}
	if at, err := http.ParseTime(value); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

// noRedirects stops the HTTP client following redirects: a redirect to
// another host would carry the bearer token there.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
