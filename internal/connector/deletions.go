/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// historyStateKey is where the deletion watermark of a resource type is
// kept in the state file, beside the feeds' watermarks.
func historyStateKey(resourceType string) string { return "_history/" + resourceType }

// historyBundle is the part of a history Bundle the connector reads.
type historyBundle struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Link         []struct {
		Relation string `json:"relation"`
		URL      string `json:"url"`
	} `json:"link"`
	Entry []struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
		Request  struct {
			Method string `json:"method"`
			URL    string `json:"url"`
		} `json:"request"`
		Response struct {
			LastModified string `json:"lastModified"`
			Etag         string `json:"etag"`
		} `json:"response"`
	} `json:"entry"`
}

// historyEntry is one version in a source's history.
type historyEntry struct {
	ID string
	// Deleted is true for a deletion: request.method DELETE, or no resource.
	Deleted bool
	At      time.Time
	// AtText is the instant as the source wrote it.
	AtText string
	// Version is the version number, 0 when the source does not say.
	Version int
}

// newer reports whether e is a later version than o. At the same instant
// and version a deletion wins: removing a record is the safe side.
func (e historyEntry) newer(o historyEntry) bool {
	switch {
	case !e.At.Equal(o.At):
		return e.At.After(o.At)
	case e.Version != o.Version:
		return e.Version > o.Version
	default:
		return e.Deleted && !o.Deleted
	}
}

// historyPage is a page of a type's history that passed every check.
type historyPage struct {
	Entries []historyEntry
	Next    string
}

// versionPattern finds a version in an ETag (W/"3") or a /_history/3 path.
var (
	etagVersion = regexp.MustCompile(`^W/"([0-9]+)"$`)
	pathVersion = regexp.MustCompile(`/_history/([0-9]+)$`)
)

// parseHistoryPage reads and checks a page of a type's history. Every
// entry must be of the type, name its id and say when it was made, and be
// no earlier than since (the _since asked for); anything else rejects the
// page, and nothing of it is applied.
func parseHistoryPage(data []byte, resourceType string, since time.Time, endpoint *url.URL) (historyPage, error) {
	var b historyBundle
	if err := json.Unmarshal(data, &b); err != nil {
		return historyPage{}, fmt.Errorf("the answer is not a FHIR Bundle (it starts %q)", prefix(data, 40))
	}
	if b.ResourceType != "Bundle" {
		return historyPage{}, fmt.Errorf("resourceType is %q, not \"Bundle\"%s", b.ResourceType, outcomeSuffix(data))
	}
	if b.Type != "history" {
		return historyPage{}, fmt.Errorf("the Bundle type is %q, not \"history\"", b.Type)
	}
	page := historyPage{}
	for i, raw := range b.Entry {
		e, err := readHistoryEntry(raw.Resource, raw.Request.Method, raw.Request.URL, raw.FullURL,
			raw.Response.LastModified, raw.Response.Etag, resourceType)
		if err != nil {
			return historyPage{}, fmt.Errorf("entry[%d]: %w", i, err)
		}
		if !since.IsZero() && e.At.Before(since) {
			return historyPage{}, fmt.Errorf("entry[%d]: %s/%s changed at %s, before _since %s: the source ignored _since",
				i, resourceType, e.ID, e.AtText, since.UTC().Format(time.RFC3339Nano))
		}
		page.Entries = append(page.Entries, e)
	}
	links := searchBundle{Link: b.Link}
	next, err := nextLink(links, endpoint)
	if err != nil {
		return historyPage{}, err
	}
	page.Next = next
	return page, nil
}

// readHistoryEntry reads one history entry.
func readHistoryEntry(resource json.RawMessage, method, requestURL, fullURL, lastModified, etag, resourceType string) (historyEntry, error) {
	e := historyEntry{Deleted: method == http.MethodDelete || len(resource) == 0 || string(resource) == "null"}
	var body struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
		Meta         struct {
			VersionID   string `json:"versionId"`
			LastUpdated string `json:"lastUpdated"`
		} `json:"meta"`
	}
	if !e.Deleted {
		if err := json.Unmarshal(resource, &body); err != nil {
			return e, errors.New("the resource is not a JSON object")
		}
		if body.ResourceType != resourceType {
			return e, fmt.Errorf("a %q version in the history of %s", body.ResourceType, resourceType)
		}
	}
	e.ID = body.ID
	for _, ref := range []string{requestURL, fullURL} {
		if e.ID != "" {
			break
		}
		e.ID = idFromURL(ref, resourceType)
	}
	if !fhirIDPattern.MatchString(e.ID) {
		return e, fmt.Errorf("the entry names no valid %s id (resource.id, request.url or fullUrl)", resourceType)
	}
	e.AtText = lastModified
	if e.AtText == "" {
		e.AtText = body.Meta.LastUpdated
	}
	at, err := time.Parse(time.RFC3339Nano, e.AtText)
	if err != nil {
		return e, fmt.Errorf("%s/%s has no response.lastModified or meta.lastUpdated instant (%q)", resourceType, e.ID, e.AtText)
	}
	e.At = at
	e.Version, _ = strconv.Atoi(body.Meta.VersionID)
	for _, candidate := range []*regexp.Regexp{etagVersion, pathVersion} {
		if e.Version != 0 {
			break
		}
		for _, s := range []string{etag, requestURL, fullURL} {
			if m := candidate.FindStringSubmatch(s); m != nil {
				e.Version, _ = strconv.Atoi(m[1])
				break
			}
		}
	}
	return e, nil
}

