/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package jwtverify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

func jwks(t *testing.T, keys ...jose.JSONWebKey) []byte {
	t.Helper()
	data, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Only keys that can be trusted are kept: a signing key with a kid, RSA of
// 2048 bits or more, EC on P-256; a kid used twice trusts neither.
func TestParseKeySetKeepsOnlyTrustworthyKeys(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	short, _ := rsa.GenerateKey(rand.Reader, 1024)
	cases := []struct {
		name string
		key  jose.JSONWebKey
	}{
		{"no kid", jose.JSONWebKey{Key: &ec.PublicKey}},
		{"encryption key", jose.JSONWebKey{Key: &ec.PublicKey, KeyID: "k", Use: "enc"}},
		{"P-384", jose.JSONWebKey{Key: &p384.PublicKey, KeyID: "k"}},
		{"RSA 1024", jose.JSONWebKey{Key: &short.PublicKey, KeyID: "k"}},
		{"symmetric", jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "k"}},
	}
	for _, c := range cases {
		if _, err := ParseKeySet(jwks(t, c.key)); err == nil {
			t.Errorf("%s: trusted", c.name)
		}
	}
	if _, err := ParseKeySet([]byte("{")); err == nil {
		t.Error("invalid JSON trusted")
	}
	set, err := ParseKeySet(jwks(t, jose.JSONWebKey{Key: &ec.PublicKey, KeyID: "a"}, jose.JSONWebKey{Key: &ec2.PublicKey, KeyID: "a"},
		jose.JSONWebKey{Key: &ec.PublicKey, KeyID: "b", Use: "sig"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := set.keys["a"]; ok {
		t.Error("a kid used by two keys is trusted")
	}
	if _, ok := set.keys["b"]; !ok {
		t.Error("a good key was dropped")
	}
}

func sign(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, claims any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// A key is used only with algorithms of its type and its declared alg;
// the claims are checked; the client is the first client claim present.
func TestVerify(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	set, err := ParseKeySet(jwks(t, jose.JSONWebKey{Key: &ec.PublicKey, KeyID: "ec"},
		jose.JSONWebKey{Key: &rsaKey.PublicKey, KeyID: "rsa", Algorithm: string(jose.PS256)}))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	v := Verifier{Issuer: "iss", Audience: "aud", Skew: time.Minute}
	good := map[string]any{"iss": "iss", "aud": []string{"other", "aud"}, "exp": now.Add(time.Hour).Unix(), "client_id": "c", "sub": "s"}
	claims, err := v.Verify(set, sign(t, jose.ES256, ec, "ec", good), now)
	if err != nil || claims.Client() != "c" {
		t.Fatalf("good token: %v, client %q", err, claims.Client())
	}
	if _, err := v.Verify(set, sign(t, jose.PS256, rsaKey, "rsa", good), now); err != nil {
		t.Errorf("PS256 with its key: %v", err)
	}
	for name, raw := range map[string]string{
		"RS256 with a PS256 key":   sign(t, jose.RS256, rsaKey, "rsa", good),
		"ES256 naming the RSA key": sign(t, jose.ES256, ec, "rsa", good),
		"expired":                  sign(t, jose.ES256, ec, "ec", map[string]any{"iss": "iss", "aud": "aud", "exp": now.Add(-2 * time.Minute).Unix()}),
		"no exp":                   sign(t, jose.ES256, ec, "ec", map[string]any{"iss": "iss", "aud": "aud"}),
		"other issuer":             sign(t, jose.ES256, ec, "ec", map[string]any{"iss": "x", "aud": "aud", "exp": now.Add(time.Hour).Unix()}),
		"other audience":           sign(t, jose.ES256, ec, "ec", map[string]any{"iss": "iss", "aud": "x", "exp": now.Add(time.Hour).Unix()}),
		"oversize":                 strings.Repeat("a", MaxTokenBytes+1),
	} {
		if _, err := v.Verify(set, raw, now); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := (Verifier{Audience: "aud"}).Verify(set, sign(t, jose.ES256, ec, "ec", good), now); err == nil {
		t.Error("a verifier with no issuer accepted a token")
	}
	for _, c := range []struct {
		claims Claims
		want   string
	}{
		{Claims{ClientID: "a", AuthorizedParty: "b", Claims: jwt.Claims{Subject: "c"}}, "a"},
		{Claims{AuthorizedParty: "b", Claims: jwt.Claims{Subject: "c"}}, "b"},
		{Claims{Claims: jwt.Claims{Subject: "c"}}, "c"},
		{Claims{}, ""},
	} {
		if got := c.claims.Client(); got != c.want {
			t.Errorf("Client() of %+v = %q, want %q", c.claims, got, c.want)
		}
	}
	for header, ok := range map[string]bool{"": false, "Basic x": false, "Bearer": false, "Bearer t": true, "bearer t": true} {
		if _, err := BearerToken(header); (err == nil) != ok {
			t.Errorf("BearerToken(%q) = %v", header, err)
		}
	}
}
