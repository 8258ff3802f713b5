/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// A resource is read in one pass over its JSON tokens, every element of
// it, whether or not R4 defines it for the resource's type: every object
// shaped like a Reference to a patient, every string that is a literal
// reference to a Patient, every Identifier in the NHS number system and
// every Patient (the resource or a contained one) names a patient
// (resourcepatients.go decides who they are), and every security
// label counts wherever it is: meta.security of the resource and of each
// contained resource, any element named securityLabel
// (DocumentReference.securityLabel, Consent.provision.securityLabel) and
// any element named confidentiality (Composition.confidentiality). Any
// other element named security counts as meta.security does, wherever it
// is: a label put where R4 does not put it is still a label.
//
// Member names are matched regardless of case (strings.EqualFold), so a
// member such as "Meta" still counts. A resource that names a member twice
// in the same case, or one of the members the gateway decides by
// (resourceType, id, meta, contained, class, scope, identifier) twice in
// any case, cannot be read: which of the two a client would read cannot be
// known. Underscores and dashes are not ignored: "_id" is FHIR's extension
// of id, not id. Text that is not UTF-8 cannot be read.

var readers = sync.Pool{New: func() any {
	r := new(resourceReader)
	r.dec = jsontext.NewDecoder(&r.in)
	return r
}}

// resourceReader reads one resource. It is reused through readers, so
// that reading allocates little more than the facts it gives.
type resourceReader struct {
	// in is the resource's JSON, which dec reads in place.
	in  bytes.Buffer
	dec *jsontext.Decoder
	// scratch holds a string read that had escapes in it.
	scratch []byte
	// frames are the resource (first) and its contained resources.
	frames []frame
	// mentions are the places that name a patient.
	mentions []mention
	// labels are the security label codes read, each once.
	labels []string
	// problem is the first reason found to withhold the resource.
	problem string
	// nodes and parents group mentions into patients (resourcepatients.go).
	nodes   []node
	parents []int
}

func (r *resourceReader) release() {
	r.frames = r.frames[:0]
	r.mentions = r.mentions[:0]
	r.labels = r.labels[:0]
	r.nodes = r.nodes[:0]
	r.parents = r.parents[:0]
	r.problem = ""
	r.in = bytes.Buffer{}
	r.dec.Reset(&r.in)
	readers.Put(r)
}

// withhold records a reason to withhold the resource, unless there is one.
func (r *resourceReader) withhold(reason string) {
	if r.problem == "" {
		r.problem = reason
	}
}

// frame is what is read of the resource or of one contained resource.
type frame struct {
	resourceType, id string
	// seen are the members named so far that the gateway decides by.
	seen rootMember
	// class is an Encounter's class code; classBad is set when class is
	// not a Coding with a string code.
	class    string
	classBad bool
	// scopes are the Consent.scope codes in the consentscope system;
	// scopeBad is set when scope is not a CodeableConcept.
	scopes   []string
	scopeBad bool
	// tags are the codes of the meta.tag Codings in the ODS system;
	// tagsBad is set when one cannot be read.
	tags    []string
	tagsBad bool
}

// rootMember is one of the members of a resource the gateway decides by.
type rootMember uint8

const (
	memberResourceType rootMember = 1 << iota
	memberID
	memberMeta
	memberContained
	memberClass
	memberScope
	memberIdentifier
)

// name is a member name the gateway reads, whatever its case.
type name uint8

const (
	nameOther name = iota
	nameResourceType
	nameID
	nameMeta
	nameContained
	nameClass
	nameScope
	nameIdentifier
	nameTag
	nameSecurity
	nameSecurityLabel
	nameConfidentiality
	nameCoding
	nameCode
	nameReference
	nameType
	nameSystem
	nameValue
)

var names = [...]string{
	nameResourceType: "resourceType", nameID: "id", nameMeta: "meta", nameContained: "contained", nameClass: "class",
	nameScope: "scope", nameIdentifier: "identifier", nameTag: "tag", nameSecurity: "security",
	nameSecurityLabel: "securityLabel", nameConfidentiality: "confidentiality", nameCoding: "coding", nameCode: "code",
	nameReference: "reference", nameType: "type", nameSystem: "system", nameValue: "value",
}

