/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"slices"
	"strings"
)

// The patients of a resource are every patient it names, wherever it
// names them: each Patient it is or contains, and each mention of a
// patient (a Reference whose literal reference points at a Patient, whose
// type is Patient or whose identifier is in the NHS number system; an
// Identifier in the NHS number system anywhere). Mentions that share a
// literal reference or an NHS number are one patient; a Patient is its
// literal references ("Patient/id" and "#" for the resource, "#id" for a
// contained one) and its NHS numbers. Each patient must have exactly one
// valid NHS number; a resource about more than one patient is shared only
// when its type is in multiPatientTypes; a type in nonPatientTypes has no
// patient at all. Anything else withholds the resource, with a reason that
// never holds an NHS number.

// The reasons a resource is withheld for its patients.
const (
	reasonUnidentified = "the resource does not identify its patient by a valid NHS number (it names a patient by a literal " +
		"reference with no identifier, by type alone, or is a Patient without one), so it is not shared"
	reasonNHSInvalid = "an identifier in the NHS number system does not hold a valid NHS number, so the patient it names " +
		"cannot be identified and the resource is not shared"
	reasonInconsistent = "the resource names one patient with different NHS numbers (an identifier and a literal " +
		"reference, or a Patient's identifiers, that disagree), so it is not shared"
	reasonTargetMismatch = "a reference names a patient by its type or identifier but its literal reference points at " +
		"another resource, so which patient it names cannot be known and it is not shared"
	reasonUnresolved = "a reference points at a contained resource the resource does not contain, so what it names " +
		"cannot be known and it is not shared"
	reasonManyPatients   = "the resource is about more than one patient and its type is about one, so it is not shared"
	reasonNotPatientData = " is not patient data but carries a patient (a contained Patient, a patient reference or an " +
		"NHS number), so it is not shared"
)

// mention is a place in a resource that names a patient.
type mention struct {
	// literal is its literal reference ("Patient/1", "#p1", "#"), without
	// any version; empty when it has none.
	literal string
	// local is set when literal points at the resource or one of its
	// contained resources.
	local bool
	// nhs is the valid NHS number of its identifier; nhsBad is set when it
	// has an identifier in the NHS number system without a valid one.
	nhs    string
	nhsBad bool
	// typePatient is set when its type or literal reference says it is a
	// Patient; otherType when one of them says it is something else.
	typePatient, otherType bool
	// identifierOf, when not negative, is the frame whose own identifier
	// this is: it identifies that frame when it is a Patient.
	identifierOf int
}

// found takes note of an object the resource holds when it names a
// patient. identifierOf is the frame whose own identifier it is, or -1.
func (r *resourceReader) found(o *object, identifierOf int) {
	m := mention{identifierOf: identifierOf}
	named := r.identifies(&m, o)
	if o.identifier != nil {
		named = r.identifies(&m, o.identifier) || named
	}
	if typ := strings.TrimSpace(o.typ); typ != "" {
		if strings.EqualFold(typ, "Patient") {
			m.typePatient, named = true, true
		} else {
			m.otherType = true
		}
	}
	if o.hasReference {
		literal := strings.TrimSpace(o.reference)
		if i := strings.Index(literal, "/_history"); i >= 0 {
			literal = literal[:i]
		}
		switch target := targetType(literal); {
		case strings.HasPrefix(literal, "#"):
			m.literal, m.local = literal, true
			named = true
		case strings.EqualFold(target, "Patient"):
			m.literal, m.typePatient = literal, true
			named = true
		case target != "":
			m.otherType = true
		default:
			// A target of no known type (urn:uuid:...): it names a
			// patient only together with a type or an identifier.
			m.literal = literal
		}
	}
	if !named {
		return
	}
	if m.otherType && (m.typePatient || m.nhs != "" || m.nhsBad) && !m.local {
		r.withhold(reasonTargetMismatch)
	}
	r.mentions = append(r.mentions, m)
}

// identifies reads an object as an Identifier: it names a patient when its
// system is the NHS number system (regardless of case and surrounding
// space), with the valid NHS number it holds.
func (r *resourceReader) identifies(m *mention, id *object) bool {
	if !strings.EqualFold(strings.TrimSpace(id.system), SystemNHSNumber) {
		return false
	}
	switch {
	case !ValidNHSNumber(id.value):
		m.nhsBad = true
	case m.nhs != "" && m.nhs != id.value:
		r.withhold(reasonInconsistent)
	default:
		m.nhs = id.value
	}
	return true
}

