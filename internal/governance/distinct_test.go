/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package governance

import (
	"math/rand/v2"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// The oldest object holds a version (then the first by name); every later
// copy, in any order of listing, is a duplicate naming it.
func TestDistinct(t *testing.T) {
	t0 := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	dsa := func(name string, version int32, created time.Time) shcrv1alpha1.DataSharingAgreement {
		return shcrv1alpha1.DataSharingAgreement{
			ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(created)},
			Spec:       shcrv1alpha1.DataSharingAgreementSpec{AgreementID: "A", Version: version},
		}
	}
	items := []shcrv1alpha1.DataSharingAgreement{
		dsa("v2-copy", 2, t0.Add(time.Hour)), dsa("v1", 1, t0), dsa("v2", 2, t0.Add(time.Minute)),
		dsa("b-same-time", 2, t0.Add(time.Hour)), dsa("a-same-time", 2, t0.Add(time.Hour)),
	}
	for i := range items {
		rotated := append(append([]shcrv1alpha1.DataSharingAgreement{}, items[i:]...), items[:i]...)
		kept, dups := Distinct(rotated)
		if len(kept) != 2 || len(dups) != 3 || dups["v2-copy"] != "v2" || dups["a-same-time"] != "v2" || dups["b-same-time"] != "v2" {
			t.Errorf("rotation %d: kept %d, duplicates %v", i, len(kept), dups)
		}
	}
	// Equal creation times: the first by name holds the version.
	_, dups := Distinct([]shcrv1alpha1.DataSharingAgreement{dsa("b", 2, t0), dsa("a", 2, t0)})
	if dups["b"] != "a" {
		t.Errorf("equal times: %v", dups)
	}
}

// The ledger's highest version of each agreement supersedes from its
// effectiveFrom (recordedAt for an entry without one); an entry that does
// not decode still counts, from the beginning of time.
func TestSuccessors(t *testing.T) {
	t0 := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	from := t0.AddDate(0, 6, 0)
	got := Successors(map[string]string{
		LedgerKey("A", 1):  EncodeLedgerEntry(LedgerEntry{TermsHash: "sha256:1", RecordedAt: t0}),
		LedgerKey("A", 3):  EncodeLedgerEntry(LedgerEntry{TermsHash: "sha256:3", RecordedAt: t0, EffectiveFrom: &from}),
		LedgerKey("A", 2):  EncodeLedgerEntry(LedgerEntry{TermsHash: "sha256:2", RecordedAt: t0}),
		LedgerKey("B", 2):  EncodeLedgerEntry(LedgerEntry{TermsHash: "sha256:2", RecordedAt: t0}),
		LedgerKey("C", 4):  "not json",
		"not-a-ledger-key": "{}",
	})
	if len(got) != 3 || got["A"].Version != 3 || !got["A"].From.Equal(from) || got["B"].Version != 2 || !got["B"].From.Equal(t0) ||
		got["C"].Version != 4 || !got["C"].From.IsZero() {
		t.Errorf("successors %+v", got)
	}
}

// One agreement's successor read from the ledger alone (SuccessorsOf) is
// the one the whole ledger gives, for ids that prefix one another, ids
// with ".v" in them, entries that do not decode and ids with no entry.
func TestSuccessorsOfOneAgreementAreTheWholeLedgers(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ids := []string{"A", "AB", "A.v1", "B-2026", "C", "none"}
	t0 := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	for range 500 {
		ledger := map[string]string{}
		for range rng.IntN(20) {
			id, v := ids[rng.IntN(len(ids)-1)], int32(1+rng.IntN(5))
			from := t0.AddDate(0, rng.IntN(12), 0)
			value := EncodeLedgerEntry(LedgerEntry{TermsHash: "sha256:x", RecordedAt: t0, EffectiveFrom: &from})
			if rng.IntN(8) == 0 {
				value = "not json"
			}
			ledger[LedgerKey(id, v)] = value
		}
		whole := Successors(ledger)
		for _, id := range ids {
			one := SuccessorsOf(ledger, id)
			if one[id] != whole[id] || len(one) > 1 {
				t.Fatalf("ledger %v, id %s: alone %+v, from the whole ledger %+v", ledger, id, one, whole[id])
			}
		}
	}
}
