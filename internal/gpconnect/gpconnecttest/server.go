/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package gpconnecttest is a GP Connect provider stand-in for tests: an
// HTTP server that answers Access Record Structured (STU3) in the shapes
// of the GP Connect specification, and refuses, with the specification's
// error codes, any request whose headers, JWT or Parameters are missing or
// wrong.
package gpconnecttest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/shcr-io/shcr-operator/internal/gpconnect"
)

// Server is a GP practice's GP Connect endpoint.
type Server struct {
	*httptest.Server
	// ODS and ASID are the practice's.
	ODS, ASID string
	// ConsumerASID is the Ssp-From it accepts.
	ConsumerASID string
	// Down makes it answer 503 to everything.
	Down atomic.Bool

	mu sync.Mutex
	// records are the STU3 clinical resources of each patient, by NHS
	// number.
	records map[string][]map[string]any
	// served counts the answers of 200.
	served  int
	refused []string
}

// New starts a practice's endpoint; it is closed when the test ends.
func New(t testing.TB, ods, asid, consumerASID string) *Server {
	s := &Server{ODS: ods, ASID: asid, ConsumerASID: consumerASID, records: map[string][]map[string]any{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// NewTLS starts a practice's endpoint over TLS that requires a client
// certificate signed by one of clientCAs (mutual TLS, as Spine does).
func NewTLS(t testing.TB, ods, asid, consumerASID string, clientCAs *x509.CertPool) *Server {
	s := &Server{ODS: ods, ASID: asid, ConsumerASID: consumerASID, records: map[string][]map[string]any{}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs, MinVersion: tls.VersionTLS12}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// CertificatePEM is the server's certificate in PEM, to trust it.
func (s *Server) CertificatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
}

// Base is the practice's FHIR service root URL.
func (s *Server) Base() *url.URL {
	u, err := url.Parse(s.URL + "/" + s.ODS + "/STU3/1/gpconnect/structured/fhir")
	if err != nil {
		panic(err)
	}
	return u
}

// Provider is the practice as a gpconnect.Provider.
func (s *Server) Provider() gpconnect.Provider {
	return gpconnect.Provider{ODS: s.ODS, ASID: s.ASID, Base: s.Base()}
}

// Add gives a patient STU3 resources (AllergyIntolerance,
// MedicationStatement, MedicationRequest, Medication, Condition, or anything else,
// which is answered whatever the include groups).
func (s *Server) Add(nhsNumber string, resources ...map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[nhsNumber] = append(s.records[nhsNumber], resources...)
}

// Served is how many records it answered with.
func (s *Server) Served() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served
}

// Refused are the reasons of the requests it refused.
func (s *Server) Refused() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.refused)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.Down.Load() {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", "body not read")
		return
	}
	nhs, groups, err := s.Check(r, body, time.Now())
	if err != nil {
		s.mu.Lock()
		s.refused = append(s.refused, err.Error())
		s.mu.Unlock()
		var ce checkError
		if errors.As(err, &ce) {
			writeError(w, ce.status, ce.code, err.Error())
		} else {
			writeError(w, http.StatusBadRequest, "BAD_REQUEST", err.Error())
		}
		return
	}
	s.mu.Lock()
	resources, found := s.records[nhs]
	if found {
		s.served++
	}
	s.mu.Unlock()
	if !found {
		writeError(w, http.StatusNotFound, "PATIENT_NOT_FOUND", "no patient with that NHS number is registered here")
		return
	}
	w.Header().Set("Content-Type", gpconnect.ContentType+";charset=utf-8")
	_ = json.NewEncoder(w).Encode(s.answer(nhs, groups, resources))
}

