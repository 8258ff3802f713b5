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
	in.Query, err = interactionQuery(in.Kind, query)
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
	kept, err := onlyParameters(query, pageParameters, "a search page")
	if err != nil {
		return Interaction{}, err
	}
	return Interaction{Kind: KindSearchPage, Query: kept}, nil
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

// interactionQuery keeps the parameters an interaction may forward.
func interactionQuery(kind Kind, query url.Values) (url.Values, error) {
	switch kind {
	case KindSearch:
		return searchQuery(query)
	case KindHistory:
		return onlyParameters(query, historyParameters, "history")
	default:
		return onlyParameters(query, nil, string(kind))
	}
}

// searchQuery checks search parameters: it refuses those that would hide
// what the gateway decides on, and drops representation parameters.
func searchQuery(query url.Values) (url.Values, error) {
	kept := url.Values{}
	for name, values := range query {
		if !parameterPattern.MatchString(name) {
			return nil, badRequest("%q is not a valid search parameter name", name)
		}
		base := parameterBase(name)
		switch {
		case slices.Contains(refusedParameters, base):
			return nil, notSupported("search parameter %s is not supported by the record gateway: "+
				"it would select or reshape results by data the gateway cannot check", base)
		case slices.Contains(droppedParameters, base):
			continue
		}
		kept[name] = values
	}
	return kept, nil
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
