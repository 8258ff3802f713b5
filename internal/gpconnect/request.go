/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package gpconnect reads a patient's GP record at the moment of care with
// GP Connect Access Record Structured (STU3): it builds the request to
// POST [base]/Patient/$gpc.getstructuredrecord with the headers and the
// unsigned JWT the GP Connect specification requires, and maps the STU3
// answer to FHIR R4 resources for the region's data categories. What it
// cannot map with certainty is withheld (fail closed). It holds no
// Kubernetes code: the record gateway uses it as a federated source.
package gpconnect

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// The GP Connect values this package sends and checks.
const (
	// InteractionStructured is the Ssp-InteractionID of Access Record
	// Structured (get structured record).
	InteractionStructured = "urn:nhs:names:services:gpconnect:fhir:operation:gpc.getstructuredrecord-1"
	// OperationPath is the operation's path below the provider's base URL.
	OperationPath = "/Patient/$gpc.getstructuredrecord"
	// ReasonDirectCare is the reason_for_request claim.
	ReasonDirectCare = "directcare"
	// ScopePatientRead is the requested_scope claim.
	ScopePatientRead = "patient/*.read"
	// TokenLifetime is exp - iat of every JWT.
	TokenLifetime = 5 * time.Minute
	// ContentType is the media type of the request and answer bodies.
	ContentType = "application/fhir+json"

	// SystemNHSNumber identifies patients.
	SystemNHSNumber = "https://fhir.nhs.uk/Id/nhs-number"
	// SystemODS identifies organisations.
	SystemODS = "https://fhir.nhs.uk/Id/ods-organization-code"
	// SystemSDSUserID and SystemSDSRoleProfileID identify the user in the
	// requesting_practitioner claim.
	SystemSDSUserID        = "https://fhir.nhs.uk/Id/sds-user-id"
	SystemSDSRoleProfileID = "https://fhir.nhs.uk/Id/sds-role-profile-id"
	// SystemDevice identifies the requesting system in requesting_device.
	SystemDevice = "https://shcr.io/Id/device"
	// Unknown is the value GP Connect asks for an SDS identifier the
	// consumer does not have.
	Unknown = "UNK"
)

// Consumer is the region as a GP Connect consumer.
type Consumer struct {
	// ASID is the region's accredited system id: Ssp-From.
	ASID string
	// Issuer is the iss claim: the region's own endpoint URL.
	Issuer string
	// Device names the requesting system (requesting_device): its
	// identifier, product name and version.
	DeviceID, Product, Version string
}

// Provider is a GP practice's GP Connect endpoint.
type Provider struct {
	// ODS is the practice's ODS code, the provenance of what it answers.
	ODS string
	// ASID is the practice system's accredited system id: Ssp-To.
	ASID string
	// Base is the practice's FHIR service root URL, the aud claim.
	Base *url.URL
}

// User is the person the request is made for, as the gateway verified
// them.
type User struct {
	// Subject identifies the user at their identity provider: the sub
	// claim and requesting_practitioner.id.
	Subject string
	// IdentityIssuer is the identity provider, the system of the user's
	// local identifier.
	IdentityIssuer string
	// Organisation is the ODS code of the organisation the user acts for
	// (requesting_organization).
	Organisation string
	// RoleProfile is the SDS role profile id in use, when known.
	RoleProfile string
}

var (
	asidPattern = regexp.MustCompile(`^[0-9]{1,20}$`)
	odsPattern  = regexp.MustCompile(`^[A-Z0-9]{3,6}$`)
	nhsPattern  = regexp.MustCompile(`^[0-9]{10}$`)
)

// Validate names every field of the consumer that is missing or invalid.
func (c Consumer) Validate() error {
	var errs []error
	if !asidPattern.MatchString(c.ASID) {
		errs = append(errs, errors.New("the consumer ASID must be 1 to 20 digits"))
	}
	if u, err := url.Parse(c.Issuer); err != nil || u.Scheme == "" || u.Host == "" {
		errs = append(errs, errors.New("the consumer issuer must be an absolute URL"))
	}
	if c.DeviceID == "" || c.Product == "" || c.Version == "" {
		errs = append(errs, errors.New("the consumer device id, product and version are required"))
	}
	return errors.Join(errs...)
}

// Validate names every field of the provider that is missing or invalid.
func (p Provider) Validate() error {
	var errs []error
	if !odsPattern.MatchString(p.ODS) {
		errs = append(errs, errors.New("the provider ODS code must be 3 to 6 upper-case letters and digits"))
	}
	if !asidPattern.MatchString(p.ASID) {
		errs = append(errs, fmt.Errorf("provider %s: the ASID must be 1 to 20 digits", p.ODS))
	}
	if p.Base == nil || p.Base.Scheme != "https" && p.Base.Scheme != "http" || p.Base.Host == "" ||
		p.Base.RawQuery != "" || p.Base.Fragment != "" || p.Base.User != nil {
		errs = append(errs, fmt.Errorf("provider %s: the endpoint must be an absolute http(s) URL without user, query or fragment", p.ODS))
	}
	return errors.Join(errs...)
}

// Groups are the include groups of a request.
type Groups struct {
	Allergies, Medication, Problems bool
}

// GroupsFor are the include groups that serve the given data categories:
// includeAllergies for Allergies, includeMedication for Medications,
// includeProblems for Problems.
func GroupsFor(categories []string) Groups {
	return Groups{
		Allergies:  slices.Contains(categories, policy.CategoryAllergies),
		Medication: slices.Contains(categories, policy.CategoryMedications),
		Problems:   slices.Contains(categories, policy.CategoryProblems),
	}
}

