/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gpconnect_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shcr-io/shcr-operator/internal/gpconnect"
	"github.com/shcr-io/shcr-operator/internal/gpconnect/gpconnecttest"
)

const (
	consumerASID = "200000000115"
	practiceASID = "918999198738"
	nhsNumber    = "9000000009"
)

func consumer() gpconnect.Consumer {
	return gpconnect.Consumer{ASID: consumerASID, Issuer: "https://records.example.nhs.uk/", DeviceID: "record-gateway", Product: "shcr-operator record gateway", Version: "1"}
}

func user() gpconnect.User {
	return gpconnect.User{Subject: "555021935107", IdentityIssuer: "https://cis2.example.nhs.uk", Organisation: "Y3T01"}
}

// newPractice is a stand-in practice holding one allergy for the patient.
func newPractice(t *testing.T) *gpconnecttest.Server {
	s := gpconnecttest.New(t, "Y3G01", practiceASID, consumerASID)
	s.Add(nhsNumber, allergy("a1", nil), problem("c1"))
	return s
}

// send sends a request to the stand-in and gives its status and body.
func send(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// The request as built is accepted by the stand-in and answered.
func TestRequestIsAccepted(t *testing.T) {
	s := newPractice(t)
	req, trace, err := gpconnect.NewRequest(context.Background(), consumer(), s.Provider(), user(), nhsNumber,
		gpconnect.Groups{Allergies: true, Medication: true}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if trace == "" || req.Header.Get("Ssp-TraceID") != trace {
		t.Fatalf("trace id %q, header %q", trace, req.Header.Get("Ssp-TraceID"))
	}
	if strings.Contains(req.URL.String(), nhsNumber) {
		t.Fatal("the NHS number is in the URL")
	}
	status, body := send(t, req)
	if status != http.StatusOK || !strings.Contains(body, `"AllergyIntolerance"`) {
		t.Fatalf("status %d: %s (refused: %v)", status, body, s.Refused())
	}
}

// claimsOf decodes a request's JWT payload.
func claimsOf(t *testing.T, req *http.Request) map[string]any {
	t.Helper()
	token := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
	parts := strings.Split(token, ".")
	data, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// withClaims replaces a request's JWT payload.
func withClaims(t *testing.T, req *http.Request, c map[string]any) {
	t.Helper()
	token := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
	parts := strings.Split(token, ".")
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(data)
	req.Header.Set("Authorization", "Bearer "+strings.Join(parts, "."))
}

func sub(c map[string]any, claim string) map[string]any {
	m, _ := c[claim].(map[string]any)
	return m
}

// Every header and claim the specification requires is checked by the
// stand-in: a request missing or wrong in any one of them is refused, so
// the acceptance above proves each is sent right.
func TestStandInRefusesEachMissingOrWrongHeaderAndClaim(t *testing.T) {
	s := newPractice(t)
	header := func(name, value string) func(*testing.T, *http.Request) {
		return func(_ *testing.T, r *http.Request) {
			if value == "" {
				r.Header.Del(name)
			} else {
				r.Header.Set(name, value)
			}
		}
	}
	claim := func(change func(c map[string]any)) func(*testing.T, *http.Request) {
		return func(t *testing.T, r *http.Request) {
			c := claimsOf(t, r)
			change(c)
			withClaims(t, r, c)
		}
	}
	body := func(text string) func(*testing.T, *http.Request) {
		return func(_ *testing.T, r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(text))
			r.ContentLength = int64(len(text))
		}
	}
	cases := map[string]func(*testing.T, *http.Request){
		"no Ssp-TraceID":              header("Ssp-TraceID", ""),
		"Ssp-TraceID not a UUID":      header("Ssp-TraceID", "trace-1"),
		"no Ssp-From":                 header("Ssp-From", ""),
		"Ssp-From another ASID":       header("Ssp-From", "200000000999"),
		"no Ssp-To":                   header("Ssp-To", ""),
		"Ssp-To another ASID":         header("Ssp-To", "918999198000"),
		"no Ssp-InteractionID":        header("Ssp-InteractionID", ""),
		"Ssp-InteractionID HTML view": header("Ssp-InteractionID", "urn:nhs:names:services:gpconnect:fhir:operation:gpc.getcarerecord"),
		"Ssp-InteractionID migrate":   header("Ssp-InteractionID", "urn:nhs:names:services:gpconnect:fhir:operation:gpc.migratestructuredrecord-1"),
		"no Authorization":            header("Authorization", ""),
		"Authorization not Bearer":    header("Authorization", "Basic abc"),
		"no Content-Type":             header("Content-Type", ""),
		"no Accept":                   header("Accept", ""),
		"signed JWT": func(_ *testing.T, r *http.Request) {
			r.Header.Set("Authorization", r.Header.Get("Authorization")+"c2ln")
		},
		"JWT alg HS256": func(_ *testing.T, r *http.Request) {
			token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			parts := strings.Split(token, ".")
			parts[0] = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
			r.Header.Set("Authorization", "Bearer "+strings.Join(parts, "."))
		},
		"no iss":                       claim(func(c map[string]any) { delete(c, "iss") }),
		"iss not a URL":                claim(func(c map[string]any) { c["iss"] = "gateway" }),
		"no sub":                       claim(func(c map[string]any) { delete(c, "sub") }),
		"sub not the practitioner":     claim(func(c map[string]any) { c["sub"] = "someone-else" }),
		"no aud":                       claim(func(c map[string]any) { delete(c, "aud") }),
		"aud the old token URL":        claim(func(c map[string]any) { c["aud"] = "https://authorize.fhir.nhs.net/token" }),
		"aud another practice":         claim(func(c map[string]any) { c["aud"] = strings.Replace(c["aud"].(string), "Y3G01", "Y3G02", 1) }),
		"no exp":                       claim(func(c map[string]any) { delete(c, "exp") }),
		"no iat":                       claim(func(c map[string]any) { delete(c, "iat") }),
		"lifetime 10 minutes":          claim(func(c map[string]any) { c["exp"] = c["iat"].(float64) + 600 }),
		"expired":                      claim(func(c map[string]any) { c["iat"] = c["iat"].(float64) - 3600; c["exp"] = c["exp"].(float64) - 3600 }),
		"iat as text":                  claim(func(c map[string]any) { c["iat"] = "now" }),
		"no reason_for_request":        claim(func(c map[string]any) { delete(c, "reason_for_request") }),
		"reason_for_request migration": claim(func(c map[string]any) { c["reason_for_request"] = "migration" }),
		"no requested_scope":           claim(func(c map[string]any) { delete(c, "requested_scope") }),
		"requested_scope write":        claim(func(c map[string]any) { c["requested_scope"] = "patient/*.write" }),
		"requested_scope organization": claim(func(c map[string]any) { c["requested_scope"] = "organization/*.read" }),
		"no requesting_device":         claim(func(c map[string]any) { delete(c, "requesting_device") }),
		"device not a Device":          claim(func(c map[string]any) { sub(c, "requesting_device")["resourceType"] = "Organization" }),
		"device without model":         claim(func(c map[string]any) { delete(sub(c, "requesting_device"), "model") }),
		"device without version":       claim(func(c map[string]any) { delete(sub(c, "requesting_device"), "version") }),
		"device without identifier":    claim(func(c map[string]any) { delete(sub(c, "requesting_device"), "identifier") }),
		"no requesting_organization":   claim(func(c map[string]any) { delete(c, "requesting_organization") }),
		"organization without name":    claim(func(c map[string]any) { delete(sub(c, "requesting_organization"), "name") }),
		"organization without ODS":     claim(func(c map[string]any) { delete(sub(c, "requesting_organization"), "identifier") }),
		"organization with a bad ODS": claim(func(c map[string]any) {
			sub(c, "requesting_organization")["identifier"] = []any{map[string]any{"system": gpconnect.SystemODS, "value": "y3t01!"}}
		}),
		"no requesting_practitioner":    claim(func(c map[string]any) { delete(c, "requesting_practitioner") }),
		"practitioner not Practitioner": claim(func(c map[string]any) { sub(c, "requesting_practitioner")["resourceType"] = "Patient" }),
		"practitioner without name":     claim(func(c map[string]any) { delete(sub(c, "requesting_practitioner"), "name") }),
		"practitioner without SDS ids":  claim(func(c map[string]any) { sub(c, "requesting_practitioner")["identifier"] = []any{} }),
		"body not Parameters":           body(`{"resourceType":"Patient"}`),
		"body without NHS number":       body(`{"resourceType":"Parameters","parameter":[{"name":"includeAllergies"}]}`),
		"body without include group":    body(`{"resourceType":"Parameters","parameter":[{"name":"patientNHSNumber","valueIdentifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9000000009"}}]}`),
		"body with unknown parameter":   body(`{"resourceType":"Parameters","parameter":[{"name":"patientNHSNumber","valueIdentifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9000000009"}},{"name":"includeEverything"}]}`),
		"GET":                           func(_ *testing.T, r *http.Request) { r.Method = http.MethodGet },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			req, _, err := gpconnect.NewRequest(context.Background(), consumer(), s.Provider(), user(), nhsNumber,
				gpconnect.Groups{Allergies: true}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			change(t, req)
			status, body := send(t, req)
			if status == http.StatusOK || !strings.Contains(body, "OperationOutcome") {
				t.Fatalf("accepted (%d): %s", status, body)
			}
		})
	}
}

// The claims are the specification's, with the values it fixes.
func TestTokenClaims(t *testing.T) {
	s := newPractice(t)
	now := time.Unix(1_800_000_000, 0)
	req, _, err := gpconnect.NewRequest(context.Background(), consumer(), s.Provider(), user(), nhsNumber, gpconnect.Groups{Medication: true}, now)
	if err != nil {
		t.Fatal(err)
	}
	c := claimsOf(t, req)
	want := map[string]any{
		"iss": "https://records.example.nhs.uk/", "sub": "555021935107", "aud": s.Base().String(),
		"iat": float64(now.Unix()), "exp": float64(now.Unix() + 300),
		"reason_for_request": "directcare", "requested_scope": "patient/*.read",
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("claim %s = %v, want %v", k, c[k], v)
		}
	}
	for _, k := range []string{"requesting_device", "requesting_organization", "requesting_practitioner"} {
		if _, ok := c[k].(map[string]any); !ok {
			t.Errorf("claim %s missing", k)
		}
	}
	if len(c) != len(want)+3 {
		t.Errorf("claims %v: want exactly the specification's", c)
	}
	if !strings.HasSuffix(req.Header.Get("Authorization"), ".") {
		t.Error("the JWT does not end with the empty signature")
	}
	body, _ := io.ReadAll(req.Body)
	if !bytes.Contains(body, []byte(`"includeMedication"`)) || bytes.Contains(body, []byte("includeAllergies")) || bytes.Contains(body, []byte("includeProblems")) {
		t.Errorf("body %s: want only includeMedication", body)
	}
}

