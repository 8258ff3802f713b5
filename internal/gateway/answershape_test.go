/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// aliceObservations is a Bundle of the type given with n Observations about
// alice from B86001, an OperationOutcome entry with the search's warnings,
// and meta as the Bundle's meta (none when empty).
func aliceObservations(bundleType string, n int, meta string) string {
	entries := make([]string, 0, n+1)
	for i := range n {
		entries = append(entries, `{"resource":`+resourceJSON("Observation", fmt.Sprintf("o%d", i), `"status":"final"`,
			`"subject":`+patientRef("pa", alice))+`,"search":{"mode":"match"}}`)
	}
	entries = append(entries, `{"resource":{"resourceType":"OperationOutcome","issue":[]},"search":{"mode":"outcome"}}`)
	if meta != "" {
		meta = `"meta":` + meta + `,`
	}
	return `{"resourceType":"Bundle",` + meta + `"type":"` + bundleType + `","entry":[` + strings.Join(entries, ",") + `]}`
}

// TestAnswersLongerThanThePageAreRefused holds the page size limit against
// the record service as well as the caller: a search, search page or
// history answered with more resources than the page the gateway asked for
// is refused (502) and none of it is passed on, whatever the limit; the
// query is audited all the same. An answer of the page size or less is
// served.
func TestAnswersLongerThanThePageAreRefused(t *testing.T) {
	for _, limit := range []int{1, 3, 50} {
		h := newHarness(t, func(s *setup) { s.config = func(c *Config) { c.MaxPageSize = limit } })
		token := clinician().sign(t)
		for _, asked := range []int{0, 1, limit} {
			size := limit
			count := ""
			if asked > 0 {
				size, count = min(asked, limit), fmt.Sprintf("_count=%d&", asked)
			}
			for _, n := range []int{0, size - 1, size, size + 1, size + 7, 3 * limit} {
				if n < 0 {
					continue
				}
				for _, tc := range []struct{ path, bundleType string }{
					{"/Observation?" + count + aliceQuery(), "searchset"},
					{"/?_getpages=p2&" + count + aliceQuery(), "searchset"},
					{"/Observation/o0/_history?" + count, "history"},
				} {
					h.records.answerWith(aliceObservations(tc.bundleType, n, ""))
					resp := h.get(t, tc.path, token)
					name := fmt.Sprintf("limit %d, %s answered with %d", limit, tc.path, n)
					decisions, queries := h.audit.take(t), h.audit.queries(t)
					if len(queries) != 1 {
						t.Errorf("%s: %d query events, want 1", name, len(queries))
					}
					if n > size {
						if resp.status != http.StatusBadGateway || strings.Contains(string(resp.body), `"Observation"`) || len(decisions) != 0 {
							t.Errorf("%s: status %d, %d decisions: %.300s, want 502 and nothing decided", name, resp.status, len(decisions), resp.body)
						}
						continue
					}
					if _, keys := resp.bundle(t); resp.status != http.StatusOK || len(keys) != n || len(decisions) != n {
						t.Errorf("%s: status %d, %d entries, %d decisions, want all %d", name, resp.status, len(keys), len(decisions), n)
					}
				}
			}
		}
	}
}

// TestBundleLabelsApplyToEveryEntry reads a security label on the search
// or history Bundle itself, wherever a resource's would be read and in any
// case, spacing or shape, as a label of every entry: a Bundle labelled
// restricted passes entries on only by break-glass. A Bundle meta that
// cannot be read makes the answer unusable.
func TestBundleLabelsApplyToEveryEntry(t *testing.T) {
	h := newHarness(t)
	token := clinician().sign(t)
	breakGlass := clinician().breakingGlass("patient deteriorating", time.Minute).sign(t)
	cases := []struct {
		name, meta string
		// want is the status and entries without break-glass; withBreakGlass the
		// entries with it.
		status, want, withBreakGlass int
	}{
		{"no meta", "", 200, 3, 3},
		{"no labels", `{"lastUpdated":"2026-12-04T10:00:00Z"}`, 200, 3, 3},
		{"normal", `{"security":[{"code":"N"}]}`, 200, 3, 3},
		{"restricted", `{"security":[{"system":"` + systemConfidentiality + `","code":"R"}]}`, 200, 0, 3},
		{"lower case", `{"lastUpdated":"2026-12-04T10:00:00Z","security":[{"code":" v "}]}`, 200, 0, 3},
		{"sensitivity", `{"security":[{"code":"N"},{"code":"hiv"}]}`, 200, 0, 3},
		{"member in another case", `{"SECURITY":[{"Code":"R"}]}`, 200, 0, 3},
		{"confidentiality written out", `{"security":[{"system":"` + systemConfidentiality + `","code":"restricted"}]}`, 200, 0, 3},
		{"not a list", `{"security":{"code":"N"}}`, 200, 0, 3},
		{"no code", `{"security":[{"display":"normal"}]}`, 200, 0, 3},
		{"meta not an object", `"R"`, 502, 0, 0},
	}
	for _, tc := range cases {
		for _, bundleType := range []string{"searchset", "history"} {
			path := "/Observation?" + aliceQuery()
			if bundleType == "history" {
				path = "/Observation/o0/_history"
			}
			h.records.answerWith(aliceObservations(bundleType, 3, tc.meta))
			for _, caller := range []struct {
				token string
				want  int
			}{{token, tc.want}, {breakGlass, tc.withBreakGlass}} {
				resp := h.get(t, path, caller.token)
				h.audit.take(t)
				if resp.status != tc.status {
					t.Errorf("%s, %s: status %d, want %d: %.300s", tc.name, bundleType, resp.status, tc.status, resp.body)
					continue
				}
				if resp.status != http.StatusOK {
					continue
				}
				if _, keys := resp.bundle(t); len(keys) != caller.want {
					t.Errorf("%s, %s: %d entries, want %d", tc.name, bundleType, len(keys), caller.want)
				}
			}
		}
	}
}