// nameOf is the name a member name is, regardless of case.
func nameOf(b []byte) name {
	for n, known := range names {
		if len(known) == len(b) && string(b) == known {
			return name(n)
		}
	}
	for n, known := range nameBytes {
		if len(known) > 0 && len(known) == len(b) && bytes.EqualFold(b, known) {
			return name(n)
		}
	}
	return nameOther
}

// nameBytes, patientBytes and nhsSystemBytes are names and codes as bytes,
// to compare bytes read with them.
var (
	nameBytes = func() (out [len(names)][]byte) {
		for i, n := range names {
			out[i] = []byte(n)
		}
		return out
	}()
	patientBytes   = []byte("Patient")
	nhsSystemBytes = []byte(SystemNHSNumber)
)

// isNHSSystem reports whether a system is the NHS number system,
// regardless of case and surrounding space.
func isNHSSystem(b []byte) bool {
	t := bytes.TrimSpace(b)
	return len(t) == len(nhsSystemBytes) && bytes.EqualFold(t, nhsSystemBytes)
}

// rootMember is the member of a resource the name is, or 0.
func (n name) rootMember() rootMember {
	switch n {
	case nameResourceType:
		return memberResourceType
	case nameID:
		return memberID
	case nameMeta:
		return memberMeta
	case nameContained:
		return memberContained
	case nameClass:
		return memberClass
	case nameScope:
		return memberScope
	case nameIdentifier:
		return memberIdentifier
	}
	return 0
}

// role is what a value is, beyond a JSON value searched for patients: it
// says what else is read of it.
type role uint8

const (
	roleAny role = iota
	// roleMeta is a resource's meta, roleNestedMeta any other object named
	// meta (its tags are not the resource's provenance).
	roleMeta
	roleNestedMeta
	roleTags
	roleTag
	// roleLabels is a list of security labels (meta.security,
	// securityLabel); roleLabel one label, a Coding or a CodeableConcept;
	// roleLabelCodings a label's codings; roleLabelCoding one of them;
	// roleConfidentiality a confidentiality code.
	roleLabels
	roleLabel
	roleLabelCodings
	roleLabelCoding
	roleConfidentiality
	roleClass
	roleScope
	roleScopeCodings
	roleScopeCoding
	// roleIdentifiers is a resource's identifier list.
	roleIdentifiers
)

// kind is the JSON kind R4 gives a value of the role; 0 for any.
func (ro role) kind() jsontext.Kind {
	switch ro {
	case roleTags, roleLabels, roleLabelCodings, roleScopeCodings:
		return '['
	case roleMeta, roleNestedMeta, roleTag, roleLabel, roleLabelCoding, roleClass, roleScope, roleScopeCoding:
		return '{'
	case roleConfidentiality:
		return '"'
	}
	return 0
}

// element is the role of an element of an array of the role.
func (ro role) element() role {
	switch ro {
	case roleTags:
		return roleTag
	case roleLabels:
		return roleLabel
	case roleLabelCodings:
		return roleLabelCoding
	case roleScopeCodings:
		return roleScopeCoding
	}
	return roleAny
}

// child is the role of the value of member n of an object of the role.
func (ro role) child(n name) role {
	switch {
	case ro == roleMeta && n == nameTag:
		return roleTags
	case ro == roleLabel && n == nameCoding:
		return roleLabelCodings
	case ro == roleScope && n == nameCoding:
		return roleScopeCodings
	case n == nameSecurity, n == nameSecurityLabel:
		return roleLabels
	case n == nameConfidentiality:
		return roleConfidentiality
	case n == nameMeta:
		return roleNestedMeta
	}
	return roleAny
}

// idPart is what is read of an object as an Identifier.
type idPart struct {
	// nhsSystem is set when its system is the NHS number system,
	// regardless of case and surrounding space.
	nhsSystem bool
	// nhs is its value when that is a valid NHS number; hasValue is set
	// when it has a value of any kind.
	nhs      string
	hasValue bool
}

