/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package auditlog

import (
	"bytes"
	"fmt"
	"os"
)

// Line is one AuditEvent read back from an audit file.
type Line struct {
	// File is the audit file's name, and Number the line's, from 1.
	File   string
	Number int
	// Event is the AuditEvent's JSON, without the hash that sealed it.
	Event []byte
}

// Read reads the AuditEvents of audit files (directories are read for
// their audit files) in the log's order and calls fn with each, stopping at
// the first error fn returns. A line that carries no hash (a torn last
// line, or an edit) is skipped: Verify is what reports it. Read checks no
// chain; run Verify for that.
func Read(paths []string, fn func(Line) error) error {
	files, _, err := collect(paths)
	if err != nil {
		return err
	}
	for _, f := range files {
		data, err := os.ReadFile(f.path)
		if err != nil {
			return fmt.Errorf("reading %s: %w", f.path, err)
		}
		for n, written := range bytes.Split(data, []byte("\n")) {
			line, _, ok := unseal(written)
			if !ok {
				continue
			}
			if err := fn(Line{File: f.name, Number: n + 1, Event: line}); err != nil {
				return err
			}
		}
	}
	return nil
}
