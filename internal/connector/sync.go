/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// cycle is one pull of every permitted feed, with the configuration and
// credentials read at its start.
type cycle struct {
	c          *Connector
	cfg        Config
	endpoint   *url.URL
	provenance provenance
	source     *target
	record     *target
	transports []*http.Transport
}

func (c *Connector) newCycle(cfg Config, creds credentials) *cycle {
	endpoint, _ := url.Parse(cfg.Endpoint) // checked by LoadConfig
	sourceHTTP, sourceTransport := sourceClient(creds, cfg.TokenEndpoint(), c.opts.RequestTimeout)
	recordHTTP, recordTransport := recordServiceClient(c.opts.RequestTimeout)
	return &cycle{
		c:          c,
		cfg:        cfg,
		endpoint:   endpoint,
		provenance: newProvenance(cfg.ODSCode, cfg.Endpoint),
		source:     c.newTarget(kindSource, sourceHTTP),
		record:     c.newTarget(kindRecordService, recordHTTP),
		transports: []*http.Transport{sourceTransport, recordTransport},
	}
}

func (c *Connector) newTarget(kind string, client *http.Client) *target {
	return &target{name: targetNames[kind], kind: kind, client: client, breaker: c.breakers[kind],
		retry: c.opts.Retry, clock: c.clock, log: c.log}
}

// close releases the cycle's connections.
func (y *cycle) close() {
	for _, t := range y.transports {
		t.CloseIdleConnections()
	}
}

// run pulls every permitted feed in turn and returns their errors. It stops
// between pages once ctx ends.
func (y *cycle) run(ctx context.Context) error {
	var errs []error
	feeds := feedsFor(y.cfg.KnownCategories())
	failed := map[string]bool{}
	for _, f := range feeds {
		if ctx.Err() != nil {
			break
		}
		err := y.pullFeed(ctx, f)
		switch {
		case err == nil:
		case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		default:
			failed[f.ResourceType] = true
			y.c.metrics.errors.WithLabelValues(errorKind(err)).Inc()
			y.c.log.Error("Feed failed", "feed", f.Key(), "error", err.Error())
			errs = append(errs, fmt.Errorf("feed %s: %w", f.Key(), err))
		}
	}
	// Deletions at the source (deletions.go), for the types pulled in full.
	errs = append(errs, y.syncDeletions(ctx, feeds, failed)...)
	return errors.Join(append(errs, ctx.Err())...)
}

// pullFeed delivers what changed in a feed since its watermark, page by
// page. After each page is written the watermark advances in the state
// file, so a stop at any point loses nothing and repeats nothing.
func (y *cycle) pullFeed(ctx context.Context, f feed) error {
	started := y.c.clock.Now()
	state := y.c.state.feed(f.Key())
	from := resumePoint(state)
	floor := from.since
	next := y.searchURL(f, state)
	for page := 1; next != ""; page++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		result, err := y.fetchPage(ctx, next, f, floor)
		if err != nil {
			return fmt.Errorf("page %d (GET %s): %w", page, next, err)
		}
		if result.Next == next {
			return withKind(kindMalformedPage, fmt.Errorf("page %d (GET %s): the next link repeats the page", page, next))
		}
		// A page is written and recorded in full, even when ctx ends now.
		if err := y.deliverPage(context.WithoutCancel(ctx), f, result, from); err != nil {
			return fmt.Errorf("page %d (GET %s): %w", page, next, err)
		}
		if n := len(result.Matches); n > 0 {
			floor = result.Matches[n-1].LastUpdated
		}
		next = result.Next
	}
	state = y.c.state.feed(f.Key())
	state.CaughtUpAt = started
	return withKindIfErr(kindState, y.c.state.put(f.Key(), state))
}

// resume is what a search skips: the resources delivered at the
// watermark instant, which a ge search returns again.
type resume struct {
	since time.Time
	seen  map[string]bool
}

func resumePoint(state feedState) resume {
	since, _ := state.since()
	return resume{since: since, seen: state.seenSet()}
}

// delivered reports whether r was delivered before this search began.
func (r resume) delivered(res sourceResource) bool {
	return res.LastUpdated.Equal(r.since) && r.seen[res.deliveryKey()]
}

