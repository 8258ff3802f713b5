/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// feedState is where a feed resumes.
type feedState struct {
	// Since is meta.lastUpdated of the newest resource delivered, as the
	// source wrote it. The next search asks for _lastUpdated=ge<Since>.
	Since string `json:"since,omitempty"`
	// Seen are the delivery keys (id|versionId) of the resources delivered
	// that were last updated at exactly Since, which a ge search returns
	// again and the connector skips.
	Seen []string `json:"seen,omitempty"`
	// CaughtUpAt is when the last search that reached its last page began,
	// by the connector's clock: everything changed before it was delivered.
	CaughtUpAt time.Time `json:"caughtUpAt,omitzero"`
}

// since is Since as an instant; ok is false before the first delivery.
func (f feedState) since() (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, f.Since)
	return t, err == nil
}

// position is how far the feed is known to be complete: the later of the
// watermark and CaughtUpAt; ok is false when neither is known.
func (f feedState) position() (time.Time, bool) {
	since, ok := f.since()
	if f.CaughtUpAt.After(since) {
		return f.CaughtUpAt, true
	}
	return since, ok
}

// seenSet is Seen as a set.
func (f feedState) seenSet() map[string]bool {
	set := make(map[string]bool, len(f.Seen))
	for _, key := range f.Seen {
		set[key] = true
	}
	return set
}

// advance is the state after a page whose matches, in ascending order of
// lastUpdated, were all delivered or dropped.
func (f feedState) advance(matches []sourceResource) feedState {
	if len(matches) == 0 {
		return f
	}
	newest := matches[len(matches)-1]
	next := feedState{Since: newest.LastUpdatedText, CaughtUpAt: f.CaughtUpAt}
	seen := map[string]bool{}
	if since, ok := f.since(); ok && since.Equal(newest.LastUpdated) {
		seen = f.seenSet()
		next.Seen = slices.Clone(f.Seen)
	}
	for _, r := range matches {
		if key := r.deliveryKey(); r.LastUpdated.Equal(newest.LastUpdated) && !seen[key] {
			seen[key] = true
			next.Seen = append(next.Seen, key)
		}
	}
	return next
}

// stateFile is the content of the state file.
type stateFile struct {
	// Endpoint is the source the watermarks belong to; when the configured
	// endpoint changes, every feed starts again from the beginning.
	Endpoint string               `json:"endpoint"`
	Feeds    map[string]feedState `json:"feeds"`
}

// stateStore keeps the watermarks in a file, replaced atomically on every
// change, so that a restart resumes where the last delivered page ended.
type stateStore struct {
	path string

	mu    sync.Mutex
	state stateFile
}

// openState reads the state file; a missing file is an empty state.
func openState(path string) (*stateStore, error) {
	s := &stateStore{path: path, state: stateFile{Feeds: map[string]feedState{}}}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("reading the state file: %w", err)
	}
	if err := json.Unmarshal(data, &s.state); err != nil {
		return nil, fmt.Errorf("state file %s is not valid JSON (%v); repair or delete it: deleting it re-delivers everything, which is safe because delivery is idempotent", path, err)
	}
	if s.state.Feeds == nil {
		s.state.Feeds = map[string]feedState{}
	}
	return s, nil
}

// useEndpoint forgets every watermark when they belong to another endpoint.
// It reports whether it did.
func (s *stateStore) useEndpoint(endpoint string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state.Endpoint == endpoint {
		return false, nil
	}
	next := stateFile{Endpoint: endpoint, Feeds: map[string]feedState{}}
	if err := s.write(next); err != nil {
		return false, err
	}
	reset := s.state.Endpoint != "" && len(s.state.Feeds) > 0
	s.state = next
	return reset, nil
}

// feed is the state of a feed.
func (s *stateStore) feed(key string) feedState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.Feeds[key]
}

// feeds is a copy of every feed's state.
func (s *stateStore) feeds() map[string]feedState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.state.Feeds)
}

// put records a feed's new state, in the file first.
func (s *stateStore) put(key string, f feedState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := stateFile{Endpoint: s.state.Endpoint, Feeds: maps.Clone(s.state.Feeds)}
	next.Feeds[key] = f
	if err := s.write(next); err != nil {
		return err
	}
	s.state = next
	return nil
}

// write replaces the state file atomically: a new file, synced, renamed
// over the old one.
func (s *stateStore) write(state stateFile) error {
	data, err := json.MarshalIndent(state, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the state: %w", err)
	}
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return stateWriteError(s.path, err)
	}
	tmp, err := os.CreateTemp(dir, ".state-*.json")
	if err != nil {
		return stateWriteError(s.path, err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after a successful rename
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return stateWriteError(s.path, err)
	}
	if err := errors.Join(tmp.Sync(), tmp.Close()); err != nil {
		return stateWriteError(s.path, err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return stateWriteError(s.path, err)
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename in dir durable, where the file system allows it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

func stateWriteError(path string, err error) error {
	return fmt.Errorf("writing the state file %s (it needs a writable, persistent volume; see --state): %w", path, err)
}
