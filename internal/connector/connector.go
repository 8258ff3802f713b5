/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package connector carries one organisation's records from its FHIR R4
// system into its region's record service: it pulls what changed since the
// last pull, keeps only the categories the organisation may provide now,
// stamps each resource with its provenance, and writes it idempotently.
// See docs/connector.md.
package connector

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// defaultRetryInterval is the time between cycles while no valid
// configuration has been read.
const defaultRetryInterval = time.Minute

// maxPageSize bounds _count: a page is held in memory and written as one
// transaction.
const maxPageSize = 1000

// Options configure a Connector. Zero values take the defaults of
// DefaultOptions, except the three paths, which are required.
type Options struct {
	// ConfigPath is the configuration file, read again every cycle.
	ConfigPath string
	// CredentialsDir is the mounted credentials Secret, read again every
	// cycle.
	CredentialsDir string
	// StatePath is the file the watermarks are kept in.
	StatePath string
	// PageSize is the _count asked of the source: at most this many
	// resources per page and per transaction.
	PageSize int
	// RequestTimeout bounds each HTTP call.
	RequestTimeout time.Duration
	Retry          RetryPolicy
	Breaker        BreakerPolicy
	Logger         *slog.Logger
	Clock          Clock
}

// DefaultOptions are the defaults of every option but the paths.
func DefaultOptions() Options {
	return Options{
		PageSize:       100,
		RequestTimeout: time.Minute,
		Retry:          RetryPolicy{Attempts: 5, BaseDelay: time.Second, MaxDelay: 30 * time.Second, MaxRetryAfter: 2 * time.Minute},
		Breaker:        BreakerPolicy{Failures: 5, Cooldown: 5 * time.Minute},
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		Clock:          realClock{},
	}
}

// complete fills in the defaults and checks the rest.
func (o Options) complete() (Options, error) {
	d := DefaultOptions()
	if o.ConfigPath == "" || o.CredentialsDir == "" || o.StatePath == "" {
		return o, errors.New("the configuration file, credentials directory and state file must all be set")
	}
	if o.PageSize < 0 || o.PageSize > maxPageSize {
		return o, fmt.Errorf("page size %d must be between 1 and %d", o.PageSize, maxPageSize)
	}
	o.PageSize = cmp.Or(o.PageSize, d.PageSize)
	o.RequestTimeout = cmp.Or(o.RequestTimeout, d.RequestTimeout)
	o.Retry.Attempts = cmp.Or(o.Retry.Attempts, d.Retry.Attempts)
	o.Retry.BaseDelay = cmp.Or(o.Retry.BaseDelay, d.Retry.BaseDelay)
	o.Retry.MaxDelay = cmp.Or(o.Retry.MaxDelay, d.Retry.MaxDelay)
	o.Retry.MaxRetryAfter = cmp.Or(o.Retry.MaxRetryAfter, d.Retry.MaxRetryAfter)
	o.Breaker.Failures = cmp.Or(o.Breaker.Failures, d.Breaker.Failures)
	o.Breaker.Cooldown = cmp.Or(o.Breaker.Cooldown, d.Breaker.Cooldown)
	if o.Logger == nil {
		o.Logger = d.Logger
	}
	if o.Clock == nil {
		o.Clock = d.Clock
	}
	return o, nil
}

// Connector pulls one organisation's records into the record service.
type Connector struct {
	opts    Options
	log     *slog.Logger
	clock   Clock
	state   *stateStore
	metrics *metrics
	// breakers guard the source and the record service across cycles.
	breakers map[string]*breaker

	forwarded atomic.Int64
	dropped   atomic.Int64

	mu sync.Mutex
	// cfg is the configuration last read successfully; cfgErr is why the
	// last read failed, nil when it succeeded.
	cfg         *Config
	cfgErr      error
	lastSuccess time.Time
	lastError   string
}

// New makes a Connector and reads its state file.
func New(opts Options) (*Connector, error) {
	opts, err := opts.complete()
	if err != nil {
		return nil, err
	}
	state, err := openState(opts.StatePath)
	if err != nil {
		return nil, err
	}
	c := &Connector{
		opts:  opts,
		log:   opts.Logger,
		clock: opts.Clock,
		state: state,
		breakers: map[string]*breaker{
			kindSource:        {policy: opts.Breaker},
			kindRecordService: {policy: opts.Breaker},
		},
		cfgErr: errors.New("no cycle has run yet"),
	}
	c.metrics = newMetrics(c.lagMetric, c.circuitMetric)
	return c, nil
}