// Any reports whether any group is asked for; GP Connect needs one.
func (g Groups) Any() bool { return g.Allergies || g.Medication || g.Problems }

// Parameters is the body of a get structured record request.
func Parameters(nhsNumber string, g Groups) ([]byte, error) {
	if !nhsPattern.MatchString(nhsNumber) {
		return nil, errors.New("the NHS number must be 10 digits")
	}
	if !g.Any() {
		return nil, errors.New("at least one include group is required")
	}
	params := []any{map[string]any{
		"name":            "patientNHSNumber",
		"valueIdentifier": map[string]any{"system": SystemNHSNumber, "value": nhsNumber},
	}}
	if g.Allergies {
		params = append(params, map[string]any{"name": "includeAllergies", "part": []any{
			map[string]any{"name": "includeResolvedAllergies", "valueBoolean": false},
		}})
	}
	if g.Medication {
		params = append(params, map[string]any{"name": "includeMedication", "part": []any{
			map[string]any{"name": "includePrescriptionIssues", "valueBoolean": false},
		}})
	}
	if g.Problems {
		params = append(params, map[string]any{"name": "includeProblems"})
	}
	return json.Marshal(map[string]any{"resourceType": "Parameters", "parameter": params})
}

// Token is the unsigned JWT (alg "none", empty signature) GP Connect
// requires in the Authorization header, issued at now for five minutes. It
// is written by hand because JOSE libraries (go-jose among them) refuse
// "none" by design; there is nothing to sign.
func Token(c Consumer, p Provider, u User, now time.Time) (string, error) {
	if u.Subject == "" || !odsPattern.MatchString(u.Organisation) {
		return "", errors.New("the user's subject and organisation ODS code are required")
	}
	header := map[string]any{"alg": "none", "typ": "JWT"}
	localSystem := u.IdentityIssuer
	if localSystem == "" {
		localSystem = c.Issuer
	}
	roleProfile := u.RoleProfile
	if roleProfile == "" {
		roleProfile = Unknown
	}
	claims := map[string]any{
		"iss":                c.Issuer,
		"sub":                u.Subject,
		"aud":                p.Base.String(),
		"iat":                now.Unix(),
		"exp":                now.Add(TokenLifetime).Unix(),
		"reason_for_request": ReasonDirectCare,
		"requested_scope":    ScopePatientRead,
		"requesting_device": map[string]any{
			"resourceType": "Device",
			"identifier":   []any{map[string]any{"system": SystemDevice, "value": c.DeviceID}},
			"model":        c.Product,
			"version":      c.Version,
		},
		"requesting_organization": map[string]any{
			"resourceType": "Organization",
			"identifier":   []any{map[string]any{"system": SystemODS, "value": u.Organisation}},
			// The gateway knows the organisation by its ODS code only.
			"name": "ODS " + u.Organisation,
		},
		"requesting_practitioner": map[string]any{
			"resourceType": "Practitioner",
			"id":           u.Subject,
			"identifier": []any{
				map[string]any{"system": SystemSDSUserID, "value": Unknown},
				map[string]any{"system": SystemSDSRoleProfileID, "value": roleProfile},
				map[string]any{"system": localSystem, "value": u.Subject},
			},
			// The verified token carries no name: the subject stands in.
			"name": []any{map[string]any{"text": u.Subject}},
		},
	}
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(h) + "." + enc.EncodeToString(b) + ".", nil
}

// NewRequest builds the get structured record request for a patient: the
// Parameters body, the Ssp-* headers with a new trace id, and the JWT.
// The NHS number travels only in the body, never in the URL.
func NewRequest(ctx context.Context, c Consumer, p Provider, u User, nhsNumber string, g Groups, now time.Time) (*http.Request, string, error) {
	body, err := Parameters(nhsNumber, g)
	if err != nil {
		return nil, "", err
	}
	token, err := Token(c, p, u, now)
	if err != nil {
		return nil, "", err
	}
	// The operation name is sent as the spec writes it, "$" unescaped.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(p.Base.String(), "/")+OperationPath, bytes.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	trace := uuid.NewString()
	req.Header.Set("Accept", ContentType)
	req.Header.Set("Content-Type", ContentType+";charset=utf-8")
	req.Header.Set("Ssp-TraceID", trace)
	req.Header.Set("Ssp-From", c.ASID)
	req.Header.Set("Ssp-To", p.ASID)
	req.Header.Set("Ssp-InteractionID", InteractionStructured)
	req.Header.Set("Authorization", "Bearer "+token)
	return req, trace, nil
}

// File is the GP Connect configuration the operator writes for the record
// gateway (a mounted ConfigMap, reloaded when it changes).
type File struct {
	// ASID is the region's accredited system id, sent as Ssp-From.
	ASID string `json:"asid"`
	// Practices are the region's admitted GP practices served by GP
	// Connect, sorted by ODS code.
	Practices []Practice `json:"practices"`
}

// Practice is one GP practice's GP Connect endpoint.
type Practice struct {
	// ODSCode is the practice's ODS code.
	ODSCode string `json:"odsCode"`
	// ASID is its system's accredited system id, sent as Ssp-To.
	ASID string `json:"asid"`
	// Endpoint is its FHIR service root URL.
	Endpoint string `json:"endpoint"`
}
