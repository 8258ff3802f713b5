/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"bytes"
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
// patient at all, and contains no resource of a type that is about one.
// Anything else withholds the resource, with a reason that never holds an
// NHS number.

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
	reasonManyPatients = "the resource is about more than one patient and its type is about one, so it is not shared"
	reasonEmbedded     = "the resource holds another resource outside contained, which R4 does not allow and whose category " +
		"is not decided on, so it is not shared"
	reasonNamedTwice = "a reference or identifier names its target twice, differently, so which patient it names cannot " +
		"be known and it is not shared"
	reasonNotPatientData = " is not patient data but carries a patient (a contained Patient, a patient reference or an " +
		"NHS number), so it is not shared"
	reasonContainsPatientData = " is not patient data but contains a resource of a type that is, so it is not shared"
)

// target is what a literal reference points at.
type target uint8

const (
	// targetNone: there is no literal reference.
	targetNone target = iota
	// targetPatient: a Patient ("Patient/1", "http://host/fhir/Patient/1",
	// "Patient?identifier=...").
	targetPatient
	// targetLocal: the resource ("#") or one of its contained resources
	// ("#id").
	targetLocal
	// targetUnknown: no resource type can be read from it
	// ("urn:uuid:..."); it names a patient only together with a Patient
	// type or an NHS number.
	targetUnknown
	// targetOther: a resource of another type.
	targetOther
)

// targetOf is what a literal reference points at, and the reference
// without surrounding space or any version.
func targetOf(b []byte) (target, []byte) {
	literal := bytes.TrimSpace(b)
	if i := bytes.Index(literal, []byte("/_history")); i >= 0 {
		literal = literal[:i]
	}
	if bytes.HasPrefix(literal, []byte("#")) {
		return targetLocal, literal
	}
	typ := literal
	if i := bytes.IndexByte(typ, '?'); i >= 0 {
		typ = typ[:i]
		typ = typ[bytes.LastIndexByte(typ, '/')+1:]
	} else {
		i := bytes.LastIndexByte(typ, '/')
		if i <= 0 {
			return targetUnknown, literal
		}
		typ = typ[:i]
		typ = typ[bytes.LastIndexByte(typ, '/')+1:]
	}
	switch {
	case bytes.EqualFold(typ, patientBytes):
		return targetPatient, literal
	case len(typ) == 0:
		return targetUnknown, literal
	}
	return targetOther, literal
}

// mention is a place in a resource that names a patient.
type mention struct {
	// literal is its literal reference ("Patient/1", "#p1", "#"), without
	// any version; empty when it has none. local is set when it points at
	// the resource or one of its contained resources.
	literal string
	local   bool
	// nhs is the valid NHS number of its identifier; nhsBad is set when it
	// has an identifier in the NHS number system without a valid one.
	nhs    string
	nhsBad bool
	// typePatient is set when its type says it is a Patient.
	typePatient bool
	// identifierOf, when not negative, is the frame whose own identifier
	// this is: it identifies that frame when it is a Patient.
	identifierOf int
}

// found takes note of an object the resource holds when it names a
// patient. identifierOf is the frame whose own identifier it is, or -1.
func (r *resourceReader) found(o *object, identifierOf int) {
	m := mention{identifierOf: identifierOf, typePatient: o.typePatient}
	named := r.identifies(&m, o.id)
	if o.hasIdentifier {
		named = r.identifies(&m, o.identifier) || named
	}
	otherType := o.typeOther
	switch o.refersTo {
	case targetLocal:
		m.literal, m.local = o.reference, true
	case targetPatient:
		m.literal, m.typePatient = o.reference, true
	case targetUnknown:
		m.literal = o.reference
	case targetOther:
		otherType = true
	}
	named = named || m.typePatient || m.local
	if !named {
		return
	}
	if otherType && (m.typePatient || m.nhs != "" || m.nhsBad) && !m.local {
		r.withhold(reasonTargetMismatch)
	}
	r.mentions = append(r.mentions, m)
}

// identifies reads an Identifier into a mention: it names a patient when
// its system is the NHS number system.
func (r *resourceReader) identifies(m *mention, id idPart) bool {
	switch {
	case !id.nhsSystem:
		return false
	case id.nhs == "":
		m.nhsBad = true
	case m.nhs != "" && m.nhs != id.nhs:
		r.withhold(reasonInconsistent)
	default:
		m.nhs = id.nhs
	}
	return true
}