// object is what is read of one JSON object besides what its members'
// values give.
type object struct {
	id idPart
	// identifier is what was read of an identifier member that is an
	// object (a Reference's identifier).
	identifier    idPart
	hasIdentifier bool
	// reference is its literal reference, kept when it may point at a
	// patient; refersTo is what it points at.
	reference string
	refersTo  target
	// typePatient and typeOther say whether a type member names Patient
	// or another type.
	typePatient, typeOther bool
	// odsSystem, scopeSystem and confidentialitySystem are set when its
	// system is the ODS, consent scope or v3 Confidentiality system.
	odsSystem, scopeSystem, confidentialitySystem bool
	// code is its code, kept for tags, classes and scopes; hasCode is set
	// when it has a code member, codeBad when that is not a string.
	code             string
	hasCode, codeBad bool
	// codings is the number of elements of a label's coding member.
	codings int
}

func jsonError(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("resource is not valid FHIR JSON: %w", err)
}

// readString reads the string (or member name) the decoder is at,
// unescaped. The bytes are valid until the next read.
func (r *resourceReader) readString() ([]byte, error) {
	raw, err := r.dec.ReadValue()
	if err != nil {
		return nil, jsonError(err)
	}
	if len(raw) < 2 || raw[0] != '"' {
		return nil, errors.New("resource is not valid FHIR JSON: expected a string")
	}
	if inner := raw[1 : len(raw)-1]; bytes.IndexByte(inner, '\\') < 0 {
		return inner, nil
	}
	r.scratch, err = jsontext.AppendUnquote(r.scratch[:0], raw)
	return r.scratch, jsonError(err)
}

// readName reads a member name, or reports false at the end of the
// object.
func (r *resourceReader) readName() (name, []byte, bool, error) {
	if r.dec.PeekKind() == '}' {
		_, err := r.dec.ReadToken()
		return 0, nil, false, jsonError(err)
	}
	b, err := r.readString()
	if err != nil {
		return 0, nil, false, err
	}
	return nameOf(b), b, true, nil
}

// readRoot reads the resource, which must be the whole input.
func (r *resourceReader) readRoot() error {
	if kind := r.dec.PeekKind(); kind != '{' {
		if _, err := r.dec.ReadToken(); err != nil {
			return jsonError(err)
		}
		return errors.New("resource is not valid FHIR JSON: not a JSON object")
	}
	if err := r.readResource(); err != nil {
		return err
	}
	if _, err := r.dec.ReadToken(); err != io.EOF {
		return errors.New("resource is not valid FHIR JSON: data after the resource")
	}
	return nil
}

// readResource reads the resource the decoder is at as a new frame.
func (r *resourceReader) readResource() error {
	index := len(r.frames)
	if index < cap(r.frames) {
		// Keep the lists of the frame read before, for their space.
		r.frames = r.frames[:index+1]
		f := &r.frames[index]
		*f = frame{tags: f.tags[:0], scopes: f.scopes[:0]}
	} else {
		r.frames = append(r.frames, frame{})
	}
	if _, err := r.dec.ReadToken(); err != nil {
		return jsonError(err)
	}
	for {
		n, raw, more, err := r.readName()
		if err != nil {
			return err
		}
		if !more {
			break
		}
		if err := r.readResourceMember(index, n, raw); err != nil {
			return err
		}
	}
	if r.frames[index].resourceType == "" {
		return errors.New("resource has no resourceType")
	}
	return nil
}

// readResourceMember reads the value of member n (raw as written) of the
// resource of frame index.
func (r *resourceReader) readResourceMember(index int, n name, raw []byte) error {
	f := &r.frames[index]
	if member := n.rootMember(); member != 0 {
		if f.seen&member != 0 {
			return fmt.Errorf("resource is not valid FHIR JSON: member %q is named twice", string(raw))
		}
		f.seen |= member
	}
	switch n {
	case nameResourceType, nameID:
		if r.dec.PeekKind() != '"' {
			return fmt.Errorf("resource is not valid FHIR JSON: %s is not a string", names[n])
		}
		b, err := r.readString()
		if err != nil {
			return err
		}
		if n == nameID {
			f.id = string(b)
		} else {
			f.resourceType = internType(b)
		}
		return nil
	case nameContained:
		if index > 0 {
			return fmt.Errorf("contained resource %d: contained resources cannot contain resources", index-1)
		}
		return r.readContained()
	case nameIdentifier:
		// A resource's identifiers are a Patient's own, when it is one.
		o, isObject, _, err := r.value(index, roleIdentifiers)
		if isObject {
			r.found(&o, index)
		}
		return err
	}
	ro := roleAny
	switch n {
	case nameMeta:
		ro = roleMeta
	case nameClass:
		ro = roleClass
	case nameScope:
		ro = roleScope
	default:
		return r.member(index, roleAny, n, nil)
	}
	o, isObject, _, err := r.value(index, ro)
	if isObject {
		r.found(&o, -1)
	}
	return err
}

