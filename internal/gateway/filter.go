/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/shcr-io/shcr-operator/internal/gateway/identity"
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
// caller may see, all decided under one view and audited in one write
// that starts with the query's own event (queryRecord).
// Entries without a resource (deleted versions, outcomes) are removed. An
// entry of a search or search page that holds patient data but is not
// about the patient the search names is withheld, whatever the record
// service made of the search. Links and full URLs that point at the record
// service are rewritten to the gateway's external URL, or removed when
// they are not interactions the gateway serves or would tell that entries
// were withheld (see pageLinks).
//
// The answer is encoded into buf (from answerBodies) when it fits; the
// caller puts buf back once the answer is written.
func (g *Gateway) filterBundle(c identity.Caller, in Interaction, body []byte, buf *[]byte) ([]byte, error) {
	v, now := g.currentView(), time.Now()
	query := g.queryRecord(c, in, v.policy, now)
	b, decided, facts, err := readBundle(in, body)
	if err != nil {
		// Nothing is decided on, but the query is still recorded.
		return nil, errors.Join(err, g.writeQuery(query))
	}
	lent := verdictSlices.Get().(*[]verdict)
	defer func() {
		clear(*lent) // hold no decision's strings while pooled
		verdictSlices.Put(lent)
	}()
	verdicts, err := g.decideAfter(v, c, in.Kind, &query, now, facts, *lent)
	if err != nil {
		return nil, err
	}
	if cap(verdicts) <= maxPooledVerdicts {
		*lent = verdicts[:cap(verdicts)]
	}
	links := newLinkRewriter(g.cfg.Upstream, g.cfg.ExternalURL)
	b.Entry = decided[:0]
	for i, entry := range decided {
		if verdicts[i].Allow {
			entry.FullURL = links.fullURL(entry.FullURL)
			b.Entry = append(b.Entry, entry)
		}
	}
	b.Link = links.pageLinks(in, b.Link, len(b.Entry))
	return b.encodeTo(buf)
}

// verdictSlices keeps the verdicts of a page for the next page's: about
// 7 kB for a page of 20 entries, and nothing of them is kept once the
// filtered Bundle is written.
var verdictSlices = sync.Pool{New: func() any { return new([]verdict) }}

// maxPooledVerdicts bounds the verdict slices kept for reuse.
const maxPooledVerdicts = 100

// readBundle reads a search or history Bundle and gives the entries to
// decide on, moved to the front of b.Entry, with their facts. Entries of
// an OperationOutcome (a search's warnings) are not data and are left out
// without a decision. A Bundle that is not a searchset or history, or that
// holds more resources than the page size the gateway asked for, is not
// usable: the record service did not answer what was asked. Labels on the
// Bundle itself apply to every entry.
func readBundle(in Interaction, body []byte) (searchBundle, []bundleEntry, []resourceFacts, error) {
	b, err := decodeSearchBundle(body)
	if err != nil {
		return b, nil, nil, fmt.Errorf("the record service's Bundle is not valid JSON: %w", err)
	}
	if b.ResourceType != "Bundle" || (b.Type != "searchset" && b.Type != "history") {
		return b, nil, nil, fmt.Errorf("the record service answered with a %s of type %q, not a searchset or history Bundle", b.ResourceType, b.Type)
	}
	labels, err := bundleLabels(b.Meta)
	if err != nil {
		return b, nil, nil, err
	}
	decided := b.Entry[:0]
	facts := make([]resourceFacts, 0, len(b.Entry))
	for _, entry := range b.Entry {
		if isResource(entry.Resource) && entry.facts.ResourceType != "OperationOutcome" {
			f := scoped(in, entry.facts)
			if len(labels) > 0 {
				f.Labels = appendNew(slices.Clone(f.Labels), labels...)
			}
			decided, facts = append(decided, entry), append(facts, f)
		}
	}
	if size := pageSize(in); size > 0 && len(decided) > size {
		return b, nil, nil, fmt.Errorf("the record service answered with %d resources, more than the page of %d asked for", len(decided), size)
	}
	return b, decided, facts, nil
}

