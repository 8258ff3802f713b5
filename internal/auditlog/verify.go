/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package auditlog

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Finding is one thing Verify found wrong, and where.
type Finding struct {
	// File is the audit file's name.
	File string `json:"file"`
	// Line is the 1-based line, 0 for the file as a whole.
	Line int `json:"line,omitempty"`
	// Message says what is wrong.
	Message string `json:"message"`
}

// String is "file:line: message".
func (f Finding) String() string {
	if f.Line == 0 {
		return f.File + ": " + f.Message
	}
	return f.File + ":" + strconv.Itoa(f.Line) + ": " + f.Message
}

// Report is the outcome of Verify.
type Report struct {
	// Files and Lines are how many files and lines were read.
	Files int `json:"files"`
	Lines int `json:"lines"`
	// Events is how many of the lines are the gateway's events (the others
	// are the log's own records).
	Events int `json:"events"`
	// Head is the last hash of the log, in HeadFile at HeadLine.
	Head     string `json:"head"`
	HeadFile string `json:"headFile"`
	HeadLine int    `json:"headLine"`
	// Closed says whether the log ends with the closing record of a gateway
	// that stopped cleanly. An open log is being written, or its writer
	// stopped without closing it; lines removed from its end cannot be told
	// from lines never written, unless the head is checked against an
	// anchor kept elsewhere.
	Closed bool `json:"closed"`
	// Findings are what is wrong; none means the log verified.
	Findings []Finding `json:"findings"`
}

// OK says whether nothing was found wrong.
func (r Report) OK() bool { return len(r.Findings) == 0 }

// Verify reads audit files (directories are read for their audit files)
// and checks the chain: every line carries the hash of its content and of
// the line before, every file continues from the last hash of the file
// before it, no file's sequence number is missing, an incomplete last line
// is accepted only when the next file records it, and the oldest file
// either starts the log or continues from a file that retention recorded
// as deleted. Each anchor, a hash the gateway logged earlier and kept
// elsewhere, must be the hash of some line: a chain rewritten from an edit
// onwards is consistent in itself, but no longer holds the anchors logged
// after the edit. An error is returned only when the files cannot be read.
func Verify(paths []string, anchors ...Hash) (Report, error) {
	files, findings, err := collect(paths)
	if err != nil {
		return Report{}, err
	}
	v := &verifier{report: Report{Findings: findings}, deleted: map[string]string{}, anchors: map[Hash]bool{}}
	for _, a := range anchors {
		v.anchors[a] = false
	}
	for i, f := range files {
		data, err := os.ReadFile(f.path)
		if err != nil {
			return Report{}, fmt.Errorf("reading %s: %w", f.path, err)
		}
		var prev *auditFile
		if i > 0 {
			prev = &files[i-1]
		}
		v.file(f, prev, data)
	}
	v.finish(files)
	for _, a := range anchors {
		if !v.anchors[a] {
			v.find("(log)", 0, "anchor %s is not the hash of any line: the log was rewritten before the anchor was logged, or the lines up to it were removed", a)
			v.anchors[a] = true // once per anchor
		}
	}
	return v.report, nil
}

// collect expands directories into their audit files, in sequence order.
func collect(paths []string) ([]auditFile, []Finding, error) {
	var (
		files    []auditFile
		findings []Finding
		seen     = map[string]bool{}
	)
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, nil, err
		}
		if info.IsDir() {
			found, err := listFiles(p)
			if err != nil {
				return nil, nil, err
			}
			entries, _ := os.ReadDir(p)
			for _, e := range entries {
				if _, ok := parseFileName(e.Name()); !ok && strings.HasSuffix(e.Name(), ".jsonl") {
					findings = append(findings, Finding{File: e.Name(), Message: "not named as an audit file (audit-<UTC time>-<sequence>.jsonl): renamed, or not part of the log"})
				}
			}
			for _, f := range found {
				if abs, _ := filepath.Abs(f.path); !seen[abs] {
					seen[abs] = true
					files = append(files, f)
				}
			}
			continue
		}
		f, ok := parseFileName(p)
		if !ok {
			findings = append(findings, Finding{File: filepath.Base(p), Message: "not named as an audit file (audit-<UTC time>-<sequence>.jsonl): renamed, or not part of the log"})
			continue
		}
		if abs, _ := filepath.Abs(p); !seen[abs] {
			seen[abs] = true
			files = append(files, f)
		}
	}
	sortFiles(files)
	if len(files) == 0 {
		findings = append(findings, Finding{File: strings.Join(paths, " "), Message: "no audit files"})
	}
	return files, findings, nil
}

// verifier walks the files in order, carrying the chain across them.
type verifier struct {
	report  Report
	head    Hash
	torn    *tornTail         // the previous file's incomplete last line
	first   parsed            // the first file's opening record
	deleted map[string]string // file name -> last hash, from retention records
	anchors map[Hash]bool     // anchors to find -> found
}

// tornTail is an incomplete last line found in a file.
type tornTail struct {
	file  string
	line  int
	bytes int
	sum   string
}

func (v *verifier) find(file string, line int, format string, args ...any) {
	v.report.Findings = append(v.report.Findings, Finding{File: file, Line: line, Message: fmt.Sprintf(format, args...)})
}

