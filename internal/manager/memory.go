/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package manager

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strings"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"k8s.io/apimachinery/pkg/api/resource"
)

// SoftMemoryLimitAuto is the --soft-memory-limit that takes
// MemoryLimitRatio of the container's memory limit.
const SoftMemoryLimitAuto = "auto"

// MemoryLimitRatio is the share of its container's memory limit (its
// cgroup's) the manager keeps its Go heap and runtime under with
// --soft-memory-limit=auto. The rest is left for what the Go runtime does
// not count (thread stacks' guard pages, the binary's mapped text) and for
// a collection's overshoot.
const MemoryLimitRatio = 0.9

// SoftMemoryLimit is the outcome of SetSoftMemoryLimit, for the log.
type SoftMemoryLimit struct {
	// Bytes is the soft memory limit set; 0 when there is none.
	Bytes int64
	// Source says where it came from: "flag", "container" (a share of the
	// cgroup's limit), "GOMEMLIMIT" (the environment, left alone), or
	// "none" (no limit asked for or found).
	Source string
	// Reason says why "auto" found no container limit, when it did not.
	Reason string
}

// ParseSoftMemoryLimit reads a --soft-memory-limit value: "auto", "off",
// or a quantity of bytes such as "230Mi" (at least 16Mi: below that the
// collector would run without pause). ok is false for "auto", whose limit
// depends on the container.
func ParseSoftMemoryLimit(value string) (bytes int64, ok bool, err error) {
	switch v := strings.TrimSpace(value); v {
	case SoftMemoryLimitAuto, "":
		return 0, false, nil
	case "off":
		return 0, true, nil
	default:
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return 0, false, fmt.Errorf("--soft-memory-limit: %q is not auto, off or a quantity of bytes such as 230Mi", value)
		}
		b, exact := q.AsInt64()
		if !exact || b < 16<<20 {
			return 0, false, fmt.Errorf("--soft-memory-limit: %q must be at least 16Mi, or auto or off", value)
		}
		return b, true, nil
	}
}

// SetSoftMemoryLimit sets the Go runtime's soft memory limit from the
// --soft-memory-limit flag: near the limit the garbage collector runs as
// often as it must to stay under it, instead of letting the heap grow to
// twice what was live after the last collection (GOGC's default). The
// heap that is live is not changed by it; only the headroom of garbage
// between collections is. A GOMEMLIMIT in the environment wins over
// "auto", which takes MemoryLimitRatio of the container's (cgroup's) memory
// limit, or sets none when the container has no limit.
func SetSoftMemoryLimit(value string) (SoftMemoryLimit, error) {
	b, explicit, err := ParseSoftMemoryLimit(value)
	if err != nil {
		return SoftMemoryLimit{}, err
	}
	if explicit {
		if b == 0 {
			debug.SetMemoryLimit(math.MaxInt64)
			return SoftMemoryLimit{Source: "none"}, nil
		}
		debug.SetMemoryLimit(b)
		return SoftMemoryLimit{Bytes: b, Source: "flag"}, nil
	}
	if _, ok := os.LookupEnv("GOMEMLIMIT"); ok {
		return SoftMemoryLimit{Bytes: debug.SetMemoryLimit(-1), Source: "GOMEMLIMIT"}, nil
	}
	limit, err := memlimit.Set(memlimit.WithRatio(MemoryLimitRatio), memlimit.WithProvider(memlimit.FromCgroup))
	switch {
	case errors.Is(err, memlimit.ErrNoLimit), err == nil && limit == math.MaxInt64:
		return SoftMemoryLimit{Source: "none"}, nil
	case err != nil:
		// Not in a cgroup with a memory limit (a process on a workstation,
		// an unsupported platform): no limit, as Go's default.
		return SoftMemoryLimit{Source: "none", Reason: err.Error()}, nil
	}
	return SoftMemoryLimit{Bytes: limit, Source: "container"}, nil
}

// DefaultGCPercent is the garbage collection target the manager runs with
// unless --gc-percent or GOGC says otherwise: the heap may grow by half of
// what was live after the last collection before the next one (Go's
// default is 100, the whole of it). The manager's cache is long-lived and
// what it allocates per reconcile is garbage at once; with the default
// target the surviving objects of a busy onboarding end up spread over
// twice as many heap spans as they fill, and the spans stay in use after
// the burst. Measured at 1,000 organisations (docs/benchmarks.md): heap in
// use after GC 51.5 → 44.5 MiB, peak RSS 145 → 119 MiB, with the
// onboarding's ratio to its writes unchanged.
const DefaultGCPercent = 50

// SetGCPercent sets the garbage collection target from the --gc-percent
// flag. A GOGC in the environment wins when the flag was not given
// (explicit false). A target of 0 or below is refused (0 would collect
// without pause; off would leave the heap to grow to the soft memory limit).
// It returns the target in force.
func SetGCPercent(percent int, explicit bool) (int, error) {
	if percent <= 0 {
		return 0, fmt.Errorf("--gc-percent: %d is not a garbage collection target: give a percentage above 0", percent)
	}
	if _, fromEnvironment := os.LookupEnv("GOGC"); fromEnvironment && !explicit {
		current := debug.SetGCPercent(100)
		debug.SetGCPercent(current)
		return current, nil
	}
	debug.SetGCPercent(percent)
	return percent, nil
}
