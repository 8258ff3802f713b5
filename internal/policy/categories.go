/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package policy

import "slices"

// The data categories of a shared care record (DOMAIN.md). They are the
// values of the DataCategory enum of the API.
const (
	CategoryAllergies        = "Allergies"
	CategoryAppointments     = "Appointments"
	CategoryCarePlans        = "CarePlans"
	CategoryClinicalContacts = "ClinicalContacts"
	CategoryDemographics     = "Demographics"
	CategoryDischargeLetters = "DischargeLetters"
	CategoryInpatientStays   = "InpatientStays"
	CategoryMedications      = "Medications"
	CategoryPreferences      = "Preferences"
	CategoryProblems         = "Problems"
	CategoryTestResults      = "TestResults"
)

// categories is the single source of the known categories, sorted;
// Categories is a copy, so changing it cannot change what is granted.
var categories = [...]string{
	CategoryAllergies, CategoryAppointments, CategoryCarePlans, CategoryClinicalContacts, CategoryDemographics,
	CategoryDischargeLetters, CategoryInpatientStays, CategoryMedications, CategoryPreferences, CategoryProblems,
	CategoryTestResults,
}

// Categories lists every data category, sorted. Anything else is unknown and
// is never granted.
var Categories = slices.Clone(categories[:])

// The HL7 v3 ActCode encounter classes that decide an Encounter's category.
const (
	EncounterClassAmbulatory = "AMB"
	EncounterClassInpatient  = "IMP"
)

// categoryOfType maps the FHIR R4 resource types that belong to exactly one
// category. Encounter is absent: its category depends on its class.
var categoryOfType = map[string]string{
	"Patient":               CategoryDemographics,
	"RelatedPerson":         CategoryDemographics,
	"MedicationRequest":     CategoryMedications,
	"MedicationStatement":   CategoryMedications,
	"Medication":            CategoryMedications,
	"AllergyIntolerance":    CategoryAllergies,
	"Condition":             CategoryProblems,
	"Observation":           CategoryTestResults,
	"DiagnosticReport":      CategoryTestResults,
	"Specimen":              CategoryTestResults,
	"CarePlan":              CategoryCarePlans,
	"Goal":                  CategoryCarePlans,
	"CareTeam":              CategoryCarePlans,
	"Appointment":           CategoryAppointments,
	"EpisodeOfCare":         CategoryInpatientStays,
	"Composition":           CategoryDischargeLetters,
	"DocumentReference":     CategoryDischargeLetters,
	"Binary":                CategoryDischargeLetters,
	"Flag":                  CategoryPreferences,
	"Consent":               CategoryPreferences,
	"QuestionnaireResponse": CategoryPreferences,
	"Practitioner":          CategoryClinicalContacts,
	"PractitionerRole":      CategoryClinicalContacts,
	"Organization":          CategoryClinicalContacts,
}

// CategoryOf gives the data category of a FHIR R4 resource. encounterClass
// is the Encounter.class code and matters only for an Encounter: AMB is an
// Appointment, IMP an InpatientStay. Any other type or class, including the
// governance types AuditEvent and Provenance, has no category (false) and is
// never shared. Consent is an advance decision (Preferences); telling it
// apart from a patient's objection is the gateway's job.
func CategoryOf(resourceType, encounterClass string) (string, bool) {
	if resourceType == "Encounter" {
		return encounterCategory(encounterClass)
	}
	category, ok := categoryOfType[resourceType]
	return category, ok
}

// SharedTypes lists, sorted, the FHIR R4 resource types that can belong to
// a category: those of CategoryOf and Encounter.
func SharedTypes() []string {
	types := []string{"Encounter"}
	for t := range categoryOfType {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

func encounterCategory(class string) (string, bool) {
	switch class {
	case EncounterClassAmbulatory:
		return CategoryAppointments, true
	case EncounterClassInpatient:
		return CategoryInpatientStays, true
	default:
		return "", false
	}
}

func isCategory(name string) bool {
	_, found := slices.BinarySearch(categories[:], name)
	return found
}

// sensitiveLabels is the single source of the sensitive set; SensitiveLabels
// is a copy, so changing it cannot change IsSensitive.
var sensitiveLabels = [...]string{
	// Confidentiality (v3 Confidentiality): restricted, very restricted.
	"R", "V",
	// Sensitivity (v3 ActCode): HIV, psychiatry, sexuality and reproductive
	// health, sexual or domestic violence, substance abuse (ethanol).
	"HIV", "PSY", "SEX", "SDV", "ETH",
	// The RCGP sensitive set, in this project's own codes: in vitro
	// fertilisation, sexually transmitted infections, termination of
	// pregnancy, gender reassignment.
	"IVF", "STI", "TOP", "GENDER",
}

// SensitiveLabels are the meta.security codes that make a resource
// sensitive, sorted: the confidentiality codes R and V, the sensitivity codes
// HIV, PSY, SEX, SDV and ETH, and IVF, STI, TOP and GENDER, which are this
// project's codes for the RCGP sensitive set (in vitro fertilisation,
// sexually transmitted infections, termination of pregnancy, gender
// reassignment).
var SensitiveLabels = sortedCopy(sensitiveLabels[:])

// IsSensitive reports whether any of a resource's security labels is in
// SensitiveLabels.
func IsSensitive(labels []string) bool {
	for _, label := range labels {
		if slices.Contains(sensitiveLabels[:], label) {
			return true
		}
	}
	return false
}

func sortedCopy(values []string) []string {
	out := slices.Clone(values)
	slices.Sort(out)
	return out
}
