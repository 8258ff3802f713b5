/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// auditWriteMetric is the gateway's histogram of the time each answer
// waited for its audit events to be written.
const auditWriteMetric = "shcr_gateway_audit_write_duration_seconds"

// auditWrites is the gateway's audit write histogram at one moment, or the
// writes between two moments (since).
type auditWrites struct {
	count uint64
	sum   float64
	// bounds are the buckets' upper bounds in seconds, counts the writes
	// at or under each.
	bounds []float64
	counts []uint64
}

// readAuditWrites reads the histogram from the gateway's /metrics.
func readAuditWrites(ctx context.Context, client *http.Client, metricsURL string) (auditWrites, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return auditWrites{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return auditWrites{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return auditWrites{}, fmt.Errorf("GET %s: %s", metricsURL, resp.Status)
	}
	return parseAuditWrites(resp.Body)
}

// auditWrites is the gateway's audit write histogram now; none when
// there is no gateway (-gateway passthrough).
func (r *rig) auditWrites(ctx context.Context, client *http.Client) (auditWrites, error) {
	if r.metricsURL == "" {
		return auditWrites{}, nil
	}
	return readAuditWrites(ctx, client, r.metricsURL)
}

// parseAuditWrites reads the histogram from metrics in the text format.
func parseAuditWrites(metrics io.Reader) (auditWrites, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(metrics)
	if err != nil {
		return auditWrites{}, fmt.Errorf("reading the gateway's metrics: %w", err)
	}
	family, ok := families[auditWriteMetric]
	if !ok || family.GetType() != dto.MetricType_HISTOGRAM || len(family.GetMetric()) != 1 {
		return auditWrites{}, fmt.Errorf("the gateway's metrics have no histogram %s", auditWriteMetric)
	}
	h := family.GetMetric()[0].GetHistogram()
	a := auditWrites{count: h.GetSampleCount(), sum: h.GetSampleSum()}
	for _, b := range h.GetBucket() {
		a.bounds = append(a.bounds, b.GetUpperBound())
		a.counts = append(a.counts, b.GetCumulativeCount())
	}
	return a, nil
}

// since is the writes made after before.
func (a auditWrites) since(before auditWrites) auditWrites {
	d := auditWrites{count: a.count - before.count, sum: a.sum - before.sum, bounds: a.bounds}
	for i, c := range a.counts {
		if i < len(before.counts) {
			c -= before.counts[i]
		}
		d.counts = append(d.counts, c)
	}
	return d
}

// String is how many writes there were, their mean, and the share that
// took longer than each bucket's bound from about 0.25 ms up.
func (a auditWrites) String() string {
	if a.count == 0 {
		return "no audit writes"
	}
	mean := time.Duration(a.sum / float64(a.count) * float64(time.Second))
	var over []string
	for i, bound := range a.bounds {
		if bound < 250e-6 || bound > 0.01 {
			continue
		}
		longer := a.count - a.counts[i]
		over = append(over, fmt.Sprintf("over %s %.2f %%", us(time.Duration(bound*float64(time.Second))), 100*float64(longer)/float64(a.count)))
	}
	return fmt.Sprintf("%d, mean %s; %s", a.count, us(mean), strings.Join(over, ", "))
}
