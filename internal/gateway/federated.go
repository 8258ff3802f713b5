/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/shcr-io/shcr-operator/internal/gateway/identity"
	"github.com/shcr-io/shcr-operator/internal/gpconnect"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

// GP practices are a federated source: their records are read at the
// moment of care with GP Connect Access Record Structured, never copied.
// A patient-scoped search (its first page) of a type GP Connect provides
// also asks each GP practice of the region that the caller could be shown
// data from; every R4 resource mapped from the answers is decided on like
// a record service resource (category, source, labels, objections), and
// audited, with the practice as its source. A practice that cannot be read
// adds an OperationOutcome to the Bundle saying so: the search is never
// silently incomplete.

// sourceGPConnect names the GP Connect configuration in logs and metrics.
const sourceGPConnect = "gpconnect"

// DefaultGPConnectTimeout bounds one call to a GP practice.
const DefaultGPConnectTimeout = 10 * time.Second

// gpConnectParallel is the most practices asked at once for one search.
const gpConnectParallel = 8

// federatedTypes are the resource types GP Connect provides, those of the
// categories gpconnect maps.
var federatedTypes = []string{"AllergyIntolerance", "MedicationStatement", "MedicationRequest", "Condition"}

// The files of the GP Connect credentials directory, all optional: a client
// certificate for mutual TLS and the CA that verifies practices.
const (
	gpConnectCert = "tls.crt"
	gpConnectKey  = "tls.key"
	gpConnectCA   = "ca.crt"
)

// federation is a loaded GP Connect configuration.
type federation struct {
	client    *gpconnect.Client
	practices []gpconnect.Provider
}

// gpConnectSource is the file source of the GP Connect configuration and
// credentials.
func (g *Gateway) gpConnectSource() source {
	paths := []string{g.cfg.GPConnectFile}
	if dir := g.cfg.GPConnectCredentials; dir != "" {
		for _, f := range []string{gpConnectCert, gpConnectKey, gpConnectCA} {
			paths = append(paths, filepath.Join(dir, f))
		}
	}
	return &fileSource{source: sourceGPConnect, paths: paths, read: g.loadGPConnect}
}

// loadGPConnect swaps in the GP Connect configuration, or none when it
// cannot be loaded: then every search that would ask GP practices says in
// its Bundle that their records are missing.
func (g *Gateway) loadGPConnect() error {
	f, err := g.readGPConnect()
	g.gpconnect.Store(f)
	if err != nil {
		return err
	}
	g.log.Info("GP Connect configuration loaded", "practices", len(f.practices))
	return nil
}

func (g *Gateway) readGPConnect() (*federation, error) {
	data, err := os.ReadFile(g.cfg.GPConnectFile)
	if err != nil {
		return nil, fmt.Errorf("reading the GP Connect configuration: %w", err)
	}
	var file gpconnect.File
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, fmt.Errorf("the GP Connect configuration %s is not valid JSON: %w", g.cfg.GPConnectFile, err)
	}
	consumer := gpconnect.Consumer{
		ASID: file.ASID, Issuer: g.cfg.ExternalURL.String(),
		DeviceID: g.observer, Product: "shcr-operator record gateway", Version: "v1alpha1",
	}
	errs := []error{consumer.Validate()}
	var practices []gpconnect.Provider
	for i, p := range file.Practices {
		base, err := url.Parse(p.Endpoint)
		if err != nil {
			errs = append(errs, fmt.Errorf("practices[%d].endpoint is not a URL", i))
			continue
		}
		provider := gpconnect.Provider{ODS: p.ODSCode, ASID: p.ASID, Base: withoutTrailingSlash(base)}
		if err := provider.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("practices[%d]: %w", i, err))
			continue
		}
		practices = append(practices, provider)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("the GP Connect configuration %s is invalid: %w", g.cfg.GPConnectFile, err)
	}
	transport, err := g.gpConnectTransport()
	if err != nil {
		return nil, err
	}
	timeout := g.cfg.GPConnectTimeout
	if timeout <= 0 {
		timeout = DefaultGPConnectTimeout
	}
	client := &http.Client{
		Timeout:   timeout,
		Transport: transport,
		// A redirect could send the patient's NHS number elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &federation{client: &gpconnect.Client{HTTP: client, Consumer: consumer}, practices: practices}, nil
}

// gpConnectTransport is TLS 1.2 or later, with the client certificate and
// CA of the credentials directory when they are there.
func (g *Gateway) gpConnectTransport() (*http.Transport, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	dir := g.cfg.GPConnectCredentials
	if dir == "" {
		return t, nil
	}
	certFile, keyFile := filepath.Join(dir, gpConnectCert), filepath.Join(dir, gpConnectKey)
	_, certErr := os.Stat(certFile)
	_, keyErr := os.Stat(keyFile)
	switch {
	case certErr == nil && keyErr == nil:
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("the GP Connect client certificate (%s, %s) cannot be used: check that they are a PEM certificate and its key", gpConnectCert, gpConnectKey)
		}
		t.TLSClientConfig.Certificates = []tls.Certificate{cert}
	case certErr == nil || keyErr == nil:
		return nil, fmt.Errorf("the GP Connect credentials hold only one of %s and %s", gpConnectCert, gpConnectKey)
	}
	if pem, err := os.ReadFile(filepath.Join(dir, gpConnectCA)); err == nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("the GP Connect %s holds no PEM certificate", gpConnectCA)
		}
		t.TLSClientConfig.RootCAs = pool
	}
	return t, nil
}

// federates reports whether a search also asks GP practices, and the
// category it asks them for.
func (g *Gateway) federates(in Interaction) (string, bool) {
	if g.cfg.GPConnectFile == "" || in.Kind != KindSearch || in.Patient == "" || !slices.Contains(federatedTypes, in.Type) {
		return "", false
	}
	category, ok := policy.CategoryOf(in.Type, "")
	return category, ok
}

