/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLoadConfigReadsTheOperatorsConfigMap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	// As specs.ConnectorConfigMap writes it, with a category from a newer operator.
	data := `{"odsCode":"RHW","region":"tvs","kind":"FHIR","endpoint":"https://fhir.example.nhs.uk/R4","mode":"Pull",
	  "schedule":"15m","recordService":"http://record-service.shcr-tvs.svc:8080/fhir",
	  "categories":["TestResults","Demographics","Immunisations","Demographics"],"futureField":1}`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.KnownCategories(); !slices.Equal(got, []string{"Demographics", "TestResults"}) {
		t.Errorf("KnownCategories = %v", got)
	}
	if got := cfg.UnknownCategories(); !slices.Equal(got, []string{"Immunisations"}) {
		t.Errorf("UnknownCategories = %v", got)
	}
	if got := cfg.TokenEndpoint(); got != "https://fhir.example.nhs.uk/R4/oauth2/token" {
		t.Errorf("TokenEndpoint = %s, want the default below the endpoint", got)
	}
	cfg.TokenURL = "https://login.example.nhs.uk/token"
	if got := cfg.TokenEndpoint(); got != cfg.TokenURL {
		t.Errorf("TokenEndpoint = %s, want tokenURL", got)
	}
}

func TestLoadConfigSaysWhatToFix(t *testing.T) {
	dir := t.TempDir()
	for body, want := range map[string]string{
		`not json`: "is not valid JSON",
		`{"odsCode":"RHW","kind":"FHIR","mode":"Poll","schedule":"15m","endpoint":"https://x","recordService":"http://y"}`:                                                           `mode "Poll" is not served for kind FHIR`,
		`{"odsCode":"RHW","kind":"FHIR","mode":"Push","endpoint":"https://x","recordService":"http://y"}`:                                                                            "",
		`{"odsCode":"RHW","kind":"FHIR","mode":"Push","endpoint":"https://x","recordService":"http://y","push":{"issuer":"i"}}`:                                                      "push.audience is required",
		`{"odsCode":"RHW","kind":"FHIR","mode":"Push","endpoint":"https://x","recordService":"http://y","push":{"issuer":"i","audience":"a"}}`:                                       "exactly one of jwksFile and jwksURL",
		`{"odsCode":"RHW","kind":"FHIR","mode":"Push","endpoint":"https://x","recordService":"http://y","push":{"issuer":"i","audience":"a","jwksFile":"/k","jwksURL":"https://k"}}`: "exactly one of jwksFile and jwksURL",
		`{"odsCode":"RHW","kind":"FHIR","mode":"Push","endpoint":"https://x","recordService":"http://y","push":{"issuer":"i","audience":"a","jwksURL":"http://k"}}`:                  `push.jwksURL "http://k" must be an absolute https URL`,
		`{"odsCode":"RHW","kind":"FHIR","schedule":"15m","endpoint":"https://x","recordService":"http://y","tokenURL":"http://insecure/token"}`:                                      `tokenURL "http://insecure/token" must be an absolute https URL`,
		`{"odsCode":"RHW","kind":"FHIR","schedule":"15m","endpoint":"https://x","recordService":"http://y"}`:                                                                         "",
	} {
		path := filepath.Join(dir, "config.json")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadConfig(path)
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("LoadConfig(%s) = %v, want %q", body, err, want)
		}
	}
}
