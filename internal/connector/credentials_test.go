/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testPKI is a CA and a client certificate it issued, in PEM.
type testPKI struct {
	pool       *x509.CertPool
	clientCert []byte
	clientKey  []byte
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test organisation CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	clientKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	clientTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "connector-rhw"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	clientDER, err := x509.CreateCertificate(rand.Reader, clientTemplate, ca, &clientKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(clientKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return testPKI{
		pool:       pool,
		clientCert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: clientDER}),
		clientKey:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
}

func TestMutualTLS(t *testing.T) {
	pki := newTestPKI(t)
	h := newHarnessTLS(t, fixtureRecords(), func(c *tls.Config) {
		c.ClientAuth = tls.RequireAndVerifyClientCert
		c.ClientCAs = pki.pool
	})
	for _, name := range []string{fileClientID, fileClientSecret} {
		if err := os.Remove(filepath.Join(h.opts.CredentialsDir, name)); err != nil {
			t.Fatal(err)
		}
	}
	h.writeFile(filepath.Join(h.opts.CredentialsDir, fileTLSCert), string(pki.clientCert))
	h.writeFile(filepath.Join(h.opts.CredentialsDir, fileTLSKey), string(pki.clientKey))
	h.cycle()
	h.assertWrittenOnce(inScope...)
	if h.source.tokens != 0 {
		t.Errorf("a token was fetched without client credentials")
	}
}

func TestLoadCredentialsNamesWhatIsMissing(t *testing.T) {
	pki := newTestPKI(t)
	for name, tc := range map[string]struct {
		files map[string]string
		want  string
	}{
		"empty":             {nil, "holds neither client-id and client-secret nor tls.crt and tls.key"},
		"id without secret": {map[string]string{fileClientID: "x"}, "has client-id but no client-secret"},
		"key without cert":  {map[string]string{fileTLSKey: string(pki.clientKey)}, "has tls.key but no tls.crt"},
		"mismatched pair":   {map[string]string{fileTLSCert: string(pki.clientCert), fileTLSKey: "junk"}, "not a matching PEM certificate and key"},
		"bad CA":            {map[string]string{fileClientID: "x", fileClientSecret: "y", fileCA: "junk"}, "ca.crt"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for file, content := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := loadCredentials(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("loadCredentials = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "junk") {
				t.Errorf("the error holds the content of a credentials file: %v", err)
			}
		})
	}
}
