/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// fhirIDPattern is the form of a FHIR R4 logical id.
var fhirIDPattern = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

// searchBundle is the part of a searchset Bundle the connector reads.
type searchBundle struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Link         []struct {
		Relation string `json:"relation"`
		URL      string `json:"url"`
	} `json:"link"`
	Entry []struct {
		Resource json.RawMessage `json:"resource"`
		Search   struct {
			Mode string `json:"mode"`
		} `json:"search"`
	} `json:"entry"`
}

// sourceResource is one search match, as the organisation's system holds it.
type sourceResource struct {
	ResourceType string
	ID           string
	VersionID    string
	LastUpdated  time.Time
	// LastUpdatedText is meta.lastUpdated as the source wrote it, kept to
	// search from with the source's own precision.
	LastUpdatedText string
	// Class is Encounter.class.code; empty for other types.
	Class string
	Body  map[string]any
}

// deliveryKey names one version of a resource among those last updated at
// the same instant.
func (r sourceResource) deliveryKey() string {
	return r.ID + "|" + r.VersionID
}

// searchPage is a page of search results that passed every check.
type searchPage struct {
	// Matches are the resources of the searched type, in the source's order.
	Matches []sourceResource
	// Others are the types of the other entries (included resources and
	// outcomes): never forwarded.
	Others []string
	// Next is the URL of the next page; empty on the last page.
	Next string
}

// pageBounds are what a page must respect to be resumable: nothing last
// updated before floor (the search bound, then the newest instant of the
// pages before), and links only to the endpoint.
type pageBounds struct {
	Feed     feed
	Floor    time.Time
	Endpoint *url.URL
}

// parsePage reads and checks a whole page of search results. Any problem
// rejects the whole page, so nothing of a page the connector cannot read
// is written.
func parsePage(data []byte, bounds pageBounds) (searchPage, error) {
	var b searchBundle
	if err := json.Unmarshal(data, &b); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return searchPage{}, fmt.Errorf("the answer is not JSON (it starts %q)", prefix(data, 40))
		}
		return searchPage{}, fmt.Errorf("the answer is not a FHIR Bundle: %w", err)
	}
	if b.ResourceType != "Bundle" {
		return searchPage{}, fmt.Errorf("resourceType is %q, not \"Bundle\"%s", b.ResourceType, outcomeSuffix(data))
	}
	if b.Type != "searchset" {
		return searchPage{}, fmt.Errorf("the Bundle type is %q, not \"searchset\"", b.Type)
	}
	page := searchPage{}
	floor := bounds.Floor
	for i, e := range b.Entry {
		r, err := decodeEntry(e.Resource)
		if err != nil {
			return searchPage{}, fmt.Errorf("entry[%d]: %w", i, err)
		}
		if e.Search.Mode != "" && e.Search.Mode != "match" {
			page.Others = append(page.Others, r.ResourceType)
			continue
		}
		if err := checkMatch(&r, bounds.Feed, floor); err != nil {
			return searchPage{}, fmt.Errorf("entry[%d]: %w", i, err)
		}
		floor = r.LastUpdated
		page.Matches = append(page.Matches, r)
	}
	next, err := nextLink(b, bounds.Endpoint)
	if err != nil {
		return searchPage{}, err
	}
	page.Next = next
	return page, nil
}

// decodeEntry reads an entry's resource and the fields the connector needs.
func decodeEntry(raw json.RawMessage) (sourceResource, error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return sourceResource{}, errors.New("the entry has no resource")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep decimals exactly as written
	var body map[string]any
	if err := dec.Decode(&body); err != nil {
		return sourceResource{}, errors.New("the resource is not a JSON object")
	}
	r := sourceResource{Body: body}
	r.ResourceType, _ = body["resourceType"].(string)
	if r.ResourceType == "" {
		return sourceResource{}, errors.New("the resource has no resourceType")
	}
	r.ID, _ = body["id"].(string)
	meta, _ := body["meta"].(map[string]any)
	r.VersionID, _ = meta["versionId"].(string)
	r.LastUpdatedText, _ = meta["lastUpdated"].(string)
	class, _ := body["class"].(map[string]any)
	r.Class, _ = class["code"].(string)
	return r, nil
}

