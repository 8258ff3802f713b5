/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package identity verifies the bearer tokens of the gateway's callers: the
// identity provider's settings, its key set, the token cache, and the
// Caller a verified token identifies. It imports nothing of
// internal/gateway, so the connector's token checker (internal/jwtverify)
// uses its rules too: VerifySigned, ParseKeySet, ParseBearer, FetchJWKS.
package identity

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Config says how callers' bearer tokens are verified. Until the
// issuer, the audience and the keys are all set, the gateway refuses every
// token and is not ready.
type Config struct {
	// Issuer and Audience must match the token's iss and one of its aud.
	Issuer, Audience string
	// JWKSFile or JWKSURL (not both) holds the issuer's public keys.
	JWKSFile, JWKSURL string
	// JWKSRefresh is how often keys are fetched again from JWKSURL.
	JWKSRefresh time.Duration
	// ClockSkew is the leeway allowed on exp, nbf and iat.
	ClockSkew time.Duration
	// Claims names the claims the caller is read from.
	Claims ClaimMapping
}

// Missing names the settings still needed to verify tokens.
func (c Config) Missing() []string {
	var missing []string
	if c.Issuer == "" {
		missing = append(missing, "--issuer")
	}
	if c.Audience == "" {
		missing = append(missing, "--audience")
	}
	if c.JWKSFile == "" && c.JWKSURL == "" {
		missing = append(missing, "--jwks-file or --jwks-url")
	}
	return missing
}

// Validate refuses settings that contradict each other; missing ones only
// make the gateway refuse every token.
func (c Config) Validate() error {
	var errs []error
	if c.JWKSFile != "" && c.JWKSURL != "" {
		errs = append(errs, errors.New("set --jwks-file or --jwks-url, not both"))
	}
	if c.JWKSURL != "" && c.JWKSRefresh <= 0 {
		errs = append(errs, errors.New("the JWKS refresh interval must be positive (--jwks-refresh)"))
	}
	if c.Claims.Subject == "" {
		errs = append(errs, errors.New("the subject claim name is required (--claim-subject)"))
	}
	if (c.Claims.Organisation == "" || c.Claims.Role == "") && (c.Claims.Roles == "" || c.Claims.SelectedRole == "") {
		errs = append(errs, errors.New("set --claim-roles and --claim-selected-role, or both --claim-organisation and --claim-role"))
	}
	return errors.Join(errs...)
}

// Algorithms are the only signature algorithms verified: asymmetric ones.
// "none" and the HMAC algorithms are refused before any key is looked at,
// so a public key can never serve as an HMAC secret. The slice is shared;
// do not modify it.
var Algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256}

// MaxTokenBytes bounds a bearer token.
const MaxTokenBytes = 16 * 1024

// Verifier checks bearer tokens against the issuer's current keys.
type Verifier struct {
	// unconfigured, when set, says what is missing to verify any token.
	unconfigured     string
	issuer, audience string
	// decisionAudience, when set, is the aud that grants use of the
	// decision API.
	decisionAudience string
	skew             time.Duration
	claims           ClaimMapping
	keys             atomic.Pointer[KeySet]
	// unknownKey is told when a token names a key the set lacks, so that a
	// JWKS URL can be fetched again after a key rotation.
	unknownKey func()
}

// NewVerifier makes the verifier for cfg, with no keys: it refuses every
// token until SetKeys is given some. When cfg misses settings (see
// Config.Missing) it refuses every token whatever its keys.
// decisionAudience, when set, is the aud that grants use of the decision
// API (Caller.DecisionAPIAudience).
func NewVerifier(cfg Config, decisionAudience string) *Verifier {
	v := &Verifier{
		issuer:           cfg.Issuer,
		audience:         cfg.Audience,
		skew:             cfg.ClockSkew,
		decisionAudience: decisionAudience,
		claims:           cfg.Claims,
	}
	if missing := cfg.Missing(); len(missing) > 0 {
		v.unconfigured = "the gateway's identity provider is not configured (" +
			strings.Join(missing, ", ") + "), so it refuses every token"
	}
	return v
}

// OnUnknownKey has f called whenever a token names a key the current set
// lacks, so that a JWKS URL can be fetched again after a key rotation. It
// must be called before the verifier is used.
func (v *Verifier) OnUnknownKey(f func()) { v.unknownKey = f }

// Unconfigured is true when the settings miss what is needed to verify any
// token.
func (v *Verifier) Unconfigured() bool { return v.unconfigured != "" }

// HasKeys is true when a key set is loaded.
func (v *Verifier) HasKeys() bool { return v.keys.Load() != nil }

// SetKeys swaps in keys, or none when keys is nil, so that every token is
// refused. Each key set has its own token cache, so new keys start with
// none of the tokens verified before.
func (v *Verifier) SetKeys(keys *KeySet) { v.keys.Store(keys) }

// BearerToken takes the token from the Authorization header.
func BearerToken(r *http.Request) (string, error) {
	return ParseBearer(r.Header.Get("Authorization"))
}

