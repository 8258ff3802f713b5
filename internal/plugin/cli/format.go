/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package cli

import (
	"strings"
	"time"
)

// None stands for an empty value in a table cell.
const None = "-"

// FormatTime writes t in RFC 3339, UTC, to the second; None when t is zero.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return None
	}
	return t.UTC().Format(time.RFC3339)
}

// FormatDate writes the UTC date of t; None when t is zero.
func FormatDate(t time.Time) string {
	if t.IsZero() {
		return None
	}
	return t.UTC().Format(time.DateOnly)
}

// FormatWindow writes a validity window as "from → until".
func FormatWindow(from, until time.Time) string {
	return FormatTime(from) + " → " + FormatTime(until)
}

// ShortHash abbreviates a "sha256:<hex>" terms hash to its first twelve hex
// digits, enough to tell versions apart in a table; None when empty.
func ShortHash(hash string) string {
	const keep = len("sha256:") + 12
	switch {
	case hash == "":
		return None
	case len(hash) > keep:
		return hash[:keep]
	default:
		return hash
	}
}

// List joins values with commas; None when there are none.
func List[S ~string](values []S) string {
	if len(values) == 0 {
		return None
	}
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = string(v)
	}
	return strings.Join(parts, ",")
}

// OrNone returns s, or None when s is empty.
func OrNone(s string) string {
	if s == "" {
		return None
	}
	return s
}
