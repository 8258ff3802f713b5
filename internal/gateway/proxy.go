/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/shcr-io/shcr-operator/internal/gateway/identity"
)

// maxFormBytes bounds the form body of POST [type]/_search.
const maxFormBytes = 1 << 20

// serveFHIR serves the FHIR API. The CapabilityStatement is public, as FHIR
// clients expect; everything else needs a valid bearer token first.
func (g *Gateway) serveFHIR(w http.ResponseWriter, r *http.Request) {
	if isCapabilities(r) {
		g.serveCapabilities(w, r)
		return
	}
	caller, ok := g.authenticate(w, r)
	if !ok {
		return
	}
	in, err := parseHTTPRequest(w, r)
	if err != nil {
		writeRequestError(w, err)
		return
	}
	in = withPageSize(in, g.cfg.MaxPageSize)
	switch in.Kind {
	case KindCapabilities:
		g.serveCapabilities(w, r)
	case KindRead, KindVRead:
		g.serveResource(w, r, caller, in)
	default:
		g.serveBundle(w, r, caller, in)
	}
}

// withPageSize sets the _count of a search, search page or history to the
// caller's, lowered to the page size limit, or to the limit when the
// caller gave none. The record service's own default is never relied on,
// so that the gateway knows how long a full page is.
func withPageSize(in Interaction, limit int) Interaction {
	switch in.Kind {
	case KindSearch, KindSearchPage, KindHistory:
	default:
		return in
	}
	size := limit
	if n, err := strconv.Atoi(in.Query.Get("_count")); err == nil && n > 0 && n < limit {
		size = n
	}
	in.Query.Set("_count", strconv.Itoa(size))
	return in
}

func isCapabilities(r *http.Request) bool {
	return r.Method == http.MethodGet && (r.URL.Path == "/metadata" || (r.URL.Path == "/" && r.URL.RawQuery == ""))
}

// authenticate verifies the bearer token, answering 401 when it fails. The
// token itself is never logged.
func (g *Gateway) authenticate(w http.ResponseWriter, r *http.Request) (identity.Caller, bool) {
	token, err := identity.BearerToken(r)
	var caller identity.Caller
	if err == nil {
		caller, err = g.verifier.Verify(token, time.Now())
	}
	if err != nil {
		g.metrics.authFailures.Inc()
		// The path is not logged: a resource id can identify a patient.
		g.log.Info("Request refused: invalid bearer token", "reason", err.Error())
		writeUnauthorized(w, err.Error())
		return identity.Caller{}, false
	}
	noteCaller(w, caller)
	return caller, true
}

// parseHTTPRequest parses a FHIR request, reading the form body of POST
// [type]/_search as search parameters.
func parseHTTPRequest(w http.ResponseWriter, r *http.Request) (Interaction, error) {
	query := r.URL.RawQuery
	if r.Method == http.MethodPost && isPostSearch(r.URL.EscapedPath()) {
		form, err := readForm(w, r)
		if err != nil {
			return Interaction{}, err
		}
		query = joinQuery(query, form)
	}
	return ParseRequest(r.Method, r.URL.EscapedPath(), query)
}

func readForm(w http.ResponseWriter, r *http.Request) (string, error) {
	if r.ContentLength == 0 {
		return "", nil
	}
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "application/x-www-form-urlencoded" {
		return "", badRequest("POST [type]/_search needs an application/x-www-form-urlencoded body")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBytes))
	if err != nil {
		return "", badRequest("the search form could not be read (at most %d bytes): %v", maxFormBytes, err)
	}
	return string(body), nil
}

func joinQuery(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	default:
		return a + "&" + b
	}
}

// serveResource serves read and vread: the resource is fetched, then
// decided on, and passed on only when allowed.
func (g *Gateway) serveResource(w http.ResponseWriter, r *http.Request, c identity.Caller, in Interaction) {
	resp, ok := g.fetch(w, r, in)
	if !ok {
		return
	}
	defer resp.release()
	facts, err := inspect(resp.body)
	if err == nil && (facts.ResourceType != in.Type || facts.ID != in.ID) {
		err = fmt.Errorf("the record service answered with %s/%s", facts.ResourceType, facts.ID)
	}
	if err != nil {
		facts = resourceFacts{ResourceType: in.Type, ID: in.ID, Unshareable: "the resource cannot be decided on: " + err.Error()}
	}
	v, err := g.decideOne(g.currentView(), c, in.Kind, facts)
	if err != nil {
		writeAuditFailure(w)
		return
	}
	if !v.Allow {
		writeDenied(w, v.auditEvent)
		return
	}
	if resp.etag != "" {
		w.Header().Set("ETag", resp.etag)
	}
	if resp.lastModified != "" {
		w.Header().Set("Last-Modified", resp.lastModified)
	}
	writeFHIRBytes(w, http.StatusOK, resp.body)
}

