/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package identity

import (
	"crypto/sha256"
	"sync"
	"time"
)

// maxCachedTokens bounds how many verified tokens a key set remembers.
const maxCachedTokens = 4096

// tokenDigest identifies a token in the cache without holding it.
type tokenDigest [sha256.Size]byte

// tokenCache remembers the callers of tokens verified with one key set, so
// that a caller's next requests skip the signature check. A token is
// remembered until its exp and no longer, even where the clock skew would
// still accept it: then it is verified again. The cache belongs to its key
// set, so new keys start with an empty cache and a token is never accepted
// from the cache after its key is gone. When the cache is full it starts
// again empty.
type tokenCache struct {
	mu      sync.Mutex
	callers map[tokenDigest]cachedCaller
}

type cachedCaller struct {
	caller Caller
	expiry time.Time
}

func newTokenCache() *tokenCache {
	return &tokenCache{callers: map[tokenDigest]cachedCaller{}}
}

func digest(token string) tokenDigest {
	return sha256.Sum256([]byte(token))
}

// get gives the caller of a token verified before, while now is before its
// exp.
func (c *tokenCache) get(token tokenDigest, now time.Time) (Caller, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cached, ok := c.callers[token]
	switch {
	case !ok:
		return Caller{}, false
	case !now.Before(cached.expiry):
		delete(c.callers, token)
		return Caller{}, false
	}
	return cached.caller, true
}

// put remembers the caller of a token just verified at now, which expires
// at expiry.
func (c *tokenCache) put(token tokenDigest, caller Caller, expiry, now time.Time) {
	if !now.Before(expiry) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.callers) >= maxCachedTokens {
		clear(c.callers)
	}
	c.callers[token] = cachedCaller{caller: caller, expiry: expiry}
}