// answer is the structured record Bundle: the patient, the practice, a
// practitioner, a List per include group (the problems List with the
// Conditions, ProblemHeaders, it answers), and the patient's resources of
// the groups asked for (and any of other types).
func (s *Server) answer(nhs string, g gpconnect.Groups, resources []map[string]any) map[string]any {
	entries := []any{
		entry(map[string]any{"resourceType": "Patient", "id": "pat-1",
			"meta":       map[string]any{"profile": []any{"https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-Patient-1"}},
			"identifier": []any{map[string]any{"system": gpconnect.SystemNHSNumber, "value": nhs}}}),
		entry(map[string]any{"resourceType": "Organization", "id": "org-1",
			"identifier": []any{map[string]any{"system": gpconnect.SystemODS, "value": s.ODS}}, "name": "Stand-in practice"}),
		entry(map[string]any{"resourceType": "Practitioner", "id": "prac-1", "name": []any{map[string]any{"family": "Jones"}}}),
	}
	if g.Allergies {
		entries = append(entries, entry(list("allergies", "886921000000105", "Allergies and adverse reactions")))
	}
	if g.Medication {
		entries = append(entries, entry(list("medications", "933361000000108", "Medications and medical devices")))
	}
	if g.Problems {
		entries = append(entries, entry(list("problems", "717711000000103", "Problems")))
	}
	for _, r := range resources {
		switch r["resourceType"] {
		case "AllergyIntolerance":
			if !g.Allergies {
				continue
			}
		case "MedicationStatement", "MedicationRequest", "Medication":
			if !g.Medication {
				continue
			}
		case "Condition":
			if !g.Problems {
				continue
			}
		}
		entries = append(entries, entry(r))
	}
	return map[string]any{
		"resourceType": "Bundle",
		"meta":         map[string]any{"profile": []any{"https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-StructuredRecord-Bundle-1"}},
		"type":         "collection",
		"entry":        entries,
	}
}

func entry(r map[string]any) map[string]any { return map[string]any{"resource": r} }

func list(id, code, display string) map[string]any {
	return map[string]any{"resourceType": "List", "id": id, "status": "current", "mode": "snapshot",
		"code":    map[string]any{"coding": []any{map[string]any{"system": "http://snomed.info/sct", "code": code, "display": display}}},
		"subject": map[string]any{"reference": "Patient/pat-1"}}
}

// checkError is a refusal with its HTTP status and GP Connect error code.
type checkError struct {
	status int
	code   string
	msg    string
}

func (e checkError) Error() string { return e.msg }

func refuse(code, format string, args ...any) error {
	status := http.StatusBadRequest
	if code == "INVALID_RESOURCE" || code == "INVALID_PARAMETER" {
		status = http.StatusUnprocessableEntity
	}
	return checkError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

var nhsPattern = regexp.MustCompile(`^[0-9]{10}$`)

// Check is what the stand-in requires of a request, as the GP Connect
// specification states it: the operation, media types, the four Ssp-*
// headers, the JWT and its claims, and the Parameters. It gives the NHS
// number and include groups asked for.
func (s *Server) Check(r *http.Request, body []byte, now time.Time) (string, gpconnect.Groups, error) {
	var g gpconnect.Groups
	if r.Method != http.MethodPost || r.URL.EscapedPath() != s.Base().EscapedPath()+gpconnect.OperationPath {
		return "", g, refuse("BAD_REQUEST", "not POST [base]/Patient/$gpc.getstructuredrecord")
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), gpconnect.ContentType) {
		return "", g, refuse("BAD_REQUEST", "Content-Type is not application/fhir+json")
	}
	if !strings.HasPrefix(r.Header.Get("Accept"), gpconnect.ContentType) {
		return "", g, refuse("BAD_REQUEST", "Accept is not application/fhir+json")
	}
	if _, err := uuid.Parse(r.Header.Get("Ssp-TraceID")); err != nil || len(r.Header.Values("Ssp-TraceID")) != 1 {
		return "", g, refuse("BAD_REQUEST", "Ssp-TraceID is missing or not a UUID")
	}
	if r.Header.Get("Ssp-From") != s.ConsumerASID || len(r.Header.Values("Ssp-From")) != 1 {
		return "", g, refuse("BAD_REQUEST", "Ssp-From is not the consumer's ASID")
	}
	if r.Header.Get("Ssp-To") != s.ASID || len(r.Header.Values("Ssp-To")) != 1 {
		return "", g, refuse("BAD_REQUEST", "Ssp-To is not this provider's ASID")
	}
	if r.Header.Get("Ssp-InteractionID") != gpconnect.InteractionStructured || len(r.Header.Values("Ssp-InteractionID")) != 1 {
		return "", g, refuse("BAD_REQUEST", "Ssp-InteractionID is not the structured record interaction")
	}
	if err := s.checkToken(r.Header.Get("Authorization"), now); err != nil {
		return "", g, err
	}
	return checkParameters(body)
}

