/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package governance

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// LedgerName is the ConfigMap, in each region namespace, that holds the
// region's agreement ledger: one key per approved agreement version, written
// only by the operator and append-only (a ValidatingAdmissionPolicy in the
// API server refuses anyone else, any change to an existing key, and its
// deletion while the namespace is not being deleted).
const LedgerName = "agreement-ledger"

// LedgerEntry is what the ledger records of an agreement version the moment
// every controller party's approval counted.
type LedgerEntry struct {
	// TermsHash is the version's status.termsHash (TermsHash of its terms).
	TermsHash string `json:"termsHash"`
	// RecordedAt is when the operator recorded the version as approved.
	RecordedAt time.Time `json:"recordedAt"`
	// Object is the name of the DataSharingAgreement that was approved.
	Object string `json:"object"`
	// Title is the agreement's title at approval, for the history of a
	// version whose object has since been deleted.
	Title string `json:"title,omitempty"`
	// EffectiveFrom is the version's terms.effectiveFrom: from then on it
	// supersedes every lower version for good, even once its object is
	// gone. Entries written before this field existed lack it; RecordedAt
	// stands in for it (earlier, so fail closed).
	EffectiveFrom *time.Time `json:"effectiveFrom,omitempty"`
}

// LedgerKey is the ledger's key for one agreement version: the agreement
// id, ".v" and the version (agreement ids are [A-Za-z0-9._-], so the key is
// a valid ConfigMap key).
func LedgerKey(agreementID string, version int32) string {
	return agreementID + ".v" + strconv.Itoa(int(version))
}

// ParseLedgerKey splits a ledger key into agreement id and version.
func ParseLedgerKey(key string) (agreementID string, version int32, ok bool) {
	i := strings.LastIndex(key, ".v")
	if i <= 0 {
		return "", 0, false
	}
	v, err := strconv.ParseInt(key[i+2:], 10, 32)
	if err != nil || v < 1 {
		return "", 0, false
	}
	return key[:i], int32(v), true
}

// EncodeLedgerEntry is the ledger value of an entry.
func EncodeLedgerEntry(e LedgerEntry) string {
	e.RecordedAt = e.RecordedAt.UTC().Truncate(time.Second)
	if e.EffectiveFrom != nil {
		from := e.EffectiveFrom.UTC().Truncate(time.Second)
		e.EffectiveFrom = &from
	}
	out, _ := json.Marshal(e) // strings and a time: cannot fail
	return string(out)
}

// DecodeLedgerEntry reads a ledger value. An entry that does not decode, or
// has no terms hash, is an error: the caller treats the version as
// recorded with unknown terms (fail closed), never as unrecorded.
func DecodeLedgerEntry(value string) (LedgerEntry, error) {
	var e LedgerEntry
	if err := json.Unmarshal([]byte(value), &e); err != nil {
		return e, fmt.Errorf("ledger entry does not decode: %w", err)
	}
	if e.TermsHash == "" {
		return e, fmt.Errorf("ledger entry has no termsHash")
	}
	return e, nil
}

// Successors reads a region's agreement ledger (the ConfigMap's data) into
// the highest approved version of each agreement and when it takes effect:
// the policy compiler ends every lower version there, whatever has since
// happened to that version's object. An entry that does not decode still
// counts, taking effect at once (fail closed: older terms never come back).
func Successors(ledger map[string]string) map[string]policy.Successor {
	return successors(ledger, "")
}

// SuccessorsOf is Successors for one agreement id: the entries of other
// agreements are not decoded, so an agreement's reconcile does not cost
// the region's whole ledger.
func SuccessorsOf(ledger map[string]string, agreementID string) map[string]policy.Successor {
	return successors(ledger, agreementID)
}

// successors reads the ledger's entries of only (every id when empty).
func successors(ledger map[string]string, only string) map[string]policy.Successor {
	out := map[string]policy.Successor{}
	for key, value := range ledger {
		id, version, ok := ParseLedgerKey(key)
		if !ok || only != "" && id != only || version <= out[id].Version {
			continue
		}
		s := policy.Successor{Version: version}
		if e, err := DecodeLedgerEntry(value); err == nil {
			s.From = e.RecordedAt
			if e.EffectiveFrom != nil {
				s.From = *e.EffectiveFrom
			}
		}
		out[id] = s
	}
	return out
}
