/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"bytes"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"
	"k8s.io/utils/lru"

	"github.com/shcr-io/shcr-operator/internal/gateway/identity"
)

// Refusal audit limits. Each source (a client IPv4 address, or an IPv6 /64)
// may cause a burst of refusalBurst audited refusals and then refusalRate
// a second; all sources together refusalGlobalBurst, then
// refusalGlobalRate a second (at about 1 kB an event, at most about
// 4 GB a day however many sources flood). A flood of bad
// requests thus writes a bounded amount of audit, and what is not written
// is counted in shcr_gateway_refusal_audit_events_dropped_total.
const (
	refusalRate        = 5
	refusalBurst       = 50
	refusalGlobalRate  = 50
	refusalGlobalBurst = 500
	// refusalSources bounds the sources whose limiters are remembered; the
	// least recently seen is forgotten first.
	refusalSources = 10000
	// maxAuditedTarget bounds the method and target of a refused request
	// recorded in its audit event.
	maxAuditedTarget = 2048
	// maxHeldBody bounds the body of a refusal held back until it is
	// audited; a longer one is sent without waiting.
	maxHeldBody = 64 * 1024
)

// refusalLimiter decides whether a refusal from a source is audited.
type refusalLimiter struct {
	sources   *lru.Cache
	global    *rate.Limiter
	perSource rate.Limit
	burst     int
}

func newRefusalLimiter() *refusalLimiter {
	return newRefusalLimiterWith(refusalRate, refusalBurst, refusalGlobalRate, refusalGlobalBurst)
}

// newRefusalLimiterWith is a limiter with other limits.
func newRefusalLimiterWith(perSource rate.Limit, burst int, global rate.Limit, globalBurst int) *refusalLimiter {
	return &refusalLimiter{
		sources:   lru.New(refusalSources),
		global:    rate.NewLimiter(global, globalBurst),
		perSource: perSource,
		burst:     burst,
	}
}

// allow reports whether a refusal from source may be audited now.
func (l *refusalLimiter) allow(source string, now time.Time) bool {
	var limiter *rate.Limiter
	if v, ok := l.sources.Get(source); ok {
		limiter = v.(*rate.Limiter)
	} else {
		limiter = rate.NewLimiter(l.perSource, l.burst)
		l.sources.Add(source, limiter)
	}
	// The source's token is spent first, so that one source's flood does
	// not use up what the others may write.
	return limiter.AllowN(now, 1) && l.global.AllowN(now, 1)
}

// clientAddress is the address a request came from, as the connection
// shows it; forwarding headers are not trusted.
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// sourceKey is the source a refusal is limited by: the IPv4 address, or
// the /64 of an IPv6 address (one host usually holds a whole /64).
func sourceKey(address string) string {
	ip, err := netip.ParseAddr(address)
	if err != nil {
		return address
	}
	ip = ip.Unmap()
	if ip.Is6() {
		prefix, _ := ip.Prefix(64)
		return prefix.String()
	}
	return ip.String()
}

// refusalWriter holds back an answer of status 400 or more until the
// refusal is audited, so that the audit event is written before the caller
// sees the answer. Handlers note on it who the caller is and why they
// refused.
type refusalWriter struct {
	http.ResponseWriter
	status int
	held   bool
	body   bytes.Buffer
	// caller is the authenticated caller, when known.
	caller *identity.Caller
	// reason is the diagnostics of the refusal's OperationOutcome.
	reason string
	// audited is true when the answer is a decision already audited.
	audited bool
}

// WriteHeader holds back a refusal and passes on anything else.
func (w *refusalWriter) WriteHeader(status int) {
	if w.status != 0 {
		return
	}
	w.status = status
	if status >= http.StatusBadRequest {
		w.held = true
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

// Write holds back the body of a refusal, up to maxHeldBody.
func (w *refusalWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.held {
		return w.ResponseWriter.Write(p)
	}
	if w.body.Len()+len(p) > maxHeldBody {
		w.release()
		return w.ResponseWriter.Write(p)
	}
	return w.body.Write(p)
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *refusalWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// release sends a held refusal.
func (w *refusalWriter) release() {
	if !w.held {
		return
	}
	w.held = false
	w.ResponseWriter.WriteHeader(w.status)
	_, _ = w.ResponseWriter.Write(w.body.Bytes())
	w.body.Reset()
}

// noteCaller records the authenticated caller of a request, for the audit
// of its refusal.
func noteCaller(w http.ResponseWriter, c identity.Caller) {
	if rw, ok := w.(*refusalWriter); ok {
		rw.caller = &c
	}
}

// noteRefusal records why a request is refused.
func noteRefusal(w http.ResponseWriter, reason string) {
	if rw, ok := w.(*refusalWriter); ok {
		rw.reason = reason
	}
}

// noteAudited records that an answer is a decision that is audited
// already, or an audit failure that cannot be.
func noteAudited(w http.ResponseWriter) {
	if rw, ok := w.(*refusalWriter); ok {
		rw.audited = true
	}
}

// auditRefusals audits every answer of status 400 or more that is not an
// audited decision: one AuditEvent each, rate-limited per source. The
// answer goes out whether or not its audit event could be written, so that
// refusals never become a way to make the gateway refuse others.
func (g *Gateway) auditRefusals(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && (r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics") {
			next.ServeHTTP(w, r)
			return
		}
		rw := &refusalWriter{ResponseWriter: w}
		defer rw.release()
		next.ServeHTTP(rw, r)
		if rw.held && !rw.audited {
			g.auditRefusal(r, rw)
		}
	})
}

// auditRefusal writes the audit event of a refused request, unless its
// source has used up its share.
func (g *Gateway) auditRefusal(r *http.Request, rw *refusalWriter) {
	now := time.Now()
	address := clientAddress(r)
	if !g.refusals.allow(sourceKey(address), now) {
		g.metrics.refusalAuditDrops.WithLabelValues("rate-limited").Inc()
		return
	}
	reason := rw.reason
	if reason == "" {
		reason = http.StatusText(rw.status)
	}
	record := auditRecord{
		id: uuid.NewString(), class: auditRefusal, status: rw.status, reason: reason, method: r.Method,
		query: auditedTarget(r), network: address, region: g.cfg.Region, observer: g.observer, at: now,
	}
	if rw.caller != nil {
		record.caller = *rw.caller
	} else {
		record.anonymous = true
	}
	events := newAuditLines(1)
	defer events.release()
	events.add(record)
	if err := g.audit.write(events); err != nil {
		g.metrics.refusalAuditDrops.WithLabelValues("write-failed").Inc()
		g.log.Error("Audit event of a refused request not written; refusal sent", "status", rw.status, "error", err)
	}
}

// auditedTarget is a refused request's method and target as its audit
// event records them, at most maxAuditedTarget bytes, with the values of
// query parameters that may carry a credential (their names hold "token",
// "secret" or "password") left out.
func auditedTarget(r *http.Request) string {
	target := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		parts := strings.Split(r.URL.RawQuery, "&")
		for i, part := range parts {
			name, _, _ := strings.Cut(part, "=")
			if unescaped, err := url.QueryUnescape(name); err == nil {
				name = unescaped
			}
			name = strings.ToLower(name)
			if strings.Contains(name, "token") || strings.Contains(name, "secret") || strings.Contains(name, "password") {
				parts[i], _, _ = strings.Cut(part, "=")
				parts[i] += "=(removed)"
			}
		}
		target += "?" + strings.Join(parts, "&")
	}
	target = r.Method + " " + target
	if len(target) > maxAuditedTarget {
		target = target[:maxAuditedTarget]
	}
	return target
}
