/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

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
	set, skipped, err := ParseKeySet(doc)
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
	if _, _, err := ParseKeySet([]byte(`{"keys":[]}`)); err == nil || !strings.Contains(err.Error(), "no usable signing key") {
		t.Errorf("an empty JWKS must be refused, got %v", err)
	}
}
