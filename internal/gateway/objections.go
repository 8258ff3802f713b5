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
}

// String names the line and its problem.
func (p lineProblem) String() string { return fmt.Sprintf("line %d: %s", p.line, p.problem) }

// parseObjections reads a register: one NHS number per line, optionally
// followed by a comma-separated list of source ODS codes the objection is
// limited to; "#" starts a comment. A line whose NHS number fails the
// modulus-11 check is ignored. A line with a valid NHS number and a malformed
// scope objects to sharing from every organisation, so that a typo never
// weakens an objection. Both are reported as problems by line number. A
// register that cannot be read to the end is an error, never a partial
// register.
func parseObjections(data []byte) (*objectionRegister, []lineProblem, error) {
	o := &objectionRegister{scopes: map[string][]string{}}
	var problems []lineProblem
	scanner := bufio.NewScanner(bytes.NewReader(data))
	scanner.Buffer(make([]byte, 0, 1024), maxRegisterLine)
	line := 0
	for scanner.Scan() {
		line++
		if problem := o.addLine(scanner.Text()); problem != "" {
			problems = append(problems, lineProblem{line: line, problem: problem})
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, nil, fmt.Errorf("objection register line %d: %w", line+1, err)
	}
	return o, problems, nil
}

// maxRegisterLine bounds one line of the objection register.
const maxRegisterLine = 64 * 1024

// addLine records one line's objection and returns what was wrong with it.
func (o *objectionRegister) addLine(line string) string {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	fields := strings.Fields(line)
	switch {
	case len(fields) == 0:
		return ""
	case !ValidNHSNumber(fields[0]):
		return "not a valid NHS number (ten digits with a modulus-11 check digit); line ignored"
	case len(fields) == 1:
		o.object(fields[0], nil)
		return ""
	}
	scope, ok := parseScope(fields[1:])
	if !ok {
		o.object(fields[0], nil)
		return "scope is not a comma-separated list of ODS codes; objection applied to every organisation"
	}
	o.object(fields[0], scope)
	return ""
}

func parseScope(fields []string) ([]string, bool) {
	if len(fields) != 1 {
		return nil, false
	}
	var scope []string
	for _, code := range strings.Split(fields[0], ",") {
		if !odsPattern.MatchString(code) {
			return nil, false
		}
		scope = appendNew(scope, code)
	}
	return scope, true
}

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