// targetType is the resource type a literal reference points at
// ("Patient" for "Patient/1", "http://host/fhir/Patient/1" and
// "Patient?identifier=..."), or empty when it names none.
func targetType(literal string) string {
	if i := strings.IndexByte(literal, '?'); i >= 0 {
		literal = literal[:i]
		if j := strings.LastIndexByte(literal, '/'); j >= 0 {
			return literal[j+1:]
		}
		return literal
	}
	i := strings.LastIndexByte(literal, '/')
	if i <= 0 {
		return ""
	}
	literal = literal[:i]
	return literal[strings.LastIndexByte(literal, '/')+1:]
}

// patient is one patient of the resource: the literal references and the
// NHS numbers that name them.
type patient struct {
	literals, nhs []string
}

func (p *patient) names(literal, nhs string) bool {
	return (literal != "" && slices.Contains(p.literals, literal)) || (nhs != "" && slices.Contains(p.nhs, nhs))
}

// patients gives the NHS numbers of the resource's patients and, when it
// must be withheld for them, why.
func (r *resourceReader) patients() ([]string, string) {
	var people []patient
	add := func(literals []string, nhs string) {
		merged := patient{literals: literals}
		if nhs != "" {
			merged.nhs = []string{nhs}
		}
		kept := people[:0]
		for _, p := range people {
			named := slices.ContainsFunc(literals, func(l string) bool { return p.names(l, "") }) || p.names("", nhs)
			if named {
				merged.literals = appendNew(merged.literals, p.literals...)
				merged.nhs = appendNew(merged.nhs, p.nhs...)
			} else {
				kept = append(kept, p)
			}
		}
		people = append(kept, merged)
	}
	for i, f := range r.frames {
		if f.resourceType != "Patient" {
			continue
		}
		// A Patient is identified by its own identifiers, whatever a
		// reference to it says.
		identified := slices.ContainsFunc(r.mentions, func(m mention) bool { return m.identifierOf == i && m.nhs != "" })
		if !identified {
			r.withhold(reasonUnidentified)
		}
		add(r.frameLiterals(i), "")
	}
	for _, m := range r.mentions {
		if m.identifierOf >= 0 && r.frames[m.identifierOf].resourceType == "Patient" {
			if m.nhsBad {
				r.withhold(reasonNHSInvalid)
			}
			add(r.frameLiterals(m.identifierOf), m.nhs)
			continue
		}
		literal := m.literal
		if m.local {
			target := r.localTarget(m.literal)
			switch {
			case target < 0:
				r.withhold(reasonUnresolved)
				continue
			case r.frames[target].resourceType != "Patient":
				if m.typePatient || m.nhs != "" || m.nhsBad {
					r.withhold(reasonTargetMismatch)
				}
				continue
			}
			literal = r.frameLiterals(target)[0]
		}
		if m.nhsBad {
			r.withhold(reasonNHSInvalid)
		}
		var literals []string
		if literal != "" {
			literals = []string{literal}
		}
		add(literals, m.nhs)
	}
	var numbers []string
	for _, p := range people {
		switch len(p.nhs) {
		case 0:
			r.withhold(reasonUnidentified)
		case 1:
		default:
			r.withhold(reasonInconsistent)
		}
		numbers = append(numbers, p.nhs...)
	}
	root := r.frames[0].resourceType
	switch {
	case slices.Contains(nonPatientTypes, root) && len(people) > 0:
		r.problem = "a " + root + reasonNotPatientData
	case len(people) > 1 && !slices.Contains(multiPatientTypes, root):
		r.withhold(reasonManyPatients)
	}
	return numbers, r.problem
}

// frameLiterals are the literal references that point at a frame: "#" and
// "Patient/id" for the resource, "#id" for a contained one.
func (r *resourceReader) frameLiterals(index int) []string {
	if index > 0 {
		return []string{"#" + r.frames[index].id}
	}
	if id := r.frames[0].id; id != "" {
		return []string{"#", r.frames[0].resourceType + "/" + id}
	}
	return []string{"#"}
}

// localTarget is the frame a local reference points at, or -1.
func (r *resourceReader) localTarget(literal string) int {
	if literal == "#" {
		return 0
	}
	for i := 1; i < len(r.frames); i++ {
		if id := r.frames[i].id; id != "" && "#"+id == literal {
			return i
		}
	}
	return -1
}
