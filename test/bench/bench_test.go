/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package bench

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

// benchRequests is how many pre-generated requests each benchmark cycles
// through.
const benchRequests = 1024

// BenchmarkDecision decides the same pre-generated mix of requests, at
// the same time (January 2027, when about half the grants are in force),
// for regions of 100, 1,000 and 5,000 organisations, with:
//
//   - Decide: policy.NewDecider(bundle).Decide, the gateway's decider
//     (grants indexed by consumer; it also builds the reasons and names the
//     grant);
//   - OPA: the prepared Rego query data.shcr.authz.allow over the same
//     bundle as data (grants indexed by consumer), on input already
//     converted to an AST value, so only evaluation is timed;
//   - OPA+input: the same, converting each policy.Request to OPA input
//     inside the timed loop, as a gateway using OPA would have to.
//
// The OPA benchmarks report OPA/Decide: their ns/op over the median ns/op
// of Decide's runs for the same region in the same go test run (when Decide
// ran; with -count=N each sub-benchmark runs N times in a row).
func BenchmarkDecision(b *testing.B) {
	ctx := context.Background()
	for _, orgs := range regionSizes {
		b.Run(fmt.Sprintf("orgs=%d", orgs), func(b *testing.B) {
			r := loadRegion(b, orgs)
			requests := GenerateRequests(NewRand(13, 17), r.bundle, orgs, benchRequests, Jan2027)
			parsed := inputs(requests, Jan2027)
			var decideRuns []float64
			b.Run("Decide", func(b *testing.B) {
				b.ReportAllocs()
				n, allowed := 0, 0
				for b.Loop() {
					if r.decider.Decide(requests[n%benchRequests], Jan2027).Allow {
						allowed++
					}
					n++
				}
				decideRuns = append(decideRuns, float64(b.Elapsed().Nanoseconds())/float64(n))
				b.ReportMetric(float64(allowed)/float64(n), "allowed/op")
				b.ReportMetric(float64(len(r.bundle.Grants)), "grants")
			})
			opa := func(b *testing.B, convert bool) {
				b.ReportAllocs()
				n, allowed := 0, 0
				for b.Loop() {
					input := parsed[n%benchRequests]
					if convert {
						input = Input(requests[n%benchRequests], Jan2027)
					}
					allow, err := r.opa.Allow(ctx, input)
					if err != nil {
						b.Fatal(err)
					}
					if allow {
						allowed++
					}
					n++
				}
				b.ReportMetric(float64(allowed)/float64(n), "allowed/op")
				if len(decideRuns) > 0 {
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n)/median(decideRuns), "OPA/Decide")
				}
			}
			b.Run("OPA", func(b *testing.B) { opa(b, false) })
			b.Run("OPA+input", func(b *testing.B) { opa(b, true) })
		})
	}
}

func median(values []float64) float64 {
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	return sorted[len(sorted)/2]
}
