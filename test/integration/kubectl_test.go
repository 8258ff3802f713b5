/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package integration

import (
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// kubectl runs the pinned kubectl (KUBEBUILDER_ASSETS) against the test API
// server as cluster admin and returns what it wrote.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, err := op.Env.ControlPlane.KubeCtl().Run(args...)
	out, _ := io.ReadAll(stdout)
	if err != nil {
		msg, _ := io.ReadAll(stderr)
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	return string(out)
}

// headerBlocks returns the header row of each table kubectl printed (a
// category lists one table per kind, separated by blank lines).
func headerBlocks(out string) [][]string {
	var headers [][]string
	first := true
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
			first = true
		case first:
			headers = append(headers, columnGap.Split(line, -1))
			first = false
		}
	}
	return headers
}

// columnGap separates kubectl's columns; a header may hold one space.
var columnGap = regexp.MustCompile(`\s{2,}`)

var kubectlRegion *scenario

// kubectlScenario is the scenario the kubectl tests read, onboarded once.
func kubectlScenario(t *testing.T) *scenario {
	t.Helper()
	if kubectlRegion == nil {
		kubectlRegion = newScenario(t, "kubectl", "R")
	}
	return kubectlRegion
}

// column returns the cells of one column of a kubectl table, found by its
// header; cells hold no spaces in the tables it is used on.
func column(t *testing.T, out, header string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	i := strings.Index(lines[0], header)
	if i < 0 {
		t.Fatalf("no %s column in\n%s", header, out)
	}
	var cells []string
	for _, l := range lines[1:] {
		if len(l) > i {
			cells = append(cells, strings.Fields(l[i:])[0])
		}
	}
	return cells
}

func TestKubectlGetPrintsEveryPartyJoinedRolesAndNoClashingHeaders(t *testing.T) {
	s := kubectlScenario(t)

	parties := s.gp + ":Controller," + s.trust + ":Controller," + s.council + ":Controller"
	waitFor(t, "the Parties column", func() (bool, string) {
		out := kubectl(t, "get", "dsa", "-n", s.ns)
		return slices.Contains(column(t, out, "PARTIES"), parties), out
	})
	waitFor(t, "the Roles column", func() (bool, string) {
		out := kubectl(t, "get", "accesspolicy", "-n", s.ns)
		return slices.Equal(column(t, out, "ROLES"), []string{"R8003", "R8000"}), out
	})

	for _, args := range [][]string{
		{"get", "memberorganisation", "-n", s.ns},
		{"get", "shcr", "-A"},
		{"get", "shcr", "-n", s.ns},
		{"get", "shcrregion", "-A"},
	} {
		out := kubectl(t, args...)
		blocks := headerBlocks(out)
		if len(blocks) == 0 {
			t.Errorf("kubectl %s printed no table:\n%s", strings.Join(args, " "), out)
		}
		for _, h := range blocks {
			seen := map[string]bool{}
			for _, name := range h {
				if seen[name] {
					t.Errorf("kubectl %s prints the header %s twice: %v", strings.Join(args, " "), name, h)
				}
				seen[name] = true
			}
		}
	}
}

// Events from the operator carry lastTimestamp, so the usual kubectl
// commands read them in time order, and none is listed twice.
func TestKubectlListsTheOperatorsEventsInTimeOrder(t *testing.T) {
	s := kubectlScenario(t)
	const jsonpath = `-o=jsonpath={range .items[?(@.source.component=="shcr-operator")]}{.lastTimestamp}{"|"}{.involvedObject.kind}/{.involvedObject.name}{"|"}{.reason}{"|"}{.message}{"\n"}{end}`
	var rows []string
	waitFor(t, "the operator's Events in "+s.ns, func() (bool, string) {
		out := kubectl(t, "get", "events", "-n", s.ns, "--sort-by=.lastTimestamp", jsonpath)
		rows = strings.Split(strings.TrimSpace(out), "\n")
		return len(rows) >= 3 && rows[0] != "", out
	})
	var last time.Time
	seen := map[string]bool{}
	for _, row := range rows {
		stamp, rest, _ := strings.Cut(row, "|")
		at, err := time.Parse(time.RFC3339, stamp)
		if err != nil {
			t.Errorf("Event %q has no lastTimestamp: %v", rest, err)
			continue
		}
		if at.Before(last) {
			t.Errorf("--sort-by=.lastTimestamp lists %q (%s) after an Event of %s", rest, at, last)
		}
		last = at
		if seen[rest] {
			t.Errorf("Event %q is listed twice", rest)
		}
		seen[rest] = true
	}
	out := kubectl(t, "describe", "dsa", "-n", s.ns, "dsa-v1")
	events := out[strings.Index(out, "Events:"):]
	for line := range strings.Lines(events) {
		if strings.Contains(line, "<unknown>") {
			t.Errorf("kubectl describe shows an Event with an unknown age:\n%s", events)
			break
		}
	}
	t.Logf("%s", events)
}
