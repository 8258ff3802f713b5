/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
)

// controlIDLine is the length of one line of the control-id file: the hex
// SHA-256 and a newline.
const controlIDLine = sha256.Size*2 + 1

// keptControlIDs is how many of the newest committed control ids the
// control-id file keeps: a resend of a message older than that is applied
// again (PUT to the same records), so it bounds the window in which a
// replay is recognised, not correctness of the records. The file is
// compacted when it holds twice as many, so it stays under
// 2 × keptControlIDs × 65 bytes (26 MB) on the connector's state claim.
var keptControlIDs = 200_000

// compactControlIDs rewrites the control-id file with only its newest
// keptControlIDs lines once it holds twice as many, atomically (a new
// file, synced, renamed over the old), and forgets the ids dropped. A
// failure leaves the file as it was, still correct, and is reported.
func (s *MLLPServer) compactControlIDs() error {
	info, err := s.log.Stat()
	if err != nil || info.Size() <= int64(2*keptControlIDs*controlIDLine) {
		return err
	}
	data, err := os.ReadFile(s.opts.StatePath)
	if err != nil {
		return fmt.Errorf("reading %s to compact it: %w", s.opts.StatePath, err)
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	kept := lines[max(0, len(lines)-keptControlIDs):]
	dir := filepath.Dir(s.opts.StatePath)
	tmp, err := os.CreateTemp(dir, ".control-ids-*")
	if err != nil {
		return fmt.Errorf("compacting %s: %w", s.opts.StatePath, err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after a successful rename
	_, err = tmp.Write(append(bytes.Join(kept, []byte("\n")), '\n'))
	if err = firstErr(err, tmp.Sync(), tmp.Close()); err != nil {
		return fmt.Errorf("compacting %s: %w", s.opts.StatePath, err)
	}
	// Opened before the rename, so appends never go to the replaced file.
	f, err := os.OpenFile(tmp.Name(), os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("compacting %s: %w", s.opts.StatePath, err)
	}
	if err := os.Rename(tmp.Name(), s.opts.StatePath); err != nil {
		_ = f.Close()
		return fmt.Errorf("compacting %s: %w", s.opts.StatePath, err)
	}
	syncDir(dir)
	_ = s.log.Close()
	s.log = f
	s.seen = make(map[string]bool, len(kept))
	for _, line := range kept {
		s.seen[string(line)] = true
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
