/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package policy

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCompileFixture(t *testing.T) {
	b := Compile(fixture())
	want := []Grant{{
		Agreement:                     "dsa-1",
		AgreementVersion:              1,
		Policy:                        "tvs/gp-read",
		Consumers:                     []string{"B86001", "RR8"},
		Providers:                     []string{"B86001", "RR8"},
		Roles:                         []string{"R8000", "R8001"},
		Categories:                    []string{CategoryAllergies, CategoryMedications},
		Actions:                       []string{ActionRead, ActionSearch},
		PurposesOfUse:                 []string{PurposeEmergencyTreat, PurposeTreat},
		RequireLegitimateRelationship: true,
		Sensitive:                     SensitiveBreakGlassOnly,
		BreakGlass:                    &GrantBreakGlass{Roles: []string{"R8000"}, MaxDurationSeconds: 3600},
		ValidFrom:                     jan2026,
		ValidUntil:                    jan2027,
	}}
	if b.Version != BundleVersion || b.Region != "tvs" || !reflect.DeepEqual(b.Grants, want) {
		t.Fatalf("got %+v", b)
	}
}

func TestCompileGrantsJSON(t *testing.T) {
	data := compileEncoded(t, fixture())
	want := `{"version":"shcr.io/policy-bundle/v1","region":"tvs","grants":[{"agreement":"dsa-1","agreementVersion":1,` +
		`"policy":"tvs/gp-read","consumers":["B86001","RR8"],"providers":["B86001","RR8"],"roles":["R8000","R8001"],` +
		`"categories":["Allergies","Medications"],"actions":["read","search"],"purposesOfUse":["ETREAT","TREAT"],` +
		`"requireLegitimateRelationship":true,"sensitive":"BreakGlassOnly","breakGlass":{"roles":["R8000"],"maxDurationSeconds":3600},` +
		`"validFrom":"2026-01-01T00:00:00Z","validUntil":"2027-01-01T00:00:00Z"}],` +
		`"assurance":{"assured":true,"from":"2020-01-01T00:00:00Z","until":"2040-01-01T00:00:00Z"}}`
	if string(data) != want {
		t.Fatalf("got\n%s\nwant\n%s", data, want)
	}
	decoded, err := Decode(data)
	if err != nil || !reflect.DeepEqual(decoded, Compile(fixture())) {
		t.Fatalf("round trip: %v\n%+v", err, decoded)
	}
}

// grantsOf compiles the fixture changed by change.
func grantsOf(change func(*Input)) []Grant {
	in := fixture()
	change(&in)
	return Compile(in).Grants
}

func TestCompileProducesNothing(t *testing.T) {
	for name, change := range map[string]func(*Input){
		"no agreement version eligible":          func(in *Input) { in.Agreements[0].Approved = false },
		"suspended agreement":                    func(in *Input) { in.Agreements[0].Suspended = true },
		"purpose Other":                          func(in *Input) { in.Agreements[0].Purpose = "Other" },
		"empty purpose":                          func(in *Input) { in.Agreements[0].Purpose = "" },
		"cross-region not peer-confirmed":        func(in *Input) { in.Agreements[0].CrossRegion = true },
		"endsOn not after effectiveFrom":         func(in *Input) { in.Agreements[0].EndsOn = jan2026 },
		"unknown agreement id":                   func(in *Input) { in.Policies[0].AgreementID = "dsa-2" },
		"only R8008":                             func(in *Input) { in.Policies[0].Roles = []string{RoleAdmin} },
		"only malformed roles":                   func(in *Input) { in.Policies[0].Roles = []string{"R80001", "8000", "X8000", "R80a0"} },
		"no roles":                               func(in *Input) { in.Policies[0].Roles = nil },
		"categories outside the agreement":       func(in *Input) { in.Policies[0].Grants[0].Categories = []string{CategoryCarePlans} },
		"unknown category in both":               func(in *Input) { setCategories(in, "Genomics") },
		"only unknown actions":                   func(in *Input) { in.Policies[0].Grants[0].Actions = []string{"write"} },
		"only unknown purposes":                  func(in *Input) { in.Policies[0].PurposesOfUse = []string{"HRESCH"} },
		"no grants in the policy":                func(in *Input) { in.Policies[0].Grants = nil },
		"no admitted consumer":                   func(in *Input) { setAll(in, func(m *Member) { m.Consumer = false }) },
		"no admitted provider":                   func(in *Input) { setAll(in, func(m *Member) { m.Provider = false }) },
		"nobody admitted":                        func(in *Input) { setAll(in, func(m *Member) { m.Admitted = false }) },
		"policy names only non-effective party":  func(in *Input) { in.Policies[0].Organisations = []string{"RX1"} },
		"policy names only an unknown code":      func(in *Input) { in.Policies[0].Organisations = []string{"ZZZ"} },
		"agreement version listed twice":         func(in *Input) { in.Agreements = append(in.Agreements, in.Agreements[0]) },
		"members of another region":              func(in *Input) { in.Region = "wessex" },
		"v2 takes effect before v1 and ends too": func(in *Input) { in.Agreements = append(in.Agreements, earlyShortV2()) },
	} {
		if grants := grantsOf(change); len(grants) != 0 {
			t.Errorf("%s: got %d grants, want none: %+v", name, len(grants), grants)
		}
	}
}