// node is a literal reference, an NHS number or a Patient of the
// resource: the things that name a patient. Nodes that name the same
// patient are joined.
type node struct {
	// frame is the Patient's frame, or -1.
	frame int
	// literal is a literal reference that points at no Patient of the
	// resource; nhs an NHS number.
	literal, nhs string
	// mention is 1 + the index of a mention that names a patient by
	// identifier or type alone.
	mention int
}

// nodeFor is the index of the node, added when new.
func (r *resourceReader) nodeFor(n node) int {
	for i, known := range r.nodes {
		if known == n {
			return i
		}
	}
	r.nodes = append(r.nodes, n)
	r.parents = append(r.parents, len(r.nodes)-1)
	return len(r.nodes) - 1
}

func (r *resourceReader) root(i int) int {
	for r.parents[i] != i {
		r.parents[i] = r.parents[r.parents[i]]
		i = r.parents[i]
	}
	return i
}

func (r *resourceReader) join(a, b int) {
	r.parents[r.root(a)] = r.root(b)
}

// patients gives the NHS numbers of the resource's patients and, when it
// must be withheld for them, why.
func (r *resourceReader) patients() ([]string, string) {
	for i, f := range r.frames {
		if f.resourceType != "Patient" {
			continue
		}
		// A Patient is identified by its own identifiers, whatever a
		// reference to it says.
		identified := false
		for _, m := range r.mentions {
			identified = identified || (m.identifierOf == i && m.nhs != "")
		}
		if !identified {
			r.withhold(reasonUnidentified)
		}
		r.nodeFor(node{frame: i})
	}
	for i, m := range r.mentions {
		var at int
		switch {
		case m.identifierOf >= 0 && r.frames[m.identifierOf].resourceType == "Patient":
			at = r.nodeFor(node{frame: m.identifierOf})
		case m.local:
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
			at = r.nodeFor(node{frame: target})
		case m.literal != "" && r.frames[0].resourceType == "Patient" && isLiteralOf(m.literal, r.frames[0].id):
			at = r.nodeFor(node{frame: 0})
		case m.literal != "":
			at = r.nodeFor(node{frame: -1, literal: m.literal})
		default:
			// Named by identifier or type alone: a patient of its own,
			// unless its NHS number joins it to another.
			at = r.nodeFor(node{frame: -1, mention: i + 1})
		}
		if m.nhsBad {
			r.withhold(reasonNHSInvalid)
		}
		if m.nhs != "" {
			r.join(at, r.nodeFor(node{frame: -1, nhs: m.nhs}))
		}
	}
	// Each patient is a group of joined nodes with exactly one NHS number.
	var numbers []string
	people := 0
	for i := range r.nodes {
		if r.root(i) != i {
			continue
		}
		people++
		count := 0
		for j, n := range r.nodes {
			if n.nhs != "" && r.root(j) == i {
				count++
				numbers = append(numbers, n.nhs)
			}
		}
		switch {
		case count == 0:
			r.withhold(reasonUnidentified)
		case count > 1:
			r.withhold(reasonInconsistent)
		}
	}
	root := r.frames[0].resourceType
	switch {
	case slices.Contains(nonPatientTypes, root) && people > 0:
		r.problem = "a " + root + reasonNotPatientData
	case slices.Contains(nonPatientTypes, root) && r.containsPatientData():
		// Patient data needs no patient reference to be patient data: a
		// contained Observation without a subject is still someone's.
		r.problem = "a " + root + reasonContainsPatientData
	case people > 1 && !slices.Contains(multiPatientTypes, root):
		r.withhold(reasonManyPatients)
	}
	return numbers, r.problem
}

// containsPatientData reports whether any contained resource is of a type
// in the patient compartment: a shared type that holds patient data and is
// not itself outside the compartment (as a contained Medication is).
func (r *resourceReader) containsPatientData() bool {
	for _, f := range r.frames[1:] {
		if holdsPatientData(f.resourceType) && !slices.Contains(nonPatientTypes, f.resourceType) {
			return true
		}
	}
	return false
}

// isLiteralOf reports whether a literal reference is "Patient/id".
func isLiteralOf(literal, id string) bool {
	rest, ok := strings.CutPrefix(literal, "Patient/")
	return ok && id != "" && rest == id
}

// localTarget is the frame a local reference points at, or -1.
func (r *resourceReader) localTarget(literal string) int {
	if literal == "#" {
		return 0
	}
	for i := 1; i < len(r.frames); i++ {
		if id := r.frames[i].id; id != "" && literal[1:] == id {
			return i
		}
	}
	return -1
}
