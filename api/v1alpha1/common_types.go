/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package v1alpha1

// DataCategory is a category of a person's record that an agreement can
// share. Each maps to FHIR R4 resource types (see internal/policy):
// Problems is the problem list and diagnoses (Condition).
// +kubebuilder:validation:Enum=Demographics;Medications;Allergies;Problems;TestResults;CarePlans;Appointments;InpatientStays;DischargeLetters;Preferences;ClinicalContacts
type DataCategory string

// The data categories of a shared care record.
const (
	CategoryDemographics     DataCategory = "Demographics"
	CategoryMedications      DataCategory = "Medications"
	CategoryAllergies        DataCategory = "Allergies"
	CategoryProblems         DataCategory = "Problems"
	CategoryTestResults      DataCategory = "TestResults"
	CategoryCarePlans        DataCategory = "CarePlans"
	CategoryAppointments     DataCategory = "Appointments"
	CategoryInpatientStays   DataCategory = "InpatientStays"
	CategoryDischargeLetters DataCategory = "DischargeLetters"
	CategoryPreferences      DataCategory = "Preferences"
	CategoryClinicalContacts DataCategory = "ClinicalContacts"
)

// AllCategories lists every data category, in a fixed order.
var AllCategories = []DataCategory{
	CategoryDemographics, CategoryMedications, CategoryAllergies, CategoryProblems, CategoryTestResults,
	CategoryCarePlans, CategoryAppointments, CategoryInpatientStays, CategoryDischargeLetters, CategoryPreferences, CategoryClinicalContacts,
}

// SensitiveDataMode says how records carrying sensitive security labels
// (confidentiality R and V; HIV, PSY, SEX, SDV, ETH; the RCGP sensitive set)
// are treated.
// +kubebuilder:validation:Enum=Exclude;BreakGlassOnly;Allow
type SensitiveDataMode string

const (
	// SensitiveExclude never shares sensitive records.
	SensitiveExclude SensitiveDataMode = "Exclude"
	// SensitiveBreakGlassOnly shares them only under an audited break-glass override.
	SensitiveBreakGlassOnly SensitiveDataMode = "BreakGlassOnly"
	// SensitiveAllow shares them like any other record in scope.
	SensitiveAllow SensitiveDataMode = "Allow"
)

// LocalSecretReference names a Secret in the object's own namespace.
type LocalSecretReference struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
}

// Contact is a named person responsible for something, reachable by email.
type Contact struct {
	// Name of the person.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	// +required
	Name string `json:"name"`

	// Email address of the person or their office.
	// +kubebuilder:validation:MaxLength=254
	// +kubebuilder:validation:Pattern=`^[^@\s]+@[^@\s]+\.[^@\s]+$`
	// +optional
	Email string `json:"email,omitempty"`
}
