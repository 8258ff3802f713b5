/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"cmp"
	"slices"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// r4ResourceTypes are the resource types of FHIR R4 (4.0.1), sorted. The
// connector asks policy.CategoryOf about each of them, so the mapping from
// types to categories has a single source, and recognises references by
// them.
var r4ResourceTypes = []string{
	"Account", "ActivityDefinition", "AdverseEvent", "AllergyIntolerance", "Appointment",
	"AppointmentResponse", "AuditEvent", "Basic", "Binary", "BiologicallyDerivedProduct",
	"BodyStructure", "Bundle", "CapabilityStatement", "CarePlan", "CareTeam", "CatalogEntry",
	"ChargeItem", "ChargeItemDefinition", "Claim", "ClaimResponse", "ClinicalImpression",
	"CodeSystem", "Communication", "CommunicationRequest", "CompartmentDefinition", "Composition",
	"ConceptMap", "Condition", "Consent", "Contract", "Coverage", "CoverageEligibilityRequest",
	"CoverageEligibilityResponse", "DetectedIssue", "Device", "DeviceDefinition", "DeviceMetric",
	"DeviceRequest", "DeviceUseStatement", "DiagnosticReport", "DocumentManifest",
	"DocumentReference", "EffectEvidenceSynthesis", "Encounter", "Endpoint", "EnrollmentRequest",
	"EnrollmentResponse", "EpisodeOfCare", "EventDefinition", "Evidence", "EvidenceVariable",
	"ExampleScenario", "ExplanationOfBenefit", "FamilyMemberHistory", "Flag", "Goal",
	"GraphDefinition", "Group", "GuidanceResponse", "HealthcareService", "ImagingStudy",
	"Immunization", "ImmunizationEvaluation", "ImmunizationRecommendation", "ImplementationGuide",
	"InsurancePlan", "Invoice", "Library", "Linkage", "List", "Location", "Measure", "MeasureReport",
	"Media", "Medication", "MedicationAdministration", "MedicationDispense", "MedicationKnowledge",
	"MedicationRequest", "MedicationStatement", "MedicinalProduct", "MedicinalProductAuthorization",
	"MedicinalProductContraindication", "MedicinalProductIndication", "MedicinalProductIngredient",
	"MedicinalProductInteraction", "MedicinalProductManufactured", "MedicinalProductPackaged",
	"MedicinalProductPharmaceutical", "MedicinalProductUndesirableEffect", "MessageDefinition",
	"MessageHeader", "MolecularSequence", "NamingSystem", "NutritionOrder", "Observation",
	"ObservationDefinition", "OperationDefinition", "OperationOutcome", "Organization",
	"OrganizationAffiliation", "Parameters", "Patient", "PaymentNotice", "PaymentReconciliation",
	"Person", "PlanDefinition", "Practitioner", "PractitionerRole", "Procedure", "Provenance",
	"Questionnaire", "QuestionnaireResponse", "RelatedPerson", "RequestGroup", "ResearchDefinition",
	"ResearchElementDefinition", "ResearchStudy", "ResearchSubject", "RiskAssessment",
	"RiskEvidenceSynthesis", "Schedule", "SearchParameter", "ServiceRequest", "Slot", "Specimen",
	"SpecimenDefinition", "StructureDefinition", "StructureMap", "Subscription", "Substance",
	"SubstanceNucleicAcid", "SubstancePolymer", "SubstanceProtein", "SubstanceReferenceInformation",
	"SubstanceSourceMaterial", "SubstanceSpecification", "SupplyDelivery", "SupplyRequest", "Task",
	"TerminologyCapabilities", "TestReport", "TestScript", "ValueSet", "VerificationResult",
	"VisionPrescription",
}

// encounterClasses are the Encounter classes that have a data category.
var encounterClasses = []string{policy.EncounterClassAmbulatory, policy.EncounterClassInpatient}

// firstCategories are fetched before the others, so that on a first pull
// the patients and clinicians other resources refer to usually arrive
// first.
var firstCategories = []string{policy.CategoryDemographics, policy.CategoryClinicalContacts}

// isResourceType reports whether name is a FHIR R4 resource type.
func isResourceType(name string) bool {
	_, found := slices.BinarySearch(r4ResourceTypes, name)
	return found
}

// feed is one incremental search of the organisation's endpoint: the
// resources of one type, or, for a type whose category depends on its
// class (Encounter), of one type and class. Each feed has its own
// watermark.
type feed struct {
	ResourceType string
	// Class is the Encounter class searched for; empty for other types.
	Class    string
	Category string
}

// Key names the feed in the state file and in logs.
func (f feed) Key() string {
	if f.Class == "" {
		return f.ResourceType
	}
	return f.ResourceType + "?class=" + f.Class
}

// accepts reports whether a resource of this type and class belongs to the
// feed, and so to a category the organisation may provide now.
func (f feed) accepts(resourceType, class string) bool {
	category, ok := policy.CategoryOf(resourceType, class)
	return ok && resourceType == f.ResourceType && category == f.Category
}

// feedsFor gives the feeds of the permitted categories, in fetch order:
// the first categories, then the others by name, and types by name.
func feedsFor(categories []string) []feed {
	var feeds []feed
	for _, resourceType := range r4ResourceTypes {
		for _, f := range feedsOfType(resourceType) {
			if slices.Contains(categories, f.Category) {
				feeds = append(feeds, f)
			}
		}
	}
	slices.SortStableFunc(feeds, func(a, b feed) int {
		return cmp.Or(
			cmp.Compare(categoryRank(a.Category), categoryRank(b.Category)),
			cmp.Compare(a.Category, b.Category),
		)
	})
	return feeds
}

// feedsOfType gives the feeds a resource type can be fetched by: one, or
// one per class when its category depends on its class, or none when it
// has no category.
func feedsOfType(resourceType string) []feed {
	if category, ok := policy.CategoryOf(resourceType, ""); ok {
		return []feed{{ResourceType: resourceType, Category: category}}
	}
	var feeds []feed
	for _, class := range encounterClasses {
		if category, ok := policy.CategoryOf(resourceType, class); ok {
			feeds = append(feeds, feed{ResourceType: resourceType, Class: class, Category: category})
		}
	}
	return feeds
}

func categoryRank(category string) int {
	if i := slices.Index(firstCategories, category); i >= 0 {
		return i
	}
	return len(firstCategories)
}
