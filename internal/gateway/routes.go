/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"net/http"
	"regexp"
	"strings"
)

// MaxHeaderBytes is the most the request line and headers of a request may
// take; a larger request gets 431 with an OperationOutcome. The HTTP
// server's own limit must be well above it (ServerMaxHeaderBytes), so that
// the gateway, not the server's plain-text answer, refuses it.
const MaxHeaderBytes = 32 << 10

// ServerMaxHeaderBytes is the http.Server MaxHeaderBytes to serve the
// gateway with.
const ServerMaxHeaderBytes = 1 << 20

// canonicalPath is the shape of every path the gateway serves: the root,
// or segments of letters, digits, '-', '.', '_' and '$', separated by
// single slashes, without escapes or a trailing slash.
var canonicalPath = regexp.MustCompile(`^/([A-Za-z0-9\-._$]+(/[A-Za-z0-9\-._$]+)*)?$`)

// route checks that a request is canonical and not oversized, then sends
// it to its handler. Nothing is cleaned or redirected: http.ServeMux would
// answer //x or /./x with a redirect and an HTML body before any check, so
// it is not used.
func (g *Gateway) route(w http.ResponseWriter, r *http.Request) {
	if size := headerSize(r); size > MaxHeaderBytes {
		writeOutcome(w, http.StatusRequestHeaderFieldsTooLarge, issueTooLong,
			"the request line and headers are larger than the gateway accepts")
		return
	}
	if err := checkCanonical(r); err != nil {
		writeRequestError(w, err)
		return
	}
	switch r.URL.Path {
	case "/healthz":
		onlyRead(w, r, serveHealthz)
	case "/readyz":
		onlyRead(w, r, g.serveReadyz)
	case "/metrics":
		onlyRead(w, r, g.metricsHandler.ServeHTTP)
	case BreakGlassCountPath:
		onlyRead(w, r, g.serveBreakGlassCount)
	case "/v1/decisions":
		if r.Method != http.MethodPost {
			methodNotAllowed(w, http.MethodPost)
			return
		}
		g.serveDecision(w, r)
	default:
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			writeOutcome(w, http.StatusNotFound, issueNotFound, "the gateway serves no such path")
			return
		}
		g.serveFHIR(w, r)
	}
}

// checkCanonical refuses a path that is not in canonical form: empty
// segments (//x), dot segments (/./x, /../x), escapes of any kind
// (including %2F and %2E), a trailing slash, or a request target that is
// not a plain path.
func checkCanonical(r *http.Request) error {
	target := r.RequestURI
	if target == "" {
		// A request built in process rather than read by a server.
		target = r.URL.EscapedPath()
	}
	if i := strings.IndexByte(target, '?'); i >= 0 {
		target = target[:i]
	}
	switch {
	case target != r.URL.EscapedPath() || r.URL.RawPath != "":
		return badRequest("the request path is not in canonical form: no escapes and no absolute URL")
	case !canonicalPath.MatchString(target):
		return badRequest("the request path is not in canonical form: no empty segments, no trailing slash, and only letters, digits, '-', '.', '_' and '$' in segments")
	}
	for segment := range strings.SplitSeq(target, "/") {
		if segment == "." || segment == ".." {
			return badRequest("the request path is not in canonical form: no '.' or '..' segments")
		}
	}
	return nil
}

// headerSize is the size of the request line and headers as received.
func headerSize(r *http.Request) int {
	size := len(r.Method) + len(r.RequestURI) + len(r.Proto) + len(r.Host) + 4
	for name, values := range r.Header {
		for _, v := range values {
			size += len(name) + len(v) + 4
		}
	}
	return size
}

// onlyRead serves GET and HEAD, and answers 405 to any other method.
func onlyRead(w http.ResponseWriter, r *http.Request, serve http.HandlerFunc) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, http.MethodGet+", "+http.MethodHead)
		return
	}
	serve(w, r)
}

// methodNotAllowed answers 405 with the methods allowed.
func methodNotAllowed(w http.ResponseWriter, allowed string) {
	w.Header().Set("Allow", allowed)
	writeOutcome(w, http.StatusMethodNotAllowed, issueNotSupported, "method not allowed here: use "+allowed)
}
