/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// searchBundle is a search or history Bundle with the elements the gateway
// passes on. total is left out: after filtering it would count what the
// caller may not see.
type searchBundle struct {
	ResourceType string          `json:"resourceType"`
	ID           string          `json:"id,omitempty"`
	Meta         json.RawMessage `json:"meta,omitempty"`
	Type         string          `json:"type"`
	Timestamp    string          `json:"timestamp,omitempty"`
	Link         []bundleLink    `json:"link,omitempty"`
	Entry        []bundleEntry   `json:"entry,omitempty"`
}

type bundleLink struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

type bundleEntry struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource json.RawMessage `json:"resource,omitempty"`
	Search   json.RawMessage `json:"search,omitempty"`
	Request  json.RawMessage `json:"request,omitempty"`
	Response json.RawMessage `json:"response,omitempty"`
}

// filterBundle keeps the entries of a search or history Bundle that the
// caller may see, each decided and audited on its own, all under one view.
// Entries without a resource (deleted versions, outcomes) are removed.
// Links and full URLs that point at the record service are rewritten to the
// gateway, or removed when they are not interactions the gateway serves.
func (g *Gateway) filterBundle(r *http.Request, c Caller, kind Kind, body []byte) ([]byte, error) {
	var b searchBundle
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, fmt.Errorf("the record service's Bundle is not valid JSON: %w", err)
	}
	if b.ResourceType != "Bundle" || (b.Type != "searchset" && b.Type != "history") {
		return nil, fmt.Errorf("the record service answered with a %s of type %q, not a searchset or history Bundle", b.ResourceType, b.Type)
	}
	links := linkRewriter{upstream: g.cfg.Upstream, gateway: gatewayBase(r)}
	view := g.currentView()
	kept := make([]bundleEntry, 0, len(b.Entry))
	for _, entry := range b.Entry {
		if !isResource(entry.Resource) {
			continue
		}
		allowed, err := g.decideEntry(view, c, kind, entry.Resource)
		if err != nil {
			return nil, err
		}
		if allowed {
			entry.FullURL = links.fullURL(entry.FullURL)
			kept = append(kept, entry)
		}
	}
	b.Entry = kept
	b.Link = links.links(b.Link)
	return json.Marshal(b)
}

func isResource(raw json.RawMessage) bool {
	return len(raw) > 0 && raw[0] == '{'
}

// decideEntry decides on one Bundle entry. An OperationOutcome (a search's
// warnings) is not data and is removed without a decision.
func (g *Gateway) decideEntry(v view, c Caller, kind Kind, resource json.RawMessage) (bool, error) {
	facts, err := inspect(resource)
	if err != nil {
		facts = resourceFacts{Unshareable: "the resource cannot be decided on: " + err.Error()}
	}
	if facts.ResourceType == "OperationOutcome" {
		return false, nil
	}
	verdict, err := g.decide(v, c, kind, facts)
	return verdict.Allow, err
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
func (l linkRewriter) fullURL(raw string) string {
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