// internType gives a resource type the gateway shares without copying it.
func internType(b []byte) string {
	for _, t := range internedTypes {
		if string(b) == t {
			return t
		}
	}
	return string(b)
}

var internedTypes = [...]string{
	"Observation", "Patient", "MedicationRequest", "MedicationStatement", "Medication", "Encounter", "AllergyIntolerance",
	"DiagnosticReport", "Specimen", "CarePlan", "Goal", "CareTeam", "Appointment", "EpisodeOfCare", "Composition",
	"DocumentReference", "Binary", "Flag", "Consent", "QuestionnaireResponse", "Practitioner", "PractitionerRole",
	"Organization", "RelatedPerson",
}

// readContained reads the contained resources, each a frame of its own.
func (r *resourceReader) readContained() error {
	token, err := r.dec.ReadToken()
	if err != nil {
		return jsonError(err)
	}
	if token.Kind() != '[' {
		return errors.New("resource is not valid FHIR JSON: contained is not a list of resources")
	}
	for r.dec.PeekKind() != ']' {
		if r.dec.PeekKind() != '{' {
			_, err := r.dec.ReadToken()
			if err == nil {
				err = errors.New("not a JSON object")
			}
			return fmt.Errorf("contained resource %d: %w", len(r.frames)-1, jsonError(err))
		}
		if err := r.readResource(); err != nil {
			return fmt.Errorf("contained resource %d: %w", len(r.frames)-2, err)
		}
	}
	_, err = r.dec.ReadToken()
	return jsonError(err)
}

// value reads the value the decoder is at, in the resource of frame index,
// as a value of the role. It gives what was read of it when it is an
// object, and its number of elements when it is an array.
func (r *resourceReader) value(index int, ro role) (o object, isObject bool, n int, err error) {
	kind := r.dec.PeekKind()
	if want := ro.kind(); want != 0 && kind != want {
		if err := r.misshapen(index, ro); err != nil {
			return o, false, 0, err
		}
	}
	switch kind {
	case '{':
		o, err = r.object(index, ro)
		return o, true, 0, err
	case '[':
		n, err = r.array(index, ro)
		return o, false, n, err
	case '"':
		b, err := r.readString()
		switch {
		case err != nil:
		case ro == roleConfidentiality:
			r.addLabel(b, true)
		case ro == roleAny:
			r.literalString(b)
		}
		return o, false, 0, err
	}
	_, err = r.dec.ReadToken()
	return o, false, 0, jsonError(err)
}

// misshapen records a value of the role whose JSON kind is not the one R4
// gives it: a label that is not read counts as sensitive, a class or scope
// not read as no category. A resource whose meta or tags cannot be read
// cannot be decided on.
func (r *resourceReader) misshapen(index int, ro role) error {
	f := &r.frames[index]
	switch ro {
	case roleMeta:
		return errors.New("resource is not valid FHIR JSON: meta is not an object")
	case roleTags, roleTag:
		return errors.New("resource is not valid FHIR JSON: meta.tag is not a list of Codings")
	case roleNestedMeta, roleLabels, roleLabel, roleLabelCodings, roleLabelCoding, roleConfidentiality:
		r.addUnreadableLabel()
	case roleClass:
		f.classBad = true
	case roleScope, roleScopeCodings, roleScopeCoding:
		f.scopeBad = true
	}
	return nil
}

// array reads the array the decoder is at and gives its number of
// elements.
func (r *resourceReader) array(index int, ro role) (int, error) {
	if _, err := r.dec.ReadToken(); err != nil {
		return 0, jsonError(err)
	}
	element := ro.element()
	identifierOf := -1
	if ro == roleIdentifiers {
		identifierOf = index
	}
	n := 0
	for r.dec.PeekKind() != ']' {
		if r.dec.PeekKind() == 0 {
			_, err := r.dec.ReadToken()
			if err == nil {
				err = errors.New("array not closed")
			}
			return 0, jsonError(err)
		}
		o, isObject, _, err := r.value(index, element)
		if err != nil {
			return 0, err
		}
		if isObject {
			r.found(&o, identifierOf)
		}
		n++
	}
	_, err := r.dec.ReadToken()
	return n, jsonError(err)
}

