/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Status is the connector's report to the operator, served as JSON at
// /status. docs/connector.md is its contract.
type Status struct {
	// ODSCode is the organisation of the configuration last read.
	ODSCode string `json:"odsCode,omitempty"`
	// Ready is what /readyz answers: a valid configuration was read and
	// every circuit is closed.
	Ready bool `json:"ready"`
	// Categories are the categories forwarded, from the configuration last
	// read.
	Categories []string `json:"categories"`
	// LastSuccessfulSync is when the last cycle in which every feed
	// succeeded ended; null before the first.
	LastSuccessfulSync *time.Time `json:"lastSuccessfulSync"`
	// LagSeconds is now minus the oldest position of the permitted feeds;
	// null while a feed has none.
	LagSeconds *float64 `json:"lagSeconds"`
	// Forwarded and Dropped count resources since the process started.
	Forwarded int64 `json:"forwarded"`
	Dropped   int64 `json:"dropped"`
	// Circuit is "open" while any circuit is open, "half-open" while one
	// waits for its trial call, else "closed"; Circuits gives each.
	Circuit  string            `json:"circuit"`
	Circuits map[string]string `json:"circuits"`
	// LastError is why the last cycle failed; empty after a success.
	LastError string `json:"lastError,omitempty"`
}

// Status reports the connector's state now.
func (c *Connector) Status() Status {
	now := c.clock.Now()
	s := Status{
		Categories: []string{},
		Forwarded:  c.forwarded.Load(),
		Dropped:    c.dropped.Load(),
		Circuit:    CircuitClosed,
		Circuits:   map[string]string{},
	}
	for target, b := range c.breakers {
		state := b.state(now)
		s.Circuits[target] = state
		if circuitRank(state) > circuitRank(s.Circuit) {
			s.Circuit = state
		}
	}
	if lag, ok := c.lag(now); ok {
		s.LagSeconds = &lag
	}
	c.mu.Lock()
	if c.cfg != nil {
		s.ODSCode, s.Categories = c.cfg.ODSCode, c.cfg.KnownCategories()
	}
	if !c.lastSuccess.IsZero() {
		at := c.lastSuccess.UTC()
		s.LastSuccessfulSync = &at
	}
	s.LastError = c.lastError
	c.mu.Unlock()
	s.Ready = c.notReady() == ""
	return s
}

func circuitRank(state string) int {
	switch state {
	case CircuitOpen:
		return 2
	case CircuitHalfOpen:
		return 1
	default:
		return 0
	}
}

// notReady says why the connector is not ready; empty when it is.
func (c *Connector) notReady() string {
	now := c.clock.Now()
	var reasons []string
	c.mu.Lock()
	if c.cfgErr != nil {
		reasons = append(reasons, "no valid configuration: "+c.cfgErr.Error())
	}
	c.mu.Unlock()
	for _, target := range []string{kindSource, kindRecordService} {
		if state := c.breakers[target].state(now); state != CircuitClosed {
			reasons = append(reasons, fmt.Sprintf("the %s circuit is %s", targetNames[target], state))
		}
	}
	return strings.Join(reasons, "; ")
}

// Handler serves /healthz, /readyz, /metrics and /status.
func (c *Connector) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if reason := c.notReady(); reason != "" {
			http.Error(w, "not ready: "+reason, http.StatusServiceUnavailable)
			return
		}
		_, _ = fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(c.metrics.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		_ = enc.Encode(c.Status())
	})
	return mux
}
