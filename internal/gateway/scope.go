/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"net/url"
	"slices"
	"strings"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// Direct care never needs a population query, so a search of a type that
// holds patient data must name exactly one patient by NHS number, in one
// of these forms (docs/gateway.md). Patient itself is searched by its own
// identifier.
var (
	// patientScopeParameters name the patient of a search of any type
	// that holds patient data, other than Patient.
	patientScopeParameters = []string{
		"patient.identifier", "patient:Patient.identifier", "subject:Patient.identifier",
		"patient:identifier", "subject:identifier",
	}
	// patientSelfParameters name the patient of a Patient search.
	patientSelfParameters = []string{"identifier"}
	// patientNamingBases are the parameters (in any spelling, with any
	// modifier or chain) that name a patient in some other way: by a
	// literal id, by a missing or negated value, by a hierarchy, by a
	// chain through another parameter. They are refused unless they are
	// exactly one of the forms above.
	patientNamingBases = []string{"patient", "subject", "_id"}
	// patientSelfNamingBases are those of a Patient search.
	patientSelfNamingBases = []string{"identifier", "_id", "link"}
)

// pagePatientParameter carries, in the search page links the gateway
// writes, the patient of the search the page belongs to.
const pagePatientParameter = "patient.identifier"

// holdsPatientData reports whether a shared resource type is about a
// patient. Only the clinical contacts (Practitioner, PractitionerRole,
// Organization) are not.
func holdsPatientData(resourceType string) bool {
	if resourceType == "Encounter" {
		return true
	}
	category, ok := policy.CategoryOf(resourceType, "")
	return ok && category != policy.CategoryClinicalContacts
}

// patientScope collects the parameters of a search that name its patient.
type patientScope struct {
	resourceType string
	forms, bases []string
	// values are the values of every parameter in an accepted form.
	values []string
	name   string
}

func newPatientScope(resourceType string) *patientScope {
	s := &patientScope{resourceType: resourceType, forms: patientScopeParameters, bases: patientNamingBases}
	if resourceType == "Patient" {
		s.forms, s.bases = patientSelfParameters, patientSelfNamingBases
	}
	return s
}

// add reports whether a parameter names the search's patient, and refuses
// one that names a patient in a form the gateway does not accept: a case
// variant of an accepted form, a literal id, a modifier such as :missing,
// :not or :above, or a chain other than to the patient's identifier.
func (s *patientScope) add(name string, values []string) (bool, error) {
	if slices.Contains(s.forms, name) {
		s.values = append(s.values, values...)
		s.name = name
		return true, nil
	}
	if slices.Contains(s.bases, strings.ToLower(parameterBase(name))) {
		return false, badRequest("search parameter %s names a patient in a form the record gateway does not accept: "+
			"name exactly one patient by NHS number with %s=%s|<NHS number>", name, s.forms[0], SystemNHSNumber)
	}
	return false, nil
}

// patient is the NHS number the search is scoped to. A type that holds
// patient data needs exactly one patient parameter with exactly one value,
// the NHS number system and a number that passes the modulus-11 check; a
// type that does not must name none.
func (s *patientScope) patient() (string, error) {
	if !holdsPatientData(s.resourceType) {
		if len(s.values) > 0 {
			return "", badRequest("%s holds no patient data: search it without a patient parameter (%s)", s.resourceType, s.name)
		}
		return "", nil
	}
	if len(s.values) != 1 {
		return "", badRequest("a search of %s must name exactly one patient by NHS number, with exactly one of %s "+
			"given once (got %d): direct care never needs a search across patients", s.resourceType,
			strings.Join(s.forms, ", "), len(s.values))
	}
	return nhsNumberToken(s.name, s.values[0])
}

// nhsNumberToken reads a token search value system|value in the NHS number
// system, with a valid NHS number and nothing else: no list of values, no
// escapes, no spaces.
func nhsNumberToken(name, value string) (string, error) {
	number, ok := strings.CutPrefix(value, SystemNHSNumber+"|")
	if !ok {
		return "", badRequest("search parameter %s must be %s|<NHS number>: the system must be the NHS number system, "+
			"written exactly so, with one value", name, SystemNHSNumber)
	}
	if !ValidNHSNumber(number) {
		return "", badRequest("search parameter %s does not hold a valid NHS number: ten digits whose last is the "+
			"modulus-11 check digit, one value only", name)
	}
	return number, nil
}

// pagePatient takes the patient a search page is scoped to out of its
// query. It is optional: a page without one has every entry that holds
// patient data withheld.
func pagePatient(query url.Values) (string, url.Values, error) {
	rest := url.Values{}
	var values []string
	for name, v := range query {
		switch {
		case name == pagePatientParameter:
			values = append(values, v...)
		case strings.EqualFold(name, pagePatientParameter):
			return "", nil, badRequest("parameter %s is not supported for a search page: the patient is %s", name, pagePatientParameter)
		default:
			rest[name] = v
		}
	}
	switch len(values) {
	case 0:
		return "", rest, nil
	case 1:
		patient, err := nhsNumberToken(pagePatientParameter, values[0])
		return patient, rest, err
	default:
		return "", nil, badRequest("a search page names at most one patient (%s is given %d times)", pagePatientParameter, len(values))
	}
}
