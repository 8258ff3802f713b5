/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/controllers/shcrregion"
	"github.com/shcr-io/shcr-operator/internal/gateway"
	"github.com/shcr-io/shcr-operator/internal/gateway/identity"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// breakGlassGateways are the record gateways the tests run in process, by
// region; the operator reads their break-glass counts (TestMain).
var breakGlassGateways sync.Map // region name -> base URL

// breakGlassCountURL points the operator at a region's in-process gateway,
// or at nothing for a region without one.
func breakGlassCountURL(region *shcrv1alpha1.ShCRRegion) string {
	if base, ok := breakGlassGateways.Load(region.Name); ok {
		return base.(string) + gateway.BreakGlassCountPath
	}
	return "http://127.0.0.1:1" + gateway.BreakGlassCountPath
}

// breakGlassPatient is the patient whose record is read: a valid NHS number.
const breakGlassPatient = "9434765919"

// TestBreakGlassRaisesAnEventOnTheRegion runs the real record gateway in
// process, over real HTTP, with the policy bundle the operator compiled for
// the region; a trust clinician with no legitimate relationship breaks
// glass to read a GP's record; the operator, reading the gateway's count,
// records a Warning Event BreakGlassUsed on the region naming the trust's
// ODS code and the number of accesses, and no NHS number, user or reason.
func TestBreakGlassRaisesAnEventOnTheRegion(t *testing.T) {
	s := newScenarioWithCodes(t, "bgevent", "Z8G01", "Z8T", "Z8C")
	update(t, &shcrv1alpha1.AccessPolicy{}, s.ns, s.clinicians, func(p *shcrv1alpha1.AccessPolicy) {
		p.Spec.BreakGlass = &shcrv1alpha1.BreakGlass{AllowedRoles: []string{"R8000"}, MaxDuration: "1h"}
	})

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bundleDir := filepath.Join(dir, "bundle")
	if err := os.Mkdir(bundleDir, 0o755); err != nil {
		t.Fatal(err)
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(dir, "jwks.json"), jwks)
	copyBundle := func() {
		cm := &corev1.ConfigMap{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: specs.PolicyBundleName}, cm); err == nil {
			writeTestFile(t, filepath.Join(bundleDir, specs.PolicyBundleKey), []byte(cm.Data[specs.PolicyBundleKey]))
		}
	}
	copyBundle()

	records := httptest.NewServer(gpRecordService(s.gp))
	t.Cleanup(records.Close)
	upstream, _ := url.Parse(records.URL + "/fhir")
	server := httptest.NewUnstartedServer(nil)
	external := &url.URL{Scheme: "http", Host: server.Listener.Addr().String(), Path: "/"}
	gw, err := gateway.New(ctx, gateway.Config{
		Region: s.region, BundleDir: bundleDir, Upstream: upstream, UpstreamTimeout: 10 * time.Second,
		Identity: identity.Config{
			Issuer: "https://cis2.test", Audience: "bgevent", JWKSFile: filepath.Join(dir, "jwks.json"),
			ClockSkew: 5 * time.Second, Claims: identity.DefaultClaimMapping(),
		},
		Audit: io.Discard, ReloadInterval: 10 * time.Millisecond, ExternalURL: external,
	})
	if err != nil {
		t.Fatal(err)
	}
	server.Config.Handler = gw.Handler()
	server.Start()
	t.Cleanup(server.Close)
	watch, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { gw.Watch(watch); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	breakGlassGateways.Store(s.region, server.URL)
	t.Cleanup(func() { breakGlassGateways.Delete(s.region) })

	const reason = "collapsed in clinic"
	token := signClinician(t, key, s.trust, reason)
	read := func() int {
		req, _ := http.NewRequest(http.MethodGet, server.URL+"/MedicationRequest/med-1", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	// The gateway reloads the bundle the operator compiles; the read is
	// allowed once the bundle carries the policy's break-glass.
	waitFor(t, "a break-glass read allowed", func() (bool, string) {
		copyBundle()
		status := read()
		return status == http.StatusOK, fmt.Sprint("status ", status)
	})

	var note string
	waitFor(t, "the BreakGlassUsed Event on the region", func() (bool, string) {
		list := &corev1.EventList{}
		if err := k8s.List(ctx, list, client.MatchingFields{"involvedObject.name": s.region}); err != nil {
			return false, err.Error()
		}
		for _, e := range list.Items {
			if e.Reason == shcrregion.EventBreakGlassUsed && e.InvolvedObject.Kind == "ShCRRegion" {
				note = e.Message
				return e.Type == corev1.EventTypeWarning, e.Type
			}
		}
		return false, fmt.Sprintf("%d Events, none BreakGlassUsed", len(list.Items))
	})
	if !strings.Contains(note, s.trust+" 1") {
		t.Errorf("Event %q does not name the trust %s and one access", note, s.trust)
	}
	for _, secret := range []string{breakGlassPatient, reason, "9000000001", s.gp} {
		if strings.Contains(note, secret) {
			t.Errorf("Event %q contains %q", note, secret)
		}
	}
}

// gpRecordService is the record service at /fhir with one MedicationRequest
// of breakGlassPatient that the GP gp recorded.
func gpRecordService(gp string) http.Handler {
	body, _ := json.Marshal(map[string]any{
		"resourceType": "MedicationRequest", "id": "med-1", "status": "active", "intent": "order",
		"meta":    map[string]any{"versionId": "1", "tag": []map[string]string{{"system": gateway.SystemODS, "code": gp}}},
		"subject": map[string]any{"reference": "Patient/p1", "identifier": map[string]string{"system": gateway.SystemNHSNumber, "value": breakGlassPatient}},
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/fhir/MedicationRequest/med-1" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/fhir+json")
		_, _ = w.Write(body)
	})
}

// signClinician is a CIS2-shaped token of a clinician (R8000) at trust,
// with no legitimate relationship, breaking glass for reason.
func signClinician(t *testing.T, key *ecdsa.PrivateKey, trust, reason string) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	token, err := jwt.Signed(signer).Claims(map[string]any{
		"iss": "https://cis2.test", "aud": "bgevent", "sub": "9000000001",
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(30 * time.Minute).Unix(),
		"selected_roleid": "555021935107",
		"nhsid_nrbac_roles": []map[string]string{{
			"person_orgid": "555021935106", "person_roleid": "555021935107", "org_code": trust, "role_code": "S8000:G8000:R8000",
		}},
		"purpose_of_use": "TREAT", "legitimate_relationship": false, "break_glass_reason": reason,
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return token
}

func writeTestFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
