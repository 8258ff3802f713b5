/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// ValidNHSNumber reports whether s is ten digits whose last is the
// modulus-11 check digit of the first nine.
func ValidNHSNumber(s string) bool {
	if len(s) != 10 {
		return false
	}
	sum := 0
	for i := range 10 {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		if i < 9 {
			sum += int(s[i]-'0') * (10 - i)
		}
	}
	check := 11 - sum%11
	switch check {
	case 11:
		check = 0
	case 10:
		return false
	}
	return int(s[9]-'0') == check
}

// objectionDenial is the reason a resource is denied for a patient's
// objection. The decision API never tells it (answerReasons).
const objectionDenial = "the patient has an upheld objection to sharing this record (UK GDPR Art 21)"

// odsPattern is the shape of an ODS code.
var odsPattern = regexp.MustCompile(`^[A-Z0-9]{3,6}$`)

// objectionRegister holds patients' upheld objections to sharing (UK GDPR
// Art 21). An objection covers data from every source organisation, or only
// from the ones it names.
type objectionRegister struct {
	// scopes maps an NHS number to the source organisations it objects to
	// sharing data from; nil means all of them.
	scopes map[string][]string
}

// objects reports whether any of the patients objects to sharing data that
// came from source.
func (o *objectionRegister) objects(patients []string, source string) bool {
	for _, p := range patients {
		scope, found := o.scopes[p]
		if found && (scope == nil || slices.Contains(scope, source)) {
			return true
		}
	}
	return false
}

// patients is the number of objecting patients.
func (o *objectionRegister) patients() int { return len(o.scopes) }

// lineProblem is a line of the register that was ignored or read more
// broadly than written. It never holds the NHS number.
type lineProblem struct {
	line    int
	problem string
	// widened is true when the line's NHS numbers were made to object to
	// every organisation, false when the line held no valid NHS number and
	// was ignored.
	widened bool
}

// String names the line and its problem.
func (p lineProblem) String() string { return fmt.Sprintf("line %d: %s", p.line, p.problem) }

// The problems a line can have. None of them quotes the line.
const (
	problemNoNumber = "no valid NHS number (ten digits with a modulus-11 check digit); line ignored"
	problemNotRead  = "not an NHS number followed by ODS codes; objection applied to every organisation"
)

// parseObjections reads a register (docs/gateway.md, "Patient objections").
// Each line is an NHS number, written as ten digits or grouped 3-3-4 with
// spaces or dashes, optionally followed by the source ODS codes the
// objection is limited to, separated by commas, semicolons, vertical bars or
// whitespace. "#" at the start of a line or after whitespace starts a
// comment. Harmless variants are read as meant: a UTF-8 byte-order mark,
// CRLF or CR line ends, tabs and other whitespace, and trailing punctuation.
//
// A line that is not of that form never weakens an objection: every valid
// NHS number found anywhere in it (ten digits in a row, or digits split by
// single spaces or dashes) objects to sharing from every organisation. A
// line without a valid NHS number is ignored. Both are reported by line
// number. A register that cannot be read to the end is an error, never a
// partial register.
func parseObjections(data []byte) (*objectionRegister, []lineProblem, error) {
	o := &objectionRegister{scopes: map[string][]string{}}
	var problems []lineProblem
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	data = bytes.ReplaceAll(data, []byte("\r"), []byte("\n"))
	scanner := bufio.NewScanner(bytes.NewReader(data))
	scanner.Buffer(make([]byte, 0, 1024), maxRegisterLine)
	line := 0
	for scanner.Scan() {
		line++
		if p, ok := o.addLine(scanner.Text()); !ok {
			p.line = line
			problems = append(problems, p)
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, nil, fmt.Errorf("objection register line %d: %w", line+1, err)
	}
	return o, problems, nil
}

// maxRegisterLine bounds one line of the objection register.
const maxRegisterLine = 64 * 1024

// addLine records one line's objection; ok is false when the line was not
// read as written, and p says how.
func (o *objectionRegister) addLine(raw string) (p lineProblem, ok bool) {
	text := normaliseLine(raw)
	if text == "" {
		return lineProblem{}, true
	}
	found := findNHSNumbers(text)
	// The line is read only when the number it names is the only valid
	// one in it: a scope must never hide another patient.
	if number, scope, read := parseLine(text); read && len(found) == 1 && found[0] == number {
		o.object(number, scope)
		return lineProblem{}, true
	}
	if len(found) == 0 {
		return lineProblem{problem: problemNoNumber}, false
	}
	for _, number := range found {
		o.object(number, nil)
	}
	return lineProblem{problem: problemNotRead, widened: true}, false
}

// normaliseLine removes what never changes a line's meaning: a byte-order
// mark, a comment, surrounding whitespace and trailing punctuation. Every
// other whitespace or control character becomes a space.
func normaliseLine(line string) string {
	line = stripComment(strings.TrimPrefix(line, "\ufeff"))
	line = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return ' '
		}
		return r
	}, line)
	return strings.TrimRight(strings.TrimSpace(line), " .,;|")
}

