/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"reflect"
	"strings"
	"testing"
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
		"9434765870 RTH K84001", // two scope fields: malformed, widened
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
