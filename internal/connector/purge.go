/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// PurgeOptions say whose records of which categories Purge removes.
type PurgeOptions struct {
	// RecordService is the record service's FHIR base URL.
	RecordService string
	// ODSCode is the organisation whose records are removed: only records
	// with its provenance tag are ever matched.
	ODSCode string
	// Categories are the data categories whose records are removed.
	Categories []string
	// Client makes the calls; a client with a one-minute timeout when nil.
	Client *http.Client
	// PageSize is how many records are searched for and removed at a time;
	// 100 when zero.
	PageSize int
}

// PurgeResult is what a purge removed, by category. It holds counts only:
// never an identifier.
type PurgeResult struct {
	Removed map[string]int
}

// Total is the number of records removed.
func (r PurgeResult) Total() int {
	n := 0
	for _, v := range r.Removed {
		n += v
	}
	return n
}

// Purge removes from the record service every record the organisation
// provided in the categories: for each type (and, for Encounter, class) of
// each category it searches the records carrying the organisation's
// provenance tag and removes them by conditional delete guarded by that
// tag, then expunges them, until the search finds none. Records of other
// organisations never match. It is idempotent: run again, it finds nothing.
func Purge(ctx context.Context, opts PurgeOptions) (PurgeResult, error) {
	if !odsCodePattern.MatchString(opts.ODSCode) {
		return PurgeResult{}, fmt.Errorf("purge: ODS code %q must be 3 to 6 upper-case letters and digits", opts.ODSCode)
	}
	if err := checkURL("recordService", opts.RecordService, "http", "https"); err != nil {
		return PurgeResult{}, fmt.Errorf("purge: %w", err)
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: time.Minute, CheckRedirect: noRedirects}
	}
	if opts.PageSize <= 0 || opts.PageSize > maxPageSize {
		opts.PageSize = 100
	}
	rs := &target{name: targetNames[kindRecordService], kind: kindRecordService, client: opts.Client,
		breaker: &breaker{policy: BreakerPolicy{Failures: 5, Cooldown: time.Minute}},
		retry:   RetryPolicy{Attempts: 3, BaseDelay: 500 * time.Millisecond, MaxDelay: 5 * time.Second, MaxRetryAfter: 30 * time.Second},
		clock:   realClock{}, log: slog.New(slog.DiscardHandler)}
	result := PurgeResult{Removed: map[string]int{}}
	categories := slices.Clone(opts.Categories)
	slices.Sort(categories)
	for _, category := range slices.Compact(categories) {
		result.Removed[category] = 0
		for _, f := range feedsFor([]string{category}) {
			n, err := purgeFeed(ctx, rs, opts, f)
			result.Removed[category] += n
			if err != nil {
				return result, fmt.Errorf("purging %s (%s) of %s: %w", category, f.Key(), opts.ODSCode, err)
			}
		}
	}
	return result, nil
}

// purgeFeed removes the organisation's records of one feed: search the
// first page, remove what it names, and search again until nothing is
// left. A search that names again a record already removed means the
// removal did not take; it fails rather than loop.
func purgeFeed(ctx context.Context, rs *target, opts PurgeOptions, f feed) (int, error) {
	removed := 0
	named := map[string]bool{}
	for {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		ids, err := searchOwnRecords(ctx, rs, opts, f)
		if err != nil {
			return removed, err
		}
		if len(ids) == 0 {
			return removed, nil
		}
		refs := make([]recordRef, 0, len(ids))
		for _, id := range ids {
			if named[id] {
				return removed, withKind(kindRecordService, fmt.Errorf("the record service still holds a %s record after removing it", f.ResourceType))
			}
			named[id] = true
			refs = append(refs, recordRef{ResourceType: f.ResourceType, ID: id})
		}
		n, err := removeRecords(ctx, rs, opts.RecordService, opts.ODSCode, refs)
		removed += n
		if err != nil {
			return removed, err
		}
	}
}

