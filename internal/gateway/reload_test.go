/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/shcr-io/shcr-operator/internal/gateway/identity"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

// TestFailClosedWithoutBundle denies everything, audits the denials as
// serious failures and reports not ready until a bundle arrives.
func TestFailClosedWithoutBundle(t *testing.T) {
	h := newHarness(t, withoutBundle)
	if resp := h.get(t, "/readyz", ""); resp.status != http.StatusServiceUnavailable || !strings.Contains(string(resp.body), "policy bundle") {
		t.Errorf("readyz = %d %s, want 503 naming the bundle", resp.status, resp.body)
	}
	token := clinician().sign(t)
	if resp := h.get(t, "/Practitioner/prac-1", token); resp.status != http.StatusForbidden {
		t.Errorf("read status = %d, want 403", resp.status)
	}
	events := h.audit.take(t)
	if len(events) != 1 || events[0].Outcome != auditOutcomeSeriousFailure || !strings.Contains(events[0].OutcomeDesc, "no valid policy bundle") {
		t.Errorf("audit = %+v, want one serious failure", events)
	}
	if _, keys := h.get(t, "/MedicationRequest?"+aliceQuery(), token).bundle(t); len(keys) != 0 {
		t.Errorf("search returned %v without a bundle", keys)
	}
	if m := h.get(t, "/metrics", ""); !strings.Contains(string(m.body), "shcr_gateway_policy_bundle_loaded 0") {
		t.Error("the bundle-loaded metric must be 0")
	}

	h.writeBundle(testInput())
	h.gateway.reload(context.Background())
	if resp := h.get(t, "/readyz", ""); resp.status != http.StatusOK {
		t.Errorf("readyz = %d %s after the bundle arrived", resp.status, resp.body)
	}
	if resp := h.get(t, "/Practitioner/prac-1", token); resp.status != http.StatusOK {
		t.Errorf("read status = %d after the bundle arrived", resp.status)
	}
	m := h.get(t, "/metrics", "")
	if !strings.Contains(string(m.body), `shcr_gateway_policy_bundle_info{region="tvs",revision="`+h.revision()+`"} 1`) {
		t.Errorf("bundle info metric missing:\n%s", grep(string(m.body), "bundle"))
	}
}

// TestFailClosedOnBadBundles refuses a bundle for another region, of an
// unknown version or unreadable, and denies everything meanwhile.
func TestFailClosedOnBadBundles(t *testing.T) {
	h := newHarness(t)
	other := testInput()
	other.Region = "wessex"
	encodedOther, err := policy.Compile(other).Encode()
	must(t, err)
	for name, files := range map[string]map[string][]byte{
		"another region":  {policy.FileJSON: encodedOther},
		"unknown version": {policy.FileJSON: []byte(`{"version":"shcr.io/policy-bundle/v2","region":"tvs","grants":[]}`)},
		"not JSON":        {policy.FileJSON: []byte(`{"version":`)},
		"corrupt gzip":    {policy.FileGzip: []byte("not gzip")},
		"removed":         nil,
	} {
		t.Run(name, func(t *testing.T) {
			h.writeBundle(testInput())
			h.gateway.reload(context.Background())
			if h.revision() == "" {
				t.Fatal("the good bundle did not load")
			}
			h.writeBundleFiles(files)
			h.gateway.reload(context.Background())
			if h.revision() != "" {
				t.Fatal("a bad bundle left a policy in force")
			}
			if resp := h.get(t, "/readyz", ""); resp.status != http.StatusServiceUnavailable {
				t.Errorf("readyz = %d, want 503", resp.status)
			}
			if resp := h.get(t, "/MedicationRequest/med-alice-b86", clinician().sign(t)); resp.status != http.StatusForbidden {
				t.Errorf("read status = %d, want 403", resp.status)
			}
		})
	}
	if m := h.get(t, "/metrics", ""); !strings.Contains(string(m.body), `shcr_gateway_reload_errors_total{source="bundle"} 5`) {
		t.Errorf("reload errors not counted:\n%s", grep(string(m.body), "reload"))
	}
}

// TestFailClosedWithoutObjections denies everything while a configured
// register cannot be read, and recovers when it can.
func TestFailClosedWithoutObjections(t *testing.T) {
	h := newHarness(t)
	must(t, os.Remove(h.objections))
	h.gateway.reload(context.Background())
	if resp := h.get(t, "/readyz", ""); resp.status != http.StatusServiceUnavailable || !strings.Contains(string(resp.body), "objection register") {
		t.Errorf("readyz = %d %s", resp.status, resp.body)
	}
	token := clinician().sign(t)
	if resp := h.get(t, "/Practitioner/prac-1", token); resp.status != http.StatusForbidden {
		t.Errorf("status = %d, want 403 without the register", resp.status)
	}
	writeFile(t, h.objections, []byte(fixtureRegister()))
	h.gateway.reload(context.Background())
	if resp := h.get(t, "/Practitioner/prac-1", token); resp.status != http.StatusOK {
		t.Errorf("status = %d, want 200 with the register back", resp.status)
	}
}

