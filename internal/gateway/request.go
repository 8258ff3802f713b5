/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// Kind is a FHIR RESTful interaction the gateway serves. Its values are the
// codes of http://hl7.org/fhir/restful-interaction, which audit events use.
type Kind string

// The interactions the gateway serves. Everything else is refused.
const (
	KindCapabilities Kind = "capabilities"
	KindRead         Kind = "read"
	KindVRead        Kind = "vread"
	KindHistory      Kind = "history-instance"
	KindSearch       Kind = "search-type"
	// KindSearchPage continues a search from the record service's paging
	// link (GET /?_getpages=…, HAPI FHIR). It is audited as search-type.
	KindSearchPage Kind = "search-page"
)

// Action is the policy action an interaction needs: search for searches,
// read for everything else.
func (k Kind) Action() string {
	if k == KindSearch || k == KindSearchPage {
		return policy.ActionSearch
	}
	return policy.ActionRead
}

// auditCode is the restful-interaction code audit events record.
func (k Kind) auditCode() string {
	if k == KindSearchPage {
		return string(KindSearch)
	}
	return string(k)
}

// Interaction is a parsed FHIR request.
type Interaction struct {
	Kind Kind
	// Type is the resource type; empty for capabilities and search pages.
	Type string
	// ID and VersionID identify one resource and one of its versions.
	ID, VersionID string
	// Query holds the parameters forwarded to the record service.
	Query url.Values
	// Post is true for a search sent as POST [type]/_search.
	Post bool
	// Patient is the NHS number a search or search page is scoped to;
	// empty when the interaction names no patient. A search page's patient
	// is not sent to the record service: the gateway withholds every entry
	// of the page that is about anyone else.
	Patient string
}

// LinkQuery is the query of a link to the interaction at the gateway: the
// forwarded parameters and, for a search page, the patient it is scoped to.
func (in Interaction) LinkQuery() url.Values {
	if in.Kind != KindSearchPage || in.Patient == "" {
		return in.Query
	}
	q := url.Values{}
	for k, v := range in.Query {
		q[k] = v
	}
	q.Set(pagePatientParameter, SystemNHSNumber+"|"+in.Patient)
	return q
}

// Path is the interaction's path relative to a FHIR base, without a
// leading slash.
func (in Interaction) Path() string {
	switch in.Kind {
	case KindRead:
		return in.Type + "/" + in.ID
	case KindVRead:
		return in.Type + "/" + in.ID + "/_history/" + in.VersionID
	case KindHistory:
		return in.Type + "/" + in.ID + "/_history"
	case KindSearch:
		if in.Post {
			return in.Type + "/_search"
		}
		return in.Type
	case KindCapabilities:
		return "metadata"
	default:
		return ""
	}
}

// requestError is a request the gateway refuses before calling the record
// service, with the HTTP status and OperationOutcome issue code to answer.
type requestError struct {
	status int
	code   string
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) *requestError {
	return &requestError{status: http.StatusBadRequest, code: issueInvalid, msg: fmt.Sprintf(format, args...)}
}

func notSupported(format string, args ...any) *requestError {
	return &requestError{status: http.StatusBadRequest, code: issueNotSupported, msg: fmt.Sprintf(format, args...)}
}

func forbidden(format string, args ...any) *requestError {
	return &requestError{status: http.StatusForbidden, code: issueForbidden, msg: fmt.Sprintf(format, args...)}
}

