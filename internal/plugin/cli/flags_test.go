/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package cli

import (
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{in: "30d", want: 30 * 24 * time.Hour},
		{in: "1d12h", want: 36 * time.Hour},
		{in: "720h", want: 720 * time.Hour},
		{in: "90m", want: 90 * time.Minute},
		{in: "0d", wantErr: "must be positive"},
		{in: "-5h", wantErr: "must be positive"},
		{in: "xd", wantErr: "whole days"},
		{in: "1w", wantErr: "such as 30d"},
		{in: "", wantErr: "must be positive"},
	} {
		got, err := ParseDuration(tc.in)
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("ParseDuration(%q): error %v, want one saying %q", tc.in, err, tc.wantErr)
		case tc.wantErr == "" && (err != nil || got != tc.want):
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestTimeFlagDefaultsToNowAndReadsRFC3339InUTC(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var f Time
	if got := f.Or(now); !got.Equal(now) {
		t.Errorf("unset: %v, want now", got)
	}
	if err := f.Set("2026-04-01T09:00:00+01:00"); err != nil {
		t.Fatal(err)
	}
	if got := f.Or(now); got != time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC) {
		t.Errorf("got %v, want 08:00 UTC", got)
	}
	if err := f.Set("1 April"); err == nil || !strings.Contains(err.Error(), "RFC 3339") {
		t.Errorf("error %v, want one asking for RFC 3339", err)
	}
}

func TestOutputFlagAcceptsOnlyItsFormats(t *testing.T) {
	o := NewOutput(FormatTable, FormatJSON)
	if o.String() != FormatTable {
		t.Errorf("default %q, want the first format", o)
	}
	if err := o.Set(FormatYAML); err == nil || !strings.Contains(err.Error(), "use table, json") {
		t.Errorf("error %v, want one listing the formats", err)
	}
}

func TestTableAlignsColumnsAndKeepsEachRowOnOneLine(t *testing.T) {
	var b strings.Builder
	tbl := NewTable(&b, "A", "LONGER HEADER")
	tbl.Row("multi\nline", "x")
	if err := tbl.Flush(); err != nil {
		t.Fatal(err)
	}
	if want := "A           LONGER HEADER\nmulti line  x\n"; b.String() != want {
		t.Errorf("got\n%q\nwant\n%q", b.String(), want)
	}
}

func TestShortHash(t *testing.T) {
	for in, want := range map[string]string{
		"":                            "-",
		"sha256:0123456789abcdef0123": "sha256:0123456789ab",
		"sha256:abc":                  "sha256:abc",
	} {
		if got := ShortHash(in); got != want {
			t.Errorf("ShortHash(%q) = %q, want %q", in, got, want)
		}
	}
}
