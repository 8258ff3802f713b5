/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestValidNHSNumber(t *testing.T) {
	for number, want := range map[string]bool{
		"9434765919":  true,
		"9434765870":  true,  // check digit 11 becomes 0
		"9434765911":  false, // wrong check digit
		"1234567890":  false, // check digit would be 10
		"943476591":   false,
		"94347659190": false,
		"943476591a":  false,
		"943 476 591": false,
		"":            false,
	} {
		if got := ValidNHSNumber(number); got != want {
			t.Errorf("ValidNHSNumber(%q) = %v, want %v", number, got, want)
		}
	}
	if !ValidNHSNumber(alice) || !ValidNHSNumber(carol) {
		t.Error("fixture NHS numbers must be valid")
	}
}

func TestParseObjections(t *testing.T) {
	register := strings.Join([]string{
		"# objections upheld by the Caldicott Guardian",
		"9434765919",
		carol + " RTH,K84001   # trusts only",
		alice + " RTH",
		alice + " B86001", // scopes merge
		"1234567890 RTH",
		carol + " rth",          // malformed scope widens carol's objection
		"9434765870 RTH:K84001", // unknown separator: widened
		"   ",
	}, "\n")
	o, problems, err := parseObjections([]byte(register))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"9434765919": nil,
		carol:        nil,
		alice:        {"RTH", "B86001"},
		"9434765870": nil,
	}
	if !reflect.DeepEqual(o.scopes, want) {
		t.Errorf("scopes = %v, want %v", o.scopes, want)
	}
	var lines []int
	for _, p := range problems {
		lines = append(lines, p.line)
		for _, number := range []string{"1234567890", carol, "9434765870"} {
			if strings.Contains(p.String(), number) {
				t.Errorf("a problem report names the NHS number: %s", p)
			}
		}
	}
	if !reflect.DeepEqual(lines, []int{6, 7, 8}) {
		t.Errorf("problem lines = %v, want 6, 7, 8: %v", lines, problems)
	}
	cases := []struct {
		patients []string
		source   string
		want     bool
	}{
		{[]string{"9434765919"}, "B86001", true},
		{[]string{"9434765919"}, "", true},
		{[]string{alice}, "RTH", true},
		{[]string{alice}, "K84001", false},
		{[]string{withCheckDigit("123456788")}, "RTH", false},
		{[]string{withCheckDigit("123456788"), alice}, "B86001", true},
		{nil, "RTH", false},
	}
	for _, tc := range cases {
		if got := o.objects(tc.patients, tc.source); got != tc.want {
			t.Errorf("Objects(%v, %q) = %v, want %v", tc.patients, tc.source, got, tc.want)
		}
	}
}

// TestParseObjectionsRefusesAPartialRegister fails rather than load a
// register it could not read to the end.
func TestParseObjectionsRefusesAPartialRegister(t *testing.T) {
	register := "9434765919\n" + strings.Repeat("x", maxRegisterLine+1) + "\n" + alice + "\n"
	if _, _, err := parseObjections([]byte(register)); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("error = %v, want one naming line 2", err)
	}
}

