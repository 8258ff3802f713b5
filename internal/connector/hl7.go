/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"bytes"
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// HL7 v2 error codes (HL7 table 0357) the connector answers with in ERR.
const (
	hl7SegmentSequenceError = "100"
	hl7RequiredFieldMissing = "101"
	hl7DataTypeError        = "102"
	hl7TableValueNotFound   = "103"
	hl7UnsupportedMessage   = "200"
	hl7UnsupportedEvent     = "201"
	hl7UnsupportedVersion   = "203"
	hl7ApplicationError     = "207"
)

// hl7Versions are the HL7 v2 versions (MSH-12) the connector accepts.
var hl7Versions = []string{"2.3", "2.3.1", "2.4", "2.5", "2.5.1"}

// segmentNamePattern is the form of a segment id.
var segmentNamePattern = regexp.MustCompile(`^[A-Z][A-Z0-9]{2}$`)

// hl7Error is a problem in a message, located for the ERR segment of the
// acknowledgement: the segment and its sequence in the message (1 for the
// first of its name), the field, and the HL7 error code. Reject makes the
// acknowledgement AR (the message is refused) instead of AE (it cannot be
// mapped). Text never repeats the field's content.
type hl7Error struct {
	Segment  string
	Sequence int
	Field    int
	Code     string
	Text     string
	Reject   bool
}

func (e *hl7Error) Error() string {
	if e.Segment == "" {
		return fmt.Sprintf("HL7 error %s: %s", e.Code, e.Text)
	}
	return fmt.Sprintf("%s[%d]-%d: %s (HL7 error %s)", e.Segment, e.Sequence, e.Field, e.Text, e.Code)
}

// encodingChars are a message's delimiters, from MSH-1 and MSH-2.
type encodingChars struct {
	Field, Component, Repetition, Escape, Subcomponent byte
}

// standardEncoding is |^~\& , which acknowledgements always use.
var standardEncoding = encodingChars{'|', '^', '~', '\\', '&'}

// hl7Segment is one segment: its name and its fields, numbered as HL7
// numbers them (Fields[1] is field 1). For MSH, Fields[1] is the field
// separator itself and Fields[2] the encoding characters.
type hl7Segment struct {
	Name   string
	Fields []string
}

// hl7Message is a parsed message. Values stay escaped until read with
// value, so that a delimiter escaped in the content never splits it.
type hl7Message struct {
	Enc      encodingChars
	Segments []hl7Segment
}

// parseHL7 splits a message into segments and fields and checks its MSH:
// the encoding characters, the version, and the fields an acknowledgement
// needs. Segments end with CR; LF and CRLF are accepted too. With an
// error, the message is still returned when its MSH could be read, so that
// the acknowledgement can name its control id.
func parseHL7(data []byte) (*hl7Message, error) {
	text := strings.ReplaceAll(strings.ReplaceAll(string(data), "\r\n", "\r"), "\n", "\r")
	lines := strings.Split(strings.TrimRight(text, "\r"), "\r")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "MSH") || len(lines[0]) < 8 {
		return nil, &hl7Error{Segment: "MSH", Sequence: 1, Field: 1, Code: hl7SegmentSequenceError, Text: "the message does not start with an MSH segment", Reject: true}
	}
	enc, err := readEncoding(lines[0])
	if err != nil {
		return nil, err
	}
	m := &hl7Message{Enc: enc}
	var bad error
	for i, line := range lines {
		if line == "" {
			continue
		}
		parts := strings.Split(line, string(enc.Field))
		name := parts[0]
		if !segmentNamePattern.MatchString(name) || (i > 0 && name == "MSH") {
			bad = cmp.Or(bad, error(&hl7Error{Segment: safeSegmentName(name), Sequence: 1, Code: hl7SegmentSequenceError,
				Text: fmt.Sprintf("segment %d is not a segment of this message (its name must be three upper-case letters or digits)", i+1)}))
			continue
		}
		fields := parts
		if name == "MSH" {
			// MSH-1 is the separator itself; MSH-2 the encoding characters.
			fields = append([]string{"MSH", string(enc.Field)}, parts[1:]...)
		}
		m.Segments = append(m.Segments, hl7Segment{Name: name, Fields: fields})
	}
	if err := m.checkHeader(); err != nil {
		return m, err
	}
	return m, bad
}

// readEncoding reads MSH-1 and MSH-2: five distinct characters, none a
// letter, digit, space or segment terminator. A fifth encoding character
// (the truncation character of v2.7) is refused: it is not v2.3-v2.5.1.
func readEncoding(msh string) (encodingChars, error) {
	bad := func(text string) error {
		return &hl7Error{Segment: "MSH", Sequence: 1, Field: 2, Code: hl7DataTypeError, Text: text, Reject: true}
	}
	field := msh[3:4]
	rest := msh[4:]
	end := strings.Index(rest, field)
	if end < 0 {
		return encodingChars{}, bad("MSH-2 (encoding characters) is not followed by the field separator")
	}
	chars := rest[:end]
	if len(chars) != 4 {
		return encodingChars{}, bad("MSH-2 must be exactly four encoding characters (component, repetition, escape, subcomponent)")
	}
	all := field + chars
	for i := 0; i < len(all); i++ {
		c := all[i]
		if c < 0x21 || c > 0x7e || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || strings.IndexByte(all[i+1:], c) >= 0 {
			return encodingChars{}, bad("MSH-1 and MSH-2 must be five distinct printable characters, none a letter or digit")
		}
	}
	return encodingChars{Field: field[0], Component: chars[0], Repetition: chars[1], Escape: chars[2], Subcomponent: chars[3]}, nil
}

