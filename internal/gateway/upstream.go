/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// maxUpstreamBody bounds what the gateway reads from the record service.
const maxUpstreamBody = 64 << 20

// maxPresizedBody bounds the buffer set aside for a record service answer
// on its Content-Length alone: a search page of 100 large resources.
const maxPresizedBody = 1 << 20

// minBodyReservation is the least of the memory budget an answer without
// a Content-Length reserves; it reserves more as its buffer grows.
const minBodyReservation = 64 << 10

// upstream is the record service: a FHIR R4 server that trusts the network
// and holds every organisation's records.
type upstream struct {
	base    *url.URL
	client  *http.Client
	latency *prometheus.HistogramVec
	// budget bounds the bytes of answers held at once.
	budget *memoryBudget
}

// maxIdleUpstreamConns is how many idle connections to the record service
// are kept for reuse; the gateway talks to no other host.
const maxIdleUpstreamConns = 64

// upstreamClient calls the record service. It keeps connections for reuse
// and never follows a redirect, which could lead away from the record
// service.
func upstreamClient(timeout time.Duration) *http.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = maxIdleUpstreamConns
	transport.MaxIdleConnsPerHost = maxIdleUpstreamConns
	return &http.Client{
		Timeout:   timeout,
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// upstreamResponse is what the gateway keeps of a record service answer.
// No other header is passed on to the caller.
type upstreamResponse struct {
	status       int
	body         []byte
	etag         string
	lastModified string
	// memory is the share of the memory budget body holds; release it
	// once the answer to the caller is written.
	memory *reservation
}

// release gives the answer's memory back to the budget, and its buffer to
// the pool: nothing may refer to body afterwards. It may be called more
// than once.
func (r upstreamResponse) release() { r.memory.release() }

// url is where an interaction goes on the record service.
func (u *upstream) url(in Interaction) *url.URL {
	target := u.base.JoinPath(in.Path())
	if !in.Post {
		target.RawQuery = in.Query.Encode()
	}
	return target
}

// fetch sends an interaction to the record service. The caller's token and
// headers are not forwarded: the gateway is the record service's only
// client and answers for the caller itself.
func (u *upstream) fetch(ctx context.Context, in Interaction) (upstreamResponse, error) {
	req, err := u.request(ctx, in)
	if err != nil {
		return upstreamResponse{}, err
	}
	start := time.Now()
	resp, err := u.client.Do(req)
	if err != nil {
		return upstreamResponse{}, fmt.Errorf("calling the record service: %w", err)
	}
	defer resp.Body.Close() //nolint:errcheck // read-only body
	if resp.ContentLength > maxUpstreamBody {
		// Refused before a byte of it is read or any memory set aside.
		return upstreamResponse{}, fmt.Errorf("the record service announced an answer of %d bytes, more than %d", resp.ContentLength, maxUpstreamBody)
	}
	memory := u.budget.reservation()
	body, err := readBody(ctx, resp, maxUpstreamBody+1, memory)
	u.latency.WithLabelValues(in.Kind.auditCode()).Observe(time.Since(start).Seconds())
	if err == nil && len(body) > maxUpstreamBody {
		err = fmt.Errorf("the record service's answer is larger than %d bytes", maxUpstreamBody)
	}
	if err != nil {
		memory.release()
		return upstreamResponse{}, fmt.Errorf("reading the record service's answer: %w", err)
	}
	return upstreamResponse{
		status:       resp.StatusCode,
		body:         body,
		etag:         resp.Header.Get("ETag"),
		lastModified: resp.Header.Get("Last-Modified"),
		memory:       memory,
	}, nil
}

func (u *upstream) request(ctx context.Context, in Interaction) (*http.Request, error) {
	method, body := http.MethodGet, io.Reader(nil)
	if in.Post {
		method, body = http.MethodPost, strings.NewReader(in.Query.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u.url(in).String(), body)
	if err != nil {
		return nil, fmt.Errorf("building the record service request: %w", err)
	}
	req.Header.Set("Accept", ContentTypeFHIR)
	if in.Post {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return req, nil
}

// readBody reads at most limit bytes of a response's body. Before any
// buffer is allocated, its size is reserved from the memory budget: the
// announced length when there is one (so an answer waits, or is refused,
// before it is read), and more as a longer body grows the buffer. No more
// than maxPresizedBody is allocated on the announcement alone.
func readBody(ctx context.Context, resp *http.Response, limit int64, memory *reservation) ([]byte, error) {
	reserve := int64(minBodyReservation)
	if resp.ContentLength > 0 {
		reserve = min(resp.ContentLength+bytes.MinRead, limit)
	}
	if err := memory.grow(ctx, reserve); err != nil {
		return nil, err
	}
	size := bytes.MinRead
	if resp.ContentLength > 0 {
		size += int(min(resp.ContentLength, limit, maxPresizedBody))
	}
	// The buffer comes from a pool and goes back to it when the
	// reservation is released, once the answer to the caller is written.
	pooled := upstreamBodies.get(size)
	memory.keep(pooled)
	buf := *pooled
	body := io.LimitReader(resp.Body, limit)
	for {
		if len(buf) == cap(buf) {
			grown := min(2*int64(cap(buf)), limit+bytes.MinRead)
			if grown <= int64(cap(buf)) {
				return nil, fmt.Errorf("the answer is longer than %d bytes", limit)
			}
			if err := memory.grow(ctx, grown); err != nil {
				return nil, err
			}
			buf = append(make([]byte, 0, grown), buf...)
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		*pooled = buf
		switch {
		case err == io.EOF:
			return buf, nil
		case err != nil:
			return nil, err
		}
	}
}