// searchURL is the first page of a feed's incremental search: everything
// last updated at or after the watermark, oldest first.
func (y *cycle) searchURL(f feed, state feedState) string {
	u := y.endpoint.JoinPath(f.ResourceType)
	q := url.Values{}
	if state.Since != "" {
		q.Set("_lastUpdated", "ge"+state.Since)
	}
	if f.Class != "" {
		q.Set("class", f.Class)
	}
	q.Set("_sort", "_lastUpdated")
	q.Set("_count", strconv.Itoa(y.c.opts.PageSize))
	u.RawQuery = q.Encode()
	return u.String()
}

// fetchPage gets and checks one page of a search.
func (y *cycle) fetchPage(ctx context.Context, pageURL string, f feed, floor time.Time) (searchPage, error) {
	body, err := y.source.getFHIR(ctx, pageURL)
	if err != nil {
		return searchPage{}, err
	}
	page, err := parsePage(body, pageBounds{Feed: f, Floor: floor, Endpoint: y.endpoint})
	if err != nil {
		return searchPage{}, withKind(kindMalformedPage, fmt.Errorf("rejected the whole page, nothing of it was written: %w", err))
	}
	y.c.metrics.fetched.WithLabelValues(f.ResourceType).Add(float64(len(page.Matches)))
	for _, t := range page.Others {
		y.c.metrics.fetched.WithLabelValues(t).Inc()
	}
	return page, nil
}

// pageTally counts what became of a page's resources.
type pageTally struct {
	forwarded int
	skipped   int
	dropped   map[string]int
}

// deliverPage writes the page's resources in scope as one transaction and
// then advances the feed's watermark past the whole page.
func (y *cycle) deliverPage(ctx context.Context, f feed, page searchPage, from resume) error {
	entries, tally, err := y.records(f, page, from)
	if err != nil {
		return withKind(kindMalformedPage, fmt.Errorf("rejected the whole page, nothing of it was written: %w", err))
	}
	if err := y.write(ctx, entries); err != nil {
		return err
	}
	if err := y.c.state.put(f.Key(), y.c.state.feed(f.Key()).advance(page.Matches)); err != nil {
		return withKind(kindState, err)
	}
	y.count(f, tally)
	return nil
}

// records turns the page's resources in scope into transaction entries.
// Out of scope are other types (included resources, outcomes) and, in a
// class feed, resources of another class.
func (y *cycle) records(f feed, page searchPage, from resume) ([]map[string]any, pageTally, error) {
	tally := pageTally{dropped: map[string]int{}}
	for _, t := range page.Others {
		tally.dropped[t]++
	}
	entries := make([]map[string]any, 0, len(page.Matches))
	for _, r := range page.Matches {
		switch {
		case from.delivered(r):
			tally.skipped++
		case !f.accepts(r.ResourceType, r.Class):
			tally.dropped[r.ResourceType]++
		default:
			entry, err := y.provenance.toRecord(r)
			if err != nil {
				return nil, pageTally{}, err
			}
			entries = append(entries, entry)
		}
	}
	tally.forwarded = len(entries)
	return entries, tally, nil
}

// write sends the entries to the record service as one transaction.
func (y *cycle) write(ctx context.Context, entries []map[string]any) error {
	if len(entries) == 0 {
		return nil
	}
	data, err := encodeTransaction(entries)
	if err != nil {
		return fmt.Errorf("encoding the transaction: %w", err)
	}
	body, err := y.record.postFHIR(ctx, y.cfg.RecordService, data)
	if err != nil {
		return err
	}
	return withKindIfErr(kindRecordService, checkTransactionResponse(body, len(entries)))
}

// count adds a delivered page to the metrics and the status.
func (y *cycle) count(f feed, tally pageTally) {
	y.c.metrics.forwarded.WithLabelValues(f.ResourceType).Add(float64(tally.forwarded))
	y.c.metrics.skipped.WithLabelValues(f.ResourceType).Add(float64(tally.skipped))
	y.c.forwarded.Add(int64(tally.forwarded))
	for t, n := range tally.dropped {
		y.c.metrics.dropped.WithLabelValues(t).Add(float64(n))
		y.c.dropped.Add(int64(n))
	}
}
