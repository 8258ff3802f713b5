/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"bytes"
	"errors"
	"io"
	"slices"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Records (search Bundles, resources) are read with encoding/json/v2,
// through its module mirror github.com/go-json-experiment/json (the Go
// project's v2 design, experimental in the Go 1.26 standard library). Its
// streaming decoder hands over a value's bytes as it reads it and reads a
// bytes.Buffer in place, and it decodes about twice as fast as
// encoding/json, which is what a search costs the gateway most. Audit
// events have an encoder of their own (auditjson.go). Other JSON (tokens,
// key sets, outcomes, the decision API) stays on encoding/json.

// decodeSearchBundle reads a Bundle in one pass. Each entry's resource is
// kept as the record service sent it, to be passed on unchanged, and the
// facts the gateway decides on are read from those bytes. Member names of
// the Bundle and its entries are matched exactly, as FHIR JSON requires;
// unknown members are skipped, and of a member repeated in the Bundle or an
// entry the last counts. A resource that is valid JSON but cannot be read
// (the wrong shape, a member named twice, text that is not UTF-8) is
// decided on as unreadable; anything that is not valid JSON fails the whole
// Bundle. An entry's search, request and response are passed on with the
// elements R4 gives them, and only when they have that shape.
func decodeSearchBundle(body []byte) (searchBundle, error) {
	var b searchBundle
	// From a bytes.Buffer the decoder reads body in place, without a copy.
	// Invalid UTF-8 is left for the reading of each resource to refuse, so
	// that it withholds one resource rather than the whole page.
	r := bundleReader{dec: jsontext.NewDecoder(bytes.NewBuffer(body),
		jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)), body: body}
	err := r.eachMember(func(name string) error {
		switch name {
		case "entry":
			var err error
			b.Entry, err = r.entries()
			return err
		case "meta":
			return r.raw(&b.Meta)
		}
		return r.field(b.field(name))
	})
	if err == nil {
		if _, after := r.dec.ReadToken(); after != io.EOF {
			err = errors.New("data after the Bundle")
		}
	}
	return b, err
}

// bundleReader reads a Bundle's JSON from body.
type bundleReader struct {
	dec  *jsontext.Decoder
	body []byte
}

func (r bundleReader) entries() ([]bundleEntry, error) {
	entries := make([]bundleEntry, 0, r.entriesHint())
	err := r.eachElement(func() error {
		// Read in place: the entry is not moved until it is whole.
		entries = append(entries, bundleEntry{})
		e := &entries[len(entries)-1]
		return r.eachMember(func(name string) error {
			switch name {
			case "resource":
				if err := r.raw(&e.Resource); err != nil {
					return err
				}
				e.facts = decidedFacts(e.Resource)
				return nil
			case "search":
				return r.vetted(&e.Search, new(entrySearch))
			case "request":
				return r.vetted(&e.Request, new(entryRequest))
			case "response":
				return r.vetted(&e.Response, new(entryResponse))
			case "fullUrl":
				return r.field(&e.FullURL)
			default:
				return r.dec.SkipValue()
			}
		})
	})
	return entries, err
}

// entriesHint is about how many entries the Bundle has, to allocate them
// at once: the number of "resource" names or values in it, at most 1,000.
func (r bundleReader) entriesHint() int {
	return min(bytes.Count(r.body, []byte(`"resource"`)), 1000)
}

