/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const (
	testIssuer   = "https://cis2.test"
	testAudience = "shcr-tvs-record-gateway"
	kidRSA       = "cis2-rsa-2026"
)

// signingKeys are the identity provider's keys, and another RSA key it does
// not publish.
type signingKeys struct {
	rsa, other *rsa.PrivateKey
	ec         *ecdsa.PrivateKey
}

var testKeys = sync.OnceValue(func() signingKeys {
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
	return signingKeys{rsa: rsaKey, other: other, ec: ecKey}
})

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
			{"person_orgid": "555021935106", "person_roleid": "555021935107", "org_code": "RR8", "role_code": "S8000:G8000:R8000"},
			{"person_orgid": "555021935108", "person_roleid": "555021935109", "org_code": "B86001", "role_code": "S8000:G8000:R8001"},
		},
		"purpose_of_use":          "TREAT",
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

// sign signs claims with the RSA key under kidRSA.
func (c claims) sign(t testing.TB) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), kidRSA)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: testKeys().rsa}, opts)
	if err != nil {
		t.Fatal(err)
	}
	token, err := jwt.Signed(signer).Claims(map[string]any(c)).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// testVerifier verifies tokens of testIssuer for testAudience with the
// public half of the RSA key.
func testVerifier(t testing.TB) *Verifier {
	t.Helper()
	v := NewVerifier(Config{Issuer: testIssuer, Audience: testAudience, JWKSFile: "jwks.json",
		ClockSkew: 5 * time.Second, Claims: DefaultClaimMapping()}, "")
	keys, _, err := ParseKeySet(mustJSON(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &testKeys().rsa.PublicKey, KeyID: kidRSA, Use: "sig"},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	v.SetKeys(keys)
	return v
}

func mustJSON(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return data
}