// object reads the object the decoder is at.
func (r *resourceReader) object(index int, ro role) (object, error) {
	var o object
	if _, err := r.dec.ReadToken(); err != nil {
		return o, jsonError(err)
	}
	for {
		n, _, more, err := r.readName()
		if err != nil {
			return o, err
		}
		if !more {
			break
		}
		if err := r.member(index, ro, n, &o); err != nil {
			return o, err
		}
	}
	r.closeObject(index, ro, &o)
	return o, nil
}

// member reads the value of member n of an object of the role; o, when
// not nil, is what is read of that object.
func (r *resourceReader) member(index int, ro role, n name, o *object) error {
	if o == nil {
		o = new(object)
	}
	if n == nameResourceType {
		r.withhold(reasonEmbedded)
	}
	if ro == roleLabelCoding && n == nameCoding {
		// A Coding has no codings: what such a label holds cannot be read.
		r.addUnreadableLabel()
	}
	kind := r.dec.PeekKind()
	child := ro.child(n)
	if kind == '"' && child == roleAny {
		b, err := r.readString()
		if err != nil {
			return err
		}
		r.stringMember(ro, n, b, o)
		return nil
	}
	switch n {
	case nameCode:
		o.hasCode, o.codeBad = true, true
	case nameValue:
		// A value that is not a string is no NHS number.
		r.setValue(&o.id, nil)
	}
	inner, isObject, count, err := r.value(index, child)
	if err != nil {
		return err
	}
	if child == roleLabelCodings {
		o.codings += count
	}
	if isObject {
		if n == nameIdentifier && !o.hasIdentifier {
			o.identifier, o.hasIdentifier = inner.id, true
		} else {
			r.found(&inner, -1)
		}
	}
	return nil
}

// stringMember reads member n of o, a string b.
func (r *resourceReader) stringMember(ro role, n name, b []byte, o *object) {
	switch n {
	case nameReference:
		r.setReference(o, b)
	case nameType:
		if t := bytes.TrimSpace(b); len(t) > 0 {
			if bytes.EqualFold(t, patientBytes) {
				o.typePatient = true
			} else {
				o.typeOther = true
			}
		}
	case nameSystem:
		switch {
		case string(b) == SystemNHSNumber || isNHSSystem(b):
			o.id.nhsSystem = true
		case string(b) == SystemODS:
			o.odsSystem = true
		case string(b) == systemConsentScope:
			o.scopeSystem = true
		case isConfidentialitySystem(b):
			o.confidentialitySystem = true
		}
	case nameValue:
		r.setValue(&o.id, b)
	case nameCode:
		if o.hasCode && (ro == roleLabel || ro == roleLabelCoding) {
			// A label with two codes (as "code" and "Code") cannot be
			// read: closeObject counts it as restricted.
			o.codeBad = true
		}
		o.hasCode = true
		switch ro {
		case roleLabel, roleLabelCoding, roleTag, roleClass, roleScopeCoding:
			// A label is added once its system is known (closeObject).
			o.code = string(b)
		}
	default:
		r.literalString(b)
	}
}

// literalString takes note of a string that is, all of it, a literal
// reference to a Patient ("Patient/1") outside a Reference's reference
// element, such as a subject written as a string or an unknown element:
// it names a patient, by literal reference only.
func (r *resourceReader) literalString(b []byte) {
	if len(b) < len("Patient/1") || len(b) > 512 || bytes.IndexByte(b, '/') < 0 {
		return
	}
	if t := bytes.TrimSpace(b); bytes.ContainsAny(t, " \t\r\n") {
		return
	}
	if to, literal := targetOf(b); to == targetPatient {
		r.mentions = append(r.mentions, mention{literal: string(literal), typePatient: true, identifierOf: -1})
	}
}

