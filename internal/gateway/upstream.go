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

// upstream is the record service: a FHIR R4 server that trusts the network
// and holds every organisation's records.
type upstream struct {
	base    *url.URL
	client  *http.Client
	latency *prometheus.HistogramVec
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
}

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
	body, err := readBody(resp, maxUpstreamBody+1)
	u.latency.WithLabelValues(in.Kind.auditCode()).Observe(time.Since(start).Seconds())
	if err != nil {
		return upstreamResponse{}, fmt.Errorf("reading the record service's answer: %w", err)
	}
	if len(body) > maxUpstreamBody {
		return upstreamResponse{}, fmt.Errorf("the record service's answer is larger than %d bytes", maxUpstreamBody)
	}
	return upstreamResponse{
		status:       resp.StatusCode,
		body:         body,
		etag:         resp.Header.Get("ETag"),
		lastModified: resp.Header.Get("Last-Modified"),
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

// readBody reads at most limit bytes of a response's body, into one buffer
// of the announced length when there is one. No more than
// maxPresizedBody is set aside on the announcement alone; a longer body
// grows the buffer as it arrives.
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	size := bytes.MinRead
	if resp.ContentLength > 0 {
		size += int(min(resp.ContentLength, limit, maxPresizedBody))
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	_, err := buf.ReadFrom(io.LimitReader(resp.Body, limit))
	return buf.Bytes(), err
}