// safeSegmentName is a segment name fit to repeat in an ERR segment.
func safeSegmentName(name string) string {
	if segmentNamePattern.MatchString(name) {
		return name
	}
	return ""
}

// checkHeader checks the MSH fields the connector relies on.
func (m *hl7Message) checkHeader() error {
	missing := func(field int, what string) error {
		return &hl7Error{Segment: "MSH", Sequence: 1, Field: field, Code: hl7RequiredFieldMissing, Text: what + " is missing", Reject: true}
	}
	if m.Get("MSH", 1, 10, 1) == "" {
		return missing(10, "MSH-10 (message control id)")
	}
	if m.Get("MSH", 1, 9, 1) == "" {
		return missing(9, "MSH-9 (message type)")
	}
	version := m.Get("MSH", 1, 12, 1)
	if version == "" {
		return missing(12, "MSH-12 (version)")
	}
	if !slices.Contains(hl7Versions, version) {
		return &hl7Error{Segment: "MSH", Sequence: 1, Field: 12, Code: hl7UnsupportedVersion, Reject: true,
			Text: "MSH-12: version is not one of " + strings.Join(hl7Versions, ", ")}
	}
	return nil
}

// segments are the segments of a name, in order.
func (m *hl7Message) segments(name string) []hl7Segment {
	var out []hl7Segment
	for _, s := range m.Segments {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// field is the raw (escaped) text of field n of a segment; "" if absent.
func (s hl7Segment) field(n int) string {
	if n < len(s.Fields) {
		return s.Fields[n]
	}
	return ""
}

// repetitions splits a raw field into its repetitions. MSH-2 never repeats.
func (m *hl7Message) repetitions(s hl7Segment, n int) []string {
	raw := s.field(n)
	if raw == "" {
		return nil
	}
	if s.Name == "MSH" && n <= 2 {
		return []string{raw}
	}
	return strings.Split(raw, string(m.Enc.Repetition))
}

// component is component c (1-based) of one repetition, unescaped;
// subcomponents are kept, joined by the subcomponent character.
func (m *hl7Message) component(rep string, c int) string {
	parts := strings.Split(rep, string(m.Enc.Component))
	if c < 1 || c > len(parts) {
		return ""
	}
	return m.unescape(parts[c-1])
}

// subcomponent is subcomponent sc of component c of one repetition.
func (m *hl7Message) subcomponent(rep string, c, sc int) string {
	parts := strings.Split(rep, string(m.Enc.Component))
	if c < 1 || c > len(parts) {
		return ""
	}
	subs := strings.Split(parts[c-1], string(m.Enc.Subcomponent))
	if sc < 1 || sc > len(subs) {
		return ""
	}
	return m.unescape(subs[sc-1])
}

// Get is component c of the first repetition of field f of the seq-th
// segment named name (seq from 1), unescaped; "" when absent. The HL7
// null value "" reads as empty.
func (m *hl7Message) Get(name string, seq, f, c int) string {
	segs := m.segments(name)
	if seq < 1 || seq > len(segs) {
		return ""
	}
	if name == "MSH" && f <= 2 {
		return segs[seq-1].field(f)
	}
	reps := m.repetitions(segs[seq-1], f)
	if len(reps) == 0 {
		return ""
	}
	v := m.component(reps[0], c)
	if v == `""` {
		return ""
	}
	return v
}

// unescape replaces the HL7 escape sequences of a value: \F\ \S\ \T\ \R\
// \E\ and \Xhh..\ (hexadecimal bytes); formatting sequences (\.br\ and
// the like) become a space; an unterminated escape is kept as it is.
func (m *hl7Message) unescape(v string) string {
	esc := m.Enc.Escape
	if strings.IndexByte(v, esc) < 0 {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != esc {
			b.WriteByte(v[i])
			continue
		}
		end := strings.IndexByte(v[i+1:], esc)
		if end < 0 {
			b.WriteString(v[i:])
			break
		}
		seq := v[i+1 : i+1+end]
		i += end + 1
		switch {
		case seq == "F":
			b.WriteByte(m.Enc.Field)
		case seq == "S":
			b.WriteByte(m.Enc.Component)
		case seq == "T":
			b.WriteByte(m.Enc.Subcomponent)
		case seq == "R":
			b.WriteByte(m.Enc.Repetition)
		case seq == "E":
			b.WriteByte(esc)
		case strings.HasPrefix(seq, "X") && len(seq)%2 == 1:
			for j := 1; j+1 < len(seq); j += 2 {
				if n, err := strconv.ParseUint(seq[j:j+2], 16, 8); err == nil {
					b.WriteByte(byte(n))
				}
			}
		default:
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// escapeHL7 escapes text for a field of a message with the standard
// encoding characters.
func escapeHL7(text string) string {
	var b bytes.Buffer
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case '|':
			b.WriteString(`\F\`)
		case '^':
			b.WriteString(`\S\`)
		case '&':
			b.WriteString(`\T\`)
		case '~':
			b.WriteString(`\R\`)
		case '\\':
			b.WriteString(`\E\`)
		case '\r', '\n':
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// messageType is MSH-9: the message code and trigger event ("ADT",
// "A01"); the structure (MSH-9.3) is not needed.
func (m *hl7Message) messageType() (code, trigger string) {
	return m.Get("MSH", 1, 9, 1), m.Get("MSH", 1, 9, 2)
}
