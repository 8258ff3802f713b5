/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// maxTokenBytes is the bound internal/gateway/identity puts on a bearer
// token.
const maxTokenBytes = 16 * 1024

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

// TestCachedTokenRefusedAfterExp accepts a token again while it is valid
// and refuses it once it has expired, as if it had never been seen. That the
// token is cached meanwhile is tested in internal/gateway/identity.
func TestCachedTokenRefusedAfterExp(t *testing.T) {
	h := newHarness(t)
	v := h.gateway.verifier
	now := time.Now().Truncate(time.Second)
	exp := now.Add(time.Minute)
	token := clinician().with(claims{"exp": exp.Unix()}).sign(t)
	want, err := v.Verify(token, now)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := v.Verify(token, exp.Add(-time.Second)); err != nil || got != want {
		t.Errorf("cached token: caller %+v, %v; want %+v", got, err, want)
	}
	afterSkew := exp.Add(h.gateway.cfg.Identity.ClockSkew + time.Second)
	if _, err := v.Verify(token, afterSkew); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired token: %v, want refused as expired", err)
	}
}

// TestNewKeysEmptyTheTokenCache refuses a token verified before once its
// key is no longer published, and verifies tokens again under reloaded keys.
func TestNewKeysEmptyTheTokenCache(t *testing.T) {
	h := newHarness(t)
	v := h.gateway.verifier
	now := time.Now()
	token := clinician().sign(t)
	if _, err := v.Verify(token, now); err != nil {
		t.Fatal(err)
	}
	must(t, h.gateway.useKeys(jwks(), true))
	ecOnly := mustJSON(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &testKeys().ec.PublicKey, KeyID: kidEC, Use: "sig", Algorithm: string(jose.ES256)},
	}})
	if _, err := v.Verify(token, now); err != nil {
		t.Fatal(err)
	}
	must(t, h.gateway.useKeys(ecOnly, true))
	if _, err := v.Verify(token, now); err == nil || !strings.Contains(err.Error(), "no key with kid") {
		t.Errorf("token whose key was rotated out: %v, want refused", err)
	}
}