func setCategories(in *Input, categories ...string) {
	in.Agreements[0].Categories = categories
	in.Policies[0].Grants[0].Categories = categories
}

func setAll(in *Input, change func(*Member)) {
	for i := range in.Members {
		change(&in.Members[i])
	}
}

// earlyShortV2 starts before version 1 and ends before it starts, so it
// supersedes version 1 entirely and is itself over before 2026.
func earlyShortV2() Agreement {
	v2 := agreementV2()
	v2.EffectiveFrom = jan2026.AddDate(0, -6, 0)
	v2.EndsOn = jan2026.AddDate(0, -3, 0)
	v2.Parties = v2.Parties[2:]
	return v2
}

func TestCompileGrantFields(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Input)
		check  func(g Grant) bool
	}{
		{"categories are the intersection", func(in *Input) {
			in.Policies[0].Grants[0].Categories = []string{CategoryTestResults, CategoryCarePlans, CategoryMedications, CategoryMedications}
		}, func(g Grant) bool {
			return slices.Equal(g.Categories, []string{CategoryMedications, CategoryTestResults})
		}},
		{"unknown agreed category is not granted", func(in *Input) { setCategories(in, "Genomics", CategoryAllergies) },
			func(g Grant) bool { return slices.Equal(g.Categories, []string{CategoryAllergies}) }},
		{"actions as the policy says", func(in *Input) { in.Policies[0].Grants[0].Actions = []string{ActionSearch, "write"} },
			func(g Grant) bool { return slices.Equal(g.Actions, []string{ActionSearch}) }},
		{"R8008 and malformed roles dropped", func(in *Input) { in.Policies[0].Roles = []string{RoleAdmin, "R8003", "r8000", "R8000", "R8000"} },
			func(g Grant) bool { return slices.Equal(g.Roles, []string{"R8000", "R8003"}) }},
		{"consumers restricted to the policy's organisations", func(in *Input) { in.Policies[0].Organisations = []string{"B86001", "RX1", "ZZZ"} },
			func(g Grant) bool {
				return slices.Equal(g.Consumers, []string{"B86001"}) && slices.Equal(g.Providers, []string{"B86001", "RR8"})
			}},
		{"providers and consumers follow member roles", func(in *Input) { member(in, "RR8").Provider = false; member(in, "B86001").Consumer = false },
			func(g Grant) bool {
				return slices.Equal(g.Consumers, []string{"RR8"}) && slices.Equal(g.Providers, []string{"B86001"})
			}},
		{"no purposes means TREAT", func(in *Input) { in.Policies[0].PurposesOfUse = nil },
			func(g Grant) bool { return slices.Equal(g.PurposesOfUse, []string{PurposeTreat}) }},
		{"break-glass roles limited to granted roles", func(in *Input) {
			in.Policies[0].BreakGlass.AllowedRoles = []string{"R8003", "R8001", RoleAdmin}
		}, func(g Grant) bool { return slices.Equal(g.BreakGlass.Roles, []string{"R8001"}) }},
		{"break-glass whole seconds", func(in *Input) { in.Policies[0].BreakGlass.MaxDuration = 90*time.Second + 500*time.Millisecond },
			func(g Grant) bool { return g.BreakGlass.MaxDurationSeconds == 90 }},
		{"break-glass of 24h", func(in *Input) { in.Policies[0].BreakGlass.MaxDuration = MaxBreakGlassDuration },
			func(g Grant) bool { return g.BreakGlass.MaxDurationSeconds == 86400 }},
		{"break-glass over 24h dropped", func(in *Input) { in.Policies[0].BreakGlass.MaxDuration = MaxBreakGlassDuration + time.Second },
			func(g Grant) bool { return g.BreakGlass == nil }},
		{"break-glass under a second dropped", func(in *Input) { in.Policies[0].BreakGlass.MaxDuration = time.Millisecond },
			func(g Grant) bool { return g.BreakGlass == nil }},
		{"break-glass for roles not granted dropped", func(in *Input) { in.Policies[0].BreakGlass.AllowedRoles = []string{"R8003"} },
			func(g Grant) bool { return g.BreakGlass == nil }},
		{"validity in UTC", func(in *Input) {
			zone := time.FixedZone("BST", 3600)
			in.Agreements[0].EffectiveFrom, in.Agreements[0].EndsOn = jan2026.In(zone), jan2027.In(zone)
		}, func(g Grant) bool { return g.ValidFrom == jan2026 && g.ValidUntil == jan2027 }},
	} {
		grants := grantsOf(tc.change)
		if len(grants) != 1 || !tc.check(grants[0]) {
			t.Errorf("%s: got %+v", tc.name, grants)
		}
	}
}

