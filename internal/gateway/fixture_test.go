/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// The fixture region: tvs, with members RR8 (acute trust), B86001 (GP
// practice), RTH (acute trust), K84001 (GP practice) and RX1 (not
// admitted). Agreement dsa-1 is in force between RR8, B86001 and RTH;
// agreement dsa-old between RR8 and K84001 has expired. Policy
// tvs/clinical grants R8000 and R8001 every category but InpatientStays and
// DischargeLetters under dsa-1, for TREAT and ETREAT, with a legitimate
// relationship, sensitive data only via break-glass, and break-glass for
// R8000 for an hour.
const (
	testRegion   = "tvs"
	testIssuer   = "https://am.nhsidentity.spineservices.nhs.uk/openam/oauth2/realms/root/realms/NHSIdentity/realms/Healthcare"
	testAudience = "shcr-tvs-record-gateway"
	kidRSA       = "cis2-rsa-2026"
	kidEC        = "cis2-ec-2026"
	kidOther     = "not-in-the-jwks"
)

// withCheckDigit completes nine digits into a valid NHS number.
func withCheckDigit(nine string) string {
	for d := range 10 {
		candidate := nine + strconv.Itoa(d)
		if ValidNHSNumber(candidate) {
			return candidate
		}
	}
	panic("no check digit for " + nine)
}

// The fixture patients: alice does not object; bob objects to all sharing;
// carol objects to sharing data from RTH only.
var (
	alice = withCheckDigit("401023213")
	bob   = "9434765919"
	carol = withCheckDigit("943476587")
)

func fixtureRegister() string {
	return "# Upheld objections (UK GDPR Art 21)\n" +
		bob + "\n" +
		"\n" +
		carol + " RTH   # only data from Oxford\n" +
		"1234567890\n" + // fails the check digit: reported and ignored
		"94347659\n" // too short
}

// identityKeys are the identity provider's signing keys, and another RSA
// key it does not publish.
type identityKeys struct {
	rsa, other *rsa.PrivateKey
	ec         *ecdsa.PrivateKey
}

// testKeys are generated once per test run.
var testKeys = sync.OnceValue(func() identityKeys {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return identityKeys{rsa: rsaKey, other: other, ec: ecKey}
})

// jwks is the provider's published key set.
func jwks() []byte {
	k := testKeys()
	return mustJSON(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &k.rsa.PublicKey, KeyID: kidRSA, Use: "sig"},
		{Key: &k.ec.PublicKey, KeyID: kidEC, Use: "sig", Algorithm: string(jose.ES256)},
	}})
}

// claims are a token's claims; clinician is a CIS2 token of a clinical
// practitioner (R8000) at RR8 treating a patient they care for.
type claims map[string]any

func clinician() claims {
	now := time.Now()
	return claims{
		"iss":             testIssuer,
		"aud":             testAudience,
		"sub":             "910000000001",
		"iat":             now.Add(-time.Minute).Unix(),
		"exp":             now.Add(10 * time.Minute).Unix(),
		"selected_roleid": "555021935107",
		"nhsid_nrbac_roles": []map[string]string{
			{"person_orgid": "555021935106", "person_roleid": "555021935107", "org_code": "RR8", "role_code": "S8000:G8000:R8000",
				"role_name": `"Clinical":"Clinical Provision":"Clinical Practitioner Access Role"`},
			{"person_orgid": "555021935108", "person_roleid": "555021935109", "org_code": "B86001", "role_code": "S8000:G8000:R8001"},
		},
		"purpose_of_use":          policy.PurposeTreat,
		"legitimate_relationship": true,
	}
}