// bundleLabels are the security labels of a Bundle's own meta, read as a
// resource's are: a Bundle labelled restricted makes every entry so.
func bundleLabels(meta jsontext.Value) ([]string, error) {
	switch {
	case len(meta) == 0:
		return nil, nil
	case meta[0] != '{':
		return nil, errors.New("the record service's Bundle has a meta that is not an object")
	case !containsFold(meta, securityBytes):
		return nil, nil
	}
	facts, err := inspect(append(append([]byte(`{"resourceType":"Bundle","meta":`), meta...), '}'))
	if err != nil {
		return nil, fmt.Errorf("the record service's Bundle has a meta that cannot be read: %w", err)
	}
	return facts.Labels, nil
}

// containsFold reports whether b holds s in any case.
func containsFold(b, s []byte) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if bytes.EqualFold(b[i:i+len(s)], s) {
			return true
		}
	}
	return false
}

var securityBytes = []byte("security")

// scoped withholds, in a search or search page, a resource that holds
// patient data and is not about the patient the search names (every such
// resource when it names none). Clinical contacts (which carry no patient)
// are not about patients.
func scoped(in Interaction, f resourceFacts) resourceFacts {
	if in.Kind != KindSearch && in.Kind != KindSearchPage {
		return f
	}
	// Without a patient, the resource is denied anyway (decide says why).
	if f.Unshareable != "" || len(f.Patients) == 0 {
		return f
	}
	if in.Patient == "" || !slices.Contains(f.Patients, in.Patient) {
		f.Unshareable = "the resource is not about the one patient the search was scoped to"
	}
	return f
}

func isResource(raw jsontext.Value) bool {
	return len(raw) > 0 && raw[0] == '{'
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

// pageRelations are the link relations passed on. last is not: with
// withheld entries it would tell how many there were.
var pageRelations = []string{"self", "first", "previous", "prev", "next"}

// pageLinks keeps the links that rewrite to a search, search page or
// history the gateway serves, scoped to the same patient; every other link
// is removed. So that links never tell whether entries were withheld, a
// page continues (next) only when it is full: it holds as many entries as
// the page size asked of the record service. A page that lost entries to
// the policy therefore looks exactly like the last page of a shorter
// search, and an empty page never has a next link. A next or previous link
// that leads back to this page is removed, so that clients never loop.
func (l linkRewriter) pageLinks(in Interaction, links []bundleLink, entries int) []bundleLink {
	current := l.interactionLink(in)
	self := current
	for _, link := range links {
		if link.Relation == "self" {
			if rewritten, ok := l.interactionURL(in, link.URL); ok {
				self = rewritten
			}
		}
	}
	full := entries > 0 && entries >= pageSize(in)
	var kept []bundleLink
	for _, link := range links {
		if !slices.Contains(pageRelations, link.Relation) {
			continue
		}
		rewritten, ok := l.interactionURL(in, link.URL)
		switch {
		case !ok:
		case link.Relation == "next" && !full:
		case link.Relation != "self" && (rewritten == self || rewritten == current):
		default:
			kept = append(kept, bundleLink{Relation: link.Relation, URL: rewritten})
		}
	}
	return kept
}

// pageSize is the _count of an interaction, which the gateway always sets
// before calling the record service; 0 when absent.
func pageSize(in Interaction) int {
	n, _ := strconv.Atoi(in.Query.Get("_count"))
	return n
}

// interactionLink is the gateway's URL of an interaction.
func (l linkRewriter) interactionLink(in Interaction) string {
	target := l.gateway.JoinPath(in.Path())
	target.RawQuery = in.LinkQuery().Encode()
	return target.String()
}

// interactionURL rewrites a record service link to the gateway when it is
// a search, search page or history the gateway serves for the same patient
// as in. A search page link carries the patient of the search.
func (l linkRewriter) interactionURL(in Interaction, raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", false
	}
	rel, ok := l.relative(u)
	if !ok {
		return "", false
	}
	target, err := ParseRequest(http.MethodGet, rel, u.RawQuery)
	if err != nil {
		return "", false
	}
	switch target.Kind {
	case KindSearchPage:
		if target.Patient != "" && target.Patient != in.Patient {
			return "", false
		}
		target.Patient = in.Patient
	case KindSearch:
		if target.Patient != in.Patient {
			return "", false
		}
	case KindHistory:
	default:
		return "", false
	}
	return l.interactionLink(target), true
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
