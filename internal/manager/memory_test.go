/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package manager

import (
	"math"
	"runtime/debug"
	"strings"
	"testing"
)

// Every spelling of --soft-memory-limit is either read as the limit it
// names or refused naming the flag; none is silently taken as no limit.
func TestParseSoftMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		value    string
		bytes    int64
		explicit bool
		err      bool
	}{
		{value: "auto"},
		{value: ""},
		{value: "off", explicit: true},
		{value: "230Mi", bytes: 230 << 20, explicit: true},
		{value: " 1Gi ", bytes: 1 << 30, explicit: true},
		{value: "250M", bytes: 250_000_000, explicit: true},
		{value: "16Mi", bytes: 16 << 20, explicit: true},
		{value: "15Mi", err: true},
		{value: "0", err: true},
		{value: "-230Mi", err: true},
		{value: "1m", err: true}, // a thousandth of a byte
		{value: "0.5", err: true},
		{value: "Auto", err: true},
		{value: "none", err: true},
		{value: "230MiB", err: true},
		{value: "90%", err: true},
	} {
		b, explicit, err := ParseSoftMemoryLimit(tc.value)
		switch {
		case tc.err && err == nil:
			t.Errorf("%q: accepted as %d bytes (explicit %v), want an error", tc.value, b, explicit)
		case tc.err && !strings.Contains(err.Error(), "--soft-memory-limit"):
			t.Errorf("%q: error %q does not name the flag", tc.value, err)
		case !tc.err && err != nil:
			t.Errorf("%q: %v", tc.value, err)
		case !tc.err && (b != tc.bytes || explicit != tc.explicit):
			t.Errorf("%q: %d bytes, explicit %v; want %d, %v", tc.value, b, explicit, tc.bytes, tc.explicit)
		}
	}
}

// SetSoftMemoryLimit sets the runtime's limit from the flag, removes it
// with off, and leaves a GOMEMLIMIT of the environment alone with auto.
func TestSetSoftMemoryLimit(t *testing.T) {
	previous := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(previous) })

	got, err := SetSoftMemoryLimit("230Mi")
	if err != nil || got.Bytes != 230<<20 || got.Source != "flag" || debug.SetMemoryLimit(-1) != 230<<20 {
		t.Errorf("230Mi: %+v, %v; runtime limit %d", got, err, debug.SetMemoryLimit(-1))
	}
	got, err = SetSoftMemoryLimit("off")
	if err != nil || got.Source != "none" || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Errorf("off: %+v, %v; runtime limit %d", got, err, debug.SetMemoryLimit(-1))
	}
	if _, err := SetSoftMemoryLimit("lots"); err == nil || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Errorf("lots: accepted, or the runtime limit changed to %d", debug.SetMemoryLimit(-1))
	}

	// The runtime read GOMEMLIMIT at start; what the test sets here stands
	// for it, as a process started with GOMEMLIMIT=200MiB would hold.
	t.Setenv("GOMEMLIMIT", "200MiB")
	debug.SetMemoryLimit(200 << 20)
	got, err = SetSoftMemoryLimit("auto")
	if err != nil || got.Source != "GOMEMLIMIT" || got.Bytes != 200<<20 || debug.SetMemoryLimit(-1) != 200<<20 {
		t.Errorf("auto with GOMEMLIMIT: %+v, %v; runtime limit %d", got, err, debug.SetMemoryLimit(-1))
	}
}

// SetGCPercent sets the flag's target, leaves a GOGC of the environment in
// force unless the flag was given, and refuses targets that are not one.
func TestSetGCPercent(t *testing.T) {
	previous := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(previous) })

	if got, err := SetGCPercent(DefaultGCPercent, false); err != nil || got != DefaultGCPercent || debug.SetGCPercent(100) != DefaultGCPercent {
		t.Errorf("default: %d, %v", got, err)
	}
	for _, bad := range []int{0, -1, -100} {
		debug.SetGCPercent(100)
		if _, err := SetGCPercent(bad, true); err == nil || !strings.Contains(err.Error(), "--gc-percent") {
			t.Errorf("%d: %v, want an error naming the flag", bad, err)
		}
		if got := debug.SetGCPercent(100); got != 100 {
			t.Errorf("%d refused but the target changed to %d", bad, got)
		}
	}

	// The runtime read GOGC at start; what the test sets here stands for
	// it, as a process started with GOGC=80 would hold.
	t.Setenv("GOGC", "80")
	debug.SetGCPercent(80)
	if got, err := SetGCPercent(DefaultGCPercent, false); err != nil || got != 80 || debug.SetGCPercent(80) != 80 {
		t.Errorf("GOGC=80 and no flag: %d, %v; want 80 left in force", got, err)
	}
	if got, err := SetGCPercent(30, true); err != nil || got != 30 || debug.SetGCPercent(100) != 30 {
		t.Errorf("GOGC=80 and --gc-percent=30: %d, %v; want 30", got, err)
	}
}