// checkToken checks the JWT: unsigned, with every claim the specification
// requires, as it requires it.
func (s *Server) checkToken(header string, now time.Time) error {
	token, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		return refuse("BAD_REQUEST", "Authorization is not a Bearer token")
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[2] != "" {
		return refuse("BAD_REQUEST", "the JWT is not three parts with an empty signature")
	}
	var head map[string]any
	if err := decodePart(parts[0], &head); err != nil || head["alg"] != "none" || head["typ"] != "JWT" || len(head) != 2 {
		return refuse("BAD_REQUEST", "the JWT header is not {alg: none, typ: JWT}")
	}
	var c map[string]any
	if err := decodePart(parts[1], &c); err != nil {
		return refuse("BAD_REQUEST", "the JWT payload is not JSON")
	}
	iss, _ := c["iss"].(string)
	if u, err := url.Parse(iss); err != nil || u.Scheme == "" || u.Host == "" {
		return refuse("BAD_REQUEST", "iss is not the consumer's URL")
	}
	if c["aud"] != s.Base().String() {
		return refuse("BAD_REQUEST", "aud is not this provider's service root URL")
	}
	iat, iatOK := c["iat"].(float64)
	exp, expOK := c["exp"].(float64)
	switch {
	case !iatOK || !expOK || iat != float64(int64(iat)) || exp != float64(int64(exp)):
		return refuse("BAD_REQUEST", "iat and exp must be whole seconds")
	case exp-iat != gpconnect.TokenLifetime.Seconds():
		return refuse("BAD_REQUEST", "exp is not iat plus 5 minutes")
	case time.Unix(int64(exp), 0).Before(now) || time.Unix(int64(iat), 0).After(now.Add(time.Minute)):
		return refuse("BAD_REQUEST", "the JWT is expired or issued in the future")
	}
	if c["reason_for_request"] != gpconnect.ReasonDirectCare {
		return refuse("BAD_REQUEST", "reason_for_request is not directcare")
	}
	if c["requested_scope"] != gpconnect.ScopePatientRead {
		return refuse("BAD_REQUEST", "requested_scope is not patient/*.read")
	}
	if err := checkDevice(c["requesting_device"]); err != nil {
		return err
	}
	if err := checkOrganization(c["requesting_organization"]); err != nil {
		return err
	}
	return checkPractitioner(c["requesting_practitioner"], c["sub"])
}

func decodePart(part string, into any) error {
	data, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, into)
}

func checkDevice(raw any) error {
	d, _ := raw.(map[string]any)
	if d["resourceType"] != "Device" || !hasIdentifier(d, "") || !nonEmpty(d["model"]) || !nonEmpty(d["version"]) {
		return refuse("BAD_REQUEST", "requesting_device is not a Device with identifier, model and version")
	}
	return nil
}

var odsPattern = regexp.MustCompile(`^[A-Z0-9]{3,6}$`)

func checkOrganization(raw any) error {
	o, _ := raw.(map[string]any)
	if o["resourceType"] != "Organization" || !nonEmpty(o["name"]) || !hasIdentifier(o, gpconnect.SystemODS) {
		return refuse("BAD_REQUEST", "requesting_organization is not an Organization with name and ODS code")
	}
	ids, _ := o["identifier"].([]any)
	for _, raw := range ids {
		id, _ := raw.(map[string]any)
		if v, _ := id["value"].(string); id["system"] == gpconnect.SystemODS && !odsPattern.MatchString(v) {
			return refuse("BAD_REQUEST", "requesting_organization's ODS code is not valid")
		}
	}
	return nil
}