// serveBundle serves search and history: the record service's Bundle with
// every entry the caller may not see removed.
func (g *Gateway) serveBundle(w http.ResponseWriter, r *http.Request, c identity.Caller, in Interaction) {
	resp, ok := g.fetch(w, r, in)
	if !ok {
		return
	}
	defer resp.release()
	// The answer is about as long as the record service's.
	answer := answerBodies.get(len(resp.body) + len(resp.body)/8)
	defer answerBodies.put(answer)
	filtered, err := g.filterBundle(c, in, resp.body, answer)
	if err == nil {
		filtered, err = g.federate(r.Context(), c, in, filtered)
	}
	switch {
	case errors.Is(err, errAudit):
		writeAuditFailure(w)
	case err != nil:
		g.log.Error("Record service answered with an unusable Bundle", "interaction", in.Kind, "error", err)
		writeOutcome(w, http.StatusBadGateway, issueException, "the record service did not answer with a usable Bundle")
	default:
		writeFHIRBytes(w, http.StatusOK, filtered)
	}
}

// fetch calls the record service and answers the caller itself when the
// record service does not return 200. Its error bodies are not passed on.
func (g *Gateway) fetch(w http.ResponseWriter, r *http.Request, in Interaction) (upstreamResponse, bool) {
	resp, err := g.upstream.fetch(r.Context(), in)
	switch {
	case errors.Is(err, errNoMemory):
		g.metrics.upstreamMemoryRefusals.Inc()
		g.log.Warn("Record service answer refused: no room in the memory budget", "interaction", in.Kind, "error", err)
		writeOutcome(w, http.StatusServiceUnavailable, issueTransient, "the gateway is busy with other large answers: try again later")
		return upstreamResponse{}, false
	case err != nil:
		g.log.Error("Record service call failed", "interaction", in.Kind, "error", err)
		writeOutcome(w, http.StatusBadGateway, issueTransient, "the record service could not be reached")
		return upstreamResponse{}, false
	}
	if resp.status != http.StatusOK {
		// An error body is not passed on, so its memory goes back at once.
		resp.release()
	}
	switch {
	case resp.status == http.StatusOK:
		return resp, true
	case resp.status == http.StatusUnauthorized || resp.status == http.StatusForbidden:
		// The record service refused the gateway's own credentials or
		// network identity: not the caller's fault.
		g.log.Error("Record service refused the gateway", "interaction", in.Kind, "status", resp.status)
		writeOutcome(w, http.StatusBadGateway, issueException, "the record service refused the gateway's own request")
	case resp.status == http.StatusNotFound || resp.status == http.StatusGone:
		writeOutcome(w, resp.status, issueNotFound, "not found in the record service")
	case resp.status >= 400 && resp.status < 500:
		writeOutcome(w, http.StatusBadRequest, issueInvalid,
			fmt.Sprintf("the record service refused the request with status %d: check the parameters", resp.status))
	default:
		g.log.Error("Record service answered with an error", "interaction", in.Kind, "status", resp.status)
		writeOutcome(w, http.StatusBadGateway, issueException, fmt.Sprintf("the record service answered with status %d", resp.status))
	}
	return upstreamResponse{}, false
}

// errAudit means an audit event could not be written, so the access it
// records must not happen.
var errAudit = errors.New("audit event not written")

// decide decides on resources under one view, writes their audit events in
// one write and counts the decisions. It fails only when the events cannot
// be written, and then none of the accesses may happen.
func (g *Gateway) decide(v view, c identity.Caller, kind Kind, facts ...resourceFacts) ([]verdict, error) {
	return g.decideAfter(v, c, kind, nil, time.Now(), facts, nil)
}