// idFromURL is the id in "[base/]Type/id[/_history/n]" when Type is
// resourceType; empty otherwise.
func idFromURL(ref, resourceType string) string {
	ref = pathVersion.ReplaceAllString(ref, "")
	if i := strings.IndexAny(ref, "?#"); i >= 0 {
		ref = ref[:i]
	}
	parts := strings.Split(strings.TrimSuffix(ref, "/"), "/")
	if len(parts) < 2 || parts[len(parts)-2] != resourceType {
		return ""
	}
	return parts[len(parts)-1]
}

// historyTypes are the resource types of the feeds, each once, in order.
func historyTypes(feeds []feed) []string {
	var types []string
	for _, f := range feeds {
		if !slices.Contains(types, f.ResourceType) {
			types = append(types, f.ResourceType)
		}
	}
	return types
}

// syncDeletions reads the history of each type whose feeds all pulled in
// this cycle, and removes from the record service the records whose source
// resource was deleted. It returns each type's error.
func (y *cycle) syncDeletions(ctx context.Context, feeds []feed, failed map[string]bool) []error {
	var errs []error
	for _, t := range historyTypes(feeds) {
		if ctx.Err() != nil || failed[t] {
			continue
		}
		if err := y.syncTypeDeletions(ctx, t); err != nil && (ctx.Err() == nil || !errors.Is(err, ctx.Err())) {
			y.c.metrics.errors.WithLabelValues(errorKind(err)).Inc()
			y.c.log.Error("Deletions failed", "type", t, "error", err.Error())
			errs = append(errs, fmt.Errorf("deletions of %s: %w", t, err))
		}
	}
	return errs
}

// syncTypeDeletions walks a type's history since its deletion watermark,
// keeps the newest version of each resource, removes the records of those
// whose newest version is a deletion, and only then moves the watermark to
// the newest instant read. _since includes its instant, so a version at
// the watermark is read again; removing is idempotent.
func (y *cycle) syncTypeDeletions(ctx context.Context, resourceType string) error {
	key := historyStateKey(resourceType)
	state := y.c.state.feed(key)
	started := y.c.clock.Now()
	since, _ := state.since()
	newest := map[string]historyEntry{}
	var order []string
	latest := historyEntry{At: since, AtText: state.Since}
	next := y.historyURL(resourceType, state.Since)
	for page := 1; next != ""; page++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		body, err := y.source.getFHIR(ctx, next)
		if err != nil {
			return fmt.Errorf("history page %d (GET %s): %w", page, next, err)
		}
		result, err := parseHistoryPage(body, resourceType, since, y.endpoint)
		if err != nil {
			return withKind(kindMalformedPage, fmt.Errorf("history page %d (GET %s): rejected, nothing was removed: %w", page, next, err))
		}
		if result.Next == next {
			return withKind(kindMalformedPage, fmt.Errorf("history page %d (GET %s): the next link repeats the page", page, next))
		}
		for _, e := range result.Entries {
			if old, seen := newest[e.ID]; !seen || e.newer(old) {
				if !seen {
					order = append(order, e.ID)
				}
				newest[e.ID] = e
			}
			if e.At.After(latest.At) || latest.AtText == "" {
				latest = e
			}
		}
		next = result.Next
	}
	var refs []recordRef
	for _, id := range order {
		if newest[id].Deleted {
			refs = append(refs, recordRef{ResourceType: resourceType, ID: recordID(y.cfg.ODSCode, id), Source: resourceType + "/" + id})
		}
	}
	// The records are removed in transactions of at most a page, all
	// before the watermark moves: a stop reads the same history again.
	deleted := 0
	for start := 0; start < len(refs); start += y.c.opts.PageSize {
		n, err := removeRecords(context.WithoutCancel(ctx), y.record, y.cfg.RecordService, y.cfg.ODSCode,
			refs[start:min(start+y.c.opts.PageSize, len(refs))])
		deleted += n
		if err != nil {
			return err
		}
	}
	if deleted > 0 {
		y.c.metrics.deleted.WithLabelValues(resourceType).Add(float64(deleted))
		y.c.log.Info("Removed records deleted at the source", "type", resourceType, "deleted", deleted, "deletions", len(refs))
	}
	state = feedState{Since: latest.AtText, CaughtUpAt: started}
	return withKindIfErr(kindState, y.c.state.put(key, state))
}

// historyURL is the first page of a type's history since the watermark.
func (y *cycle) historyURL(resourceType, since string) string {
	u := y.endpoint.JoinPath(resourceType, "_history")
	q := url.Values{}
	if since != "" {
		q.Set("_since", since)
	}
	q.Set("_count", strconv.Itoa(y.c.opts.PageSize))
	u.RawQuery = q.Encode()
	return u.String()
}
