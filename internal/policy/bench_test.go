/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package policy

import (
	"math/rand/v2"
	"testing"
)

// A large region: 5,000 organisations, 1,000 agreements of about six
// parties with one or two versions each, and 2,000 access policies.
const (
	benchOrganisations = 5000
	benchAgreements    = 1000
	benchPolicies      = 2000
)

func benchInput() Input {
	return generateInput(rand.New(rand.NewPCG(7, 11)), benchOrganisations, benchAgreements, benchPolicies)
}

func BenchmarkCompile(b *testing.B) {
	in := benchInput()
	var size int
	for b.Loop() {
		data, err := Compile(in).Encode()
		if err != nil {
			b.Fatal(err)
		}
		size = len(data)
	}
	b.ReportMetric(float64(size), "bundle-bytes")
	b.ReportMetric(float64(len(Compile(in).Grants)), "grants")
}

// BenchmarkDecide decides requests drawn from the bundle's own grants, so
// that most match a consumer and some are allowed, at a time when about
// half the grants are in force.
func BenchmarkDecide(b *testing.B) {
	bundle := Compile(benchInput())
	requests := benchRequests(rand.New(rand.NewPCG(13, 17)), bundle, 1024)
	now := jan2027
	allowed := 0
	i := 0
	for b.Loop() {
		if Decide(bundle, requests[i%len(requests)], now).Allow {
			allowed++
		}
		i++
	}
	b.ReportMetric(float64(allowed)/float64(i), "allowed/op")
}

// BenchmarkDecider is BenchmarkDecide with the bundle indexed.
func BenchmarkDecider(b *testing.B) {
	bundle := Compile(benchInput())
	decider := NewDecider(bundle)
	requests := benchRequests(rand.New(rand.NewPCG(13, 17)), bundle, 1024)
	now := jan2027
	i := 0
	for b.Loop() {
		decider.Decide(requests[i%len(requests)], now)
		i++
	}
}

func benchRequests(rng *rand.Rand, bundle Bundle, n int) []Request {
	requests := make([]Request, n)
	for i := range requests {
		g := bundle.Grants[rng.IntN(len(bundle.Grants))]
		requests[i] = Request{
			CallerODS:              g.Consumers[rng.IntN(len(g.Consumers))],
			SourceODS:              g.Providers[rng.IntN(len(g.Providers))],
			Role:                   pick(rng, []string{"R8000", "R8001", "R8003"}, 1)[0],
			PurposeOfUse:           PurposeTreat,
			LegitimateRelationship: rng.IntN(4) > 0,
			Action:                 pick(rng, []string{ActionRead, ActionSearch}, 1)[0],
			Category:               pick(rng, Categories, 1)[0],
		}
		if rng.IntN(10) == 0 {
			requests[i].SecurityLabels = []string{"R"}
		}
	}
	return requests
}

// BenchmarkStore measures storing the 5,000-organisation bundle in the form
// a ConfigMap holds (gzip above CompressAbove), and reports the stored size.
func BenchmarkStore(b *testing.B) {
	encoded, err := Compile(benchInput()).Encode()
	if err != nil {
		b.Fatal(err)
	}
	var stored Stored
	for b.Loop() {
		if stored, err = Store(encoded); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(encoded)), "encoded-bytes")
	b.ReportMetric(float64(len(stored.Data)), "stored-bytes")
}
