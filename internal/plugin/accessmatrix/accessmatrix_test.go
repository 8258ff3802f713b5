/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package accessmatrix_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shcr-io/shcr-operator/internal/plugin/accessmatrix"
	"github.com/shcr-io/shcr-operator/internal/plugin/cli"
	"github.com/shcr-io/shcr-operator/test/plugintest"
)

func TestMain(m *testing.M) { plugintest.Main(m) }

func matrix(t *testing.T, args ...string) accessmatrix.Matrix {
	t.Helper()
	var m accessmatrix.Matrix
	if err := json.Unmarshal([]byte(plugintest.MustRun(t, accessmatrix.NewCommand, append(args, "-o", "json")...)), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func cell(t *testing.T, m accessmatrix.Matrix, org, role, category string) accessmatrix.Cell {
	t.Helper()
	i := slices.IndexFunc(m.Cells, func(c accessmatrix.Cell) bool {
		return c.Organisation == org && c.Role == role && c.Category == category
	})
	if i < 0 {
		t.Fatalf("no cell for %s %s %s", org, role, category)
	}
	return m.Cells[i]
}

func TestMatrixShowsWhoMayReadWhatUnderWhichAgreementAndPolicy(t *testing.T) {
	s := plugintest.SharedScenario(t)
	m := matrix(t, "--region", s.Region)
	everyone := []string{s.Council, s.GP, s.Trust}
	slices.Sort(everyone)

	meds := cell(t, m, s.Trust, "R8000", "Medications")
	if !meds.Allowed || len(meds.Grants) != 1 {
		t.Fatalf("the trust's clinicians must read Medications under one grant: %+v", meds)
	}
	g := meds.Grants[0]
	if g.Agreement != s.AgreementID || g.AgreementVersion != 1 || g.Policy != s.Namespace+"/"+s.Clinicians || !slices.Equal(g.Sources, everyone) {
		t.Errorf("Medications allowed under %+v, want %s v1, policy %s/%s, from %v", g, s.AgreementID, s.Namespace, s.Clinicians, everyone)
	}
	if g.ValidFrom.IsZero() || !g.ValidUntil.After(time.Now()) {
		t.Errorf("the grant's window %s is not the agreement's", cli.FormatWindow(g.ValidFrom, g.ValidUntil))
	}
	for _, tc := range []struct {
		org, role, category string
		allowed             bool
		reason              string
	}{
		{s.Trust, "R8000", "Preferences", false, "category Preferences not granted"},
		{s.Trust, "R8003", "Medications", false, "role R8003 is not granted"},
		{s.Council, "R8003", "CarePlans", true, ""},
		{s.Council, "R8003", "TestResults", false, "category TestResults not granted"},
		{s.GP, "R8000", "TestResults", true, ""},
	} {
		c := cell(t, m, tc.org, tc.role, tc.category)
		if c.Allowed != tc.allowed || c.Reason != tc.reason {
			t.Errorf("%s %s %s: allowed=%v reason %q, want %v %q", tc.org, tc.role, tc.category, c.Allowed, c.Reason, tc.allowed, tc.reason)
		}
	}
	if want := 3 * 2 * 11; len(m.Cells) != want {
		t.Errorf("%d cells, want %d: three organisations, two roles, eleven categories", len(m.Cells), want)
	}

	table := plugintest.MustRun(t, accessmatrix.NewCommand, "-n", s.Namespace)
	if !hasRow(table, s.Trust, "R8000", "Medications", "allow", s.AgreementID, "v1", s.Namespace+"/"+s.Clinicians, strings.Join(everyone, ",")) ||
		!hasRow(table, s.Trust, "R8000", "Preferences", "deny", "-", "-", "-", "-", "category", "Preferences", "not", "granted") {
		t.Errorf("the table lacks the trust's clinicians' Medications and Preferences rows:\n%s", table)
	}
}

// hasRow reports whether a line of the table starts with the fields.
func hasRow(table string, fields ...string) bool {
	for line := range strings.Lines(table) {
		if got := strings.Fields(line); len(got) >= len(fields) && slices.Equal(got[:len(fields)], fields) {
			return true
		}
	}
	return false
}

func TestMatrixForOneSourceAndAtAnotherTime(t *testing.T) {
	s := plugintest.SharedScenario(t)
	fromGP := cell(t, matrix(t, "--region", s.Region, "--source", s.GP), s.Trust, "R8000", "Medications")
	if !fromGP.Allowed || !slices.Equal(fromGP.Grants[0].Sources, []string{s.GP}) {
		t.Errorf("--source %s: %+v, want Medications from the GP only", s.GP, fromGP)
	}
	before := time.Now().Add(-2 * time.Hour).UTC().Format(time.RFC3339)
	early := cell(t, matrix(t, "--region", s.Region, "--at", before), s.Trust, "R8000", "Medications")
	if early.Allowed || !strings.Contains(early.Reason, "is not in force at "+before) {
		t.Errorf("--at %s, before the agreement takes effect: %+v, want a denial saying it is not in force", before, early)
	}
}
