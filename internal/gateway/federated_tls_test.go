/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shcr-io/shcr-operator/internal/gpconnect"
	"github.com/shcr-io/shcr-operator/internal/gpconnect/gpconnecttest"
)

// clientCertificate is a CA and a client certificate it signed, in PEM.
func clientCertificate(t *testing.T) (*x509.CertPool, []byte, []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	now := time.Now()
	caTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Spine test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	must(t, err)
	ca, err := x509.ParseCertificate(caDER)
	must(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "record-gateway.shcr-tvs"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, ca, &key.PublicKey, caKey)
	must(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	must(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

// Over mutual TLS, the gateway presents the region's client certificate
// and verifies the practice with the CA of its credentials; without the
// certificate the practice refuses the connection and the Bundle says so;
// half a key pair loads no configuration.
func TestFederatedSearchOverMutualTLS(t *testing.T) {
	pool, certPEM, keyPEM := clientCertificate(t)
	gp := gpconnecttest.NewTLS(t, "B86001", b86ASID, regionASID, pool)
	gp.Add(alice, stu3Allergy("a1"))
	dir := t.TempDir()
	file := filepath.Join(dir, "gpconnect.json")
	writeFile(t, file, mustJSON(gpconnect.File{ASID: regionASID, Practices: []gpconnect.Practice{
		{ODSCode: "B86001", ASID: b86ASID, Endpoint: gp.Base().String()}}}))
	creds := filepath.Join(dir, "credentials")
	must(t, os.Mkdir(creds, 0o755))
	writeFile(t, filepath.Join(creds, "ca.crt"), gp.CertificatePEM())
	writeFile(t, filepath.Join(creds, "tls.crt"), certPEM)
	writeFile(t, filepath.Join(creds, "tls.key"), keyPEM)
	h := newHarness(t, func(s *setup) {
		s.config = func(c *Config) { c.GPConnectFile, c.GPConnectCredentials = file, creds }
	})
	query := "/AllergyIntolerance?" + patientQuery("AllergyIntolerance", alice)
	got, issues := searchEntries(t, h, query, clinician().sign(t))
	if _, ok := got["AllergyIntolerance/B86001-a1"]; !ok || len(issues) != 0 {
		t.Fatalf("entries %v, issues %+v: want the GP's allergy over mutual TLS", keysOf(got), issues)
	}

	// Another client certificate, from a CA the practice does not trust.
	_, otherCert, otherKey := clientCertificate(t)
	writeFile(t, filepath.Join(creds, "tls.crt"), otherCert)
	writeFile(t, filepath.Join(creds, "tls.key"), otherKey)
	h.gateway.reload(t.Context())
	got, issues = searchEntries(t, h, query, clinician().sign(t))
	if _, ok := got["AllergyIntolerance/B86001-a1"]; ok || len(issues) != 1 || !strings.Contains(issues[0].Diagnostics, "could not be reached") {
		t.Fatalf("entries %v, issues %+v: want the refused connection said", keysOf(got), issues)
	}

	// Half a key pair: the configuration does not load, and the Bundle says so.
	writeFile(t, filepath.Join(creds, "tls.key"), []byte("not a key"))
	h.gateway.reload(t.Context())
	_, issues = searchEntries(t, h, query, clinician().sign(t))
	if len(issues) != 1 || !strings.Contains(issues[0].Diagnostics, "not loaded") {
		t.Fatalf("issues %+v: want the configuration's failure said", issues)
	}
}
