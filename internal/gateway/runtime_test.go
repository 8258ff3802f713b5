/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"log/slog"
	"os"
	"runtime/debug"
	"testing"
)

// TestTuneRuntime sets the garbage collection target unless GOGC is set.
func TestTuneRuntime(t *testing.T) {
	previous, previousLimit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(previous)
		debug.SetMemoryLimit(previousLimit)
	})
	gogc, had := os.LookupEnv("GOGC")
	t.Cleanup(func() {
		if had {
			_ = os.Setenv("GOGC", gogc)
		}
	})
	must(t, os.Unsetenv("GOGC"))
	TuneRuntime(slog.New(slog.DiscardHandler))
	if got := debug.SetGCPercent(100); got != GCPercent {
		t.Errorf("without GOGC, GC percent = %d, want %d", got, GCPercent)
	}
	t.Setenv("GOGC", "150")
	TuneRuntime(slog.New(slog.DiscardHandler))
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set, GC percent = %d, want it left alone (100)", got)
	}
}
