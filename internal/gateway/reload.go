/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"context"
	"io/fs"
	"os"
	"sync/atomic"
	"time"
)

// The sources the gateway loads at start and reloads while it runs, as
// named in logs and metrics.
const (
	sourceBundle     = "bundle"
	sourceJWKS       = "jwks"
	sourceObjections = "objections"
)

// source is configuration the gateway reloads while it runs.
type source interface {
	// name is one of the source constants.
	name() string
	// due reports whether it should be loaded now.
	due(now time.Time) bool
	// load reads it and swaps it in; each source says what a failure
	// leaves in force.
	load(ctx context.Context) error
}

// fileStamp is what polling compares to notice that a file changed. A
// mounted ConfigMap or Secret is updated by swapping a symlink, which
// changes the file the path resolves to, so the file's identity is compared
// as well as its size and modification time.
type fileStamp struct {
	info fs.FileInfo
}

func stat(path string) fileStamp {
	info, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{info: info}
}

func (a fileStamp) same(b fileStamp) bool {
	if a.info == nil || b.info == nil {
		return a.info == nil && b.info == nil
	}
	return os.SameFile(a.info, b.info) && a.info.Size() == b.info.Size() && a.info.ModTime().Equal(b.info.ModTime())
}

// fileSource reloads when any of its files is created, changed or removed.
// It is always due until its first load.
type fileSource struct {
	source string
	paths  []string
	stamps []fileStamp
	read   func() error
}

func (s *fileSource) name() string { return s.source }

func (s *fileSource) due(time.Time) bool {
	if s.stamps == nil {
		return true
	}
	for i, path := range s.paths {
		if !s.stamps[i].same(stat(path)) {
			return true
		}
	}
	return false
}

// load stamps the files before reading them, so that a change made while
// they are read is noticed at the next poll.
func (s *fileSource) load(context.Context) error {
	stamps := make([]fileStamp, len(s.paths))
	for i, path := range s.paths {
		stamps[i] = stat(path)
	}
	s.stamps = stamps
	return s.read()
}

// urlSource fetches a document every refresh interval, and after the retry
// interval when the last fetch failed or an early fetch was asked for.
type urlSource struct {
	source  string
	refresh time.Duration
	retry   time.Duration
	fetch   func(ctx context.Context) error
	failed  bool
	last    time.Time
	asked   atomic.Bool
}

func (s *urlSource) name() string { return s.source }

func (s *urlSource) due(now time.Time) bool {
	since := now.Sub(s.last)
	switch {
	case s.last.IsZero():
		return true
	case s.failed || s.asked.Load():
		return since >= s.retry
	default:
		return since >= s.refresh
	}
}

// ask requests an early fetch, no sooner than the retry interval after the
// last one, so that callers cannot make the gateway hammer the provider.
func (s *urlSource) ask() { s.asked.Store(true) }

func (s *urlSource) load(ctx context.Context) error {
	s.last = time.Now()
	s.asked.Store(false)
	err := s.fetch(ctx)
	s.failed = err != nil
	return err
}