// unfederatedParameter is a search parameter GP Connect cannot apply, if
// any: a search that filters or sorts is answered from the record service
// only, with an OperationOutcome saying so.
func unfederatedParameter(in Interaction) string {
	var names []string
	for name := range in.Query {
		if name != "_count" && !slices.Contains(patientScopeParameters, name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// federate adds to a filtered search Bundle what the region's GP practices
// hold for its patient, decided on and audited like every entry, and an
// OperationOutcome for each practice that could not be read. It fails only
// when audit events cannot be written.
func (g *Gateway) federate(ctx context.Context, c identity.Caller, in Interaction, body []byte) ([]byte, error) {
	category, ok := g.federates(in)
	if !ok {
		return body, nil
	}
	var issues []outcomeIssue
	var entries []bundleEntry
	switch f := g.gpconnect.Load(); {
	case f == nil:
		issues = append(issues, warning("the GP Connect configuration is not loaded, so GP practices' records are not included"))
	case unfederatedParameter(in) != "":
		issues = append(issues, warning("GP practices' records are not included: GP Connect cannot apply search parameter "+
			unfederatedParameter(in)+"; search by patient only to see them"))
	default:
		var err error
		entries, issues, err = g.askPractices(ctx, f, c, in, category)
		if err != nil {
			return nil, err
		}
	}
	if len(entries) == 0 && len(issues) == 0 {
		return body, nil
	}
	b, err := decodeSearchBundle(body)
	if err != nil {
		return nil, err
	}
	b.Entry = append(b.Entry, entries...)
	if len(issues) > 0 {
		outcome, err := json.Marshal(operationOutcome{ResourceType: "OperationOutcome", Issue: issues})
		if err != nil {
			return nil, err
		}
		b.Entry = append(b.Entry, bundleEntry{Resource: outcome, Search: jsontext.Value(`{"mode":"outcome"}`)})
	}
	return b.encode()
}

func warning(diagnostics string) outcomeIssue {
	return outcomeIssue{Severity: "warning", Code: "incomplete", Diagnostics: diagnostics}
}

// practiceAnswer is what one practice answered.
type practiceAnswer struct {
	ods    string
	result gpconnect.Result
	err    error
}

// askPractices asks, in parallel, each practice whose data of the
// category the caller could be shown for the patient, and decides on the
// resources of the search's type in one audited decision.
func (g *Gateway) askPractices(ctx context.Context, f *federation, c identity.Caller, in Interaction, category string) ([]bundleEntry, []outcomeIssue, error) {
	v := g.currentView()
	now := time.Now()
	user := gpconnect.User{Subject: c.Subject, IdentityIssuer: c.Issuer, Organisation: c.Organisation}
	var asked []gpconnect.Provider
	for _, p := range f.practices {
		// A practice whose data the caller could not be shown is not asked:
		// the patient's record is not requested for nothing.
		probe := resourceFacts{ResourceType: in.Type, Category: category, Source: p.ODS, Patients: []string{in.Patient}}
		if v.evaluate(c, in.Kind.Action(), probe, now).Allow {
			asked = append(asked, p)
		}
	}
	answers := make([]practiceAnswer, len(asked))
	var wg sync.WaitGroup
	limit := make(chan struct{}, gpConnectParallel)
	for i, p := range asked {
		wg.Go(func() {
			limit <- struct{}{}
			defer func() { <-limit }()
			res, err := f.client.Fetch(ctx, p, user, in.Patient, []string{category})
			answers[i] = practiceAnswer{ods: p.ODS, result: res, err: err}
		})
	}
	wg.Wait()
	var candidates []bundleEntry
	var facts []resourceFacts
	var issues []outcomeIssue
	for _, a := range answers {
		switch {
		case errors.Is(a.err, gpconnect.ErrPatientNotFound):
			continue
		case a.err != nil:
			g.metrics.gpConnectFailures.WithLabelValues(a.ods).Inc()
			g.log.Warn("GP practice's records could not be read", "practice", a.ods, "error", a.err)
			issues = append(issues, warning("GP practice "+a.ods+"'s records are not included: "+a.err.Error()))
			continue
		}
		if n := len(a.result.Withheld); n > 0 {
			issues = append(issues, warning(fmt.Sprintf("GP practice %s: %d resource(s) are not included because they could not be "+
				"mapped from GP Connect STU3 to FHIR R4 with certainty (%s)", a.ods, n, withheldReasons(a.result.Withheld))))
		}
		for _, r := range a.result.Resources {
			if r.Type != in.Type {
				continue
			}
			resource := jsontext.Value(r.JSON)
			fr, err := inspect(resource)
			if err != nil {
				fr = resourceFacts{ResourceType: r.Type, ID: r.ID, Unshareable: "the resource cannot be decided on: " + err.Error()}
			}
			candidates = append(candidates, bundleEntry{Resource: resource, Search: jsontext.Value(`{"mode":"match"}`)})
			facts = append(facts, scoped(in, fr))
		}
	}
	if len(facts) == 0 {
		return nil, issues, nil
	}
	verdicts, err := g.decide(v, c, in.Kind, facts...)
	if err != nil {
		return nil, nil, err
	}
	var kept []bundleEntry
	for i, e := range candidates {
		if verdicts[i].Allow {
			kept = append(kept, e)
		}
	}
	return kept, issues, nil
}

// withheldReasons lists the distinct reasons resources were withheld.
func withheldReasons(withheld []gpconnect.Withheld) string {
	var reasons []string
	for _, w := range withheld {
		reasons = appendNew(reasons, w.Type+": "+w.Reason)
	}
	return strings.Join(reasons, "; ")
}