// TestParseObjectionsVariants reads the harmless ways of writing a line as
// written, and every line it cannot read as an objection to every
// organisation by each valid NHS number in it.
func TestParseObjectionsVariants(t *testing.T) {
	grouped := bob[0:3] + " " + bob[3:6] + " " + bob[6:]
	dashed := bob[0:3] + "-" + bob[3:6] + "-" + bob[6:]
	scoped := []string{"RTH", "K84001"}
	cases := []struct {
		line string
		// want is bob's scope: nil for every organisation.
		want []string
		// problem is whether the line is reported.
		problem bool
	}{
		{line: bob},
		{line: grouped},
		{line: dashed},
		{line: bob[0:3] + "-" + bob[3:6] + " " + bob[6:]},
		{line: "\ufeff" + bob},
		{line: "\ufeff" + bob + " RTH,K84001", want: scoped},
		{line: bob + "\r"},
		{line: "\t" + bob + "\t"},
		{line: bob + "."},
		{line: bob + ";"},
		{line: bob + " RTH,K84001", want: scoped},
		{line: bob + " RTH, K84001", want: scoped},
		{line: bob + " RTH ,K84001", want: scoped},
		{line: bob + " RTH;K84001", want: scoped},
		{line: bob + " RTH; K84001", want: scoped},
		{line: bob + " RTH|K84001", want: scoped},
		{line: bob + " RTH K84001", want: scoped},
		{line: bob + "\tRTH,K84001\t", want: scoped},
		{line: bob + ",RTH,K84001", want: scoped},
		{line: bob + ";RTH;K84001;", want: scoped},
		{line: bob + " RTH,K84001.", want: scoped},
		{line: bob + " RTH,,K84001", want: scoped},
		{line: grouped + " RTH,K84001", want: scoped},
		{line: dashed + " RTH;K84001", want: scoped},
		{line: bob + "\u00a0RTH,K84001", want: scoped},
		{line: bob + " RTH,K84001 # trusts only", want: scoped},
		{line: bob + " # RTH"},
		// Anything else: every organisation, reported.
		{line: bob + " rth", problem: true},
		{line: bob + " RTH:K84001", problem: true},
		{line: bob + " RTH/K84001", problem: true},
		{line: bob + "-RTH", problem: true},
		{line: bob + "RTH", problem: true},
		{line: bob + " RTH,K84001,TOOLONGCODE", problem: true},
		{line: bob + " RTH#K84001", problem: true},
		{line: bob + "\u200bRTH", problem: true},
		{line: "NHS " + bob + " RTH", problem: true},
		{line: "nhs-number: " + bob + " RTH", problem: true},
		{line: "RTH " + bob, problem: true},
		{line: "RTH,K84001 " + grouped, problem: true},
		{line: "\"" + bob + "\",\"RTH\"", problem: true},
		{line: bob[0:3] + "  " + bob[3:6] + " " + bob[6:] + " RTH", problem: true},
		{line: bob[0:3] + " " + bob[3:6] + " " + bob[6:9] + " " + bob[9:] + " RTH", problem: true},
		{line: bob[0:4] + " " + bob[4:7] + " " + bob[7:] + " RTH", problem: true},
		{line: bob + " " + alice, problem: true},
		{line: bob + " RTH " + alice, problem: true},
		{line: alice + " RTH " + bob, problem: true},
		{line: alice + " RTH " + dashed, problem: true},
		{line: "1" + bob + " RTH", problem: true},
		{line: bob + "1 RTH", problem: true},
		{line: bob + " RTH\x00", want: []string{"RTH"}},
		{line: bob + " RTH\x01K84001", want: scoped},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%q", tc.line), func(t *testing.T) {
			o, problems, err := parseObjections([]byte(tc.line + "\n"))
			must(t, err)
			scope, found := o.scopes[bob]
			if !found {
				t.Fatalf("no objection for the patient: %v", o.scopes)
			}
			if !reflect.DeepEqual(scope, tc.want) {
				t.Errorf("scope %v, want %v", scope, tc.want)
			}
			if (len(problems) > 0) != tc.problem {
				t.Errorf("problems %v, want reported: %v", problems, tc.problem)
			}
			for _, p := range problems {
				if strings.Contains(p.String(), bob) || strings.Contains(p.String(), bob[6:]) {
					t.Errorf("a problem report names the NHS number: %s", p)
				}
			}
		})
	}
}

// TestParseObjectionsLineEnds reads CRLF and CR-only files line by line,
// with the line numbers a text editor shows.
func TestParseObjectionsLineEnds(t *testing.T) {
	for _, sep := range []string{"\n", "\r\n", "\r"} {
		register := "\ufeff# register" + sep + bob + " RTH" + sep + "junk" + sep + carol + sep
		o, problems, err := parseObjections([]byte(register))
		must(t, err)
		if !reflect.DeepEqual(o.scopes, map[string][]string{bob: {"RTH"}, carol: nil}) {
			t.Errorf("%q: scopes %v", sep, o.scopes)
		}
		if len(problems) != 1 || problems[0].line != 3 || problems[0].widened {
			t.Errorf("%q: problems %v, want line 3 ignored", sep, problems)
		}
	}
}

