/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// searchBundle is a search or history Bundle with the elements the gateway
// passes on. total is left out: after filtering it would count what the
// caller may not see.
type searchBundle struct {
	ResourceType string         `json:"resourceType"`
	ID           string         `json:"id,omitempty"`
	Meta         jsontext.Value `json:"meta,omitzero"`
	Type         string         `json:"type"`
	Timestamp    string         `json:"timestamp,omitempty"`
	Link         []bundleLink   `json:"link,omitempty"`
	// Entry is decoded and encoded by hand, so that each resource is read
	// once and passed on as it came.
	Entry []bundleEntry `json:"-"`
}

type bundleLink struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

// bundleEntry is one entry of a searchBundle.
type bundleEntry struct {
	FullURL string
	// Resource is the resource as the record service sent it, and facts
	// what the gateway read from it.
	Resource jsontext.Value
	facts    resourceFacts
	Search   jsontext.Value
	Request  jsontext.Value
	Response jsontext.Value
}

// filterBundle keeps the entries of a search or history Bundle that the
// caller may see, all decided under one view and audited in one write.
// Entries without a resource (deleted versions, outcomes) are removed.
// Links and full URLs that point at the record service are rewritten to the
// gateway, or removed when they are not interactions the gateway serves.
func (g *Gateway) filterBundle(r *http.Request, c Caller, kind Kind, body []byte) ([]byte, error) {
	b, err := decodeSearchBundle(body)
	if err != nil {
		return nil, fmt.Errorf("the record service's Bundle is not valid JSON: %w", err)
	}
	if b.ResourceType != "Bundle" || (b.Type != "searchset" && b.Type != "history") {
		return nil, fmt.Errorf("the record service answered with a %s of type %q, not a searchset or history Bundle", b.ResourceType, b.Type)
	}
	// The entries to decide on, moved to the front of b.Entry.
	decided := b.Entry[:0]
	facts := make([]resourceFacts, 0, len(b.Entry))
	for _, entry := range b.Entry {
		// An OperationOutcome (a search's warnings) is not data and is
		// removed without a decision.
		if isResource(entry.Resource) && entry.facts.ResourceType != "OperationOutcome" {
			decided, facts = append(decided, entry), append(facts, entry.facts)
		}
	}
	verdicts, err := g.decide(g.currentView(), c, kind, facts...)
	if err != nil {
		return nil, err
	}
	links := newLinkRewriter(g.cfg.Upstream, gatewayBase(r))
	b.Entry = decided[:0]
	for i, entry := range decided {
		if verdicts[i].Allow {
			entry.FullURL = links.fullURL(entry.FullURL)
			b.Entry = append(b.Entry, entry)
		}
	}
	b.Link = links.links(b.Link)
	return b.encode()
}

func isResource(raw jsontext.Value) bool {
	return len(raw) > 0 && raw[0] == '{'
}

// gatewayBase is the gateway's FHIR base as the caller reached it.
func gatewayBase(r *http.Request) *url.URL {
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return &url.URL{Scheme: scheme, Host: r.Host, Path: "/"}
}

// linkRewriter turns record service URLs into gateway URLs.
type linkRewriter struct {
	upstream, gateway *url.URL
	// upstreamPrefix and gatewayPrefix are the two bases as text, each
	// ending with a slash.
	upstreamPrefix, gatewayPrefix string
}

func newLinkRewriter(upstream, gateway *url.URL) linkRewriter {
	return linkRewriter{
		upstream:       upstream,
		gateway:        gateway,
		upstreamPrefix: strings.TrimSuffix(upstream.String(), "/") + "/",
		gatewayPrefix:  strings.TrimSuffix(gateway.String(), "/") + "/",
	}
}

// links keeps the links that rewrite to a search, search page or history
// the gateway serves; every other link is removed.
func (l linkRewriter) links(links []bundleLink) []bundleLink {
	var kept []bundleLink
	for _, link := range links {
		if rewritten, ok := l.interactionURL(link.URL); ok {
			kept = append(kept, bundleLink{Relation: link.Relation, URL: rewritten})
		}
	}
	return kept
}

func (l linkRewriter) interactionURL(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", false
	}
	rel, ok := l.relative(u)
	if !ok {
		return "", false
	}
	in, err := ParseRequest(http.MethodGet, rel, u.RawQuery)
	if err != nil || (in.Kind != KindSearch && in.Kind != KindSearchPage && in.Kind != KindHistory) {
		return "", false
	}
	target := l.gateway.JoinPath(in.Path())
	target.RawQuery = in.Query.Encode()
	return target.String(), true
}

// fullURL rewrites an entry's fullUrl that points at the record service.
// The usual fullUrl, the record service's base followed by a plain path,
// is rewritten without parsing it; the result is the same.
func (l linkRewriter) fullURL(raw string) string {
	if rest, ok := strings.CutPrefix(raw, l.upstreamPrefix); ok && plainPath(rest) {
		return l.gatewayPrefix + rest
	}
	return l.parsedFullURL(raw)
}

// plainPath reports whether path is non-empty segments of letters, digits,
// '-' and '.', other than "." and "..": a path that needs no escaping and
// that joining does not change.
func plainPath(path string) bool {
	for segment := range strings.SplitSeq(path, "/") {
		if segment == "" || segment == "." || segment == ".." {
			return false
		}
		for i := range len(segment) {
			c := segment[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
				return false
			}
		}
	}
	return true
}

// parsedFullURL is fullURL for any URL.
func (l linkRewriter) parsedFullURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	rel, ok := l.relative(u)
	if !ok {
		return raw
	}
	return l.gateway.JoinPath(rel).String()
}

// relative is the escaped path of u below the record service's base, when u
// points there.
func (l linkRewriter) relative(u *url.URL) (string, bool) {
	if u.Scheme != l.upstream.Scheme || u.Host != l.upstream.Host {
		return "", false
	}
	path, base := u.EscapedPath(), l.upstream.EscapedPath()
	if path != base && !strings.HasPrefix(path, base+"/") {
		return "", false
	}
	return "/" + strings.TrimPrefix(strings.TrimPrefix(path, base), "/"), true
}