// field is where a member of the Bundle other than entry and meta is
// decoded to; nil for a member the gateway does not pass on.
func (b *searchBundle) field(name string) any {
	switch name {
	case "resourceType":
		return &b.ResourceType
	case "id":
		return &b.ID
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

// decidedFacts are the facts of a resource, or, when it cannot be decided
// on, facts that say so, with its type and id when they can be read, for
// the audit event.
func decidedFacts(resource jsontext.Value) resourceFacts {
	if !isResource(resource) {
		return resourceFacts{}
	}
	facts, err := inspect(resource)
	if err != nil {
		var named struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
		}
		_ = json.Unmarshal(resource, &named, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
		return resourceFacts{ResourceType: named.ResourceType, ID: named.ID,
			Unshareable: "the resource cannot be decided on: " + err.Error()}
	}
	return facts
}

// entrySearch, entryRequest and entryResponse are an entry's search,
// request and response, with the elements R4 gives them that the gateway
// passes on. A response's outcome is a resource nothing decided on, so it
// is not passed on.
type (
	entrySearch struct {
		Mode  string   `json:"mode,omitempty"`
		Score *float64 `json:"score,omitempty"`
	}
	entryRequest struct {
		Method          string `json:"method,omitempty"`
		URL             string `json:"url,omitempty"`
		IfNoneMatch     string `json:"ifNoneMatch,omitempty"`
		IfModifiedSince string `json:"ifModifiedSince,omitempty"`
		IfMatch         string `json:"ifMatch,omitempty"`
		IfNoneExist     string `json:"ifNoneExist,omitempty"`
	}
	entryResponse struct {
		Status       string `json:"status,omitempty"`
		Location     string `json:"location,omitempty"`
		Etag         string `json:"etag,omitempty"`
		LastModified string `json:"lastModified,omitempty"`
	}
)

// plainSearches are the usual values of an entry's search, which vetted
// passes on as they came: reading and writing them gives the same bytes.
var plainSearches = [][]byte{[]byte(`{"mode":"match"}`), []byte(`{"mode":"include"}`), []byte(`{"mode":"outcome"}`)}

// vetted reads the value the decoder is at into shape, and sets *into to
// shape's encoding: nil when the value is not of that shape or has none of
// its elements.
func (r bundleReader) vetted(into *jsontext.Value, shape any) error {
	var value jsontext.Value
	if err := r.raw(&value); err != nil {
		return err
	}
	if _, ok := shape.(*entrySearch); ok && slices.ContainsFunc(plainSearches, func(p []byte) bool { return bytes.Equal(p, value) }) {
		// What reading and writing it would give (TestPlainSearches).
		*into = value
		return nil
	}
	*into = nil
	if json.Unmarshal(value, shape) != nil {
		return nil
	}
	if out, err := json.Marshal(shape); err == nil && string(out) != "{}" {
		*into = out
	}
	return nil
}

// raw reads the value the decoder is at and sets *into to its bytes in the
// body, without copying them.
func (r bundleReader) raw(into *jsontext.Value) error {
	value, err := r.dec.ReadValue()
	if err != nil {
		return err
	}
	end := r.dec.InputOffset()
	*into = r.body[end-int64(len(value)) : end : end]
	return nil
}

// field decodes the value the decoder is at into target, or skips it when
// target is nil.
func (r bundleReader) field(target any) error {
	if target == nil {
		return r.dec.SkipValue()
	}
	return json.UnmarshalDecode(r.dec, target)
}

// eachMember calls member with the name of each member of the object the
// decoder is at, which must read the member's value. A null is an object
// without members.
func (r bundleReader) eachMember(member func(name string) error) error {
	if open, err := r.opening('{'); !open {
		return err
	}
	for {
		token, err := r.dec.ReadToken()
		switch {
		case err != nil:
			return err
		case token.Kind() == '}':
			return nil
		}
		if err := member(token.String()); err != nil {
			return err
		}
	}
}

// eachElement calls element for each element of the array the decoder is
// at, which must read the element. A null is an empty array.
func (r bundleReader) eachElement(element func() error) error {
	if open, err := r.opening('['); !open {
		return err
	}
	for {
		switch r.dec.PeekKind() {
		case ']':
			_, err := r.dec.ReadToken()
			return err
		case 0:
			// The next read reports why there is no value.
			if _, err := r.dec.ReadToken(); err != nil {
				return err
			}
			return errors.New("array not closed")
		}
		if err := element(); err != nil {
			return err
		}
	}
}

// opening reads the delimiter that opens an object or array, reporting
// false for a null. Any other value is an error that does not quote it.
func (r bundleReader) opening(delim jsontext.Kind) (bool, error) {
	token, err := r.dec.ReadToken()
	switch {
	case err != nil:
		return false, err
	case token.Kind() == 'n':
		return false, nil
	case token.Kind() != delim:
		return false, errors.New("expected a JSON " + kindOf(delim))
	}
	return true, nil
}

func kindOf(delim jsontext.Kind) string {
	if delim == '{' {
		return "object"
	}
	return "array"
}

// encode writes the Bundle with each kept entry's members as they came.
// The Bundle's meta is passed on as it came too, even with a member named
// twice.
func (b searchBundle) encode() ([]byte, error) {
	return b.encodeTo(nil)
}

// encodeTo is encode into buf, from answerBodies: the encoding is *buf's
// bytes, and buf goes back to the pool once the answer is written. With a
// nil buf the encoding is allocated.
func (b searchBundle) encodeTo(buf *[]byte) ([]byte, error) {
	head, err := json.Marshal(b, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	if err != nil || len(b.Entry) == 0 {
		return head, err
	}
	size := b.encodedSize(len(head))
	var out []byte
	if buf != nil && cap(*buf) >= size {
		out = (*buf)[:0]
	} else {
		out = make([]byte, 0, size)
	}
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
	out = append(out, "]}"...)
	if buf != nil {
		*buf = out
	}
	return out, nil
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
		if fullURL, err = jsontext.AppendQuote(nil, e.FullURL); err != nil {
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