// TestObjectionLinesNeverWeaken builds lines from a valid NHS number and
// random junk around and inside it, and checks the register objects for
// that number to at least what the line says: never no objection, and
// never a scope narrower than the ODS codes the line could mean.
func TestObjectionLinesNeverWeaken(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 1))
	pieces := []string{"", " ", "  ", "\t", ",", ";", "|", ".", ":", "-", "/", "\"", "'", "RTH", "rth", "K84001",
		"R1", "TOOLONGCODE", "\ufeff", "\u00a0", "\u200b", "\r", "\x00", "\x7f", "é", "0", "12", "123", "1234",
		alice, carol, "NHS", "number", "\xff", "=", "(", ")"}
	junk := func() string {
		var b strings.Builder
		for range rng.IntN(5) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		return b.String()
	}
	for range 20000 {
		n := randomNHSNumber(rng)
		written := n
		switch rng.IntN(3) {
		case 1:
			written = n[0:3] + " " + n[3:6] + " " + n[6:]
		case 2:
			written = n[0:3] + "-" + n[3:6] + "-" + n[6:]
		}
		line := junk() + written + junk()
		if strings.Contains(line, "#") {
			continue
		}
		o, _, err := parseObjections([]byte(line))
		must(t, err)
		scope, found := o.scopes[n]
		if !found {
			t.Fatalf("line %q: no objection for %s", line, n)
		}
		// A scope is granted only when each of its codes is written in
		// the line: it can never be narrower than the line means.
		for _, code := range scope {
			if !strings.Contains(line, code) {
				t.Fatalf("line %q: scope %v has a code the line does not hold", line, scope)
			}
		}
		if names := parseScopeOf(strings.Replace(line, written, " ", 1)); scope != nil && !slices.Equal(scope, names) {
			t.Fatalf("line %q: scope %v, but the line names %v", line, scope, names)
		}
	}
}

// randomNHSNumber draws a valid NHS number.
func randomNHSNumber(rng *rand.Rand) string {
	for {
		nine := fmt.Sprintf("%09d", rng.IntN(1_000_000_000))
		for d := range 10 {
			if n := nine + string(rune('0'+d)); ValidNHSNumber(n) {
				return n
			}
		}
	}
}

// parseScopeOf is every ODS-shaped upper-case token of a line, in order:
// the scope a scoped line means.
func parseScopeOf(line string) []string {
	var codes []string
	for _, f := range strings.FieldsFunc(line, func(r rune) bool { return !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') }) {
		if odsPattern.MatchString(f) && !ValidNHSNumber(f) && len(f) < 10 {
			codes = appendNew(codes, f)
		}
	}
	return codes
}

// FuzzParseObjections checks that no register makes the parser panic, and
// that every valid NHS number written in it, outside a comment, objects.
func FuzzParseObjections(f *testing.F) {
	for _, seed := range []string{
		fixtureRegister(),
		"\ufeff" + bob + " RTH,K84001\r\n",
		"943 476 5919; RTH\n943-476-5919|K84001\n",
		"x" + bob + "x\n",
		"# " + bob + "\n" + alice + " # " + carol,
		bob + " RTH " + alice,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o, _, err := parseObjections(data)
		if err != nil {
			return
		}
		text := strings.ReplaceAll(strings.ReplaceAll(string(data), "\r\n", "\n"), "\r", "\n")
		for _, line := range strings.Split(text, "\n") {
			for _, n := range writtenNumbers(line) {
				if _, found := o.scopes[n]; !found {
					t.Fatalf("line %q: %s is written in it but objects to nothing", line, n)
				}
			}
		}
	})
}

// writtenNumbers are the valid NHS numbers a person reads in a line before
// its comment: ten digits in a row, or grouped 3-3-4 by a space or dash.
func writtenNumbers(line string) []string {
	for i := range len(line) {
		if line[i] == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
			line = line[:i]
			break
		}
	}
	var found []string
	for i := range len(line) {
		for _, shape := range []string{"dddddddddd", "ddd-ddd-dddd", "ddd ddd dddd"} {
			if i+len(shape) > len(line) {
				continue
			}
			digits := ""
			for j := range len(shape) {
				c := line[i+j]
				switch {
				case shape[j] == 'd' && isDigit(c):
					digits += string(c)
				case shape[j] != 'd' && c == shape[j]:
				default:
					digits = "x"
				}
				if digits == "x" {
					break
				}
			}
			if ValidNHSNumber(digits) {
				found = append(found, digits)
			}
		}
	}
	return found
}