// ParseBearer takes the token from an Authorization header value
// ("Bearer <token>", the scheme in any case), refusing one longer than
// MaxTokenBytes.
func ParseBearer(header string) (string, error) {
	scheme, token, found := strings.Cut(header, " ")
	switch {
	case header == "":
		return "", errors.New("no bearer token: send Authorization: Bearer <token>")
	case !found || !strings.EqualFold(scheme, "Bearer"):
		return "", errors.New("the Authorization header is not a bearer token")
	case len(token) > MaxTokenBytes:
		return "", fmt.Errorf("the bearer token is longer than %d bytes", MaxTokenBytes)
	}
	return strings.TrimSpace(token), nil
}

// Verify checks a token's signature, issuer, audience and validity period
// at now, and reads the caller from its claims. A token verified before
// with the same keys is taken from their cache until its exp.
func (v *Verifier) Verify(raw string, now time.Time) (Caller, error) {
	if v.unconfigured != "" {
		return Caller{}, errors.New(v.unconfigured)
	}
	keys := v.keys.Load()
	if keys == nil {
		return Caller{}, errors.New("the gateway has no identity provider keys loaded, so it cannot verify tokens")
	}
	token := digest(raw)
	if caller, ok := keys.verified.get(token, now); ok {
		return caller, nil
	}
	caller, expiry, err := v.verifyWith(keys, raw, now)
	if err != nil {
		return Caller{}, err
	}
	keys.verified.put(token, caller, expiry, now)
	return caller, nil
}

// verifyWith verifies a token with keys, giving its caller and its exp.
func (v *Verifier) verifyWith(keys *KeySet, raw string, now time.Time) (Caller, time.Time, error) {
	var all claimSet
	registered, err := VerifySigned(raw, keys, v.issuer, v.audience, v.skew, now, &all)
	if err != nil {
		var unknown *UnknownKeyError
		if errors.As(err, &unknown) && v.unknownKey != nil {
			v.unknownKey()
		}
		return Caller{}, time.Time{}, err
	}
	caller, err := v.claims.caller(all)
	if err != nil {
		return Caller{}, time.Time{}, err
	}
	caller.Issuer = registered.Issuer
	caller.DecisionAPIAudience = v.decisionAudience != "" && registered.Audience.Contains(v.decisionAudience)
	if registered.IssuedAt != nil {
		caller.IssuedAt = registered.IssuedAt.Time()
	}
	return caller, registered.Expiry.Time(), nil
}

// UnknownKeyError is VerifySigned's error for a token whose kid names no
// key of the set, which may mean the issuer has rotated its keys.
type UnknownKeyError struct {
	// KID is the key id the token names.
	KID string
}

func (e *UnknownKeyError) Error() string {
	return fmt.Sprintf("no key with kid %q in the JWKS", e.KID)
}

// VerifySigned is the one check of a bearer JWT, used by the gateway's
// Verifier and by the connector (internal/jwtverify): at most
// MaxTokenBytes, a compact JWS with exactly one signature by one of
// Algorithms, a kid naming a key of keys that fits the algorithm, a
// signature that verifies, and iss, aud (one of them) and exp (required),
// nbf and iat checked at now with skew of leeway. It gives the verified
// registered claims and also decodes the payload into each of claims.
// Errors say what is wrong and never repeat the token; a kid the set lacks
// gives an *UnknownKeyError.
func VerifySigned(raw string, keys *KeySet, issuer, audience string, skew time.Duration, now time.Time, claims ...any) (jwt.Claims, error) {
	if len(raw) > MaxTokenBytes {
		return jwt.Claims{}, fmt.Errorf("the bearer token is longer than %d bytes", MaxTokenBytes)
	}
	token, err := jwt.ParseSigned(raw, Algorithms)
	if err != nil {
		return jwt.Claims{}, errors.New("the token is not a compact JWS signed with RS256, PS256 or ES256")
	}
	if len(token.Headers) != 1 {
		return jwt.Claims{}, errors.New("the token must carry exactly one signature")
	}
	header := token.Headers[0]
	if header.KeyID == "" {
		return jwt.Claims{}, errors.New("the token has no kid header naming its signing key")
	}
	key, err := keys.lookup(header.KeyID, jose.SignatureAlgorithm(header.Algorithm))
	if err != nil {
		return jwt.Claims{}, err
	}
	var registered jwt.Claims
	if err := token.Claims(key, append([]any{&registered}, claims...)...); err != nil {
		return jwt.Claims{}, errors.New("the token signature does not verify with the issuer's key")
	}
	if err := validate(registered, issuer, audience, skew, now); err != nil {
		return jwt.Claims{}, err
	}
	return registered, nil
}

// validate checks the registered claims; exp is required.
func validate(c jwt.Claims, issuer, audience string, skew time.Duration, now time.Time) error {
	if c.Expiry == nil {
		return errors.New("the token has no exp claim")
	}
	err := c.ValidateWithLeeway(jwt.Expected{Issuer: issuer, AnyAudience: jwt.Audience{audience}, Time: now}, skew)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return fmt.Errorf("the token issuer %q is not %q", c.Issuer, issuer)
	case errors.Is(err, jwt.ErrInvalidAudience):
		return fmt.Errorf("the token is not for audience %q", audience)
	case errors.Is(err, jwt.ErrExpired):
		return errors.New("the token has expired")
	case errors.Is(err, jwt.ErrNotValidYet):
		return errors.New("the token is not valid yet (nbf)")
	case errors.Is(err, jwt.ErrIssuedInTheFuture):
		return errors.New("the token is issued in the future (iat)")
	default:
		return fmt.Errorf("the token is not valid: %w", err)
	}
}