// with returns a copy with changes; a nil value removes the claim.
func (c claims) with(changes claims) claims {
	out := claims{}
	for k, v := range c {
		out[k] = v
	}
	for k, v := range changes {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// actingAs selects a single role profile at org with role.
func (c claims) actingAs(org, role string) claims {
	return c.with(claims{"nhsid_nrbac_roles": []map[string]string{
		{"person_roleid": "555021935107", "org_code": org, "role_code": "S8000:G8000:" + role},
	}})
}

// breakingGlass asks for an emergency override that started ago.
func (c claims) breakingGlass(reason string, ago time.Duration) claims {
	return c.with(claims{"break_glass_reason": reason, "iat": time.Now().Add(-ago).Unix()})
}

// sign signs claims with the RSA key under kidRSA.
func (c claims) sign(t testing.TB) string {
	return signWith(t, jose.RS256, testKeys().rsa, kidRSA, c)
}

func signWith(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, c claims) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	token, err := jwt.Signed(signer).Claims(map[string]any(c)).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// The policy inputs, as the operator's governance package would give them.
func testInput() policy.Input {
	now := time.Now().UTC().Truncate(time.Second)
	member := func(ods string, admitted bool) policy.Member {
		return policy.Member{ODSCode: ods, Region: testRegion, Admitted: admitted, Provider: true, Consumer: true}
	}
	return policy.Input{
		Region: testRegion,
		// Every requirement of the IG Framework assured for the tests' span.
		Assurance: policy.Assurance{Assured: true, From: now.AddDate(-3, 0, 0), Until: now.AddDate(3, 0, 0)},
		Members: []policy.Member{
			member("RR8", true), member("B86001", true), member("RTH", true), member("K84001", true), member("RX1", false),
		},
		Agreements: []policy.Agreement{
			{
				ID: "dsa-1", Version: 1, Approved: true,
				EffectiveFrom: now.AddDate(0, -1, 0), EndsOn: now.AddDate(1, 0, 0),
				Parties: []policy.Party{
					{ODSCode: "RR8", Role: "Controller"}, {ODSCode: "B86001", Role: "JointController"},
					{ODSCode: "RTH", Role: "Controller"}, {ODSCode: "RX1", Role: "Controller"},
				},
				Categories: policy.Categories,
				Purpose:    policy.PurposeDirectCare,
				Sensitive:  policy.SensitiveAllow,
			},
			{
				ID: "dsa-old", Version: 1, Approved: true,
				EffectiveFrom: now.AddDate(-2, 0, 0), EndsOn: now.AddDate(0, 0, -1),
				Parties:    []policy.Party{{ODSCode: "RR8", Role: "Controller"}, {ODSCode: "K84001", Role: "Controller"}},
				Categories: []string{policy.CategoryMedications},
				Purpose:    policy.PurposeDirectCare,
				Sensitive:  policy.SensitiveExclude,
			},
		},
		Policies: []policy.Policy{clinicalPolicy(), {
			Name: "tvs/old-medications", AgreementID: "dsa-old", Roles: []string{"R8000"},
			Grants:        []policy.PolicyGrant{{Categories: []string{policy.CategoryMedications}}},
			PurposesOfUse: []string{policy.PurposeTreat},
		}},
	}
}

func clinicalPolicy() policy.Policy {
	return policy.Policy{
		Name:        "tvs/clinical",
		AgreementID: "dsa-1",
		Roles:       []string{"R8000", "R8001"},
		Grants: []policy.PolicyGrant{{Categories: []string{
			policy.CategoryDemographics, policy.CategoryMedications, policy.CategoryAllergies, policy.CategoryTestResults,
			policy.CategoryAppointments, policy.CategoryClinicalContacts, policy.CategoryPreferences, policy.CategoryCarePlans,
		}}},
		PurposesOfUse:                 []string{policy.PurposeTreat, policy.PurposeEmergencyTreat},
		RequireLegitimateRelationship: true,
		BreakGlass:                    &policy.BreakGlass{AllowedRoles: []string{"R8000"}, MaxDuration: time.Hour},
		Sensitive:                     policy.SensitiveBreakGlassOnly,
	}
}

// fixtureRecords hold every kind of record the rules tell apart.
func fixtureRecords() []record {
	contained := record{Type: "Observation", Labels: []string{"HIV"}}
	return []record{
		{Type: "Patient", ID: "alice", Sources: []string{"B86001"}, Patient: alice},
		{Type: "Patient", ID: "bob", Sources: []string{"B86001"}, Patient: bob},
		{Type: "MedicationRequest", ID: "med-alice-b86", Sources: []string{"B86001"}, Patient: alice},
		{Type: "MedicationRequest", ID: "med-alice-rth", Sources: []string{"RTH"}, Patient: alice},
		{Type: "MedicationRequest", ID: "med-bob", Sources: []string{"B86001"}, Patient: bob},
		{Type: "MedicationRequest", ID: "med-carol-rth", Sources: []string{"RTH"}, Patient: carol},
		{Type: "MedicationRequest", ID: "med-carol-b86", Sources: []string{"B86001"}, Patient: carol},
		{Type: "MedicationRequest", ID: "med-untagged", Patient: alice},
		{Type: "MedicationRequest", ID: "med-two-sources", Sources: []string{"B86001", "RTH"}, Patient: alice},
		{Type: "MedicationRequest", ID: "med-literal-ref", Sources: []string{"B86001"}, Patient: alice, RefOnly: true},
		{Type: "MedicationRequest", ID: "med-k84", Sources: []string{"K84001"}, Patient: alice},
		{Type: "MedicationRequest", ID: "med-rx1", Sources: []string{"RX1"}, Patient: alice},
		{Type: "Observation", ID: "obs-alice", Sources: []string{"B86001"}, Patient: alice, Labels: []string{"N"}},
		{Type: "Observation", ID: "obs-hiv", Sources: []string{"B86001"}, Patient: alice, Labels: []string{"HIV"}},
		{Type: "Observation", ID: "obs-restricted", Sources: []string{"RTH"}, Patient: alice, Labels: []string{"R"}},
		{Type: "DiagnosticReport", ID: "dr-contained-hiv", Sources: []string{"B86001"}, Patient: alice, Contained: []record{contained}},
		{Type: "Encounter", ID: "enc-amb", Sources: []string{"RTH"}, Patient: alice, Class: "AMB"},
		{Type: "Encounter", ID: "enc-imp", Sources: []string{"RTH"}, Patient: alice, Class: "IMP"},
		{Type: "Encounter", ID: "enc-emer", Sources: []string{"RTH"}, Patient: alice, Class: "EMER"},
		{Type: "AllergyIntolerance", ID: "allergy-alice", Sources: []string{"B86001"}, Patient: alice},
		{Type: "Appointment", ID: "appt-alice", Sources: []string{"RTH"}, Patient: alice},
		{Type: "Consent", ID: "consent-adrt", Sources: []string{"B86001"}, Patient: alice, Scope: "adr"},
		{Type: "Consent", ID: "consent-objection", Sources: []string{"B86001"}, Patient: alice, Scope: "patient-privacy"},
		{Type: "DocumentReference", ID: "discharge-alice", Sources: []string{"RTH"}, Patient: alice},
		{Type: "Practitioner", ID: "prac-1", Sources: []string{"B86001"}},
		{Type: "Practitioner", ID: "prac-untagged"},
	}
}
