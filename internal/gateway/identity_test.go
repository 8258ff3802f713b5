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
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// TestBadTokens refuses every token that is missing, malformed, forged,
// expired or meant for someone else with 401 and no decision.
func TestBadTokens(t *testing.T) {
	h := newHarness(t)
	k := testKeys()
	c := clinician()
	now := time.Now()
	publicDER, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	valid := c.sign(t)
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + b64(mustJSON(c.actingAs("B86001", "R8000"))) + "." + parts[2]

	cases := []struct {
		name          string
		authorization string
		reason        string
	}{
		{"no token", "", "no bearer token"},
		{"basic credentials", "Basic dXNlcjpwYXNz", "not a bearer token"},
		{"not a JWT", "Bearer not-a-jwt", "not a compact JWS"},
		{"alg none", "Bearer " + unsigned(c), "not a compact JWS signed with RS256, PS256 or ES256"},
		{"HS256 signed with the public key bytes", "Bearer " + signWith(t, jose.HS256, publicDER, kidRSA, c), "not a compact JWS"},
		{"HS256 signed with the JWKS", "Bearer " + signWith(t, jose.HS256, jwks(), kidRSA, c), "not a compact JWS"},
		{"unknown kid", "Bearer " + signWith(t, jose.RS256, k.other, kidOther, c), `no key with kid "not-in-the-jwks"`},
		{"no kid", "Bearer " + signWith(t, jose.RS256, k.rsa, "", c), "no kid header"},
		{"forged with another key under a known kid", "Bearer " + signWith(t, jose.RS256, k.other, kidRSA, c), "signature does not verify"},
		{"ECDSA signature under an RSA kid", "Bearer " + signWith(t, jose.ES256, k.ec, kidRSA, c), "cannot verify ES256"},
		{"RS256 under a kid restricted to ES256", "Bearer " + signWith(t, jose.RS256, k.rsa, kidEC, c), "is for ES256"},
		{"tampered payload", "Bearer " + tampered, "signature does not verify"},
		{"expired", "Bearer " + c.with(claims{"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()}).sign(t), "expired"},
		{"no expiry", "Bearer " + c.with(claims{"exp": nil}).sign(t), "no exp claim"},
		{"not valid yet", "Bearer " + c.with(claims{"nbf": now.Add(time.Hour).Unix()}).sign(t), "not valid yet"},
		{"issued in the future", "Bearer " + c.with(claims{"iat": now.Add(time.Hour).Unix()}).sign(t), "issued in the future"},
		{"wrong issuer", "Bearer " + c.with(claims{"iss": "https://idp.example.com"}).sign(t), "issuer"},
		{"wrong audience", "Bearer " + c.with(claims{"aud": "another-service"}).sign(t), "audience"},
		{"no subject", "Bearer " + c.with(claims{"sub": nil}).sign(t), `no "sub" claim`},
		{"no selected role", "Bearer " + c.with(claims{"selected_roleid": nil}).sign(t), "organisation and role"},
		{"selected role not held", "Bearer " + c.with(claims{"selected_roleid": "999"}).sign(t), "organisation and role"},
		{"roles not an array", "Bearer " + c.with(claims{"nhsid_nrbac_roles": "R8000"}).sign(t), "not an array of role profiles"},
		{"oversized", "Bearer " + strings.Repeat("a", maxTokenBytes+1), "longer than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			header := http.Header{}
			if tc.authorization != "" {
				header.Set("Authorization", tc.authorization)
			}
			resp := h.do(t, http.MethodGet, "/MedicationRequest/med-alice-b86", "", nil, header)
			if resp.status != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401: %s", resp.status, resp.body)
			}
			issue := resp.outcome(t)
			if issue.Code != issueLogin || !strings.Contains(issue.Diagnostics, tc.reason) {
				t.Errorf("issue %s %q, want login containing %q", issue.Code, issue.Diagnostics, tc.reason)
			}
			if !strings.HasPrefix(resp.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q", resp.header.Get("WWW-Authenticate"))
			}
			if token := strings.TrimPrefix(tc.authorization, "Bearer "); len(token) > 20 &&
				(strings.Contains(string(resp.body), token) || strings.Contains(h.logs.String(), token)) {
				t.Error("the token was echoed or logged")
			}
			if events := h.audit.take(t); len(events) != 0 {
				t.Errorf("an unauthenticated request was decided: %d events", len(events))
			}
			refusals := h.audit.refusals(t)
			if len(refusals) != 1 {
				t.Fatalf("%d refusal events, want 1", len(refusals))
			}
			checkRefusalEvent(t, refusals[0], http.MethodGet, "/MedicationRequest/med-alice-b86", http.StatusUnauthorized, tc.reason, true)
			if token := strings.TrimPrefix(tc.authorization, "Bearer "); len(token) > 20 && strings.Contains(h.audit.rawText(), token) {
				t.Error("the token was written to the audit trail")
			}
		})
	}
	if requests, _ := h.records.seen(); len(requests) != 0 {
		t.Errorf("the record service was called %d times for unauthenticated requests", len(requests))
	}
}

// TestGoodTokens accepts each asymmetric algorithm with a key of its type.
func TestGoodTokens(t *testing.T) {
	h := newHarness(t)
	k := testKeys()
	for _, token := range map[string]string{
		"RS256": signWith(t, jose.RS256, k.rsa, kidRSA, clinician()),
		"PS256": signWith(t, jose.PS256, k.rsa, kidRSA, clinician()),
		"ES256": signWith(t, jose.ES256, k.ec, kidEC, clinician()),
	} {
		if resp := h.get(t, "/MedicationRequest/med-alice-b86", token); resp.status != http.StatusOK {
			t.Errorf("status = %d: %s", resp.status, resp.body)
		}
	}
}

func unsigned(c claims) string {
	header := b64(mustJSON(map[string]string{"alg": "none", "typ": "JWT", "kid": kidRSA}))
	return header + "." + b64(mustJSON(c)) + "."
}

func b64(data []byte) string { return base64.RawURLEncoding.EncodeToString(data) }

// TestClaimMapping reads the caller the CIS2 way and with top-level claims.
func TestClaimMapping(t *testing.T) {
	flat := DefaultClaimMapping()
	flat.Organisation, flat.Role = "ods_code", "rbac_role"
	cases := []struct {
		name    string
		mapping ClaimMapping
		claims  claims
		want    Caller
		wantErr string
	}{
		{
			name: "CIS2 selected role among several", mapping: DefaultClaimMapping(),
			claims: clinician().with(claims{"selected_roleid": "555021935109", "break_glass_reason": "  cardiac arrest  "}),
			want: Caller{Subject: "910000000001", Organisation: "B86001", Role: "R8001", PurposeOfUse: "TREAT",
				LegitimateRelationship: true, BreakGlassReason: "cardiac arrest"},
		},
		{
			name: "role code without job role parts", mapping: DefaultClaimMapping(),
			claims: clinician().with(claims{"nhsid_nrbac_roles": []map[string]string{{"person_roleid": "555021935107", "org_code": "RR8", "role_code": "R8003"}}}),
			want:   Caller{Subject: "910000000001", Organisation: "RR8", Role: "R8003", PurposeOfUse: "TREAT", LegitimateRelationship: true},
		},
		{
			name: "top-level claims", mapping: flat,
			claims: claims{"sub": "u1", "ods_code": "RTH", "rbac_role": "R8000", "purpose_of_use": "ETREAT"},
			want:   Caller{Subject: "u1", Organisation: "RTH", Role: "R8000", PurposeOfUse: "ETREAT"},
		},
		{
			name: "top-level claims missing", mapping: flat, claims: claims{"sub": "u1", "ods_code": "RTH"},
			wantErr: `expected string claims "ods_code" and "rbac_role"`,
		},
		{
			name: "profile without organisation", mapping: DefaultClaimMapping(),
			claims:  clinician().with(claims{"nhsid_nrbac_roles": []map[string]string{{"person_roleid": "555021935107", "role_code": "R8000"}}}),
			wantErr: `expected "selected_roleid" to match`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set := claimSet{}
			for k, v := range tc.claims {
				set[k] = json.RawMessage(mustJSON(v))
			}
			got, err := tc.mapping.caller(set)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("caller = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestParseKeySet keeps only usable asymmetric signing keys.
func TestParseKeySet(t *testing.T) {
	k := testKeys()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	doc := mustJSON(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &k.rsa.PublicKey, KeyID: "good", Use: "sig"},
		{Key: k.ec, KeyID: "private-ec"}, // a private key: its public half is used
		{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "hmac"},
		{Key: &small.PublicKey, KeyID: "small"},
		{Key: &p384.PublicKey, KeyID: "p384"},
		{Key: &k.rsa.PublicKey, KeyID: "enc", Use: "enc"},
		{Key: &k.rsa.PublicKey},
		{Key: &k.other.PublicKey, KeyID: "twice"},
		{Key: &k.rsa.PublicKey, KeyID: "twice"},
	}})
	doc = []byte(strings.Replace(string(doc), `"keys":[`, `"keys":[{"kty":"OKP","crv":"X25519","x":"AAAA","kid":"odd"},`, 1))
	set, skipped, err := parseKeySet(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.keys) != 2 || set.keys["good"].Key == nil || set.keys["private-ec"].Key == nil {
		t.Errorf("kept %v, want good and private-ec", set.keys)
	}
	if kept := set.keys["private-ec"]; !kept.IsPublic() {
		t.Error("a private key was kept instead of its public half")
	}
	if len(skipped) != 7 {
		t.Errorf("skipped %d keys, want 7: %v", len(skipped), skipped)
	}
	if _, _, err := parseKeySet([]byte(`{"keys":[]}`)); err == nil || !strings.Contains(err.Error(), "no usable signing key") {
		t.Errorf("an empty JWKS must be refused, got %v", err)
	}
}
