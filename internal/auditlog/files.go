/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package auditlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// fileTimeLayout is the UTC time a file was started, in its name.
const fileTimeLayout = "20060102T150405Z"

// fileNamePattern matches the name of an audit file:
// audit-<UTC start time>-<sequence>.jsonl. The sequence number orders the
// files; it grows by one with every file and is never reused.
var fileNamePattern = regexp.MustCompile(`^audit-(\d{8}T\d{6}Z)-(\d{6,})\.jsonl$`)

// fileName is the name of the file with sequence number seq started at t.
func fileName(t time.Time, seq uint64) string {
	return fmt.Sprintf("audit-%s-%06d.jsonl", t.UTC().Format(fileTimeLayout), seq)
}

// auditFile is an audit file found on disk.
type auditFile struct {
	path    string
	name    string
	seq     uint64
	started time.Time
}

// parseFileName reads the sequence number and start time of a file's name.
func parseFileName(path string) (auditFile, bool) {
	name := filepath.Base(path)
	m := fileNamePattern.FindStringSubmatch(name)
	if m == nil {
		return auditFile{}, false
	}
	started, err := time.Parse(fileTimeLayout, m[1])
	if err != nil {
		return auditFile{}, false
	}
	seq, err := strconv.ParseUint(m[2], 10, 64)
	if err != nil || seq == 0 {
		return auditFile{}, false
	}
	return auditFile{path: path, name: name, seq: seq, started: started}, true
}

// listFiles are the audit files of dir, in sequence order. Other files are
// left alone.
func listFiles(dir string) ([]auditFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the audit directory: %w", err)
	}
	var files []auditFile
	for _, e := range entries {
		if f, ok := parseFileName(filepath.Join(dir, e.Name())); ok && e.Type().IsRegular() {
			files = append(files, f)
		}
	}
	sortFiles(files)
	return files, nil
}

func sortFiles(files []auditFile) {
	slices.SortFunc(files, func(a, b auditFile) int {
		if a.seq != b.seq {
			return compare(a.seq, b.seq)
		}
		return compare(a.name, b.name)
	})
}

func compare[T uint64 | string](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// tail is what a file ends with: its complete lines, the last of them,
// and any bytes after the last newline.
type tail struct {
	lines int
	last  []byte // the last complete line, without its newline
	torn  []byte // bytes after the last newline
}

// readTail reads what a file ends with.
func readTail(path string) (tail, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return tail{}, err
	}
	var t tail
	cut := bytes.LastIndexByte(data, '\n')
	t.torn = data[cut+1:]
	if cut < 0 {
		return t, nil
	}
	complete := data[:cut]
	t.lines = bytes.Count(complete, []byte{'\n'}) + 1
	t.last = complete[bytes.LastIndexByte(complete, '\n')+1:]
	return t, nil
}

// tornRecord describes an incomplete last line.
func tornSum(torn []byte) string {
	sum := sha256.Sum256(torn)
	return hex.EncodeToString(sum[:])
}

// syncDir makes a created or removed name in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer func() { _ = d.Close() }()
	return d.Sync()
}
