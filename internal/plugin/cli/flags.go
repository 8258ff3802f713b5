/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Time is a flag holding an RFC 3339 time, such as --at; unset means now.
type Time struct {
	t time.Time
}

// String returns the time given, or "" when unset.
func (f *Time) String() string {
	if f.t.IsZero() {
		return ""
	}
	return FormatTime(f.t)
}

// Type names the flag's value in help text.
func (f *Time) Type() string { return "time" }

// Set parses an RFC 3339 time.
func (f *Time) Set(s string) error {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("want an RFC 3339 time such as 2026-04-01T09:00:00Z: %w", err)
	}
	f.t = t.UTC()
	return nil
}

// Or returns the time given, or now when the flag was not set.
func (f *Time) Or(now time.Time) time.Time {
	if f.t.IsZero() {
		return now.UTC()
	}
	return f.t
}

// Duration is a flag holding a duration: a Go duration ("720h", "90m"),
// with days also accepted as a leading "d" unit ("30d", "1d12h").
type Duration struct {
	d time.Duration
}

// String returns the duration given.
func (f *Duration) String() string {
	if f.d == 0 {
		return ""
	}
	return f.d.String()
}

// Type names the flag's value in help text.
func (f *Duration) Type() string { return "duration" }

// Set parses a duration; see ParseDuration.
func (f *Duration) Set(s string) error {
	d, err := ParseDuration(s)
	if err != nil {
		return err
	}
	f.d = d
	return nil
}

// Value returns the duration given, 0 when unset.
func (f *Duration) Value() time.Duration { return f.d }

// ParseDuration reads a Go duration, with days accepted as a leading "d"
// unit: "30d", "1d12h", "720h". It must be positive.
func ParseDuration(s string) (time.Duration, error) {
	var total time.Duration
	rest := s
	if days, after, found := strings.Cut(s, "d"); found {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("duration %q: want whole days before \"d\", such as 30d or 1d12h", s)
		}
		total, rest = time.Duration(n)*24*time.Hour, after
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("duration %q: want a duration such as 30d, 12h or 1d12h: %w", s, err)
		}
		total += d
	}
	if total <= 0 {
		return 0, errors.New("duration " + strconv.Quote(s) + " must be positive")
	}
	return total, nil
}
