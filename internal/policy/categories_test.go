/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package policy

import (
	"slices"
	"testing"
)

func TestCategoryOf(t *testing.T) {
	type resource struct{ resourceType, class string }
	known := map[resource]string{
		{"Patient", ""}:                 CategoryDemographics,
		{"RelatedPerson", ""}:           CategoryDemographics,
		{"MedicationRequest", ""}:       CategoryMedications,
		{"MedicationStatement", ""}:     CategoryMedications,
		{"Medication", ""}:              CategoryMedications,
		{"AllergyIntolerance", ""}:      CategoryAllergies,
		{"Condition", ""}:               CategoryProblems,
		{"Condition", "IMP"}:            CategoryProblems,
		{"Observation", ""}:             CategoryTestResults,
		{"DiagnosticReport", ""}:        CategoryTestResults,
		{"Specimen", ""}:                CategoryTestResults,
		{"CarePlan", ""}:                CategoryCarePlans,
		{"Goal", ""}:                    CategoryCarePlans,
		{"CareTeam", ""}:                CategoryCarePlans,
		{"Appointment", ""}:             CategoryAppointments,
		{"Encounter", "AMB"}:            CategoryAppointments,
		{"Encounter", "IMP"}:            CategoryInpatientStays,
		{"EpisodeOfCare", ""}:           CategoryInpatientStays,
		{"Composition", ""}:             CategoryDischargeLetters,
		{"DocumentReference", ""}:       CategoryDischargeLetters,
		{"Binary", ""}:                  CategoryDischargeLetters,
		{"Flag", ""}:                    CategoryPreferences,
		{"Consent", ""}:                 CategoryPreferences,
		{"QuestionnaireResponse", ""}:   CategoryPreferences,
		{"Practitioner", ""}:            CategoryClinicalContacts,
		{"PractitionerRole", ""}:        CategoryClinicalContacts,
		{"Organization", ""}:            CategoryClinicalContacts,
		{"Patient", "IMP"}:              CategoryDemographics,
		{"Observation", "AMB"}:          CategoryTestResults,
		{"QuestionnaireResponse", "xx"}: CategoryPreferences,
	}
	for r, want := range known {
		if got, ok := CategoryOf(r.resourceType, r.class); !ok || got != want {
			t.Errorf("CategoryOf(%q, %q) = %q, %v; want %q", r.resourceType, r.class, got, ok, want)
		}
	}
	unknown := []resource{
		{"AuditEvent", ""}, {"Provenance", ""}, {"Encounter", ""}, {"Encounter", "EMER"}, {"Encounter", "HH"},
		{"Encounter", "VR"}, {"Encounter", "amb"}, {"Encounter", "ACUTE"}, {"patient", ""}, {"", ""},
		{"Bundle", ""}, {"Immunization", ""}, {"condition", ""}, {"List", ""}, {"Procedure", ""}, {"Questionnaire", ""},
	}
	for _, r := range unknown {
		if got, ok := CategoryOf(r.resourceType, r.class); ok || got != "" {
			t.Errorf("CategoryOf(%q, %q) = %q, %v; want no category", r.resourceType, r.class, got, ok)
		}
	}
}

func TestEveryCategoryHasResourceTypes(t *testing.T) {
	mapped := map[string]bool{CategoryAppointments: true, CategoryInpatientStays: true}
	for _, category := range categoryOfType {
		mapped[category] = true
	}
	if len(mapped) != len(Categories) || !slices.IsSorted(Categories) {
		t.Fatalf("Categories %q and the FHIR mapping disagree", Categories)
	}
	for _, c := range Categories {
		if !mapped[c] || !isCategory(c) {
			t.Errorf("category %s has no resource types", c)
		}
	}
	if isCategory("Genomics") || isCategory("medications") {
		t.Error("unknown categories must not be known")
	}
}

func TestIsSensitive(t *testing.T) {
	want := []string{"ETH", "GENDER", "HIV", "IVF", "PSY", "R", "SDV", "SEX", "STI", "TOP", "V"}
	if !slices.Equal(SensitiveLabels, want) {
		t.Fatalf("SensitiveLabels = %q, want %q", SensitiveLabels, want)
	}
	for _, label := range want {
		if !IsSensitive([]string{"N", label}) {
			t.Errorf("%s is sensitive", label)
		}
	}
	for _, labels := range [][]string{nil, {}, {"N"}, {"U", "L", "M", "N"}, {"r"}, {"hiv"}, {""}, {"HIVX"}} {
		if IsSensitive(labels) {
			t.Errorf("%q is not sensitive", labels)
		}
	}
}

func TestExportedListsAreCopies(t *testing.T) {
	saved := slices.Clone(SensitiveLabels)
	SensitiveLabels[0] = "NOT"
	defer copy(SensitiveLabels, saved)
	if !IsSensitive([]string{"ETH"}) {
		t.Error("changing SensitiveLabels changed IsSensitive")
	}
	savedCategories := slices.Clone(Categories)
	Categories[0] = "Zzz"
	defer copy(Categories, savedCategories)
	if !isCategory(CategoryAllergies) {
		t.Error("changing Categories changed the known categories")
	}
}
