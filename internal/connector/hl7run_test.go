/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"bufio"
	"context"
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
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// testCA issues certificates for the mutual TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a certificate and key in PEM for a server (localhost) or client.
func (ca *testCA) issue(t testing.TB, name string, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames, tmpl.IPAddresses = []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// hl7Runtime runs NewHL7 as the connector binary does, from a configuration
// and credentials directory, listening with mutual TLS.
type hl7RuntimeHarness struct {
	records               *recordService
	addr                  string
	ca                    *testCA
	dir                   string
	clientCert, clientKey []byte
}

func startHL7Runtime(t *testing.T, categories ...string) *hl7RuntimeHarness {
	t.Helper()
	h := &hl7RuntimeHarness{records: newRecordService(t), ca: newTestCA(t, "organisation CA"), dir: t.TempDir()}
	creds := filepath.Join(h.dir, "credentials")
	serverCert, serverKey := h.ca.issue(t, "connector", true)
	h.clientCert, h.clientKey = h.ca.issue(t, "pas.rhw.example", false)
	for name, data := range map[string][]byte{fileTLSCert: serverCert, fileTLSKey: serverKey, fileCA: h.ca.pem} {
		if err := os.MkdirAll(creds, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(creds, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, _ := json.Marshal(Config{ODSCode: testODS, Region: "tvs", Kind: KindHL7v2, Mode: ModePush, Endpoint: "https://pas.rhw.example",
		RecordService: h.records.base(), Categories: categories})
	configPath := filepath.Join(h.dir, "config.json")
	if err := os.WriteFile(configPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rt, err := NewHL7(HL7Options{ConfigPath: configPath, CredentialsDir: creds, StatePath: filepath.Join(h.dir, "state", "ids"), Listener: l})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	h.addr = l.Addr().String()
	return h
}

func (h *hl7RuntimeHarness) dialTLS(t *testing.T, cert, key []byte) (*tls.Conn, error) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(h.ca.pem)
	cfg := &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if cert != nil {
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	conn, err := tls.Dial("tcp", h.addr, cfg)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn, conn.Handshake()
}

// The listener speaks TLS and requires a client certificate of the
// organisation's CA (ca.crt of its credentials Secret): a client without
// one, or with one of another CA, sends nothing.
func TestHL7RuntimeRequiresTheOrganisationsClientCertificate(t *testing.T) {
	h := startHL7Runtime(t, policy.CategoryDemographics)
	other := newTestCA(t, "another CA")
	otherCert, otherKey := other.issue(t, "intruder", false)
	for name, pair := range map[string][2][]byte{"no client certificate": {nil, nil}, "another CA's certificate": {otherCert, otherKey}} {
		t.Run(name, func(t *testing.T) {
			conn, err := h.dialTLS(t, pair[0], pair[1])
			if err == nil {
				// TLS 1.3 reports a refused client certificate on the first read.
				_, _ = conn.Write(frame([]byte(adt("A28", "X1", pid()))))
				_, err = readFrame(bufio.NewReader(conn), 1<<20)
			}
			if err == nil {
				t.Fatal("a message was acknowledged without the organisation's client certificate")
			}
		})
	}
	conn, err := h.dialTLS(t, h.clientCert, h.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(frame([]byte(adt("A28", "OK", pid())))); err != nil {
		t.Fatal(err)
	}
	raw, err := readFrame(bufio.NewReader(conn), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if ack, _ := parseHL7(raw); ack == nil || ack.Get("MSA", 1, 1, 1) != "AA" {
		t.Fatalf("ACK %q", raw)
	}
	if len(h.records.keys()) != 1 {
		t.Errorf("stored %v", h.records.keys())
	}
}

// A third-party MLLP client (node-hl7-client from the npm registry, run
// with node) sends real-shaped messages over mutual TLS and gets an AA for
// each, after its records are in the record service. Run
// `npm ci --prefix test/hl7client` first; without node the test is skipped.
func TestHL7ThirdPartyMLLPClient(t *testing.T) {
	client := filepath.Join("..", "..", "test", "hl7client")
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(client, "node_modules", "node-hl7-client")); err != nil {
		t.Skip("run npm ci --prefix test/hl7client first")
	}
	h := startHL7Runtime(t, policy.CategoryDemographics, policy.CategoryInpatientStays, policy.CategoryTestResults)
	messages := []string{
		adt("A01", "NODE1", pid(), pv1("I", "V100", nil)),
		adt("A08", "NODE2", pid(), pv1("I", "V100", nil)),
		oru("NODE3", obx("1", "NM", "K", "4.1", "mmol/L", "F")),
		adt("A01", "NODE4", pid(), pv1("Z", "V101", nil)),
	}
	files := map[string][]byte{"ca.crt": h.ca.pem, "client.crt": h.clientCert, "client.key": h.clientKey}
	raw, _ := json.Marshal(messages)
	files["messages.json"] = raw
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(h.dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, port, _ := net.SplitHostPort(h.addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "send.mjs", port, filepath.Join(h.dir, "messages.json"),
		filepath.Join(h.dir, "ca.crt"), filepath.Join(h.dir, "client.crt"), filepath.Join(h.dir, "client.key"))
	cmd.Dir = client
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node send.mjs: %v\n%s", err, out)
	}
	want := []string{`{"code":"AA","control":"NODE1"}`, `{"code":"AA","control":"NODE2"}`, `{"code":"AA","control":"NODE3"}`, `{"code":"AE","control":"NODE4"}`}
	if got := strings.Fields(strings.TrimSpace(string(out))); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("acknowledgements\n%s\nwant\n%s", out, strings.Join(want, "\n"))
	}
	for _, key := range []string{patientKey(), encounterKey("V100"), recordKey("DiagnosticReport", hashID("rep", "FL778"))} {
		if h.records.get(key) == nil {
			t.Errorf("%s not stored: %v", key, h.records.keys())
		}
	}
}