// TestFailClosedWithoutKeys refuses every token while no JWKS is loaded.
func TestFailClosedWithoutKeys(t *testing.T) {
	h := newHarness(t)
	writeFile(t, h.jwksFile, []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"`+kidRSA+`"}]}`))
	h.gateway.reload(context.Background())
	resp := h.get(t, "/MedicationRequest/med-alice-b86", clinician().sign(t))
	if resp.status != http.StatusUnauthorized || !strings.Contains(resp.outcome(t).Diagnostics, "no identity provider keys") {
		t.Errorf("status = %d %s, want 401", resp.status, resp.body)
	}
	if resp := h.get(t, "/readyz", ""); resp.status != http.StatusServiceUnavailable {
		t.Errorf("readyz = %d, want 503", resp.status)
	}
}

// TestFailClosedWithoutIdentity starts without an identity provider, as
// the operator deploys a region whose spec.gateway.identity is empty, and
// refuses every token.
func TestFailClosedWithoutIdentity(t *testing.T) {
	h := newHarness(t, func(s *setup) {
		s.identity = func(id *identity.Config) { id.Issuer, id.JWKSFile = "", "" }
	})
	resp := h.get(t, "/Practitioner/prac-1", clinician().sign(t))
	if resp.status != http.StatusUnauthorized || !strings.Contains(resp.outcome(t).Diagnostics, "--issuer, --jwks-file or --jwks-url") {
		t.Errorf("status = %d %s, want 401 naming what is missing", resp.status, resp.body)
	}
	if resp := h.get(t, "/readyz", ""); resp.status != http.StatusServiceUnavailable || !strings.Contains(string(resp.body), "identity provider not configured") {
		t.Errorf("readyz = %d %s", resp.status, resp.body)
	}
}

// TestHotReloadBundle swaps the bundle while requests run: a request in
// flight completes, later requests follow the new policy, and removing the
// bundle denies everything.
func TestHotReloadBundle(t *testing.T) {
	h := newHarness(t, withWatch)
	token := clinician().sign(t)
	first := h.revision()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failures atomic.Int32
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if status := h.status("/Observation/obs-alice", token); status != http.StatusOK && status != http.StatusForbidden {
					failures.Add(1)
				}
			}
		})
	}

	release := h.records.holdRead("MedicationRequest/med-alice-b86")
	inFlight := make(chan int, 1)
	go func() { inFlight <- h.status("/MedicationRequest/med-alice-b86", token) }()
	<-h.records.held

	narrowed := testInput()
	narrowed.Policies[0].Grants = []policy.PolicyGrant{{Categories: []string{policy.CategoryTestResults}}}
	h.writeBundle(narrowed)
	h.eventually("the narrowed bundle is in force", func() bool { return h.revision() != first && h.revision() != "" })
	release()
	if status := <-inFlight; status != http.StatusForbidden {
		t.Errorf("the request in flight answered %d; it is decided under the bundle in force when its answer arrives, which no longer grants Medications", status)
	}
	if resp := h.get(t, "/MedicationRequest/med-alice-rth", token); resp.status != http.StatusForbidden {
		t.Errorf("after the reload Medications must be denied, got %d", resp.status)
	}
	if resp := h.get(t, "/Observation/obs-alice", token); resp.status != http.StatusOK {
		t.Errorf("after the reload TestResults must still be allowed, got %d", resp.status)
	}

	h.writeBundleFiles(nil)
	h.eventually("the bundle is gone", func() bool { return h.revision() == "" })
	if resp := h.get(t, "/Observation/obs-alice", token); resp.status != http.StatusForbidden {
		t.Errorf("without a bundle the read answered %d, want 403", resp.status)
	}
	if resp := h.get(t, "/readyz", ""); resp.status != http.StatusServiceUnavailable {
		t.Errorf("readyz = %d without a bundle, want 503", resp.status)
	}

	h.writeBundle(testInput())
	// testInput's windows follow the clock, so the new bundle's revision
	// need not equal the first one's: any loaded bundle will do.
	h.eventually("the bundle is back", func() bool { return h.revision() != "" })
	if resp := h.get(t, "/Observation/obs-alice", token); resp.status != http.StatusOK {
		t.Errorf("with the bundle back TestResults must be allowed again, got %d", resp.status)
	}
	close(stop)
	wg.Wait()
	if failures.Load() > 0 {
		t.Errorf("%d requests failed during reloads; every answer must be 200 or 403", failures.Load())
	}
}

// TestHotReloadObjections applies a new objection as soon as the register
// changes.
func TestHotReloadObjections(t *testing.T) {
	h := newHarness(t, withWatch)
	token := clinician().sign(t)
	if resp := h.get(t, "/MedicationRequest/med-alice-b86", token); resp.status != http.StatusOK {
		t.Fatalf("status = %d before the objection", resp.status)
	}
	writeFile(t, h.objections+".new", []byte(fixtureRegister()+alice+" B86001\n"))
	must(t, os.Rename(h.objections+".new", h.objections))
	h.eventually("alice's objection applies", func() bool {
		return h.get(t, "/MedicationRequest/med-alice-b86", token).status == http.StatusForbidden
	})
	if resp := h.get(t, "/MedicationRequest/med-alice-rth", token); resp.status != http.StatusOK {
		t.Errorf("alice objects only to B86001's data, but RTH's answered %d", resp.status)
	}
}

// TestHotReloadJWKSFile trusts the keys of the new JWKS only.
func TestHotReloadJWKSFile(t *testing.T) {
	h := newHarness(t, withWatch)
	rsaToken := clinician().sign(t)
	ecToken := signWith(t, jose.ES256, testKeys().ec, kidEC, clinician())
	writeFile(t, h.jwksFile, mustJSON(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &testKeys().ec.PublicKey, KeyID: kidEC}}}))
	h.eventually("the RSA key is withdrawn", func() bool {
		return h.get(t, "/Practitioner/prac-1", rsaToken).status == http.StatusUnauthorized
	})
	if resp := h.get(t, "/Practitioner/prac-1", ecToken); resp.status != http.StatusOK {
		t.Errorf("the EC key still published must verify, got %d", resp.status)
	}
}

// TestJWKSURL fetches keys from the provider, fetches again after an
// unknown kid, and keeps its keys while the provider is down.
func TestJWKSURL(t *testing.T) {
	var mu sync.Mutex
	published, status := mustJSON(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &testKeys().ec.PublicKey, KeyID: kidEC}}}), http.StatusOK
	failed := 0 // fetches answered with an error
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if status != http.StatusOK {
			failed++
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.WriteHeader(status)
		_, _ = w.Write(published)
	}))
	t.Cleanup(provider.Close)
	records := newRecordService(t, fixtureRecords())
	upstream, err := url.Parse(records.base())
	must(t, err)
	dir := t.TempDir()
	bundle, err := policy.Compile(testInput()).Encode()
	must(t, err)
	writeFile(t, dir+"/"+policy.FileJSON, bundle)
	gw, err := New(context.Background(), Config{
		Region: testRegion, BundleDir: dir, Upstream: upstream, UpstreamTimeout: 5 * time.Second,
		Identity: identity.Config{Issuer: testIssuer, Audience: testAudience, JWKSURL: provider.URL,
			JWKSRefresh: 20 * time.Millisecond, Claims: identity.DefaultClaimMapping()},
		Audit: &auditLog{}, ReloadInterval: 5 * time.Millisecond, ExternalURL: &url.URL{Scheme: "http", Host: "gateway.test"},
	})
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { gw.Watch(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	server := httptest.NewServer(gw.Handler())
	t.Cleanup(server.Close)
	h := &harness{t: t, gateway: gw, server: server}

	ecToken := signWith(t, jose.ES256, testKeys().ec, kidEC, clinician())
	if resp := h.get(t, "/Practitioner/prac-1", ecToken); resp.status != http.StatusOK {
		t.Fatalf("status = %d with the published key", resp.status)
	}
	rsaToken := clinician().sign(t)
	if resp := h.get(t, "/Practitioner/prac-1", rsaToken); resp.status != http.StatusUnauthorized {
		t.Fatalf("status = %d with an unpublished key", resp.status)
	}
	mu.Lock()
	published = jwks()
	mu.Unlock()
	h.eventually("the rotated key is fetched", func() bool {
		return h.get(t, "/Practitioner/prac-1", rsaToken).status == http.StatusOK
	})
	mu.Lock()
	status = http.StatusInternalServerError
	mu.Unlock()
	// Two failed fetches: the gateway has had the first failure's answer
	// and gone on to fetch again.
	h.eventually("the gateway fetching from the provider while it is down", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return failed >= 2
	})
	if resp := h.get(t, "/Practitioner/prac-1", rsaToken); resp.status != http.StatusOK {
		t.Errorf("status = %d while the provider is down; the last keys must stay", resp.status)
	}
}

// TestDrain reports not ready while still serving.
func TestDrain(t *testing.T) {
	h := newHarness(t)
	h.gateway.Drain()
	if resp := h.get(t, "/readyz", ""); resp.status != http.StatusServiceUnavailable || !strings.Contains(string(resp.body), "shutting down") {
		t.Errorf("readyz = %d %s", resp.status, resp.body)
	}
	if resp := h.get(t, "/healthz", ""); resp.status != http.StatusOK {
		t.Errorf("healthz = %d", resp.status)
	}
	if resp := h.get(t, "/Practitioner/prac-1", clinician().sign(t)); resp.status != http.StatusOK {
		t.Errorf("a draining gateway must still serve, got %d", resp.status)
	}
}
