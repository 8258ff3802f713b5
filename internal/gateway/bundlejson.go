/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
)

// decodeSearchBundle reads a Bundle in one pass. Each entry's resource is
// decoded straight into what the gateway decides on, and its bytes are kept
// to pass on unchanged, so no resource is decoded or encoded twice. Member
// names are matched exactly, as FHIR JSON requires; unknown members are
// skipped, and of a repeated member the last counts. A resource that is
// valid JSON but not of the expected shape is decided on as unreadable;
// anything that is not valid JSON fails the whole Bundle.
func decodeSearchBundle(body []byte) (searchBundle, error) {
	var b searchBundle
	dec := json.NewDecoder(bytes.NewReader(body))
	err := eachMember(dec, func(name string) error {
		if name == "entry" {
			var err error
			b.Entry, err = decodeEntries(dec, body)
			return err
		}
		return decodeField(dec, b.field(name))
	})
	if err == nil && dec.More() {
		err = errors.New("data after the Bundle")
	}
	return b, err
}

func decodeEntries(dec *json.Decoder, body []byte) ([]bundleEntry, error) {
	var entries []bundleEntry
	err := eachElement(dec, func() error {
		var e bundleEntry
		err := eachMember(dec, func(name string) error {
			if name == "resource" {
				return e.decodeResource(dec, body)
			}
			return decodeField(dec, e.field(name))
		})
		entries = append(entries, e)
		return err
	})
	return entries, err
}

// field is where a member of the Bundle other than entry is decoded to;
// nil for a member the gateway does not pass on.
func (b *searchBundle) field(name string) any {
	switch name {
	case "resourceType":
		return &b.ResourceType
	case "id":
		return &b.ID
	case "meta":
		return &b.Meta
	case "type":
		return &b.Type
	case "timestamp":
		return &b.Timestamp
	case "link":
		return &b.Link
	default:
		return nil
	}
}

// field is where a member of an entry other than resource is decoded to;
// nil for a member the gateway does not pass on.
func (e *bundleEntry) field(name string) any {
	switch name {
	case "fullUrl":
		return &e.FullURL
	case "search":
		return &e.Search
	case "request":
		return &e.Request
	case "response":
		return &e.Response
	default:
		return nil
	}
}

// decodeResource decodes the value dec is at as the entry's resource and
// keeps its bytes. The value is read whole before it is decoded, so a
// decoding error leaves dec at the next member.
func (e *bundleEntry) decodeResource(dec *json.Decoder, body []byte) error {
	start := dec.InputOffset()
	var r fhirResource
	err := dec.Decode(&r)
	var typeErr *json.UnmarshalTypeError
	if err != nil && !errors.As(err, &typeErr) {
		return err
	}
	// The value follows the member name's colon.
	e.Resource = bytes.TrimLeft(body[start:dec.InputOffset()], " \t\r\n:")
	e.facts = decidedFacts(r, err)
	return nil
}

// decidedFacts are the facts of a resource decoded with err, or, when it
// cannot be decided on, facts that say so.
func decidedFacts(r fhirResource, err error) resourceFacts {
	err = checkDecoded(r, err)
	var facts resourceFacts
	if err == nil {
		facts, err = factsOf(r)
	}
	if err != nil {
		return resourceFacts{Unshareable: "the resource cannot be decided on: " + err.Error()}
	}
	return facts
}

// decodeField decodes the value dec is at into target, or skips it when
// target is nil.
func decodeField(dec *json.Decoder, target any) error {
	if target == nil {
		target = new(json.RawMessage)
	}
	return dec.Decode(target)
}

// eachMember calls member with the name of each member of the object dec is
// at, which must decode the member's value. A null is an object without
// members.
func eachMember(dec *json.Decoder, member func(name string) error) error {
	if open, err := opening(dec, '{'); !open {
		return err
	}
	for dec.More() {
		token, err := dec.Token()
		if err != nil {
			return err
		}
		if err := member(token.(string)); err != nil {
			return err
		}
	}
	_, err := dec.Token()
	return err
}

// eachElement calls element for each element of the array dec is at,
// which must decode the element. A null is an empty array.
func eachElement(dec *json.Decoder, element func() error) error {
	if open, err := opening(dec, '['); !open {
		return err
	}
	for dec.More() {
		if err := element(); err != nil {
			return err
		}
	}
	_, err := dec.Token()
	return err
}

// opening reads the delimiter that opens an object or array, reporting
// false for a null. Any other value is an error that does not quote it.
func opening(dec *json.Decoder, delim json.Delim) (bool, error) {
	token, err := dec.Token()
	switch {
	case err != nil:
		return false, err
	case token == nil:
		return false, nil
	case token != delim:
		return false, errors.New("expected a JSON " + kindOf(delim))
	}
	return true, nil
}

func kindOf(delim json.Delim) string {
	if delim == '{' {
		return "object"
	}
	return "array"
}

// encode writes the Bundle with each kept entry's members as they came.
func (b searchBundle) encode() ([]byte, error) {
	head, err := json.Marshal(b)
	if err != nil || len(b.Entry) == 0 {
		return head, err
	}
	out := make([]byte, 0, b.encodedSize(len(head)))
	out = append(out, head[:len(head)-1]...)
	out = append(out, `,"entry":[`...)
	for i, e := range b.Entry {
		if i > 0 {
			out = append(out, ',')
		}
		if out, err = e.appendJSON(out); err != nil {
			return nil, err
		}
	}
	return append(out, "]}"...), nil
}

// encodedSize is about the size of the encoded Bundle, given the size of
// its encoding without entries.
func (b searchBundle) encodedSize(head int) int {
	size := head + len(`,"entry":[]`)
	for _, e := range b.Entry {
		size += len(e.FullURL) + len(e.Resource) + len(e.Search) + len(e.Request) + len(e.Response) +
			len(`{"fullUrl":"","resource":,"search":,"request":,"response":},`)
	}
	return size
}

func (e bundleEntry) appendJSON(out []byte) ([]byte, error) {
	var fullURL []byte
	if e.FullURL != "" {
		var err error
		if fullURL, err = json.Marshal(e.FullURL); err != nil {
			return nil, err
		}
	}
	out = append(out, '{')
	first := true
	for _, m := range []struct {
		name  string
		value []byte
	}{{"fullUrl", fullURL}, {"resource", e.Resource}, {"search", e.Search}, {"request", e.Request}, {"response", e.Response}} {
		if len(m.value) == 0 {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, '"')
		out = append(out, m.name...)
		out = append(out, `":`...)
		out = append(out, m.value...)
	}
	return append(out, '}'), nil
}
