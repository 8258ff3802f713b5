/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package policy

import (
	"bytes"
	"testing"
)

func TestCompileIsDeterministicAndDeniesByDefault(t *testing.T) {
	a, err := Compile(Input{Region: "tvs"}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compile(Input{Region: "tvs"}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) || Revision(a) != Revision(b) {
		t.Fatalf("same input gave different bundles:\n%s\n%s", a, b)
	}
	decoded, err := Decode(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(decoded.Grants) != 0 {
		t.Fatalf("a region with no members must grant nothing, got %d grants", len(decoded.Grants))
	}
}

func TestDecodeRefusesUnknownOrBrokenBundles(t *testing.T) {
	for name, data := range map[string]string{
		"not json":        `{`,
		"unknown version": `{"version":"shcr.io/policy-bundle/v99","region":"x","grants":[]}`,
		"no version":      `{"region":"x","grants":[]}`,
	} {
		if _, err := Decode([]byte(data)); err == nil {
			t.Errorf("%s: Decode accepted %s", name, data)
		}
	}
}
