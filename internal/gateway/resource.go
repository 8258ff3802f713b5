/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"errors"
	"fmt"
	"slices"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// The identifier and code systems the gateway reads.
const (
	// SystemODS identifies organisations; a resource's meta.tag in this
	// system names the organisation it came from.
	SystemODS = "https://fhir.nhs.uk/Id/ods-organization-code"
	// SystemNHSNumber identifies patients.
	SystemNHSNumber = "https://fhir.nhs.uk/Id/nhs-number"
	// systemConsentScope is the R4 Consent.scope code system.
	systemConsentScope = "http://terminology.hl7.org/CodeSystem/consentscope"
)

// dataConsentScopes are the Consent scopes that record a patient's own care
// decisions (advance directives, treatment consent). Any other Consent is
// governance: an objection, or consent to share or to research.
var dataConsentScopes = []string{"adr", "treatment"}

// resourceFacts is what the gateway needs to know about a resource to decide
// on it. It holds no clinical content.
type resourceFacts struct {
	ResourceType string
	ID           string
	// Category is the data category; empty when the resource has none.
	Category string
	// Unshareable, when set, says why the resource is never shared: it, or
	// one of its contained resources, has no category or cannot be read.
	Unshareable string
	// ContainedCategories are the categories of its contained resources.
	ContainedCategories []string
	// Source is the ODS code of the organisation the resource came from;
	// empty when the resource does not carry exactly one.
	Source string
	// Labels are its meta.security codes and those of contained resources.
	Labels []string
	// Patients are the valid NHS numbers of the patients it is about.
	Patients []string
}

// fhirResource is the part of a FHIR R4 resource the gateway reads. Fields
// whose shape depends on the type stay raw and are decoded only for the
// types that have them. Subject and patient are a Reference wherever R4
// has them (Account.subject, a list, belongs to a type that is never
// shared), so they are decoded at once; a resource where they are not is
// unreadable and never shared.
type fhirResource struct {
	ResourceType string           `json:"resourceType"`
	ID           string           `json:"id"`
	Meta         resourceMeta     `json:"meta"`
	Class        jsontext.Value   `json:"class"`
	Scope        jsontext.Value   `json:"scope"`
	Identifier   jsontext.Value   `json:"identifier"`
	Subject      *reference       `json:"subject"`
	Patient      *reference       `json:"patient"`
	Participant  jsontext.Value   `json:"participant"`
	Contained    []jsontext.Value `json:"contained"`
}

type resourceMeta struct {
	Tag      []coding `json:"tag"`
	Security []coding `json:"security"`
}

type coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

type codeableConcept struct {
	Coding []coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

type identifier struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value,omitempty"`
}

type reference struct {
	Reference  string      `json:"reference,omitempty"`
	Type       string      `json:"type,omitempty"`
	Identifier *identifier `json:"identifier,omitempty"`
	Display    string      `json:"display,omitempty"`
}

// inspect reads the facts of a FHIR JSON resource, with those of its
// contained resources folded in. An error means the resource cannot be
// decided on and must not be shared.
func inspect(data jsontext.Value) (resourceFacts, error) {
	r, err := decodeResource(data)
	if err != nil {
		return resourceFacts{}, err
	}
	return factsOf(r)
}

// factsOf reads the facts of a decoded resource, as inspect does.
func factsOf(r fhirResource) (resourceFacts, error) {
	facts := resourceFacts{
		ResourceType: r.ResourceType,
		ID:           r.ID,
		Source:       sourceOrganisation(r.Meta.Tag),
		Labels:       securityCodes(r.Meta.Security),
	}
	facts.Category, facts.Unshareable = categorise(r)
	var err error
	if facts.Patients, err = patientsOf(r); err != nil {
		return resourceFacts{}, err
	}
	for i, raw := range r.Contained {
		if err := facts.addContained(raw); err != nil {
			return resourceFacts{}, fmt.Errorf("contained resource %d: %w", i, err)
		}
	}
	return facts, nil
}

func decodeResource(data jsontext.Value) (fhirResource, error) {
	var r fhirResource
	err := json.Unmarshal(data, &r, resourceJSON)
	return r, checkDecoded(r, err)
}

// resourceJSON is how the gateway reads a resource's JSON. A member named
// twice makes the resource unreadable, so it is never shared: which of the
// two a client would read cannot be known. Names are matched regardless of
// case (strings.EqualFold), as encoding/json matched them, so a member
// such as "Meta" still counts (its labels still withhold the resource),
// and "meta" and "Meta" in one object count as the same member named
// twice. Underscores and dashes are not ignored: "_id" is FHIR's extension
// of id, not id.
var resourceJSON = json.JoinOptions(json.MatchCaseInsensitiveNames(true), jsonv1.MatchCaseSensitiveDelimiter(true))

// checkDecoded refuses a resource that did not decode (err) or has no type.
func checkDecoded(r fhirResource, err error) error {
	if err != nil {
		return fmt.Errorf("resource is not valid FHIR JSON: %w", err)
	}
	if r.ResourceType == "" {
		return errors.New("resource has no resourceType")
	}
	return nil
}