// Run runs a cycle, waits for the schedule, and repeats until ctx ends.
// A cycle under way when ctx ends finishes the page it is writing.
func (c *Connector) Run(ctx context.Context) error {
	for {
		_ = c.RunCycle(ctx) // logged, counted and reported by RunCycle
		if err := c.clock.Sleep(ctx, c.interval()); err != nil {
			return nil
		}
	}
}

// RunCycle reads the configuration and the credentials again and pulls
// every feed of the categories the organisation may provide now. It
// returns every feed's error; a feed's failure does not stop the others.
func (c *Connector) RunCycle(ctx context.Context) error {
	start := cycleStart{at: c.clock.Now(), forwarded: c.forwarded.Load(), dropped: c.dropped.Load()}
	y, err := c.prepareCycle()
	if err != nil {
		c.metrics.errors.WithLabelValues(errorKind(err)).Inc()
		return c.finishCycle(start, err)
	}
	defer y.close()
	return c.finishCycle(start, y.run(ctx)) // run counts each feed's error
}

// prepareCycle reads the configuration and the credentials and makes sure
// the watermarks belong to the configured endpoint.
func (c *Connector) prepareCycle() (*cycle, error) {
	cfg, err := c.loadConfig()
	if err != nil {
		return nil, err
	}
	creds, err := loadCredentials(c.opts.CredentialsDir)
	if err != nil {
		return nil, withKind(kindCredentials, err)
	}
	reset, err := c.state.useEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, withKind(kindState, err)
	}
	if reset {
		c.log.Info("The endpoint changed: every feed starts again from the beginning", "endpoint", cfg.Endpoint)
	}
	return c.newCycle(cfg, creds), nil
}

// loadConfig reads the configuration and records the outcome.
func (c *Connector) loadConfig() (Config, error) {
	cfg, err := LoadConfig(c.opts.ConfigPath)
	if err == nil && (cfg.Kind != KindFHIR || cfg.Mode == ModePush) {
		err = fmt.Errorf("configuration %s: kind %s with mode %s is not pulled: it is served by a listener (NewHL7, NewFHIRPush)", c.opts.ConfigPath, cfg.Kind, cfg.Mode)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cfgErr = err
	if err != nil {
		return Config{}, withKind(kindConfig, err)
	}
	c.cfg = &cfg
	if unknown := cfg.UnknownCategories(); len(unknown) > 0 {
		c.log.Warn("Not forwarding categories this connector does not know; upgrade the connector image", "categories", unknown)
	}
	return cfg, nil
}

// cycleStart is what a cycle's report is measured from.
type cycleStart struct {
	at                 time.Time
	forwarded, dropped int64
}

// finishCycle reports a cycle's outcome and returns its error.
func (c *Connector) finishCycle(start cycleStart, err error) error {
	now := c.clock.Now()
	attrs := []any{"duration", now.Sub(start.at).String(),
		"forwarded", c.forwarded.Load() - start.forwarded, "dropped", c.dropped.Load() - start.dropped}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err == nil:
		c.lastSuccess, c.lastError = now, ""
		c.metrics.lastSuccess.Set(float64(now.UnixNano()) / 1e9)
		c.log.Info("Cycle finished", attrs...)
	case errors.Is(err, context.Canceled):
		c.log.Info("Cycle stopped", append(attrs, "error", err.Error())...)
	default:
		c.lastError = err.Error()
		c.log.Error("Cycle failed", append(attrs, "error", err.Error())...)
	}
	return err
}

// interval is the time to the next cycle.
func (c *Connector) interval() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg == nil {
		return defaultRetryInterval
	}
	d, _ := c.cfg.Interval() // checked when read
	return d
}

// lag is now minus the oldest position of the permitted feeds; ok is false
// while a permitted feed has no position or no configuration was read.
func (c *Connector) lag(now time.Time) (seconds float64, ok bool) {
	c.mu.Lock()
	cfg := c.cfg
	c.mu.Unlock()
	if cfg == nil {
		return 0, false
	}
	states := c.state.feeds()
	oldest := now
	for _, f := range feedsFor(cfg.KnownCategories()) {
		position, ok := states[f.Key()].position()
		if !ok {
			return 0, false
		}
		if position.Before(oldest) {
			oldest = position
		}
	}
	return now.Sub(oldest).Seconds(), true
}

func (c *Connector) lagMetric() float64 {
	if seconds, ok := c.lag(c.clock.Now()); ok {
		return seconds
	}
	return math.Inf(1)
}

func (c *Connector) circuitMetric(target string) float64 {
	if c.breakers[target].state(c.clock.Now()) == CircuitClosed {
		return 0
	}
	return 1
}
