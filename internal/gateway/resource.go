/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

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

// labelUnreadable is the label a resource gets for a security label the
// gateway cannot read (a meta.security that is not a list of Codings, a
// code that is not a string, a label without a code). It is V, the most
// restrictive confidentiality code, so that policy treats the resource as
// sensitive: a label that cannot be read is never taken as absent.
const labelUnreadable = "V"

// multiPatientTypes are the resource types that may be about more than one
// patient, and are shared when every one of them passes. Only Appointment
// is: in R4 its participants are a list, and a joint appointment (mother
// and baby, a couple, a family session) is one record of direct care for
// each of them. Every other type is about one patient (R4 gives it one
// subject or patient), so a second patient in it is patient data that was
// put where it does not belong, and the resource is withheld.
var multiPatientTypes = []string{"Appointment"}

// nonPatientTypes are the shared resource types outside the patient
// compartment: they describe staff, organisations and products, never a
// patient, so a patient anywhere in them (a contained Patient, a reference
// to a patient, an NHS number) withholds them.
var nonPatientTypes = []string{"Practitioner", "PractitionerRole", "Organization", "Medication", "Location", "HealthcareService", "Endpoint", "Substance"}

// resourceFacts is what the gateway needs to know about a resource to decide
// on it. It holds no clinical content.
type resourceFacts struct {
	ResourceType string
	ID           string
	// Category is the data category; empty when the resource has none.
	Category string
	// Unshareable, when set, says why the resource is never shared: it, or
	// one of its contained resources, has no category or cannot be read, or
	// its patients cannot all be identified. It never holds an NHS number.
	Unshareable string
	// ContainedCategories are the categories of its contained resources.
	ContainedCategories []string
	// Source is the ODS code of the organisation the resource came from;
	// empty when the resource does not carry exactly one.
	Source string
	// Labels are its security label codes, wherever R4 puts them, and
	// those of its contained resources. A code that differs from a
	// sensitive code only by case or surrounding space is that sensitive
	// code; a label that cannot be read is labelUnreadable.
	Labels []string
	// Patients are the NHS numbers of the patients it is about, one per
	// patient.
	Patients []string
}

// coding, codeableConcept, identifier and reference are the FHIR data
// types of the same names, as the gateway writes them in audit events.
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
// contained resources folded in, in one pass over its JSON (resourcewalk.go
// reads it). An error means the resource cannot be decided on and must not
// be shared.
func inspect(data jsontext.Value) (resourceFacts, error) {
	r := readers.Get().(*resourceReader)
	defer r.release()
	r.in = *bytes.NewBuffer(data)
	r.dec.Reset(&r.in)
	if err := r.readRoot(); err != nil {
		return resourceFacts{}, errors.New(redactNumbers(err.Error()))
	}
	return r.facts(), nil
}

// redactNumbers replaces each run of ten or more digits (spaces and dashes
// between them included) in an error about a resource, so that an NHS
// number the resource holds (as a member name, say) never reaches an audit
// event or a log.
func redactNumbers(s string) string {
	var out strings.Builder
	for i := 0; i < len(s); {
		if s[i] < '0' || s[i] > '9' {
			out.WriteByte(s[i])
			i++
			continue
		}
		end, digits := i, 0
		for end < len(s) && (s[end] >= '0' && s[end] <= '9' || s[end] == ' ' || s[end] == '-') {
			if s[end] != ' ' && s[end] != '-' {
				digits++
			}
			end++
		}
		if digits >= 10 {
			out.WriteString("[number]")
		} else {
			out.WriteString(s[i:end])
		}
		i = end
	}
	return out.String()
}

// facts are the facts of the resource read: its category, provenance and
// labels, and its patients with the reason, if any, to withhold it for
// them.
func (r *resourceReader) facts() resourceFacts {
	root := &r.frames[0]
	facts := resourceFacts{
		ResourceType: root.resourceType,
		ID:           root.id,
		Source:       root.source(),
	}
	if len(r.labels) > 0 {
		facts.Labels = slices.Clone(r.labels)
	}
	facts.Category, facts.Unshareable = root.categorise()
	for i := range r.frames[1:] {
		if category, why := r.frames[i+1].categorise(); category == "" {
			if facts.Unshareable == "" {
				facts.Unshareable = "a contained " + why
			}
		} else {
			facts.ContainedCategories = appendNew(facts.ContainedCategories, category)
		}
	}
	var problem string
	facts.Patients, problem = r.patients()
	if facts.Unshareable == "" {
		facts.Unshareable = problem
	}
	return facts
}

// categorise gives a resource's data category, or why it has none.
func (f *frame) categorise() (category, unshareable string) {
	switch {
	case f.resourceType == "Encounter" && f.classBad:
		return "", "Encounter.class is not an R4 Coding, so the encounter has no data category"
	case f.resourceType == "Consent" && f.scopeBad:
		return "", "Consent.scope is not a CodeableConcept, so the consent has no data category"
	}
	return categoryOf(f.resourceType, f.class, f.scopes)
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

// source is the ODS code of the resource's provenance tag, or empty when
// it has none, several different ones, or one that cannot be read.
func (f *frame) source() string {
	if f.tagsBad || len(f.tags) != 1 {
		return ""
	}
	return f.tags[0]
}

func appendNew(list []string, values ...string) []string {
	for _, v := range values {
		if !slices.Contains(list, v) {
			list = append(list, v)
		}
	}
	return list
}
