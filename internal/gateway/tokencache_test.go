/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// TestCachedTokenRefusedAfterExp accepts a token from the cache while it is
// valid and refuses it once it has expired, as if it had never been seen.
func TestCachedTokenRefusedAfterExp(t *testing.T) {
	h := newHarness(t)
	v := h.gateway.verifier
	now := time.Now().Truncate(time.Second)
	exp := now.Add(time.Minute)
	token := clinician().with(claims{"exp": exp.Unix()}).sign(t)
	want, err := v.verify(token, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, cached := v.keys.Load().verified.get(digest(token), now); !cached {
		t.Fatal("a verified token is not cached")
	}
	if got, err := v.verify(token, exp.Add(-time.Second)); err != nil || got != want {
		t.Errorf("cached token: caller %+v, %v; want %+v", got, err, want)
	}
	if _, cached := v.keys.Load().verified.get(digest(token), exp); cached {
		t.Error("the cache still holds the token at its exp")
	}
	afterSkew := exp.Add(h.gateway.cfg.Identity.ClockSkew + time.Second)
	if _, err := v.verify(token, afterSkew); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired token: %v, want refused as expired", err)
	}
}

// TestNewKeysEmptyTheTokenCache refuses a cached token once its key is no
// longer published, and verifies tokens again under reloaded keys.
func TestNewKeysEmptyTheTokenCache(t *testing.T) {
	h := newHarness(t)
	v := h.gateway.verifier
	now := time.Now()
	token := clinician().sign(t)
	if _, err := v.verify(token, now); err != nil {
		t.Fatal(err)
	}
	must(t, h.gateway.useKeys(jwks(), true))
	if _, cached := v.keys.Load().verified.get(digest(token), now); cached {
		t.Error("reloaded keys kept the tokens verified with the old ones")
	}
	ecOnly := mustJSON(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &testKeys().ec.PublicKey, KeyID: kidEC, Use: "sig", Algorithm: string(jose.ES256)},
	}})
	if _, err := v.verify(token, now); err != nil {
		t.Fatal(err)
	}
	must(t, h.gateway.useKeys(ecOnly, true))
	if _, err := v.verify(token, now); err == nil || !strings.Contains(err.Error(), "no key with kid") {
		t.Errorf("token whose key was rotated out: %v, want refused", err)
	}
}

// TestTokenCacheIsBounded starts again empty when full, and never keeps a
// token that has already expired.
func TestTokenCacheIsBounded(t *testing.T) {
	c := newTokenCache()
	now := time.Now()
	for i := range maxCachedTokens + 1 {
		c.put(digest(fmt.Sprint(i)), Caller{Subject: "s"}, now.Add(time.Minute), now)
	}
	if len(c.callers) > maxCachedTokens {
		t.Errorf("%d tokens cached, at most %d", len(c.callers), maxCachedTokens)
	}
	if _, ok := c.get(digest(fmt.Sprint(maxCachedTokens)), now); !ok {
		t.Error("the token put last is not cached")
	}
	c.put(digest("expired"), Caller{}, now, now)
	if _, ok := c.get(digest("expired"), now.Add(-time.Hour)); ok {
		t.Error("a token put at its exp was cached")
	}
}
