/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"log/slog"
	"math"
	"os"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// GCPercent is the garbage collection target the gateway runs with unless
// GOGC is set: the heap may grow to five times what was live after the
// last collection before the next. The gateway keeps little (its bundle,
// register and token cache; a few MB) and allocates for each response (a
// search of 20 records, about 100 kB), so at Go's default of 100 it spends
// much of its time collecting, and collections add to the slowest
// responses. A soft memory limit (MemoryLimitRatio) keeps the heap within
// the container's memory limit all the same.
const GCPercent = 400

// MemoryLimitRatio is the share of the container's memory limit (its
// cgroup's) the gateway sets as its soft memory limit, unless GOMEMLIMIT is
// set: near it the garbage collector runs as often as it must.
const MemoryLimitRatio = 0.9

// TuneRuntime sets the garbage collector for serving: GCPercent, unless
// GOGC is set, and a soft memory limit of MemoryLimitRatio of the
// container's memory limit, unless GOMEMLIMIT is set, AUTOMEMLIMIT is "off"
// (AUTOMEMLIMIT=0.8 sets another ratio) or there is no limit. cmd/gateway
// calls it before it serves.
func TuneRuntime(log *slog.Logger) {
	gcPercent := os.Getenv("GOGC")
	if gcPercent == "" {
		debug.SetGCPercent(GCPercent)
		gcPercent = "400"
	}
	limit, err := memlimit.Set(memlimit.WithRatio(MemoryLimitRatio), memlimit.WithProvider(memlimit.FromCgroup))
	_, fromEnvironment := os.LookupEnv("GOMEMLIMIT")
	switch {
	case fromEnvironment || os.Getenv("AUTOMEMLIMIT") == "off":
		log.Info("Garbage collector set; soft memory limit left as the environment sets it", "gcPercent", gcPercent, "softMemoryLimitBytes", limit)
	case err != nil:
		log.Info("Garbage collector set; no container memory limit found, so no soft memory limit", "gcPercent", gcPercent, "reason", err.Error())
	case limit == math.MaxInt64:
		log.Info("Garbage collector set; the container has no memory limit, so no soft memory limit", "gcPercent", gcPercent)
	default:
		log.Info("Garbage collector set", "gcPercent", gcPercent, "softMemoryLimitBytes", limit)
	}
}
