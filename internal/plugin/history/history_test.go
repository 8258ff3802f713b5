/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package history_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/governance"
	"github.com/shcr-io/shcr-operator/internal/plugin/history"
	"github.com/shcr-io/shcr-operator/test/plugintest"
)

func TestMain(m *testing.M) { plugintest.Main(m) }

func TestHistoryChecksHashesAndShowsTheCategoryRemovedInVersion2(t *testing.T) {
	s := plugintest.SharedScenario(t)
	narrower := slices.DeleteFunc(slices.Clone(plugintest.AllButPreferences), func(c shcrv1alpha1.DataCategory) bool {
		return c == shcrv1alpha1.CategoryTestResults
	})
	plugintest.Create(t, s.Agreement("dsa-v2", 2, narrower, time.Now().Add(time.Hour), time.Now().AddDate(1, 0, 0)))
	s.Approve(t, "dsa-v2")
	plugintest.WaitPhase(t, s.Namespace, "dsa-v2", shcrv1alpha1.PhasePending)

	var h history.History
	if err := json.Unmarshal([]byte(plugintest.MustRun(t, history.NewCommand, s.AgreementID, "--region", s.Region, "-o", "json")), &h); err != nil {
		t.Fatal(err)
	}
	if len(h.Versions) != 2 {
		t.Fatalf("%d versions, want 2", len(h.Versions))
	}
	for i, want := range []struct {
		phase      shcrv1alpha1.AgreementPhase
		supersedes bool
	}{{shcrv1alpha1.PhaseActive, false}, {shcrv1alpha1.PhasePending, true}} {
		v := h.Versions[i]
		if v.Version != int32(i+1) || v.Phase != string(want.phase) || (v.Supersedes != nil) != want.supersedes {
			t.Errorf("version %d: phase %s supersedes %v, want version %d %s", v.Version, v.Phase, v.Supersedes, i+1, want.phase)
		}
		if v.TermsHashCheck != history.HashMatches || v.ComputedTermsHash != v.TermsHash {
			t.Errorf("version %d: computed %s, status %s, check %q: want them to match", v.Version, v.ComputedTermsHash, v.TermsHash, v.TermsHashCheck)
		}
		if len(v.Approvals) != 3 {
			t.Errorf("version %d: %d approvals, want 3", v.Version, len(v.Approvals))
		}
	}
	if h.Versions[0].ActiveSince == nil || h.Versions[1].ActiveSince != nil {
		t.Errorf("active since %v and %v: want only v1 active", h.Versions[0].ActiveSince, h.Versions[1].ActiveSince)
	}
	if len(h.Amendments) != 1 || !slices.Contains(h.Amendments[0].Changes, history.Change{Field: "dataCategories", From: "TestResults"}) {
		t.Errorf("amendments %+v, want v1 → v2 to remove TestResults", h.Amendments)
	}

	table := plugintest.MustRun(t, history.NewCommand, s.AgreementID, "-n", s.Namespace)
	for _, want := range []string{"Changes v1 → v2", "dataCategories: removed TestResults", "effectiveFrom: ", "matches status",
		"recorded by", plugintest.Signer(s.GP)} {
		if !strings.Contains(strings.ToLower(table), strings.ToLower(want)) {
			t.Errorf("the history does not show %q:\n%s", want, table)
		}
	}
}

func TestHistoryOfAnUnknownAgreementSaysHowToListThem(t *testing.T) {
	s := plugintest.SharedScenario(t)
	_, err := plugintest.Run(history.NewCommand, "NO-SUCH-DSA", "--region", s.Region)
	if err == nil || !strings.Contains(err.Error(), `has agreementId "NO-SUCH-DSA"`) || !strings.Contains(err.Error(), "kubectl shcr agreements") {
		t.Errorf("error %v, want one naming the agreement and the agreements verb", err)
	}
}

// A version only the agreement ledger still records (its object deleted)
// is listed, marked as deleted, with the hash and time the ledger holds.
func TestHistoryListsDeletedVersionsFromTheLedger(t *testing.T) {
	s := plugintest.SharedScenario(t)
	c := plugintest.Client() // the operator's identity: the only ledger writer
	ledger := &corev1.ConfigMap{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: s.Namespace, Name: governance.LedgerName}, ledger); err != nil {
		t.Fatal(err)
	}
	recorded := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	ledger.Data[governance.LedgerKey("GONE-001", 3)] = governance.EncodeLedgerEntry(governance.LedgerEntry{
		TermsHash: "sha256:" + strings.Repeat("ab", 32), RecordedAt: recorded, Object: "gone-v3", Title: "A deleted agreement"})
	if err := c.Update(context.Background(), ledger); err != nil {
		t.Fatal(err)
	}
	var h history.History
	if err := json.Unmarshal([]byte(plugintest.MustRun(t, history.NewCommand, "GONE-001", "--region", s.Region, "-o", "json")), &h); err != nil {
		t.Fatal(err)
	}
	if len(h.Versions) != 1 || !h.Versions[0].Deleted || h.Versions[0].Version != 3 || h.Versions[0].Name != "gone-v3" ||
		h.Versions[0].Ledger == nil || !h.Versions[0].Ledger.RecordedAt.Equal(recorded) {
		t.Fatalf("versions %+v, want v3 deleted, from the ledger", h.Versions)
	}
	table := plugintest.MustRun(t, history.NewCommand, "GONE-001", "-n", s.Namespace)
	for _, want := range []string{"Deleted (ledger only)", "gone-v3", "approved 2026-03-01"} {
		if !strings.Contains(table, want) {
			t.Errorf("the history does not show %q:\n%s", want, table)
		}
	}
	// The live versions are checked against the ledger too.
	table = plugintest.MustRun(t, history.NewCommand, s.AgreementID, "-n", s.Namespace)
	if !strings.Contains(table, history.LedgerMatches) {
		t.Errorf("the history does not check v1 against the ledger:\n%s", table)
	}
}