// addContained folds a contained resource into its container's facts: its
// category must be granted too, its labels count, and its patients count.
// It inherits the container's provenance.
func (f *resourceFacts) addContained(data jsontext.Value) error {
	r, err := decodeResource(data)
	if err != nil {
		return err
	}
	if len(r.Contained) > 0 {
		return errors.New("contained resources cannot contain resources")
	}
	if category, why := categorise(r); category == "" {
		f.Unshareable = "a contained " + why
	} else {
		f.ContainedCategories = appendNew(f.ContainedCategories, category)
	}
	f.Labels = append(f.Labels, securityCodes(r.Meta.Security)...)
	patients, err := patientsOf(r)
	if err != nil {
		return err
	}
	f.Patients = appendNew(f.Patients, patients...)
	return nil
}

// categorise gives a resource's data category, or why it has none.
func categorise(r fhirResource) (category, unshareable string) {
	var class coding
	var scope codeableConcept
	switch {
	case r.ResourceType == "Encounter" && unmarshalOptional(r.Class, &class) != nil:
		return "", "Encounter.class is not an R4 Coding, so the encounter has no data category"
	case r.ResourceType == "Consent" && unmarshalOptional(r.Scope, &scope) != nil:
		return "", "Consent.scope is not a CodeableConcept, so the consent has no data category"
	}
	var scopes []string
	for _, c := range scope.Coding {
		if c.System == systemConsentScope {
			scopes = append(scopes, c.Code)
		}
	}
	return categoryOf(r.ResourceType, class.Code, scopes)
}

// categoryOf gives the data category of a resource type, or why it has
// none. An Encounter's category depends on its class. A Consent is shared
// only as a care decision, with scope adr or treatment; any other Consent
// (an objection, a consent to share) is governance.
func categoryOf(resourceType, encounterClass string, consentScopes []string) (category, unshareable string) {
	switch resourceType {
	case "Encounter":
		if category, ok := policy.CategoryOf(resourceType, encounterClass); ok {
			return category, ""
		}
		return "", fmt.Sprintf("Encounter class %q has no data category (AMB and IMP have), so it is never shared", encounterClass)
	case "Consent":
		for _, scope := range consentScopes {
			if slices.Contains(dataConsentScopes, scope) {
				return policy.CategoryPreferences, ""
			}
		}
		return "", "a Consent without scope adr or treatment is governance (an objection or a consent to share) and is never shared"
	}
	if category, ok := policy.CategoryOf(resourceType, ""); ok {
		return category, ""
	}
	return "", "resource type " + resourceType + " has no data category, so it is never shared"
}

// sourceOrganisation is the ODS code of the resource's provenance tag, or
// empty when it has none or several different ones.
func sourceOrganisation(tags []coding) string {
	source := ""
	for _, t := range tags {
		if t.System != SystemODS {
			continue
		}
		if t.Code == "" || (source != "" && source != t.Code) {
			return ""
		}
		source = t.Code
	}
	return source
}

func securityCodes(labels []coding) []string {
	codes := make([]string, 0, len(labels))
	for _, l := range labels {
		if l.Code != "" {
			codes = appendNew(codes, l.Code)
		}
	}
	return codes
}

// patientsOf gives the valid NHS numbers of the patients a resource is
// about: a Patient's own identifiers; otherwise the identifiers of its
// subject, patient and (Appointment) participant actor references.
func patientsOf(r fhirResource) ([]string, error) {
	if r.ResourceType == "Patient" {
		var ids []identifier
		if err := unmarshalOptional(r.Identifier, &ids); err != nil {
			return nil, fmt.Errorf("Patient.identifier: %w", err)
		}
		return nhsNumbers(ids), nil
	}
	var ids []identifier
	for _, ref := range [...]*reference{r.Subject, r.Patient} {
		if ref != nil && ref.Identifier != nil {
			ids = append(ids, *ref.Identifier)
		}
	}
	if r.ResourceType == "Appointment" {
		var participants []struct {
			Actor reference `json:"actor"`
		}
		if err := unmarshalOptional(r.Participant, &participants); err != nil {
			return nil, fmt.Errorf("Appointment.participant: %w", err)
		}
		for _, p := range participants {
			if p.Actor.Identifier != nil {
				ids = append(ids, *p.Actor.Identifier)
			}
		}
	}
	return nhsNumbers(ids), nil
}

func unmarshalOptional(raw jsontext.Value, into any) error {
	if len(raw) == 0 {
		return nil
	}
	return json.Unmarshal(raw, into, resourceJSON)
}

// nhsNumbers keeps the identifiers in the NHS number system whose value
// passes the modulus-11 check.
func nhsNumbers(ids []identifier) []string {
	var out []string
	for _, id := range ids {
		if id.System == SystemNHSNumber && ValidNHSNumber(id.Value) {
			out = appendNew(out, id.Value)
		}
	}
	return out
}

func appendNew(list []string, values ...string) []string {
	for _, v := range values {
		if !slices.Contains(list, v) {
			list = append(list, v)
		}
	}
	return list
}
