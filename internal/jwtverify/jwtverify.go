/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package jwtverify verifies bearer JWTs against an identity provider's
// published keys (JWKS) with the rules the record gateway applies
// (package internal/gateway/identity): asymmetric algorithms only
// (RS256, PS256, ES256), a kid naming exactly one usable key of the
// matching type, RSA keys of 2048 bits or more and EC keys on P-256,
// issuer, audience and exp required. The gateway keeps its own copy,
// which also caches verified staff tokens; this package serves the
// connector, which authenticates organisations' systems (OAuth2 clients),
// not staff.
package jwtverify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Algorithms are the only signature algorithms verified: "none" and the
// HMAC algorithms are refused before any key is looked at, so a public key
// can never serve as an HMAC secret.
var Algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256}

// MaxTokenBytes bounds a bearer token.
const MaxTokenBytes = 16 * 1024

// minRSABits is the smallest RSA key trusted.
const minRSABits = 2048

// KeySet is an identity provider's usable public signing keys by kid.
type KeySet struct {
	keys map[string]jose.JSONWebKey
}

// ParseKeySet reads a JWKS document. It keeps the public signing keys with
// a kid that can be verified with, and fails when none is left. A kid
// shared by two keys makes neither trusted.
func ParseKeySet(data []byte) (*KeySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("the JWKS is not valid JSON: %w", err)
	}
	set := &KeySet{keys: map[string]jose.JSONWebKey{}}
	ambiguous := map[string]bool{}
	for _, raw := range doc.Keys {
		key, err := signingKey(raw)
		switch {
		case err != nil, ambiguous[key.KeyID]:
		case set.keys[key.KeyID].Key != nil:
			ambiguous[key.KeyID] = true
			delete(set.keys, key.KeyID)
		default:
			set.keys[key.KeyID] = key
		}
	}
	if len(set.keys) == 0 {
		return nil, errors.New("the JWKS holds no usable signing key: want RSA (2048 bits or more) or EC P-256 keys with a kid")
	}
	return set, nil
}

func signingKey(raw json.RawMessage) (jose.JSONWebKey, error) {
	var key jose.JSONWebKey
	if err := key.UnmarshalJSON(raw); err != nil {
		return jose.JSONWebKey{}, err
	}
	if key.KeyID == "" || (key.Use != "" && key.Use != "sig") {
		return jose.JSONWebKey{}, errors.New("no kid, or not a signing key")
	}
	public := key.Public()
	if !public.Valid() {
		return jose.JSONWebKey{}, errors.New("not an asymmetric public key")
	}
	switch k := public.Key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return jose.JSONWebKey{}, errors.New("RSA key too short")
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return jose.JSONWebKey{}, errors.New("EC key not on P-256")
		}
	default:
		return jose.JSONWebKey{}, errors.New("neither RSA nor EC")
	}
	return public, nil
}

// lookup finds the key a token names, of a type that fits its algorithm.
func (s *KeySet) lookup(kid string, alg jose.SignatureAlgorithm) (any, error) {
	key, ok := s.keys[kid]
	if !ok {
		return nil, fmt.Errorf("no key with kid %q in the JWKS", kid)
	}
	if key.Algorithm != "" && key.Algorithm != string(alg) {
		return nil, fmt.Errorf("key %q is for %s, the token uses %s", kid, key.Algorithm, alg)
	}
	switch k := key.Key.(type) {
	case *rsa.PublicKey:
		if alg == jose.RS256 || alg == jose.PS256 {
			return k, nil
		}
	case *ecdsa.PublicKey:
		if alg == jose.ES256 {
			return k, nil
		}
	}
	return nil, fmt.Errorf("key %q cannot verify %s", kid, alg)
}

// Claims are the claims of a verified token that name an OAuth2 client.
type Claims struct {
	jwt.Claims
	// ClientID is the client_id claim (RFC 9068); AuthorizedParty azp.
	ClientID        string `json:"client_id,omitempty"`
	AuthorizedParty string `json:"azp,omitempty"`
}

// Client is the OAuth2 client the token was issued to: client_id, else
// azp, else sub. The first that is present decides; the others are not
// consulted, so a token cannot name one client in one claim and another
// elsewhere to slip past.
func (c Claims) Client() string {
	switch {
	case c.ClientID != "":
		return c.ClientID
	case c.AuthorizedParty != "":
		return c.AuthorizedParty
	}
	return c.Subject
}

// Verifier checks tokens from one issuer for one audience.
type Verifier struct {
	Issuer, Audience string
	// Skew is the leeway on exp, nbf and iat.
	Skew time.Duration
}

// Verify checks raw's signature with keys, then its issuer, audience and
// validity at now (exp required). Errors say what is wrong and never
// repeat the token.
func (v Verifier) Verify(keys *KeySet, raw string, now time.Time) (Claims, error) {
	if v.Issuer == "" || v.Audience == "" || keys == nil {
		return Claims{}, errors.New("no issuer, audience or keys are configured, so no token is accepted")
	}
	if len(raw) > MaxTokenBytes {
		return Claims{}, fmt.Errorf("the bearer token is longer than %d bytes", MaxTokenBytes)
	}
	token, err := jwt.ParseSigned(raw, Algorithms)
	if err != nil {
		return Claims{}, errors.New("the token is not a compact JWS signed with RS256, PS256 or ES256")
	}
	if len(token.Headers) != 1 {
		return Claims{}, errors.New("the token must carry exactly one signature")
	}
	header := token.Headers[0]
	if header.KeyID == "" {
		return Claims{}, errors.New("the token has no kid header naming its signing key")
	}
	key, err := keys.lookup(header.KeyID, jose.SignatureAlgorithm(header.Algorithm))
	if err != nil {
		return Claims{}, err
	}
	var claims Claims
	if err := token.Claims(key, &claims); err != nil {
		return Claims{}, errors.New("the token signature does not verify with the issuer's key")
	}
	if claims.Expiry == nil {
		return Claims{}, errors.New("the token has no exp claim")
	}
	err = claims.ValidateWithLeeway(jwt.Expected{Issuer: v.Issuer, AnyAudience: jwt.Audience{v.Audience}, Time: now}, v.Skew)
	switch {
	case err == nil:
		return claims, nil
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return Claims{}, fmt.Errorf("the token issuer %q is not %q", claims.Issuer, v.Issuer)
	case errors.Is(err, jwt.ErrInvalidAudience):
		return Claims{}, fmt.Errorf("the token is not for audience %q", v.Audience)
	case errors.Is(err, jwt.ErrExpired):
		return Claims{}, errors.New("the token has expired")
	case errors.Is(err, jwt.ErrNotValidYet):
		return Claims{}, errors.New("the token is not valid yet (nbf)")
	case errors.Is(err, jwt.ErrIssuedInTheFuture):
		return Claims{}, errors.New("the token is issued in the future (iat)")
	}
	return Claims{}, fmt.Errorf("the token is not valid: %w", err)
}

// BearerToken takes the token from an Authorization header value.
func BearerToken(header string) (string, error) {
	scheme, token, found := strings.Cut(header, " ")
	switch {
	case header == "":
		return "", errors.New("no bearer token: send Authorization: Bearer <token>")
	case !found || !strings.EqualFold(scheme, "Bearer"):
		return "", errors.New("the Authorization header is not a bearer token")
	}
	return strings.TrimSpace(token), nil
}
