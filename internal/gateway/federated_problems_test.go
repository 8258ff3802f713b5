/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"slices"
	"strings"
	"testing"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// stu3Problem is a GP Connect ProblemHeader (an STU3 Condition) of the
// stand-in's patient, with security labels.
func stu3Problem(id string, labels ...string) map[string]any {
	r := map[string]any{
		"resourceType": "Condition", "id": id, "clinicalStatus": "active",
		"category":     []any{map[string]any{"coding": []any{map[string]any{"system": "http://hl7.org/fhir/condition-category", "code": "problem-list-item"}}}},
		"code":         map[string]any{"text": "hypertension"},
		"subject":      map[string]any{"reference": "Patient/pat-1"},
		"assertedDate": "2019-05-02",
	}
	if len(labels) > 0 {
		var security []any
		for _, l := range labels {
			security = append(security, map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": l})
		}
		r["meta"] = map[string]any{"security": security}
	}
	return r
}

// withProblemsGranted grants the clinical policy Problems too.
func withProblemsGranted(s *setup) {
	input := testInput()
	grant := &input.Policies[0].Grants[0]
	grant.Categories = append(slices.Clone(grant.Categories), policy.CategoryProblems)
	s.input = &input
}

// Problems granted: a search of Condition asks the GP practice with
// includeProblems and shows its problems mapped to R4, deciding on each (a
// psychiatric one is withheld without break-glass) and auditing each with
// the practice as its source. Not granted: the practice is not asked.
func TestFederatedSearchProblems(t *testing.T) {
	query := "/Condition?" + patientQuery("Condition", alice)
	t.Run("granted", func(t *testing.T) {
		gp := newGPPractices(t)
		gp.b86.Add(alice, stu3Problem("p1"), stu3Problem("p-psy", "PSY"))
		h := newHarness(t, withGPConnect(gp.file), withProblemsGranted)
		got, issues := searchEntries(t, h, query, clinician().sign(t))
		if want := []string{"Condition/B86001-p1"}; !slices.Equal(keysOf(got), want) || len(issues) != 0 {
			t.Fatalf("entries %v (issues %+v, refused %v), want %v", keysOf(got), issues, gp.b86.Refused(), want)
		}
		p := got["Condition/B86001-p1"]
		status, _ := p["clinicalStatus"].(map[string]any)
		category, _ := p["category"].([]any)
		if status == nil || p["recordedDate"] != "2019-05-02" || len(category) != 1 || p["assertedDate"] != nil {
			t.Errorf("the problem is not in its R4 shape: %v", p)
		}
		outcomes := map[string]string{}
		for _, e := range h.audit.take(t) {
			res := e.Entity[len(e.Entity)-1]
			if strings.HasPrefix(res.What.Reference, "Condition/B86001-") {
				outcomes[res.What.Reference] = e.Outcome
				if !slices.Contains(res.Detail, auditDetail{Type: "sourceOrganisation", ValueString: "B86001"}) {
					t.Errorf("event for %s does not name the GP: %+v", res.What.Reference, res.Detail)
				}
			}
		}
		if outcomes["Condition/B86001-p1"] != auditOutcomeSuccess || outcomes["Condition/B86001-p-psy"] != auditOutcomeMinorFailure || len(outcomes) != 2 {
			t.Errorf("GP decisions %v: want p1 allowed, p-psy denied", outcomes)
		}
		// Allergies are not answered to a search of problems.
		if _, ok := got["AllergyIntolerance/B86001-a1"]; ok {
			t.Error("an allergy was shown in a search of Condition")
		}
	})
	t.Run("not granted", func(t *testing.T) {
		gp := newGPPractices(t)
		gp.b86.Add(alice, stu3Problem("p1"))
		h := newHarness(t, withGPConnect(gp.file))
		got, issues := searchEntries(t, h, query, clinician().sign(t))
		if len(got) != 0 || len(issues) != 0 || gp.b86.Served() != 0 {
			t.Fatalf("entries %v, issues %+v, practice served %d: want nothing", keysOf(got), issues, gp.b86.Served())
		}
	})
	t.Run("unknown shape withheld and said so", func(t *testing.T) {
		gp := newGPPractices(t)
		bad := stu3Problem("p-bad")
		bad["clinicalStatus"] = "relapse"
		gp.b86.Add(alice, stu3Problem("p1"), bad)
		h := newHarness(t, withGPConnect(gp.file), withProblemsGranted)
		got, issues := searchEntries(t, h, query, clinician().sign(t))
		if _, ok := got["Condition/B86001-p1"]; !ok || len(got) != 1 {
			t.Fatalf("entries %v, want only p1", keysOf(got))
		}
		if len(issues) != 1 || !strings.Contains(issues[0].Diagnostics, "1 resource(s) are not included") {
			t.Fatalf("issues %+v, want one saying a problem was withheld", issues)
		}
	})
}
