/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// serverRefusal is the shape of an answer net/http writes itself, before
// any handler runs, when it cannot read a request: a request line and
// headers over the server's MaxHeaderBytes (431), a malformed request or
// one without a Host header (400), a transfer encoding it does not support
// (501). It writes them in plain text, as one write on the connection, with
// exactly these headers; a handler's answer always carries a Date header
// after its Content-Type, so it never has this shape.
var serverRefusal = regexp.MustCompile(`^HTTP/1\.[01] ([1-5][0-9]{2}) [^\r\n]*\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n`)

// WrapListener makes the HTTP server's own refusals FHIR: each answer
// net/http writes itself, before the gateway's handler sees the request
// (see serverRefusal), is replaced by an OperationOutcome with the same
// status, and audited as a refused request of an unknown caller (method
// and target unknown: the request could not be read). Serve the gateway
// from the listener it returns.
func (g *Gateway) WrapListener(l net.Listener) net.Listener {
	return &refusingListener{Listener: l, gateway: g}
}

type refusingListener struct {
	net.Listener
	gateway *Gateway
}

func (l *refusingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &refusingConn{Conn: c, gateway: l.gateway}, nil
}

// refusingConn rewrites the server's plain-text refusals on one connection.
type refusingConn struct {
	net.Conn
	gateway *Gateway
}

func (c *refusingConn) Write(p []byte) (int, error) {
	m := serverRefusal.FindSubmatch(p)
	if m == nil {
		return c.Conn.Write(p)
	}
	status, _ := strconv.Atoi(string(m[1]))
	reason := "the HTTP request could not be read: " + string(bytes.TrimSpace(p[len(m[0]):]))
	c.gateway.auditServerRefusal(c.RemoteAddr(), status, reason)
	if _, err := c.Conn.Write(serverRefusalAnswer(status, reason)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// serverRefusalAnswer is a whole HTTP answer: status, headers and an
// OperationOutcome saying why.
func serverRefusalAnswer(status int, reason string) []byte {
	code := issueInvalid
	switch status {
	case http.StatusRequestHeaderFieldsTooLarge:
		code = issueTooLong
	case http.StatusNotImplemented:
		code = issueNotSupported
	}
	body, _ := json.Marshal(operationOutcome{
		ResourceType: "OperationOutcome",
		Issue:        []outcomeIssue{{Severity: "error", Code: code, Diagnostics: reason}},
	})
	head := fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Type: %s; charset=utf-8\r\nContent-Length: %d\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
		status, http.StatusText(status), ContentTypeFHIR, len(body))
	return append([]byte(head), body...)
}

// auditServerRefusal audits a request the HTTP server refused before the
// gateway could read it, within the refusal rate limits of its source.
func (g *Gateway) auditServerRefusal(remote net.Addr, status int, reason string) {
	now := time.Now()
	address := ""
	if remote != nil {
		address, _, _ = net.SplitHostPort(remote.String())
	}
	if !g.refusals.allow(sourceKey(address), now) {
		g.metrics.refusalAuditDrops.WithLabelValues("rate-limited").Inc()
		return
	}
	record := auditRecord{
		id: uuid.NewString(), class: auditRefusal, status: status, reason: reason, anonymous: true,
		network: address, region: g.cfg.Region, observer: g.observer, at: now,
	}
	events := newAuditLines(1)
	defer events.release()
	events.add(record)
	if err := g.audit.write(events); err != nil {
		g.metrics.refusalAuditDrops.WithLabelValues("write-failed").Inc()
		g.log.Error("Audit event of a refused request not written; refusal sent", "status", status, "error", err)
	}
}
