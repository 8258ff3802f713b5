/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package main

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// passThrough is the floor under the gateway in this rig: a proxy in the
// rig's process that makes the same two hops as the gateway (the caller to
// it, it to the record service and back) and does nothing else. It reads
// the record service's whole answer and writes it back unchanged, with no
// token, no decision, no audit. What it adds over the record service alone
// is what any gateway would add on this machine before doing any work of its
// own (-gateway passthrough). It is a measuring stick, never a product
// path: it enforces nothing.
type passThrough struct {
	upstream string
	client   *http.Client
	buffers  sync.Pool
}

// newPassThrough proxies to upstream (the record service's base URL) with
// connections kept as the gateway keeps its own to the record service.
func newPassThrough(upstream string) *passThrough {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 64, 64
	return &passThrough{
		upstream: upstream,
		client:   &http.Client{Transport: t, Timeout: 30 * time.Second},
		buffers:  sync.Pool{New: func() any { return new(bytes.Buffer) }},
	}
}

func (p *passThrough) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/metrics" || !strings.HasPrefix(r.URL.Path, "/") {
		http.NotFound(w, r)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, p.upstream+r.URL.RequestURI(), nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header.Set("Accept", r.Header.Get("Accept"))
	resp, err := p.client.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close() //nolint:errcheck // read-only body
	buf := p.buffers.Get().(*bytes.Buffer)
	defer p.buffers.Put(buf)
	buf.Reset()
	if _, err := io.Copy(buf, resp.Body); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(buf.Bytes())
}
