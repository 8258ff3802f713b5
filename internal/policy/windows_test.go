/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package policy

import (
	"testing"
	"time"
)

func TestWindows(t *testing.T) {
	v1, v2 := agreementV1(), agreementV2()
	v1Key, v2Key := AgreementKey{"dsa-1", 1}, AgreementKey{"dsa-1", 2}
	lateV2 := agreementV2()
	lateV2.EffectiveFrom = jan2027.Add(time.Hour)
	lateV2.EndsOn = jan2027.AddDate(1, 0, 0)
	v3 := agreementV1()
	v3.Version, v3.EffectiveFrom = 3, jan2026.AddDate(0, 3, 0)
	atEnd := agreementV2()
	atEnd.EffectiveFrom, atEnd.EndsOn = jan2027, jan2027.AddDate(1, 0, 0)
	other := agreementV1()
	other.ID = "dsa-2"
	other.EffectiveFrom = jul2026

	for _, tc := range []struct {
		name       string
		agreements []Agreement
		want       map[AgreementKey]Window
	}{
		{"one version", []Agreement{v1}, map[AgreementKey]Window{v1Key: {From: jan2026, Until: jan2027}}},
		{"v2 supersedes v1 when it takes effect", []Agreement{v2, v1}, map[AgreementKey]Window{
			v1Key: {From: jan2026, Until: jul2026, SupersededBy: 2},
			v2Key: {From: jul2026, Until: jan2027},
		}},
		{"v2 after v1 has ended", []Agreement{v1, lateV2}, map[AgreementKey]Window{
			v1Key: {From: jan2026, Until: jan2027},
			v2Key: {From: lateV2.EffectiveFrom, Until: lateV2.EndsOn},
		}},
		{"v2 starting exactly at v1's end supersedes", []Agreement{v1, atEnd}, map[AgreementKey]Window{
			v1Key: {From: jan2026, Until: jan2027, SupersededBy: 2},
			v2Key: {From: jan2027, Until: atEnd.EndsOn},
		}},
		{"v3 starting before v2 supersedes both", []Agreement{v1, v2, v3}, map[AgreementKey]Window{
			v1Key:        {From: jan2026, Until: v3.EffectiveFrom, SupersededBy: 3},
			v2Key:        {From: jul2026, Until: v3.EffectiveFrom, SupersededBy: 3},
			{"dsa-1", 3}: {From: v3.EffectiveFrom, Until: jan2027},
		}},
		{"different agreements do not supersede each other", []Agreement{v1, other}, map[AgreementKey]Window{
			v1Key:        {From: jan2026, Until: jan2027},
			{"dsa-2", 1}: {From: jul2026, Until: jan2027},
		}},
		{"unapproved v2", []Agreement{v1, with(v2, func(a *Agreement) { a.Approved = false })}, map[AgreementKey]Window{
			v1Key: {From: jan2026, Until: jan2027}, v2Key: {},
		}},
		{"suspended v2", []Agreement{v1, with(v2, func(a *Agreement) { a.Suspended = true })}, map[AgreementKey]Window{
			v1Key: {From: jan2026, Until: jan2027}, v2Key: {},
		}},
		{"v2 for another purpose", []Agreement{v1, with(v2, func(a *Agreement) { a.Purpose = "Other" })}, map[AgreementKey]Window{
			v1Key: {From: jan2026, Until: jan2027}, v2Key: {},
		}},
		{"cross-region v2 not confirmed", []Agreement{v1, with(v2, crossRegion(false))}, map[AgreementKey]Window{
			v1Key: {From: jan2026, Until: jan2027}, v2Key: {},
		}},
		{"cross-region v2 confirmed", []Agreement{v1, with(v2, crossRegion(true))}, map[AgreementKey]Window{
			v1Key: {From: jan2026, Until: jul2026, SupersededBy: 2}, v2Key: {From: jul2026, Until: jan2027},
		}},
		// An ambiguous v2 grants nothing, and never brings v1 back.
		{"version listed twice", []Agreement{v1, v2, v2}, map[AgreementKey]Window{
			v1Key: {From: jan2026, Until: jul2026, SupersededBy: 2}, v2Key: {},
		}},
		{"version listed twice, one copy a draft", []Agreement{v1, v2, with(v2, func(a *Agreement) { a.Approved = false })}, map[AgreementKey]Window{
			v1Key: {From: jan2026, Until: jul2026, SupersededBy: 2}, v2Key: {},
		}},
		{"times in UTC", []Agreement{with(v1, func(a *Agreement) { a.EndsOn = jan2027.In(time.FixedZone("BST", 3600)) })},
			map[AgreementKey]Window{v1Key: {From: jan2026, Until: jan2027}}},
	} {
		got := Windows(tc.agreements, nil)
		if len(got) != len(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
		for key, want := range tc.want {
			if w := got[key]; !w.From.Equal(want.From) || !w.Until.Equal(want.Until) || w.SupersededBy != want.SupersededBy ||
				w.From.Location() != time.UTC || w.Until.Location() != time.UTC {
				t.Errorf("%s: %v is %+v, want %+v", tc.name, key, w, want)
			}
		}
	}
}

// The highest approved version (from the agreement ledger) ends every lower
// version at its start whatever happens to it: deleted (not listed),
// suspended, a draft copy, for another purpose, or expired. Sharing under
// the agreement stops; it never falls back to v1.
func TestWindowsWithSuccessor(t *testing.T) {
	v1, v2 := agreementV1(), agreementV2()
	v1Key, v2Key := AgreementKey{"dsa-1", 1}, AgreementKey{"dsa-1", 2}
	successor := map[string]Successor{"dsa-1": {Version: 2, From: jul2026}}
	supersededV1 := Window{From: jan2026, Until: jul2026, SupersededBy: 2}
	expired := with(v2, func(a *Agreement) { a.EndsOn = jul2026.AddDate(0, 1, 0) })
	for _, tc := range []struct {
		name       string
		agreements []Agreement
		want       map[AgreementKey]Window
	}{
		{"v2 deleted", []Agreement{v1}, map[AgreementKey]Window{v1Key: supersededV1}},
		{"v2 suspended", []Agreement{v1, with(v2, func(a *Agreement) { a.Suspended = true })}, map[AgreementKey]Window{v1Key: supersededV1, v2Key: {}}},
		{"v2 an unapproved copy", []Agreement{v1, with(v2, func(a *Agreement) { a.Approved = false })}, map[AgreementKey]Window{v1Key: supersededV1, v2Key: {}}},
		{"v2 for another purpose", []Agreement{v1, with(v2, func(a *Agreement) { a.Purpose = "Other" })}, map[AgreementKey]Window{v1Key: supersededV1, v2Key: {}}},
		{"v2 expired", []Agreement{v1, expired}, map[AgreementKey]Window{v1Key: supersededV1, v2Key: {From: jul2026, Until: expired.EndsOn}}},
		{"v2 listed twice", []Agreement{v1, v2, v2}, map[AgreementKey]Window{v1Key: supersededV1, v2Key: {}}},
		{"v2 in force", []Agreement{v2, v1}, map[AgreementKey]Window{v1Key: supersededV1, v2Key: {From: jul2026, Until: jan2027}}},
		{"v1 alone, no successor of its own id", []Agreement{with(v1, func(a *Agreement) { a.ID = "dsa-9" })},
			map[AgreementKey]Window{{"dsa-9", 1}: {From: jan2026, Until: jan2027}}},
	} {
		got := Windows(tc.agreements, successor)
		if len(got) != len(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
		for key, want := range tc.want {
			if w := got[key]; !w.From.Equal(want.From) || !w.Until.Equal(want.Until) || w.SupersededBy != want.SupersededBy {
				t.Errorf("%s: %v is %+v, want %+v", tc.name, key, w, want)
			}
		}
	}
	// A successor that is not higher than any listed version changes nothing.
	if w := Windows([]Agreement{v2}, map[string]Successor{"dsa-1": {Version: 2, From: jan2026}})[v2Key]; !w.From.Equal(jul2026) || !w.Until.Equal(jan2027) {
		t.Errorf("v2 with itself as successor: %+v", w)
	}
}

func with(a Agreement, change func(*Agreement)) Agreement {
	change(&a)
	return a
}

func crossRegion(confirmed bool) func(*Agreement) {
	return func(a *Agreement) { a.CrossRegion, a.PeerRegion, a.PeerConfirmed = true, "wessex", confirmed }
}

func TestWindowContains(t *testing.T) {
	w := Window{From: jan2026, Until: jan2027}
	for at, want := range map[time.Time]bool{
		jan2026.Add(-time.Nanosecond): false,
		jan2026:                       true,
		jan2027.Add(-time.Nanosecond): true,
		jan2027:                       false,
	} {
		if w.Contains(at) != want {
			t.Errorf("Contains(%s) = %v, want %v", at, !want, want)
		}
	}
	if w.Empty() || !(Window{}).Empty() || !(Window{From: jan2027, Until: jan2026}).Empty() {
		t.Error("Empty is wrong")
	}
	if (Window{}).Contains(jan2026) {
		t.Error("the zero window is never in force")
	}
}