// checkMatch checks a search match: of the searched type, with an id, and
// last updated no earlier than floor, so that the watermark can advance
// past it. It sets r.LastUpdated.
func checkMatch(r *sourceResource, f feed, floor time.Time) error {
	if r.ResourceType != f.ResourceType {
		return fmt.Errorf("a %s was returned by a search for %s", r.ResourceType, f.ResourceType)
	}
	if !fhirIDPattern.MatchString(r.ID) {
		return fmt.Errorf("the %s has no valid id (%q)", r.ResourceType, r.ID)
	}
	at, err := time.Parse(time.RFC3339Nano, r.LastUpdatedText)
	if err != nil {
		return fmt.Errorf("%s/%s has no meta.lastUpdated instant (%q); the connector needs it to resume where it stopped",
			r.ResourceType, r.ID, r.LastUpdatedText)
	}
	if at.Before(floor) {
		return fmt.Errorf("%s/%s was last updated at %s, before %s: the source ignored _lastUpdated or _sort=_lastUpdated, without which the connector cannot resume safely",
			r.ResourceType, r.ID, r.LastUpdatedText, floor.UTC().Format(time.RFC3339Nano))
	}
	r.LastUpdated = at
	return nil
}

// nextLink is the page's link with relation next, which must stay on the
// endpoint's scheme and host: the source's credentials go with it.
func nextLink(b searchBundle, endpoint *url.URL) (string, error) {
	for _, l := range b.Link {
		if l.Relation != "next" {
			continue
		}
		u, err := url.Parse(l.URL)
		if err != nil || !u.IsAbs() {
			return "", fmt.Errorf("the next link %q is not an absolute URL", l.URL)
		}
		if u.Scheme != endpoint.Scheme || u.Host != endpoint.Host {
			return "", fmt.Errorf("the next link %q leaves the endpoint %s://%s; the connector sends its credentials only there",
				l.URL, endpoint.Scheme, endpoint.Host)
		}
		return l.URL, nil
	}
	return "", nil
}

// describeBody summarises an error answer: an OperationOutcome's
// diagnostics, or the start of the text.
func describeBody(body []byte) string {
	if diagnostics, ok := outcomeDiagnostics(body); ok {
		return diagnostics
	}
	return prefix(body, 200)
}

// outcomeSuffix is ": <diagnostics>" when data is an OperationOutcome.
func outcomeSuffix(data []byte) string {
	if diagnostics, ok := outcomeDiagnostics(data); ok && diagnostics != "" {
		return ": " + diagnostics
	}
	return ""
}

// outcomeDiagnostics joins the diagnostics of an OperationOutcome; ok is
// false when data is not one.
func outcomeDiagnostics(data []byte) (diagnostics string, ok bool) {
	var outcome struct {
		ResourceType string `json:"resourceType"`
		Issue        []struct {
			Diagnostics string `json:"diagnostics"`
			Details     struct {
				Text string `json:"text"`
			} `json:"details"`
		} `json:"issue"`
	}
	if json.Unmarshal(data, &outcome) != nil || outcome.ResourceType != "OperationOutcome" {
		return "", false
	}
	var texts []string
	for _, issue := range outcome.Issue {
		texts = append(texts, strings.TrimSpace(issue.Diagnostics+" "+issue.Details.Text))
	}
	return strings.Join(texts, "; "), true
}

// prefix is the start of data as printable text, at most n bytes.
func prefix(data []byte, n int) string {
	if len(data) > n {
		data = data[:n]
	}
	if !utf8.Valid(data) {
		return fmt.Sprintf("%d bytes of binary", len(data))
	}
	return strings.TrimSpace(string(data))
}
