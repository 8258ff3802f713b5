/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// minRSABits is the smallest RSA key the gateway trusts.
const minRSABits = 2048

// maxJWKSBytes bounds a JWKS document.
const maxJWKSBytes = 1 << 20

// KeySet holds the identity provider's public signing keys by key id, and
// the tokens verified with them.
type KeySet struct {
	keys     map[string]jose.JSONWebKey
	verified *tokenCache
}

// ParseKeySet reads a JWKS document. It keeps the public signing keys the
// gateway can verify with, RSA of at least 2048 bits and ECDSA P-256, that
// have a key id, and reports the keys it skipped and why.
func ParseKeySet(data []byte) (*KeySet, []string, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("JWKS is not valid JSON: %w", err)
	}
	set := &KeySet{keys: map[string]jose.JSONWebKey{}, verified: newTokenCache()}
	var skipped []string
	ambiguous := map[string]bool{}
	for i, raw := range doc.Keys {
		key, err := signingKey(raw)
		switch {
		case err != nil:
			skipped = append(skipped, fmt.Sprintf("key %d: %v", i, err))
		case ambiguous[key.KeyID]:
		case set.keys[key.KeyID].Key != nil:
			skipped = append(skipped, fmt.Sprintf("kid %q is used by more than one key, so none of them is trusted", key.KeyID))
			ambiguous[key.KeyID] = true
			delete(set.keys, key.KeyID)
		default:
			set.keys[key.KeyID] = key
		}
	}
	if len(set.keys) == 0 {
		return nil, skipped, errors.New("JWKS holds no usable signing key: " +
			"want RSA (2048 bits or more) or EC P-256 keys with a kid and use \"sig\"")
	}
	return set, skipped, nil
}

// Len is the number of keys in the set.
func (s *KeySet) Len() int { return len(s.keys) }

// KeyIDs are the kids of the keys in the set, in no particular order.
func (s *KeySet) KeyIDs() []string {
	ids := make([]string, 0, len(s.keys))
	for kid := range s.keys {
		ids = append(ids, kid)
	}
	return ids
}

func signingKey(raw json.RawMessage) (jose.JSONWebKey, error) {
	var key jose.JSONWebKey
	if err := key.UnmarshalJSON(raw); err != nil {
		return jose.JSONWebKey{}, err
	}
	switch {
	case key.KeyID == "":
		return jose.JSONWebKey{}, errors.New("no kid")
	case key.Use != "" && key.Use != "sig":
		return jose.JSONWebKey{}, fmt.Errorf("kid %q is for %q, not signatures", key.KeyID, key.Use)
	}
	public := key.Public()
	if !public.Valid() {
		return jose.JSONWebKey{}, fmt.Errorf("kid %q is not an asymmetric public key", key.KeyID)
	}
	switch k := public.Key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return jose.JSONWebKey{}, fmt.Errorf("kid %q is an RSA key of %d bits, fewer than %d", key.KeyID, k.N.BitLen(), minRSABits)
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return jose.JSONWebKey{}, fmt.Errorf("kid %q is on curve %s, not P-256", key.KeyID, k.Curve.Params().Name)
		}
	default:
		return jose.JSONWebKey{}, fmt.Errorf("kid %q is neither RSA nor EC", key.KeyID)
	}
	return public, nil
}

// lookup finds the key a token names and checks that its type fits the
// token's algorithm, so an RSA key never verifies an ECDSA signature or the
// reverse, and a key restricted to one algorithm is used only with it.
func (s *KeySet) lookup(kid string, alg jose.SignatureAlgorithm) (any, error) {
	key, ok := s.keys[kid]
	if !ok {
		return nil, &UnknownKeyError{KID: kid}
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

// ReadJWKSFile reads a JWKS from a file.
func ReadJWKSFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the JWKS file: %w", err)
	}
	return data, nil
}

// FetchJWKS reads a JWKS from the identity provider at url.
func FetchJWKS(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("JWKS URL %q: %w", url, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the JWKS: %w", err)
	}
	defer resp.Body.Close() //nolint:errcheck // read-only body
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching the JWKS from %s: status %s", url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the JWKS from %s: %w", url, err)
	}
	if len(data) > maxJWKSBytes {
		return nil, fmt.Errorf("the JWKS at %s is larger than %d bytes", url, maxJWKSBytes)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" && !strings.Contains(ct, "json") {
		return nil, fmt.Errorf("the JWKS at %s has content type %q, not JSON", url, ct)
	}
	return data, nil
}
