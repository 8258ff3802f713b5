/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/shcr-io/shcr-operator/internal/connector"
	"github.com/shcr-io/shcr-operator/test/fixtures"
)

// pemPair is a certificate and its key in PEM.
type pemPair struct{ cert, key []byte }

// issueCert signs a certificate for localhost (server) or a client with
// parent, or itself when parent is nil (a CA).
func issueCert(t *testing.T, name string, server bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, pemPair) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	switch {
	case parent == nil:
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage, tmpl.ExtKeyUsage = true, true, x509.KeyUsageCertSign, nil
		parent, parentKey = tmpl, key
	case server:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	keyDER, _ := x509.MarshalECPrivateKey(key)
	return cert, key, pemPair{pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

// The connector binary, configured for kind FHIR and mode Push, serves
// HTTPS with mutual TLS on --push-listen and stores what the organisation
// may provide, refusing the rest per entry.
func TestBinaryServesFHIRPush(t *testing.T) {
	bin := buildConnector(t)
	records := newProgressRecords(t)
	dir := t.TempDir()
	ca, caKey, caPEM := issueCert(t, "organisation CA", false, nil, nil)
	_, _, server := issueCert(t, "connector", true, ca, caKey)
	_, _, client := issueCert(t, "epr", false, ca, caKey)
	creds := filepath.Join(dir, "credentials")
	if err := os.MkdirAll(creds, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"tls.crt": server.cert, "tls.key": server.key, "ca.crt": caPEM.cert} {
		if err := os.WriteFile(filepath.Join(creds, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, _ := json.Marshal(connector.Config{ODSCode: "Y5T05", Region: "y5", Kind: "FHIR", Mode: "Push", Endpoint: "https://epr.y5t05.example/fhir",
		RecordService: records.server.URL + "/fhir", Categories: []string{"Demographics"}})
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	push, statusAddr := freePort(t), freePort(t)
	cmd := exec.Command(bin, "--config="+filepath.Join(dir, "config.json"), "--credentials="+creds,
		"--state="+filepath.Join(dir, "state.json"), "--listen="+statusAddr, "--push-listen="+push)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	fixtures.WaitFor(t, "the push connector ready", 30*time.Second, func() (bool, string) {
		got := status("http://" + statusAddr + "/readyz")
		return got == http.StatusOK, "readyz " + http.StatusText(got)
	})

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM.cert)
	pair, err := tls.X509KeyPair(client.cert, client.key)
	if err != nil {
		t.Fatal(err)
	}
	httpsClient := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: roots, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}}}
	bundle, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": []any{
		map[string]any{"resource": map[string]any{"resourceType": "Patient", "id": "p1"}, "request": map[string]any{"method": "PUT", "url": "Patient/p1"}},
		map[string]any{"resource": map[string]any{"resourceType": "MedicationRequest", "id": "m1"}, "request": map[string]any{"method": "PUT", "url": "MedicationRequest/m1"}},
	}})
	resp, err := httpsClient.Post("https://"+push+"/", "application/fhir+json", bytes.NewReader(bundle))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var answer struct {
		Type  string `json:"type"`
		Entry []struct {
			Response struct {
				Status string `json:"status"`
			} `json:"response"`
		} `json:"entry"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || answer.Type != "transaction-response" || len(answer.Entry) != 2 ||
		answer.Entry[0].Response.Status != "200 OK" || answer.Entry[1].Response.Status != "403 Forbidden" {
		t.Errorf("answer %d %+v, want the Patient stored and the MedicationRequest refused", resp.StatusCode, answer)
	}
	if counts := records.counts(); len(counts) != 1 || counts["Patient/Y5T05-p1"] != 1 {
		t.Errorf("record service holds %v", counts)
	}
	// Without a client certificate there is no TLS session.
	anon := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	if resp, err := anon.Post("https://"+push+"/", "application/fhir+json", bytes.NewReader(bundle)); err == nil {
		_ = resp.Body.Close()
		t.Errorf("a client without a certificate got %d", resp.StatusCode)
	}
}