// TestGatewayHonoursEveryObjectionVariant loads registers that write bob's
// objection in the harmless variants and in lines it cannot read, and
// checks over HTTP that bob's record from B86001 is never shared, that the
// lines not understood are counted, and that the log never names bob.
func TestGatewayHonoursEveryObjectionVariant(t *testing.T) {
	grouped := bob[0:3] + " " + bob[3:6] + " " + bob[6:]
	dashed := bob[0:3] + "-" + bob[3:6] + "-" + bob[6:]
	cases := []struct {
		register string
		// unread is the lines not understood that object to every
		// organisation.
		unread float64
	}{
		{register: "\ufeff" + bob + "\r\n"},
		{register: grouped + "\n"},
		{register: dashed + ";\n"},
		{register: "\t" + bob + "\tB86001;RTH.\n"},
		{register: bob + " RTH | B86001\r"},
		{register: bob + " b86001\n", unread: 1},
		{register: "NHS number: " + grouped + " (all)\n", unread: 1},
		{register: bob + " RTH:B86001\n", unread: 1},
		{register: "\"" + dashed + "\",\"RTH\"\n", unread: 1},
		{register: alice + " RTH " + bob + "\n", unread: 1},
		{register: "RTH " + bob + " K84001\n", unread: 1},
	}
	for i, tc := range cases {
		// The name is the case's number: the log names the register's
		// path, and the path holds the test's name.
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			register := tc.register
			h := newHarness(t, func(s *setup) { s.objections = &register })
			resp := h.get(t, "/MedicationRequest/med-bob", clinician().sign(t))
			if resp.status != http.StatusForbidden {
				t.Fatalf("status = %d, want 403: the objection was weakened", resp.status)
			}
			events := h.audit.take(t)
			if len(events) != 1 || events[0].OutcomeDesc != objectionDenial {
				t.Errorf("audit events %+v, want a denial for the objection", events)
			}
			if got := testutil.ToFloat64(h.gateway.metrics.registerProblems.WithLabelValues("every-organisation")); got != tc.unread {
				t.Errorf("unreadable lines = %v, want %v", got, tc.unread)
			}
			// The last four digits count as a standalone group (as in
			// "943 476 5919"), not inside a longer run of digits such as a
			// random temporary directory's name or a port.
			if logs := h.logs.String(); strings.Contains(logs, bob) || lastFour.MatchString(logs) {
				t.Error("the log names the objecting patient")
			}
		})
	}
}

// FuzzObjectionLine builds a line from a valid NHS number, in any of its
// written forms, between arbitrary text, and checks that the register
// objects for that number: never no objection, and a scope only of ODS
// codes the line holds. A "#" after a space or tab before the number
// makes the rest a comment, so such lines are not asked about.
func FuzzObjectionLine(f *testing.F) {
	f.Add("", "", uint32(943476591), uint8(0))
	f.Add("\ufeff", " RTH;K84001.", uint32(401023213), uint8(1))
	f.Add("NHS ", " rth", uint32(943476587), uint8(2))
	f.Add("RTH,", "1", uint32(123456788), uint8(0))
	f.Fuzz(func(t *testing.T, before, after string, nine uint32, form uint8) {
		n := ""
		for d := range 10 {
			if candidate := fmt.Sprintf("%09d%d", nine%1_000_000_000, d); ValidNHSNumber(candidate) {
				n = candidate
				break
			}
		}
		if n == "" {
			return
		}
		written := n
		switch form % 3 {
		case 1:
			written = n[0:3] + " " + n[3:6] + " " + n[6:]
		case 2:
			written = n[0:3] + "-" + n[3:6] + "-" + n[6:]
		}
		line := before + written + after
		if strings.ContainsAny(line, "\r\n") || len(stripComment(strings.TrimPrefix(line, "\ufeff"))) < len(strings.TrimPrefix(before+written, "\ufeff")) {
			return
		}
		o, _, err := parseObjections([]byte(line))
		if err != nil {
			return
		}
		scope, found := o.scopes[n]
		if !found {
			t.Fatalf("line %q: no objection for %s", line, n)
		}
		for _, code := range scope {
			if !strings.Contains(before+after, code) {
				t.Fatalf("line %q: scope %v holds a code the line does not", line, scope)
			}
		}
	})
}

// lastFour finds bob's last four digits as a group of their own.
var lastFour = regexp.MustCompile(`(^|[^0-9])` + bob[6:] + `([^0-9]|$)`)
