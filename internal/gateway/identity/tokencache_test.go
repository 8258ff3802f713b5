/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package identity

import (
	"fmt"
	"testing"
	"time"
)

// TestVerifiedTokenCachedUntilExp caches a verified token's caller and
// drops it at the token's exp. (That the gateway then refuses the token as
// expired is TestCachedTokenRefusedAfterExp in internal/gateway.)
func TestVerifiedTokenCachedUntilExp(t *testing.T) {
	v := testVerifier(t)
	now := time.Now().Truncate(time.Second)
	exp := now.Add(time.Minute)
	token := clinician().with(claims{"exp": exp.Unix()}).sign(t)
	want, err := v.Verify(token, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, cached := v.keys.Load().verified.get(digest(token), now); !cached {
		t.Fatal("a verified token is not cached")
	}
	if got, err := v.Verify(token, exp.Add(-time.Second)); err != nil || got != want {
		t.Errorf("cached token: caller %+v, %v; want %+v", got, err, want)
	}
	if _, cached := v.keys.Load().verified.get(digest(token), exp); cached {
		t.Error("the cache still holds the token at its exp")
	}
}

// TestNewKeysStartWithAnEmptyCache forgets the tokens verified with the
// keys before. (That a token whose key is rotated out is then refused is
// TestNewKeysEmptyTheTokenCache in internal/gateway.)
func TestNewKeysStartWithAnEmptyCache(t *testing.T) {
	v := testVerifier(t)
	now := time.Now()
	token := clinician().sign(t)
	if _, err := v.Verify(token, now); err != nil {
		t.Fatal(err)
	}
	v.SetKeys(testVerifier(t).keys.Load())
	if _, cached := v.keys.Load().verified.get(digest(token), now); cached {
		t.Error("reloaded keys kept the tokens verified with the old ones")
	}
	if _, err := v.Verify(token, now); err != nil {
		t.Errorf("a token verified under the old keys is refused under the new: %v", err)
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
