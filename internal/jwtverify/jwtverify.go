/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package jwtverify verifies the bearer JWTs of the connector's FHIR push
// endpoint, which authenticates organisations' systems (OAuth2 clients),
// not staff. Every rule of the check is the record gateway's, taken from
// package internal/gateway/identity rather than copied: the algorithms
// (identity.Algorithms), the token size bound, the JWKS parsing
// (identity.ParseKeySet), the key lookup, the iss/aud/exp/nbf/iat checks
// (identity.VerifySigned) and the Authorization header parsing
// (identity.ParseBearer). What is the connector's own: the client a token
// was issued to (Claims.Client), and no token cache.
package jwtverify

import (
	"errors"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/shcr-io/shcr-operator/internal/gateway/identity"
)

// Algorithms are the only signature algorithms verified (identity.Algorithms).
var Algorithms = identity.Algorithms

// MaxTokenBytes bounds a bearer token (identity.MaxTokenBytes).
const MaxTokenBytes = identity.MaxTokenBytes

// KeySet is an identity provider's usable public signing keys by kid, as
// identity.ParseKeySet keeps them.
type KeySet struct {
	set *identity.KeySet
	// keys are the kids in set.
	keys map[string]struct{}
}

// ParseKeySet reads a JWKS document with identity.ParseKeySet: it keeps
// the public signing keys with a kid that can be verified with, and fails
// when none is left. A kid shared by two keys makes neither trusted.
func ParseKeySet(data []byte) (*KeySet, error) {
	set, _, err := identity.ParseKeySet(data)
	if err != nil {
		return nil, err
	}
	keys := map[string]struct{}{}
	for _, kid := range set.KeyIDs() {
		keys[kid] = struct{}{}
	}
	return &KeySet{set: set, keys: keys}, nil
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

// Verify checks raw with identity.VerifySigned: its signature with keys,
// then its issuer, audience and validity at now (exp required). Errors say
// what is wrong and never repeat the token; a kid keys lacks gives an
// *identity.UnknownKeyError.
func (v Verifier) Verify(keys *KeySet, raw string, now time.Time) (Claims, error) {
	if v.Issuer == "" || v.Audience == "" || keys == nil {
		return Claims{}, errors.New("no issuer, audience or keys are configured, so no token is accepted")
	}
	var claims Claims
	if _, err := identity.VerifySigned(raw, keys.set, v.Issuer, v.Audience, v.Skew, now, &claims); err != nil {
		return Claims{}, err
	}
	return claims, nil
}

// BearerToken takes the token from an Authorization header value
// (identity.ParseBearer).
func BearerToken(header string) (string, error) {
	return identity.ParseBearer(header)
}
