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
	"strings"
	"sync"
	"unicode"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// A resource is read in one pass over its JSON tokens, every element of
// it, whether or not R4 defines it for the resource's type: every object
// shaped like a Reference to a patient, every Identifier in the NHS number
// system and every Patient (the resource or a contained one) names a
// patient (resourcepatients.go decides who they are), and every security
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

// resourceReader reads one resource. It is reused through readers.
type resourceReader struct {
	// in is the resource's JSON, which dec reads in place.
	in  bytes.Buffer
	dec *jsontext.Decoder
	// frames are the resource (first) and its contained resources.
	frames []frame
	// mentions are the places that name a patient.
	mentions []mention
	// labels are the security label codes read, each once.
	labels []string
	// problem is the first reason found to withhold the resource.
	problem string
}

func (r *resourceReader) release() {
	r.frames = r.frames[:0]
	r.mentions = r.mentions[:0]
	r.labels = r.labels[:0]
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

var rootMembers = [...]struct {
	name   string
	member rootMember
	role   role
}{
	{"resourceType", memberResourceType, roleAny}, {"id", memberID, roleAny}, {"meta", memberMeta, roleMeta},
	{"contained", memberContained, roleAny}, {"class", memberClass, roleClass}, {"scope", memberScope, roleScope},
	{"identifier", memberIdentifier, roleIdentifiers},
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

// child is the role of the value of member name of an object of the role.
func (ro role) child(name string) role {
	switch {
	case ro == roleMeta && nameIs(name, "tag"):
		return roleTags
	case ro == roleLabel && nameIs(name, "coding"):
		return roleLabelCodings
	case ro == roleScope && nameIs(name, "coding"):
		return roleScopeCodings
	case nameIs(name, "security"), nameIs(name, "securityLabel"):
		return roleLabels
	case nameIs(name, "confidentiality"):
		return roleConfidentiality
	case nameIs(name, "meta"):
		return roleNestedMeta
	}
	return roleAny
}

// object is what is read of one JSON object besides what its members'
// values give.
type object struct {
	reference    string
	hasReference bool
	typ          string
	system       string
	value        string
	// hasValue is set when it has a value member, of any kind.
	hasValue bool
	code     string
	// hasCode is set when it has a code member, codeBad when that is not
	// a string.
	hasCode, codeBad bool
	// codings is the number of elements of a label's coding member.
	codings int
	// identifier is what was read of an identifier member that is an
	// object (a Reference's identifier).
	identifier *object
}

// nameIs reports whether a member name is want, regardless of case.
func nameIs(name, want string) bool {
	return len(name) == len(want) && (name == want || strings.EqualFold(name, want))
}

func jsonError(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("resource is not valid FHIR JSON: %w", err)
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
	r.frames = append(r.frames, frame{})
	if _, err := r.dec.ReadToken(); err != nil {
		return jsonError(err)
	}
	for {
		token, err := r.dec.ReadToken()
		if err != nil {
			return jsonError(err)
		}
		if token.Kind() == '}' {
			break
		}
		if err := r.readResourceMember(index, token.String()); err != nil {
			return err
		}
	}
	if r.frames[index].resourceType == "" {
		return errors.New("resource has no resourceType")
	}
	return nil
}

// readResourceMember reads the value of member name of the resource of
// frame index.
func (r *resourceReader) readResourceMember(index int, name string) error {
	var member rootMember
	memberRole := roleAny
	for _, m := range rootMembers {
		if nameIs(name, m.name) {
			member, memberRole = m.member, m.role
			break
		}
	}
	f := &r.frames[index]
	if member != 0 {
		if f.seen&member != 0 {
			return fmt.Errorf("resource is not valid FHIR JSON: member %q is named twice", name)
		}
		f.seen |= member
	}
	switch member {
	case 0:
		return r.member(index, roleAny, name, nil)
	case memberResourceType, memberID:
		token, err := r.dec.ReadToken()
		if err != nil {
			return jsonError(err)
		}
		if token.Kind() != '"' {
			return fmt.Errorf("resource is not valid FHIR JSON: %s is not a string", name)
		}
		if member == memberID {
			f.id = token.String()
		} else {
			f.resourceType = token.String()
		}
		return nil
	case memberContained:
		if index > 0 {
			return fmt.Errorf("contained resource %d: contained resources cannot contain resources", index-1)
		}
		return r.readContained()
	case memberIdentifier:
		// A resource's identifiers are a Patient's own, when it is one.
		o, _, err := r.value(index, roleIdentifiers)
		if o != nil {
			r.found(o, index)
		}
		return err
	}
	o, _, err := r.value(index, memberRole)
	if o != nil {
		r.found(o, -1)
	}
	return err
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
func (r *resourceReader) value(index int, ro role) (*object, int, error) {
	kind := r.dec.PeekKind()
	if want := ro.kind(); want != 0 && kind != want {
		if err := r.misshapen(index, ro); err != nil {
			return nil, 0, err
		}
	}
	switch kind {
	case '{':
		o, err := r.object(index, ro)
		return o, 0, err
	case '[':
		n, err := r.array(index, ro)
		return nil, n, err
	}
	token, err := r.dec.ReadToken()
	if err != nil {
		return nil, 0, jsonError(err)
	}
	if ro == roleConfidentiality && kind == '"' {
		r.addLabel(token.String())
	}
	return nil, 0, nil
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
	n := 0
	for r.dec.PeekKind() != ']' {
		if r.dec.PeekKind() == 0 {
			_, err := r.dec.ReadToken()
			if err == nil {
				err = errors.New("array not closed")
			}
			return 0, jsonError(err)
		}
		o, _, err := r.value(index, element)
		if err != nil {
			return 0, err
		}
		if o != nil {
			identifierOf := -1
			if ro == roleIdentifiers {
				identifierOf = index
			}
			r.found(o, identifierOf)
		}
		n++
	}
	_, err := r.dec.ReadToken()
	return n, jsonError(err)
}

// object reads the object the decoder is at.
func (r *resourceReader) object(index int, ro role) (*object, error) {
	if _, err := r.dec.ReadToken(); err != nil {
		return nil, jsonError(err)
	}
	o := new(object)
	for {
		token, err := r.dec.ReadToken()
		if err != nil {
			return nil, jsonError(err)
		}
		if token.Kind() == '}' {
			break
		}
		if err := r.member(index, ro, token.String(), o); err != nil {
			return nil, err
		}
	}
	r.closeObject(index, ro, o)
	return o, nil
}

// member reads the value of member name of an object of the role; o, when
// not nil, is what is read of that object.
func (r *resourceReader) member(index int, ro role, name string, o *object) error {
	if o == nil {
		o = new(object)
	}
	kind := r.dec.PeekKind()
	child := ro.child(name)
	if kind == '"' && child == roleAny {
		token, err := r.dec.ReadToken()
		if err != nil {
			return jsonError(err)
		}
		switch {
		case nameIs(name, "reference"):
			r.setOnce(&o.reference, &o.hasReference, token.String())
		case nameIs(name, "type"):
			o.typ = token.String()
		case nameIs(name, "system"):
			o.system = token.String()
		case nameIs(name, "value"):
			r.setOnce(&o.value, &o.hasValue, token.String())
		case nameIs(name, "code"):
			o.code, o.hasCode = token.String(), true
		}
		return nil
	}
	switch {
	case nameIs(name, "code"):
		o.hasCode, o.codeBad = true, true
	case nameIs(name, "value"):
		// A value that is not a string is no NHS number.
		o.hasValue = true
	}
	inner, n, err := r.value(index, child)
	if err != nil {
		return err
	}
	if child == roleLabelCodings {
		o.codings += n
	}
	if inner != nil {
		if nameIs(name, "identifier") && o.identifier == nil {
			o.identifier = inner
		} else {
			r.found(inner, -1)
		}
	}
	return nil
}

// setOnce sets a member read regardless of case; a second, different
// value of it (such as "reference" and "Reference") makes the resource
// ambiguous.
func (r *resourceReader) setOnce(into *string, set *bool, value string) {
	if *set && *into != value {
		r.withhold("a reference or identifier names its target twice, differently, so which patient it names cannot be known")
	}
	*into, *set = value, true
}

// closeObject applies what an object of the role says, once all its
// members are read.
func (r *resourceReader) closeObject(index int, ro role, o *object) {
	f := &r.frames[index]
	switch ro {
	case roleTag:
		if o.system == SystemODS {
			if o.code == "" || o.codeBad {
				f.tagsBad = true
			} else {
				f.tags = appendNew(f.tags, o.code)
			}
		}
	case roleLabel, roleLabelCoding:
		switch {
		case o.hasCode && !o.codeBad:
			r.addLabel(o.code)
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
		if o.system == systemConsentScope {
			f.scopes = append(f.scopes, o.code)
		}
	}
}

// addLabel adds a security label code. A code that is a sensitive code
// but for case (in upper case or folded) or surrounding space (or
// invisible formatting characters) is that sensitive code; an empty one
// cannot be read.
func (r *resourceReader) addLabel(code string) {
	trimmed := strings.TrimFunc(code, func(c rune) bool { return unicode.IsSpace(c) || unicode.Is(unicode.Cf, c) })
	if trimmed == "" {
		r.addUnreadableLabel()
		return
	}
	upper := strings.ToUpper(trimmed)
	for _, sensitive := range policy.SensitiveLabels {
		if upper == sensitive || strings.EqualFold(trimmed, sensitive) {
			r.labels = appendNew(r.labels, sensitive)
			return
		}
	}
	r.labels = appendNew(r.labels, trimmed)
}

// addUnreadableLabel records a label that cannot be read: it counts as
// sensitive.
func (r *resourceReader) addUnreadableLabel() {
	r.labels = appendNew(r.labels, labelUnreadable)
}