func checkPractitioner(raw, sub any) error {
	p, _ := raw.(map[string]any)
	names, _ := p["name"].([]any)
	switch {
	case p["resourceType"] != "Practitioner":
		return refuse("BAD_REQUEST", "requesting_practitioner is not a Practitioner")
	case !nonEmpty(sub) || p["id"] != sub:
		return refuse("BAD_REQUEST", "sub is missing or is not requesting_practitioner.id")
	case len(names) == 0:
		return refuse("BAD_REQUEST", "requesting_practitioner has no name")
	case !hasIdentifier(p, gpconnect.SystemSDSUserID) || !hasIdentifier(p, gpconnect.SystemSDSRoleProfileID):
		return refuse("BAD_REQUEST", "requesting_practitioner lacks the SDS user id or role profile id")
	}
	return nil
}

// hasIdentifier reports whether r has an identifier with a value, of the
// system when one is given.
func hasIdentifier(r map[string]any, system string) bool {
	ids, _ := r["identifier"].([]any)
	for _, raw := range ids {
		id, _ := raw.(map[string]any)
		if nonEmpty(id["value"]) && nonEmpty(id["system"]) && (system == "" || id["system"] == system) {
			return true
		}
	}
	return false
}

func nonEmpty(v any) bool {
	s, ok := v.(string)
	return ok && s != ""
}

// checkParameters reads the Parameters: the patient's NHS number and at
// least one include group, nothing unknown.
func checkParameters(body []byte) (string, gpconnect.Groups, error) {
	var g gpconnect.Groups
	var p struct {
		ResourceType string `json:"resourceType"`
		Parameter    []struct {
			Name            string `json:"name"`
			ValueIdentifier *struct {
				System string `json:"system"`
				Value  string `json:"value"`
			} `json:"valueIdentifier"`
		} `json:"parameter"`
	}
	if err := json.Unmarshal(body, &p); err != nil || p.ResourceType != "Parameters" {
		return "", g, refuse("INVALID_RESOURCE", "the body is not a Parameters resource")
	}
	nhs := ""
	for _, param := range p.Parameter {
		switch param.Name {
		case "patientNHSNumber":
			if param.ValueIdentifier == nil || param.ValueIdentifier.System != gpconnect.SystemNHSNumber ||
				!nhsPattern.MatchString(param.ValueIdentifier.Value) || nhs != "" {
				return "", g, refuse("INVALID_NHS_NUMBER", "patientNHSNumber is not one NHS number identifier")
			}
			nhs = param.ValueIdentifier.Value
		case "includeAllergies":
			g.Allergies = true
		case "includeMedication":
			g.Medication = true
		case "includeProblems":
			g.Problems = true
		default:
			return "", g, refuse("INVALID_PARAMETER", "parameter %q is not known", param.Name)
		}
	}
	switch {
	case nhs == "":
		return "", g, refuse("INVALID_PARAMETER", "patientNHSNumber is missing")
	case !g.Any():
		return "", g, refuse("INVALID_PARAMETER", "no include group is asked for")
	}
	return nhs, g, nil
}

// writeError answers a GP Connect OperationOutcome with a spine error code.
func writeError(w http.ResponseWriter, status int, code, diagnostics string) {
	w.Header().Set("Content-Type", gpconnect.ContentType+";charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"resourceType": "OperationOutcome",
		"meta":         map[string]any{"profile": []any{"https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-OperationOutcome-1"}},
		"issue": []any{map[string]any{
			"severity": "error", "code": "invalid",
			"details": map[string]any{"coding": []any{map[string]any{
				"system": "https://fhir.nhs.uk/STU3/CodeSystem/Spine-ErrorOrWarningCode-1", "code": code}}},
			"diagnostics": diagnostics,
		}},
	})
}
