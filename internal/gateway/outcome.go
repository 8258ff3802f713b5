/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// ContentTypeFHIR is the media type of every FHIR body the gateway writes.
const ContentTypeFHIR = "application/fhir+json"

// OperationOutcome issue codes (http://hl7.org/fhir/issue-type).
const (
	issueInvalid      = "invalid"
	issueNotSupported = "not-supported"
	issueForbidden    = "forbidden"
	issueLogin        = "login"
	issueNotFound     = "not-found"
	issueException    = "exception"
	issueTransient    = "transient"
	issueTooLong      = "too-long"
)

type operationOutcome struct {
	ResourceType string         `json:"resourceType"`
	Issue        []outcomeIssue `json:"issue"`
}

type outcomeIssue struct {
	Severity    string `json:"severity"`
	Code        string `json:"code"`
	Diagnostics string `json:"diagnostics,omitempty"`
}

// writeOutcome answers with an OperationOutcome holding one error, and
// notes the diagnostics for the audit of the refusal.
func writeOutcome(w http.ResponseWriter, status int, code, diagnostics string) {
	noteRefusal(w, diagnostics)
	writeFHIR(w, status, operationOutcome{
		ResourceType: "OperationOutcome",
		Issue:        []outcomeIssue{{Severity: "error", Code: code, Diagnostics: diagnostics}},
	})
}

// writeRequestError answers a request the gateway refused, with the status
// of a requestError and 400 for any other error.
func writeRequestError(w http.ResponseWriter, err error) {
	var rerr *requestError
	if !errors.As(err, &rerr) {
		rerr = badRequest("%v", err)
	}
	writeOutcome(w, rerr.status, rerr.code, rerr.msg)
}

// writeUnauthorized answers a request without a valid bearer token.
func writeUnauthorized(w http.ResponseWriter, reason string) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	writeOutcome(w, http.StatusUnauthorized, issueLogin, reason)
}

// writeDenied answers an access the policy denies. It names the audit event
// and nothing about the resource, so a denial does not reveal what the
// record holds.
func writeDenied(w http.ResponseWriter, auditEventID string) {
	noteAudited(w)
	writeOutcome(w, http.StatusForbidden, issueForbidden,
		"access denied by the region's data sharing policy; audit event "+auditEventID+" records why")
}

// writeAuditFailure answers an access whose audit event could not be
// written: without its record, the access must not happen.
func writeAuditFailure(w http.ResponseWriter) {
	noteAudited(w)
	writeOutcome(w, http.StatusServiceUnavailable, issueTransient, "the access could not be audited, so it is refused")
}

func writeFHIR(w http.ResponseWriter, status int, body any) {
	data, err := json.Marshal(body)
	if err != nil {
		http.Error(w, "encoding the response failed", http.StatusInternalServerError)
		return
	}
	writeFHIRBytes(w, status, data)
}

// writeFHIRBytes answers with a FHIR JSON body. Its length is announced, so
// the body goes out as it is, not in chunks.
func writeFHIRBytes(w http.ResponseWriter, status int, data []byte) {
	w.Header().Set("Content-Type", ContentTypeFHIR+"; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}