// searchOwnRecords is the ids of the first page of the organisation's
// records of a feed.
func searchOwnRecords(ctx context.Context, rs *target, opts PurgeOptions, f feed) ([]string, error) {
	q := url.Values{}
	q.Set("_tag", SystemODS+"|"+opts.ODSCode)
	if f.Class != "" {
		q.Set("class", f.Class)
	}
	q.Set("_elements", "id")
	q.Set("_count", strconv.Itoa(opts.PageSize))
	u := strings.TrimSuffix(opts.RecordService, "/") + "/" + f.ResourceType + "?" + q.Encode()
	body, err := rs.getFHIR(ctx, u)
	if err != nil {
		return nil, err
	}
	var b searchBundle
	if err := json.Unmarshal(body, &b); err != nil || b.ResourceType != "Bundle" || b.Type != "searchset" {
		return nil, withKind(kindRecordService, fmt.Errorf("the record service did not answer the search for %s with a searchset Bundle (%s)", f.Key(), prefix(body, 80)))
	}
	var ids []string
	for i, e := range b.Entry {
		if e.Search.Mode != "" && e.Search.Mode != "match" {
			continue
		}
		var r struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
		}
		if err := json.Unmarshal(e.Resource, &r); err != nil || r.ResourceType != f.ResourceType || !fhirIDPattern.MatchString(r.ID) {
			return nil, withKind(kindRecordService, fmt.Errorf("entry[%d] of the search for %s is not a %s with an id", i, f.Key(), f.ResourceType))
		}
		ids = append(ids, r.ID)
	}
	return ids, nil
}

// PurgeAuditEvent is the FHIR R4 AuditEvent that records a purge: who
// (the operator), whose records (the organisation's ODS code), which
// categories and how many records of each. It names no patient and no
// record.
func PurgeAuditEvent(odsCode, reason string, result PurgeResult, failure error, at time.Time) map[string]any {
	outcome, desc := "0", "purged"
	if failure != nil {
		outcome, desc = "8", "purge failed"
	}
	var details []any
	categories := make([]string, 0, len(result.Removed))
	for c := range result.Removed {
		categories = append(categories, c)
	}
	slices.Sort(categories)
	for _, c := range categories {
		details = append(details, map[string]any{"type": "removed:" + c, "valueString": strconv.Itoa(result.Removed[c])})
	}
	return map[string]any{
		"resourceType": "AuditEvent",
		"type": map[string]any{"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest",
			"display": "RESTful Operation"},
		"subtype":        []any{map[string]any{"system": "http://hl7.org/fhir/restful-interaction", "code": "delete", "display": "delete"}},
		"action":         "D",
		"recorded":       at.UTC().Format(time.RFC3339),
		"outcome":        outcome,
		"outcomeDesc":    desc,
		"purposeOfEvent": []any{map[string]any{"text": reason}},
		"agent": []any{map[string]any{"requestor": true, "who": map[string]any{"display": "shcr-operator"},
			"type": map[string]any{"text": "the operator, removing records outside the organisation's scope"}}},
		"source": map[string]any{"observer": map[string]any{"display": "shcr-operator"}},
		"entity": []any{map[string]any{
			"what":        map[string]any{"identifier": map[string]any{"system": SystemODS, "value": odsCode}},
			"description": "records the organisation provided in the categories it may no longer provide",
			"detail":      details,
		}},
	}
}

// WriteAuditEvent POSTs an AuditEvent to the record service.
func WriteAuditEvent(ctx context.Context, client *http.Client, recordService string, event map[string]any) error {
	data, err := json.Marshal(event)
	if err != nil {
		return fmt.Errorf("encoding the AuditEvent: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(recordService, "/")+"/AuditEvent", bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("building the AuditEvent request: %w", err)
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	if client == nil {
		client = &http.Client{Timeout: time.Minute, CheckRedirect: noRedirects}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("writing the AuditEvent to the record service: %w", err)
	}
	defer resp.Body.Close() //nolint:errcheck // read-only body
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the record service answered %d to the AuditEvent", resp.StatusCode)
	}
	return nil
}
