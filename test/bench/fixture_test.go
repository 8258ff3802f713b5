/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package bench

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// regionSizes are the numbers of organisations of the regions compared.
var regionSizes = []int{100, 1000, 5000}

// region is one generated region, compiled, indexed for Decide and loaded
// into OPA.
type region struct {
	orgs    int
	bundle  policy.Bundle
	decider *policy.Decider
	opa     *OPA
}

var (
	regionsMu sync.Mutex
	regions   = map[int]*region{}
)

// loadRegion builds the region of orgs organisations once per process, so
// that tests, benchmarks and -count repeats share it.
func loadRegion(tb testing.TB, orgs int) *region {
	tb.Helper()
	regionsMu.Lock()
	defer regionsMu.Unlock()
	if r, ok := regions[orgs]; ok {
		return r
	}
	bundle := policy.Compile(GenerateInput(NewRand(7, 11), orgs))
	o, err := NewOPA(context.Background(), bundle)
	if err != nil {
		tb.Fatal(err)
	}
	r := &region{orgs: orgs, bundle: bundle, decider: policy.NewDecider(bundle), opa: o}
	regions[orgs] = r
	return r
}

// inputs are requests at now as OPA input.
func inputs(requests []policy.Request, now time.Time) []ast.Value {
	out := make([]ast.Value, len(requests))
	for i, req := range requests {
		out[i] = Input(req, now)
	}
	return out
}