// Only the groups of the categories asked for are requested, each by its
// exact category name.
func TestGroupsFor(t *testing.T) {
	cases := []struct {
		categories []string
		want       gpconnect.Groups
	}{
		{nil, gpconnect.Groups{}},
		{[]string{"Allergies"}, gpconnect.Groups{Allergies: true}},
		{[]string{"Medications"}, gpconnect.Groups{Medication: true}},
		{[]string{"Problems"}, gpconnect.Groups{Problems: true}},
		{[]string{"Medications", "Allergies", "TestResults", "Demographics"}, gpconnect.Groups{Allergies: true, Medication: true}},
		{[]string{"Problems", "Allergies", "Medications"}, gpconnect.Groups{Allergies: true, Medication: true, Problems: true}},
		{[]string{"allergies", "MEDICATIONS", "problems", "Condition", "Problem"}, gpconnect.Groups{}},
	}
	for _, c := range cases {
		if got := gpconnect.GroupsFor(c.categories); got != c.want {
			t.Errorf("GroupsFor(%v) = %+v, want %+v", c.categories, got, c.want)
		}
	}
	if _, err := gpconnect.Parameters(nhsNumber, gpconnect.Groups{}); err == nil {
		t.Error("Parameters without a group was built")
	}
	for _, bad := range []string{"", "900000000", "90000000099", "900000000a", "900 000 0009"} {
		if _, err := gpconnect.Parameters(bad, gpconnect.Groups{Allergies: true}); err == nil {
			t.Errorf("Parameters with NHS number %q was built", bad)
		}
	}
}