func TestCompileSensitiveIsTheStricterMode(t *testing.T) {
	modes := []string{SensitiveExclude, SensitiveBreakGlassOnly, SensitiveAllow}
	for pi, policy := range modes {
		for ai, agreement := range modes {
			grants := grantsOf(func(in *Input) {
				in.Policies[0].Sensitive, in.Agreements[0].Sensitive = policy, agreement
			})
			if want := modes[min(pi, ai)]; len(grants) != 1 || grants[0].Sensitive != want {
				t.Errorf("policy %s, agreement %s: got %+v, want %s", policy, agreement, grants, want)
			}
		}
	}
	for _, unknown := range []string{"", "allow", "Everything"} {
		grants := grantsOf(func(in *Input) { in.Policies[0].Sensitive, in.Agreements[0].Sensitive = unknown, SensitiveAllow })
		if len(grants) != 1 || grants[0].Sensitive != SensitiveExclude {
			t.Errorf("policy mode %q: got %+v, want Exclude", unknown, grants)
		}
	}
}

func TestCompileSupersession(t *testing.T) {
	grants := grantsOf(func(in *Input) { in.Agreements = append(in.Agreements, agreementV2()) })
	if len(grants) != 2 {
		t.Fatalf("want a grant per version, got %+v", grants)
	}
	v1, v2 := grants[0], grants[1]
	if v1.AgreementVersion != 1 || v1.ValidFrom != jan2026 || v1.ValidUntil != jul2026 ||
		!slices.Equal(v1.Categories, []string{CategoryAllergies, CategoryMedications}) {
		t.Errorf("v1 grant: %+v", v1)
	}
	if v2.AgreementVersion != 2 || v2.ValidFrom != jul2026 || v2.ValidUntil != jan2027 ||
		!slices.Equal(v2.Categories, []string{CategoryAllergies}) {
		t.Errorf("v2 grant: %+v", v2)
	}
}

func TestExplainScope(t *testing.T) {
	p := gpRead()
	p.Grants = append(p.Grants, PolicyGrant{Categories: []string{CategoryCarePlans, CategoryAllergies, "Genomics"}})
	for _, tc := range []struct {
		agreement     Agreement
		kept, dropped []string
	}{
		{agreementV1(), []string{CategoryAllergies, CategoryMedications}, []string{CategoryCarePlans, "Genomics"}},
		{agreementV2(), []string{CategoryAllergies}, []string{CategoryCarePlans, "Genomics", CategoryMedications}},
	} {
		kept, dropped := ExplainScope(p, tc.agreement)
		if !slices.Equal(kept, tc.kept) || !slices.Equal(dropped, tc.dropped) {
			t.Errorf("v%d: kept %q dropped %q, want %q and %q", tc.agreement.Version, kept, dropped, tc.kept, tc.dropped)
		}
	}
	if kept, dropped := ExplainScope(gpRead(), agreementV1()); len(dropped) != 0 || len(kept) != 2 {
		t.Errorf("nothing narrowed: kept %q dropped %q", kept, dropped)
	}
}

func TestCompileIsDeterministicUnderShuffledInput(t *testing.T) {
	in := generateInput(rand.New(rand.NewPCG(1, 2)), 300, 80, 160)
	want := compileEncoded(t, in)
	var decoded Bundle
	if err := json.Unmarshal(want, &decoded); err != nil || len(decoded.Grants) < 50 {
		t.Fatalf("the generated region should compile to many grants: %v, %d", err, len(decoded.Grants))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 5 {
		shuffled := cloneInput(in)
		shuffleInput(rng, &shuffled)
		if got := compileEncoded(t, shuffled); !bytes.Equal(got, want) {
			t.Fatalf("round %d: shuffled input changed the bundle (%d vs %d bytes)", round, len(got), len(want))
		}
	}
}

func TestCompileDoesNotDependOnDuplicatePolicyOrder(t *testing.T) {
	// Two different policies with the same name: whatever their order,
	// the bundle is the same.
	in := fixture()
	twin := gpRead()
	twin.Roles = []string{"R8003"}
	in.Policies = append(in.Policies, twin)
	a := compileEncoded(t, in)
	in.Policies[0], in.Policies[1] = in.Policies[1], in.Policies[0]
	if b := compileEncoded(t, in); !bytes.Equal(a, b) || strings.Count(string(a), `"policy":"tvs/gp-read"`) != 2 {
		t.Fatalf("order changed the bundle:\n%s\n%s", a, b)
	}
}