// file verifies one file; prev is the file before it, nil for the first.
func (v *verifier) file(f auditFile, prev *auditFile, data []byte) {
	v.report.Files++
	if prev != nil && f.seq == prev.seq {
		v.find(f.name, 0, "has the same sequence number as %s", prev.name)
	} else if prev != nil && f.seq != prev.seq+1 {
		v.find(f.name, 0, "file(s) with sequence %d to %d are missing before it (removed from the middle of the log)", prev.seq+1, f.seq-1)
	}
	if len(data) == 0 {
		v.find(f.name, 0, "is empty: its opening record is missing")
	}
	var torn *tornTail
	n := 0
	for len(data) > 0 {
		cut := bytes.IndexByte(data, '\n')
		if cut < 0 {
			sum := tornSum(data)
			torn = &tornTail{file: f.name, line: n + 1, bytes: len(data), sum: sum}
			break
		}
		n++
		v.line(f, prev, n, data[:cut])
		data = data[cut+1:]
	}
	if v.torn != nil {
		v.find(v.torn.file, v.torn.line, "incomplete last line (%d bytes) that the next file does not record: the file was truncated, or bytes were removed from its end", v.torn.bytes)
	}
	v.torn = torn
}

// line verifies line n of file f.
func (v *verifier) line(f auditFile, prev *auditFile, n int, written []byte) {
	v.report.Lines++
	content, stored, ok := unseal(written)
	if !ok {
		v.find(f.name, n, "carries no chain hash: the line was edited or inserted, or a newline was added or removed")
		return
	}
	rec := parseRecord(content)
	if n == 1 {
		v.opening(f, prev, rec)
	} else if rec.kind == KindFileOpened {
		v.find(f.name, n, "an opening record inside the file: lines of another file were inserted")
	}
	switch rec.kind {
	case "":
		v.report.Events++
	case KindRetention:
		for _, d := range rec.all(detailDeleted) {
			fields := strings.Fields(d)
			if len(fields) == 3 {
				v.deleted[fields[0]] = fields[2]
			}
		}
	}
	want := next(v.head, content)
	if want != stored {
		v.find(f.name, n, "hash does not match: this line was edited, or a line just before it was removed, inserted or moved")
	}
	if _, ok := v.anchors[stored]; ok && want == stored {
		v.anchors[stored] = true
	}
	v.head = stored
	v.report.Head, v.report.HeadFile, v.report.HeadLine = stored.String(), f.name, n
	v.report.Closed = rec.kind == KindClosed
}

// opening checks a file's first record: it names the file, and continues
// from the file before it, recording that file's incomplete last line if
// it had one. For the first file, the chain starts from the hash it names.
func (v *verifier) opening(f auditFile, prev *auditFile, rec parsed) {
	if rec.kind != KindFileOpened {
		v.find(f.name, 1, "the first line is not the file's opening record: lines were removed from its start, or the file was replaced")
		return
	}
	if got := rec.get(detailFile); got != f.name {
		v.find(f.name, 1, "the opening record names the file %q: the file was renamed", got)
	}
	if got := rec.get(detailSequence); got != itoa(f.seq) {
		v.find(f.name, 1, "the opening record gives sequence %s, the name %d", got, f.seq)
	}
	prevHash, err := ParseHash(rec.get(detailPreviousHash))
	if err != nil {
		v.find(f.name, 1, "the opening record's previousHash: %v", err)
	}
	if prev == nil {
		v.first = rec
		v.head = prevHash
		v.checkTorn(f, rec, nil)
		return
	}
	if got := rec.get(detailPreviousFile); got != prev.name {
		v.find(f.name, 1, "continues from %q, not from %s, the file before it: a file is missing or was replaced", got, prev.name)
	} else if err == nil && prevHash != v.head {
		v.find(f.name, 1, "continues from hash %s, but %s ends at %s: lines were removed from the end of %s, or it was replaced", prevHash, prev.name, v.head, prev.name)
	}
	v.checkTorn(f, rec, v.torn)
	v.torn = nil
}

// checkTorn holds the incomplete line an opening record names to the one
// the previous file ends with.
func (v *verifier) checkTorn(f auditFile, rec parsed, torn *tornTail) {
	name := rec.get(detailTornFile)
	switch {
	case name == "" && torn == nil:
	case torn == nil:
		// The first file read: its predecessor is not here to compare with.
		if v.report.Files > 1 {
			v.find(f.name, 1, "records an incomplete last line in %s that is not there", name)
		}
	case name != torn.file || rec.get(detailTornLine) != strconv.Itoa(torn.line) ||
		rec.get(detailTornBytes) != strconv.Itoa(torn.bytes) || rec.get(detailTornHash) != torn.sum:
		v.find(torn.file, torn.line, "incomplete last line (%d bytes) that differs from what %s records: the file was truncated or its end edited", torn.bytes, f.name)
	}
}

// finish checks the ends of the log: the first file starts the log or
// continues from a file retention deleted, and the last file has no
// unrecorded incomplete line.
func (v *verifier) finish(files []auditFile) {
	if v.torn != nil {
		v.find(v.torn.file, v.torn.line, "incomplete last line (%d bytes): the file was truncated, or the gateway stopped mid-write and has not restarted since", v.torn.bytes)
	}
	if len(files) == 0 || v.first.kind != KindFileOpened {
		return
	}
	first := files[0]
	prevFile, prevHash := v.first.get(detailPreviousFile), v.first.get(detailPreviousHash)
	switch {
	case prevFile == "":
		if first.seq != 1 || prevHash != (Hash{}).String() {
			v.find(first.name, 1, "claims to start the log but has sequence %d", first.seq)
		}
	case v.deleted[prevFile] == "":
		v.find(first.name, 1, "continues from %s, which is not here and no retention record says was deleted: a file is missing (or only part of the log was given)", prevFile)
	case v.deleted[prevFile] != prevHash:
		v.find(first.name, 1, "continues from hash %s, but retention recorded %s as ending at %s", prevHash, prevFile, v.deleted[prevFile])
	}
}
