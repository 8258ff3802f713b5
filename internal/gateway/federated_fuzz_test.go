/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"net/url"
	"slices"
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/shcr-io/shcr-operator/internal/gpconnect"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

// FuzzGPConnectAnswer holds, for any answer a practice could send, that
// every resource mapped from it is, as the gateway reads it, either
// unshareable or about exactly the patient asked for, from exactly that
// practice, of the category asked for: a hostile answer cannot make the
// gateway decide on another patient's data or another source's.
func FuzzGPConnectAnswer(f *testing.F) {
	seeds := []string{
		`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","id":"p","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"` + alice + `"}]}},` +
			`{"resource":{"resourceType":"AllergyIntolerance","id":"a","verificationStatus":"confirmed","patient":{"reference":"Patient/p"},"code":{"text":"x"}}}]}`,
		`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","id":"p","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"` + alice + `"}]}},` +
			`{"resource":{"resourceType":"AllergyIntolerance","id":"a","verificationStatus":"confirmed","patient":{"reference":"Patient/p"},` +
			`"code":{"coding":[{"system":"https://fhir.nhs.uk/Id/nhs-number","code":"` + bob + `"}]},"reaction":[{"manifestation":[{"text":"x","extension":[{"url":"u","valueReference":{"reference":"Patient/other","identifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"` + bob + `"}}}]}]}]}}]}`,
		`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","id":"p","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"` + alice + `"}]}},` +
			`{"resource":{"resourceType":"Medication","id":"m","code":{"text":"x"},"meta":{"security":[{"code":"HIV"}]}}},` +
			`{"resource":{"resourceType":"MedicationStatement","id":"s","status":"active","subject":{"reference":"Patient/p"},"medicationReference":{"reference":"Medication/m"},` +
			`"dosage":[{"timing":{"code":{"text":"x"}},"route":{"contained":[{"resourceType":"Patient"}]}}],"meta":{"tag":[{"system":"https://fhir.nhs.uk/Id/ods-organization-code","code":"RTH"}]}}}]}`,
		`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","id":"p","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"` + alice + `"}]}},` +
			`{"resource":{"resourceType":"Condition","id":"c","clinicalStatus":"active","subject":{"reference":"Patient/p"},"code":{"text":"x"},` +
			`"category":[{"coding":[{"system":"http://hl7.org/fhir/condition-category","code":"problem-list-item"}]}],` +
			`"severity":{"extension":[{"url":"u","valueReference":{"identifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"` + bob + `"}}}]},` +
			`"bodySite":[{"text":"x"}],"context":{"reference":"Encounter/e"},"asserter":{"reference":"Patient/other"},"onsetDateTime":"2020"}}]}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	base, _ := url.Parse("https://gp.example.nhs.uk/B86001/STU3/1")
	provider := gpconnect.Provider{ODS: "B86001", ASID: "1", Base: base}
	categories := []string{policy.CategoryAllergies, policy.CategoryMedications, policy.CategoryProblems}
	f.Fuzz(func(t *testing.T, answer []byte) {
		res, err := gpconnect.Map(answer, provider, alice, categories)
		if err != nil {
			return
		}
		for _, r := range res.Resources {
			facts, err := inspect(jsontext.Value(r.JSON))
			if err != nil || facts.Unshareable != "" {
				continue
			}
			if !slices.Equal(facts.Patients, []string{alice}) {
				t.Fatalf("%s/%s is about %v, not only the patient asked for: %s", r.Type, r.ID, facts.Patients, r.JSON)
			}
			if facts.Source != "B86001" {
				t.Fatalf("%s/%s has source %q: %s", r.Type, r.ID, facts.Source, r.JSON)
			}
			if !slices.Contains(categories, facts.Category) {
				t.Fatalf("%s/%s has category %q: %s", r.Type, r.ID, facts.Category, r.JSON)
			}
			if facts.ResourceType != r.Type || facts.ID != r.ID {
				t.Fatalf("%s/%s reads as %s/%s", r.Type, r.ID, facts.ResourceType, facts.ID)
			}
		}
	})
}