// Fetch against the stand-in: records, a patient not registered, an
// endpoint down; errors never name the NHS number.
func TestFetch(t *testing.T) {
	s := newPractice(t)
	c := &gpconnect.Client{HTTP: &http.Client{Timeout: 10 * time.Second}, Consumer: consumer()}
	res, err := c.Fetch(context.Background(), s.Provider(), user(), nhsNumber, []string{"Allergies"})
	if err != nil || len(res.Resources) != 1 || res.Resources[0].Type != "AllergyIntolerance" {
		t.Fatalf("Fetch = %+v, %v (refused %v)", res, err, s.Refused())
	}
	// Problems is asked for with includeProblems, and the stand-in answers
	// the ProblemHeader only then.
	res, err = c.Fetch(context.Background(), s.Provider(), user(), nhsNumber, []string{"Problems"})
	if err != nil || len(res.Resources) != 1 || res.Resources[0].Type != "Condition" || len(res.Withheld) != 0 {
		t.Fatalf("Fetch of Problems = %+v, %v (refused %v)", res, err, s.Refused())
	}
	if _, err := c.Fetch(context.Background(), s.Provider(), user(), "9434765919", []string{"Allergies"}); !errors.Is(err, gpconnect.ErrPatientNotFound) {
		t.Fatalf("unregistered patient: %v", err)
	}
	wrong := s.Provider()
	wrong.ASID = "1"
	_, err = c.Fetch(context.Background(), wrong, user(), nhsNumber, []string{"Allergies"})
	if err == nil || !strings.Contains(err.Error(), "status 400 (BAD_REQUEST)") || strings.Contains(err.Error(), nhsNumber) {
		t.Fatalf("wrong ASID: %v", err)
	}
	s.Down.Store(true)
	_, err = c.Fetch(context.Background(), s.Provider(), user(), nhsNumber, []string{"Allergies"})
	if err == nil || !strings.Contains(err.Error(), "status 503") || strings.Contains(err.Error(), nhsNumber) {
		t.Fatalf("endpoint down: %v", err)
	}
}