// setValue sets an Identifier's value: b, or a value that is not a string
// when b is nil. A second value (as "value" and "Value") makes the
// resource ambiguous unless both are the same NHS number.
func (r *resourceReader) setValue(id *idPart, b []byte) {
	valid := len(b) == 10 && ValidNHSNumber(string(b))
	if id.hasValue {
		if !valid || id.nhs != string(b) {
			r.withhold(reasonNamedTwice)
		}
		return
	}
	id.hasValue = true
	if valid {
		id.nhs = string(b)
	}
}

// setReference sets a literal reference. A second, different one (as
// "reference" and "Reference") makes the resource ambiguous.
func (r *resourceReader) setReference(o *object, b []byte) {
	to, literal := targetOf(b)
	if o.refersTo != targetNone {
		if o.refersTo != to || (to != targetOther && o.reference != string(literal)) {
			r.withhold(reasonNamedTwice)
		}
		return
	}
	o.refersTo = to
	if to != targetOther {
		o.reference = string(literal)
	}
}

// closeObject applies what an object of the role says, once all its
// members are read.
func (r *resourceReader) closeObject(index int, ro role, o *object) {
	f := &r.frames[index]
	switch ro {
	case roleTag:
		if o.odsSystem {
			if o.code == "" || o.codeBad {
				f.tagsBad = true
			} else if !slices.Contains(f.tags, o.code) {
				f.tags = append(f.tags, o.code)
			}
		}
	case roleLabel, roleLabelCoding:
		switch {
		case o.hasCode && !o.codeBad:
			r.addLabel([]byte(o.code), o.confidentialitySystem)
		case ro == roleLabel && !o.hasCode && o.codings > 0:
			// A CodeableConcept: its codings were read as labels.
		default:
			r.addUnreadableLabel()
		}
	case roleClass:
		f.class = o.code
		f.classBad = f.classBad || o.codeBad
	case roleScopeCoding:
		f.scopeBad = f.scopeBad || o.codeBad
		if o.scopeSystem {
			f.scopes = append(f.scopes, o.code)
		}
	}
}

// addLabel adds a security label code. A code that is a sensitive code
// but for case (in upper case or folded) or surrounding space (or
// invisible formatting characters) is that sensitive code; an empty one
// cannot be read. A confidentiality code (Composition.confidentiality, or
// a label in the v3 Confidentiality system) that is not one of that
// system's codes cannot be read either: "restricted" written out is not
// taken as the absence of a label.
func (r *resourceReader) addLabel(code []byte, confidentiality bool) {
	trimmed := bytes.TrimFunc(code, func(c rune) bool { return unicode.IsSpace(c) || unicode.Is(unicode.Cf, c) })
	if len(trimmed) == 0 {
		r.addUnreadableLabel()
		return
	}
	upper := ""
	if len(trimmed) <= 4*len("GENDER") {
		upper = strings.ToUpper(string(trimmed))
	}
	for _, sensitive := range policy.SensitiveLabels {
		if upper == sensitive || strings.EqualFold(string(trimmed), sensitive) {
			r.addCode(sensitive)
			return
		}
	}
	if confidentiality && !slices.Contains(unrestrictedConfidentiality, upper) {
		r.addUnreadableLabel()
		return
	}
	for _, l := range r.labels {
		if l == string(trimmed) {
			return
		}
	}
	r.labels = append(r.labels, string(trimmed))
}

// systemConfidentiality is the v3 Confidentiality code system, whose codes
// are U, L, M, N, R and V.
const systemConfidentiality = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"

// unrestrictedConfidentiality are the v3 Confidentiality codes that are
// not sensitive; R and V are in policy.SensitiveLabels.
var unrestrictedConfidentiality = []string{"U", "L", "M", "N"}

// isConfidentialitySystem reports whether a system is the v3
// Confidentiality system, regardless of case and surrounding space.
func isConfidentialitySystem(b []byte) bool {
	return strings.EqualFold(string(bytes.TrimSpace(b)), systemConfidentiality)
}

func (r *resourceReader) addCode(code string) {
	if !slices.Contains(r.labels, code) {
		r.labels = append(r.labels, code)
	}
}

// addUnreadableLabel records a label that cannot be read: it counts as
// sensitive.
func (r *resourceReader) addUnreadableLabel() {
	r.addCode(labelUnreadable)
}