var (
	// resourceTypePattern is the shape of a FHIR resource type name.
	resourceTypePattern = regexp.MustCompile(`^[A-Z][A-Za-z]{1,63}$`)
	// idPattern is the FHIR id datatype, also used for version ids.
	idPattern = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)
	// parameterPattern is the shape of a search parameter name, with
	// modifiers and chains (subject:Patient.identifier).
	parameterPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_\-:.]{0,127}$`)
)

// governanceTypes are never shared as data (DOMAIN.md).
var governanceTypes = []string{"AuditEvent", "Provenance"}

// refusedParameters would let a caller reshape results so that the gateway
// cannot see the provenance, labels or patient it decides on (_elements,
// _summary, _contained, _containedType), or select resources by data the
// caller may not see (_has, reverse chaining; _query and _filter, whose
// semantics the gateway cannot check).
var refusedParameters = []string{"_elements", "_summary", "_contained", "_containedType", "_has", "_query", "_filter"}

// droppedParameters only change the representation; the gateway always asks
// for, and answers with, FHIR JSON.
var droppedParameters = []string{"_format", "_pretty"}

// historyParameters are the parameters of the history interaction.
var historyParameters = []string{"_count", "_since", "_at"}

// pageParameters are the parameters of HAPI FHIR's paging links.
var pageParameters = []string{"_getpages", "_getpagesoffset", "_count", "_bundletype"}

// searchControlParameters are the only parameters starting with "_" that a
// search may carry, spelled exactly so. Every other one is refused: _id
// selects a resource without its patient, _include and _revinclude bring
// in resources of other patients and make a page's length depend on what
// was withheld, _total and _summary=count count what the caller may not
// see, and the rest reshape or select results by data the gateway cannot
// check.
var searchControlParameters = []string{"_count", "_sort", "_lastUpdated"}

// ParseRequest parses a request to the gateway's FHIR base: the method, the
// escaped path and the raw query (for POST [type]/_search, the query and the
// form body joined with "&"). It accepts read, vread, instance history,
// type search, search paging and capabilities, and refuses writes (403),
// governance types (403), other resource types, operations, compartments
// and malformed paths or parameters (400).
func ParseRequest(method, escapedPath, rawQuery string) (Interaction, error) {
	if err := checkMethod(method, escapedPath); err != nil {
		return Interaction{}, err
	}
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		return Interaction{}, badRequest("the query string is malformed: %v", err)
	}
	path := strings.TrimPrefix(escapedPath, "/")
	switch path {
	case "":
		return parseSystemRequest(query)
	case "metadata":
		return Interaction{Kind: KindCapabilities}, nil
	}
	segments := strings.Split(path, "/")
	if err := checkResourceType(segments[0]); err != nil {
		return Interaction{}, err
	}
	in, err := parseResourcePath(segments)
	if err != nil {
		return Interaction{}, err
	}
	in.Post = method == http.MethodPost
	in.Query, in.Patient, err = interactionQuery(in.Kind, in.Type, query)
	if err != nil {
		return Interaction{}, err
	}
	return in, nil
}

// checkMethod allows GET, and POST only for [type]/_search. No grant allows
// writes, so they are forbidden rather than malformed.
func checkMethod(method, escapedPath string) error {
	switch method {
	case http.MethodGet:
		return nil
	case http.MethodPost:
		if isPostSearch(escapedPath) {
			return nil
		}
		return forbidden("the record gateway is read-only: %s is a write, and no agreement grants writes", method)
	case http.MethodPut, http.MethodPatch, http.MethodDelete:
		return forbidden("the record gateway is read-only: %s is a write, and no agreement grants writes", method)
	default:
		return &requestError{status: http.StatusMethodNotAllowed, code: issueNotSupported,
			msg: fmt.Sprintf("method %s is not supported: use GET, or POST [type]/_search", method)}
	}
}

func isPostSearch(escapedPath string) bool {
	segments := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	return len(segments) == 2 && segments[1] == "_search"
}

func parseSystemRequest(query url.Values) (Interaction, error) {
	if len(query) == 0 {
		return Interaction{Kind: KindCapabilities}, nil
	}
	if _, ok := query["_getpages"]; !ok {
		return Interaction{}, notSupported("system-level search is not supported: search one resource type, e.g. GET /Observation?patient.identifier=…")
	}
	patient, rest, err := pagePatient(query)
	if err != nil {
		return Interaction{}, err
	}
	kept, err := onlyParameters(rest, pageParameters, "a search page")
	if err != nil {
		return Interaction{}, err
	}
	if err := checkCount(kept); err != nil {
		return Interaction{}, err
	}
	return Interaction{Kind: KindSearchPage, Query: kept, Patient: patient}, nil
}

// checkResourceType refuses malformed names, governance types and types
// that belong to no data category.
func checkResourceType(name string) error {
	switch {
	case !resourceTypePattern.MatchString(name):
		return badRequest("%q is not a FHIR resource type", name)
	case slices.Contains(governanceTypes, name):
		return forbidden("%s is a governance resource and is never shared as data", name)
	case !isSharedType(name):
		return notSupported("resource type %s belongs to no data category, so the gateway never shares it", name)
	}
	return nil
}

// isSharedType reports whether a resource type can belong to a category:
// Encounter through its class, every other type by itself.
func isSharedType(name string) bool {
	if name == "Encounter" {
		return true
	}
	_, ok := policy.CategoryOf(name, "")
	return ok
}

func parseResourcePath(segments []string) (Interaction, error) {
	in := Interaction{Type: segments[0]}
	switch {
	case len(segments) == 1:
		in.Kind = KindSearch
	case len(segments) == 2 && segments[1] == "_search":
		in.Kind = KindSearch
	case len(segments) == 2:
		in.Kind = KindRead
	case len(segments) == 3 && segments[2] == "_history":
		in.Kind = KindHistory
	case len(segments) == 4 && segments[2] == "_history":
		in.Kind, in.VersionID = KindVRead, segments[3]
	default:
		return Interaction{}, unsupportedPath(segments)
	}
	if in.Kind == KindSearch {
		return in, nil
	}
	in.ID = segments[1]
	if err := checkID("resource id", in.ID); err != nil {
		return Interaction{}, err
	}
	if in.Kind == KindVRead {
		return in, checkID("version id", in.VersionID)
	}
	return in, nil
}

func unsupportedPath(segments []string) error {
	for _, s := range segments[1:] {
		if strings.HasPrefix(s, "$") || strings.HasPrefix(s, "%24") {
			return notSupported("FHIR operations are not supported by the record gateway")
		}
	}
	return notSupported("only read, vread, instance history and type search are supported: " +
		"[type]/[id], [type]/[id]/_history/[vid], [type]/[id]/_history, [type]?params")
}

func checkID(what, id string) error {
	if strings.HasPrefix(id, "$") || strings.HasPrefix(id, "%24") {
		return notSupported("FHIR operations are not supported by the record gateway")
	}
	if !idPattern.MatchString(id) || strings.Trim(id, ".") == "" {
		return badRequest("%q is not a valid FHIR %s (1 to 64 letters, digits, '-' and '.', not only dots)", id, what)
	}
	return nil
}

// interactionQuery keeps the parameters an interaction may forward and
// gives the patient a search is scoped to.
func interactionQuery(kind Kind, resourceType string, query url.Values) (url.Values, string, error) {
	switch kind {
	case KindSearch:
		return searchQuery(resourceType, query)
	case KindHistory:
		kept, err := onlyParameters(query, historyParameters, "history")
		if err == nil {
			err = checkCount(kept)
		}
		return kept, "", err
	default:
		kept, err := onlyParameters(query, nil, string(kind))
		return kept, "", err
	}
}

// searchQuery checks search parameters: a search of a type that holds
// patient data must name exactly one patient by NHS number (see
// patientScope); parameters that would hide what the gateway decides on,
// or select by data the caller may not see, are refused; representation
// parameters are dropped.
func searchQuery(resourceType string, query url.Values) (url.Values, string, error) {
	kept := url.Values{}
	scope := newPatientScope(resourceType)
	for name, values := range query {
		if !parameterPattern.MatchString(name) {
			return nil, "", badRequest("%q is not a valid search parameter name", name)
		}
		if isDropped(name) {
			continue
		}
		isPatient, err := scope.add(name, values)
		if err != nil {
			return nil, "", err
		}
		if !isPatient {
			if err := checkSearchParameter(name); err != nil {
				return nil, "", err
			}
		}
		kept[name] = values
	}
	patient, err := scope.patient()
	if err != nil {
		return nil, "", err
	}
	return kept, patient, checkCount(kept)
}

// isDropped reports whether a parameter only changes the representation.
// Only the exact spelling is dropped; a variant such as _FORMAT is refused
// like any other unknown control parameter.
func isDropped(name string) bool {
	return slices.Contains(droppedParameters, name)
}

// checkSearchParameter refuses a parameter that is not the patient scope
// and could widen, reshape or probe the search: any refused parameter in
// any spelling, any control parameter ("_…") other than those of
// searchControlParameters spelled exactly so, and any chain.
func checkSearchParameter(name string) error {
	base := parameterBase(name)
	lower := strings.ToLower(base)
	for _, refused := range refusedParameters {
		if lower == strings.ToLower(refused) {
			return notSupported("search parameter %s is not supported by the record gateway: "+
				"it would select or reshape results by data the gateway cannot check", name)
		}
	}
	switch {
	case strings.HasPrefix(base, "_") && (base != name || !slices.Contains(searchControlParameters, name)):
		return notSupported("search parameter %s is not supported by the record gateway: of the parameters starting "+
			"with _, only %s are (spelled exactly so, without modifiers)", name, strings.Join(searchControlParameters, ", "))
	case strings.Contains(name, "."):
		return notSupported("chained search parameter %s is not supported by the record gateway: it selects by data "+
			"of other resources that the gateway cannot check; only the patient may be named by a chain", name)
	}
	return nil
}

// checkCount refuses a _count that is not one whole number of at least 1.
// The gateway lowers a larger one to its page size limit.
func checkCount(query url.Values) error {
	values, ok := query["_count"]
	if !ok {
		return nil
	}
	if len(values) != 1 {
		return badRequest("_count is given %d times: give it once", len(values))
	}
	n, err := strconv.Atoi(values[0])
	if err != nil || n < 1 || len(values[0]) > 7 {
		return badRequest("_count must be a whole number from 1 (it is lowered to the page size limit), not %q", values[0])
	}
	return nil
}

// parameterBase is a parameter name without modifier or chain.
func parameterBase(name string) string {
	if i := strings.IndexAny(name, ":."); i >= 0 {
		return name[:i]
	}
	return name
}

// onlyParameters keeps the allowed parameters, drops the representation
// ones and refuses the rest.
func onlyParameters(query url.Values, allowed []string, what string) (url.Values, error) {
	kept := url.Values{}
	for name, values := range query {
		switch {
		case slices.Contains(allowed, name):
			kept[name] = values
		case slices.Contains(droppedParameters, name):
		default:
			return nil, notSupported("parameter %q is not supported for %s", name, what)
		}
	}
	return kept, nil
}
