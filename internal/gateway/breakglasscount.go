/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"encoding/json"
	"maps"
	"net/http"
	"sync"

	"github.com/google/uuid"
)

// BreakGlassCountPath is where the gateway serves its BreakGlassCount.
const BreakGlassCountPath = "/v1/break-glass-count"

// BreakGlassCount is the answer of GET /v1/break-glass-count: how many
// accesses this gateway process has allowed only through a break-glass
// emergency override since it started, by the ODS code of the organisation
// the user acted for. It names no user, patient or reason (those are in the
// audit trail); the operator reads it to raise a BreakGlassUsed Event on
// the region.
type BreakGlassCount struct {
	// Instance is a random identifier of this gateway process. Counts of
	// one instance only grow; a new instance starts from zero.
	Instance string `json:"instance"`
	// Organisations maps an ODS code to its break-glass accesses.
	Organisations map[string]uint64 `json:"organisations"`
}

// breakGlassTally counts break-glass accesses per organisation, as
// shcr_gateway_break_glass_total does, for BreakGlassCountPath.
type breakGlassTally struct {
	instance string
	mu       sync.Mutex
	counts   map[string]uint64
}

func newBreakGlassTally() *breakGlassTally {
	return &breakGlassTally{instance: uuid.NewString(), counts: map[string]uint64{}}
}

// add counts one break-glass access by organisation.
func (b *breakGlassTally) add(organisation string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.counts[organisation]++
}

// snapshot is the count now.
func (b *breakGlassTally) snapshot() BreakGlassCount {
	b.mu.Lock()
	defer b.mu.Unlock()
	return BreakGlassCount{Instance: b.instance, Organisations: maps.Clone(b.counts)}
}

// serveBreakGlassCount answers GET /v1/break-glass-count.
func (g *Gateway) serveBreakGlassCount(w http.ResponseWriter, _ *http.Request) {
	body, err := json.Marshal(g.breakGlass.snapshot())
	if err != nil {
		writeOutcome(w, http.StatusInternalServerError, issueException, "the break-glass count could not be encoded")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}