// stripComment cuts the line at a "#" that starts it or follows a space or
// a tab. Any other "#" is part of the line, which is then not understood.
func stripComment(line string) string {
	for i := range len(line) {
		if line[i] == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
			return line[:i]
		}
	}
	return line
}

// parseLine reads a normalised line of the accepted form: an NHS number,
// then nothing or ODS codes. read is false for anything else.
func parseLine(text string) (number string, scope []string, read bool) {
	number, rest, read := cutNHSNumber(text)
	if !read {
		return "", nil, false
	}
	if rest == "" {
		return number, nil, true
	}
	if !strings.ContainsRune(scopeSeparators, rune(rest[0])) {
		return "", nil, false
	}
	codes := strings.FieldsFunc(rest, func(r rune) bool { return strings.ContainsRune(scopeSeparators, r) })
	if len(codes) == 0 {
		return number, nil, true
	}
	for _, code := range codes {
		if !odsPattern.MatchString(code) {
			return "", nil, false
		}
		scope = appendNew(scope, code)
	}
	return number, scope, true
}

// scopeSeparators separate the number from the scope and the ODS codes of a
// scope from each other; several in a row count as one.
const scopeSeparators = " ,;|"

// cutNHSNumber reads a valid NHS number at the start of text, as ten digits
// or grouped 3-3-4 by single spaces or dashes, and returns the rest.
func cutNHSNumber(text string) (number, rest string, ok bool) {
	switch {
	case len(text) >= 10 && allDigits(text[:10]):
		number, rest = text[:10], text[10:]
	case len(text) >= 12 && allDigits(text[0:3]) && isGroupSeparator(text[3]) && allDigits(text[4:7]) &&
		isGroupSeparator(text[7]) && allDigits(text[8:12]):
		number, rest = text[0:3]+text[4:7]+text[8:12], text[12:]
	default:
		return "", "", false
	}
	if (rest != "" && isDigit(rest[0])) || !ValidNHSNumber(number) {
		return "", "", false
	}
	return number, rest, true
}

func isGroupSeparator(c byte) bool { return c == ' ' || c == '-' }

func allDigits(s string) bool {
	for i := range len(s) {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// findNHSNumbers is every valid NHS number in text, each once: every ten
// digits in a row once the spaces, dashes, dots, slashes and underscores
// between digits are removed. It finds more than a person would read there, never less.
func findNHSNumbers(text string) []string {
	var found []string
	seen := map[string]bool{}
	var run []byte
	flush := func() {
		for i := 0; i+10 <= len(run); i++ {
			if candidate := string(run[i : i+10]); !seen[candidate] && ValidNHSNumber(candidate) {
				seen[candidate] = true
				found = append(found, candidate)
			}
		}
		run = run[:0]
	}
	for i := range len(text) {
		c := text[i]
		switch {
		case isDigit(c):
			run = append(run, c)
		case strings.IndexByte(digitSeparators, c) >= 0 && len(run) > 0:
			// perhaps a separator inside a grouped number
		default:
			flush()
		}
	}
	flush()
	return found
}

// digitSeparators may group the digits of a number written by hand.
const digitSeparators = " -./_"

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// object merges an objection: an objection to all organisations wins over
// any limited one.
func (o *objectionRegister) object(nhsNumber string, scope []string) {
	existing, found := o.scopes[nhsNumber]
	switch {
	case !found:
		o.scopes[nhsNumber] = scope
	case existing == nil || scope == nil:
		o.scopes[nhsNumber] = nil
	default:
		o.scopes[nhsNumber] = appendNew(existing, scope...)
	}
}

// readObjections reads a register file.
func readObjections(path string) (*objectionRegister, []lineProblem, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the objection register: %w", err)
	}
	return parseObjections(data)
}