// decideAfter is decide with, when query is not nil, the query's own event
// (queryRecord) written first in the same write: a search costs one audit
// write, and its query is never recorded without its decisions or the
// other way round. The verdicts are written into into when it has room
// for them (a caller that lends it keeps no verdict after it is done with
// them), or into a new slice.
func (g *Gateway) decideAfter(v view, c identity.Caller, kind Kind, query *auditRecord, now time.Time, facts []resourceFacts, into []verdict) ([]verdict, error) {
	var verdicts []verdict
	if cap(into) >= len(facts) {
		verdicts = into[:len(facts)]
		clear(verdicts)
	} else {
		verdicts = make([]verdict, len(facts))
	}
	events := newAuditLines(len(facts) + 1)
	defer events.release()
	if query != nil {
		events.add(*query)
	}
	ids, err := newEventIDs(len(facts))
	if err != nil {
		g.metrics.auditWriteErrors.Inc()
		g.log.Error("Audit event ids not drawn; access refused", "events", len(facts), "error", err)
		return nil, errors.Join(errAudit, err)
	}
	for i, f := range facts {
		verdicts[i] = v.evaluate(c, kind.Action(), f, now)
		verdicts[i].auditEvent = ids[i]
		events.add(auditRecord{id: verdicts[i].auditEvent, caller: c, kind: kind, facts: f, verdict: verdicts[i], region: g.cfg.Region, observer: g.observer, at: now})
	}
	if err := g.audit.write(events); err != nil {
		g.metrics.auditWriteErrors.Inc()
		g.log.Error("Audit events not written; access refused", "events", len(facts), "query", query != nil, "error", err)
		return nil, errors.Join(errAudit, err)
	}
	allowed := 0
	for _, out := range verdicts {
		if out.Allow {
			allowed++
		}
		if out.Allow && out.BreakGlass {
			// The organisation is one the bundle granted to, so a region's
			// members bound the label's values.
			g.metrics.breakGlass.WithLabelValues(c.Organisation).Inc()
			g.breakGlass.add(c.Organisation)
			g.log.Warn("Break-glass emergency override used", "auditEvent", out.auditEvent)
		}
	}
	// Counted once for each outcome, not once for each decision.
	if allowed > 0 {
		g.metrics.decisions.WithLabelValues(outcomeLabel(true), kind.auditCode()).Add(float64(allowed))
	}
	if denied := len(verdicts) - allowed; denied > 0 {
		g.metrics.decisions.WithLabelValues(outcomeLabel(false), kind.auditCode()).Add(float64(denied))
	}
	return verdicts, nil
}

// newEventIDs are n random (version 4) UUIDs for audit events, drawn from
// crypto/rand in one read rather than one read each, and written into one
// string that the ids share.
func newEventIDs(n int) ([]string, error) {
	random := make([]byte, 16*n)
	if _, err := rand.Read(random); err != nil {
		return nil, fmt.Errorf("drawing audit event ids: %w", err)
	}
	// The text is written on the stack for a page's worth of ids; only
	// the string made of it is allocated.
	var stack [uuidLen * 32]byte
	text := stack[:0]
	if n > len(stack)/uuidLen {
		text = make([]byte, 0, uuidLen*n)
	}
	for i := range n {
		var id uuid.UUID
		copy(id[:], random[16*i:])
		id[6] = id[6]&0x0f | 0x40 // version 4
		id[8] = id[8]&0x3f | 0x80 // variant RFC 9562
		text = appendUUID(text, id)
	}
	all := string(text)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = all[uuidLen*i : uuidLen*(i+1)]
	}
	return ids, nil
}

// uuidLen is the length of a UUID's text form.
const uuidLen = 36

// appendUUID appends the text form of id, as id.String writes it
// (TestNewEventIDs holds it to that).
func appendUUID(b []byte, id uuid.UUID) []byte {
	b = hex.AppendEncode(b, id[0:4])
	b = append(b, '-')
	b = hex.AppendEncode(b, id[4:6])
	b = append(b, '-')
	b = hex.AppendEncode(b, id[6:8])
	b = append(b, '-')
	b = hex.AppendEncode(b, id[8:10])
	b = append(b, '-')
	return hex.AppendEncode(b, id[10:16])
}

// decideOne is decide for a single resource.
func (g *Gateway) decideOne(v view, c identity.Caller, kind Kind, f resourceFacts) (verdict, error) {
	verdicts, err := g.decide(v, c, kind, f)
	if err != nil {
		return verdict{}, err
	}
	return verdicts[0], nil
}

func outcomeLabel(allow bool) string {
	if allow {
		return "allow"
	}
	return "deny"
}
