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
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a fake clock the tests move by hand.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)} }

// event is an AuditEvent line as the gateway writes it.
func event(n int) string {
	return fmt.Sprintf(`{"resourceType":"AuditEvent","id":"ev-%06d","action":"R","outcome":"0","entity":[{"what":{"reference":"Observation/o%d"}}]}`+"\n", n, n)
}

func openLog(t *testing.T, dir string, c *clock, retention int, maxBytes int64) *Log {
	t.Helper()
	l, err := Open(Options{Dir: dir, RetentionDays: retention, MaxFileBytes: maxBytes, Now: c.Now, Observer: "test"})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

func write(t *testing.T, l *Log, lines ...string) {
	t.Helper()
	p := strings.Join(lines, "")
	if n, err := l.Write([]byte(p)); err != nil || n != len(p) {
		t.Fatalf("Write = %d, %v; want %d", n, err, len(p))
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	files, err := listFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		out = append(out, f.name)
	}
	return out
}

func mustVerify(t *testing.T, dir string) Report {
	t.Helper()
	r, err := Verify([]string{dir})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !r.OK() {
		t.Fatalf("an untouched log does not verify: %v", r.Findings)
	}
	return r
}

// records are the log's own records of a kind, in order, across dir.
func records(t *testing.T, dir, kind string) []parsed {
	t.Helper()
	var out []parsed
	for _, name := range names(t, dir) {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		for line := range bytes.Lines(data) {
			if !bytes.HasSuffix(line, []byte("\n")) {
				continue // an incomplete last line
			}
			content, _, ok := unseal(bytes.TrimSuffix(line, []byte("\n")))
			if !ok {
				t.Fatalf("%s: a line without chain hash: %s", name, line)
			}
			if p := parseRecord(content); p.kind == kind {
				out = append(out, p)
			}
		}
	}
	return out
}

func TestEveryLineStaysAnAuditEventWithItsHash(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, newClock(), 0, 0)
	write(t, l, event(1), event(2))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, names(t, dir)[0]))
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("want opening record, 2 events, closing record; got %d lines", len(lines))
	}
	want := strings.TrimSuffix(event(1), "}\n") + `,"extension":[{"url":"` + ChainExtensionURL + `","valueString":"sha256:`
	if !strings.HasPrefix(lines[1], want) {
		t.Errorf("event line\n%s\ndoes not keep the event and add the chain extension:\n%s", lines[1], want)
	}
	for i, line := range lines {
		if !strings.HasPrefix(line, `{"resourceType":"AuditEvent",`) {
			t.Errorf("line %d is not an AuditEvent: %s", i+1, line)
		}
	}
	r := mustVerify(t, dir)
	if r.Events != 2 || r.Lines != 4 || !r.Closed {
		t.Errorf("report %+v: want 2 events in 4 lines, closed", r)
	}
	if _, err := l.Write([]byte(event(3))); err == nil {
		t.Error("a write after Close was taken")
	}
	if err := l.Maintain(); err == nil {
		t.Error("Maintain after Close reopened the log")
	}
}

func TestWriteRefusesWhatCannotBeChained(t *testing.T) {
	l := openLog(t, t.TempDir(), newClock(), 0, 0)
	for _, p := range []string{
		`{"resourceType":"AuditEvent"}`, // no newline
		"{}\n", "[1]\n", "not json\n", "\n",
		event(1) + "{}\n", // one bad line refuses the whole write
		`{"a":1} ` + "\n",
	} {
		if n, err := l.Write([]byte(p)); err == nil {
			t.Errorf("Write(%q) = %d, nil; want an error", p, n)
		}
	}
	if _, h := l.Head(); len(records(t, l.opts.Dir, "")) != 0 || h == (Hash{}) {
		// Only the opening record is in the log.
		t.Errorf("refused writes left lines in the log")
	}
}

func TestRestartContinuesTheNewestFileAndItsChain(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	l := openLog(t, dir, c, 0, 0)
	write(t, l, event(1))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	c.advance(time.Minute)
	l = openLog(t, dir, c, 0, 0)
	write(t, l, event(2))
	// A crash: the process goes without closing the log.
	_ = l.f.Close()
	c.advance(time.Minute)
	l = openLog(t, dir, c, 0, 0)
	write(t, l, event(3))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := names(t, dir); len(got) != 1 {
		t.Fatalf("restarts started new files: %v", got)
	}
	reopened := records(t, dir, KindReopened)
	if len(reopened) != 2 || reopened[0].get(detailPreviousRunClosed) != "true" || reopened[1].get(detailPreviousRunClosed) != "false" {
		t.Errorf("reopened records %v: want a clean stop, then a crash", reopened)
	}
	if r := mustVerify(t, dir); r.Events != 3 {
		t.Errorf("%d events, want 3", r.Events)
	}
}

func TestTornLastLineIsRecordedNotChainedOver(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	l := openLog(t, dir, c, 0, 0)
	write(t, l, event(1), event(2))
	_ = l.f.Close()
	first := filepath.Join(dir, names(t, dir)[0])
	f, _ := os.OpenFile(first, os.O_WRONLY|os.O_APPEND, 0)
	const torn = `{"resourceType":"AuditEvent","id":"ev-0000`
	_, _ = f.WriteString(torn) // a crash mid-write
	_ = f.Close()

	// Before the gateway restarts, the torn line is a finding.
	r, _ := Verify([]string{dir})
	if !hasFinding(r, names(t, dir)[0], 4, "incomplete last line") {
		t.Errorf("an unrecorded torn line: findings %v", r.Findings)
	}

	l = openLog(t, dir, c, 0, 0)
	write(t, l, event(3))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got := names(t, dir)
	if len(got) != 2 {
		t.Fatalf("files %v: want the torn file left as it is and a new one", got)
	}
	opened := records(t, dir, KindFileOpened)[1]
	if opened.get(detailTornFile) != got[0] || opened.get(detailTornLine) != "4" || opened.get(detailTornBytes) != fmt.Sprint(len(torn)) {
		t.Errorf("the new file's opening record %v does not name the torn line", opened.details)
	}
	mustVerify(t, dir)
}

func TestRotationBySizeAndByDay(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	l := openLog(t, dir, c, 0, 2000)
	for i := range 20 {
		write(t, l, event(i))
	}
	bySize := names(t, dir)
	if len(bySize) < 5 {
		t.Fatalf("20 events of ~300 bytes in files of 2000 bytes: only %d files", len(bySize))
	}
	for _, name := range bySize {
		info, _ := os.Stat(filepath.Join(dir, name))
		// A file passes the size only by its last write.
		if info.Size() > 2000+600 {
			t.Errorf("%s is %d bytes", name, info.Size())
		}
	}
	c.advance(24 * time.Hour)
	write(t, l, event(100))
	after := names(t, dir)
	if len(after) != len(bySize)+1 || !strings.HasPrefix(after[len(after)-1], "audit-20260302T090000Z-") {
		t.Errorf("a new day did not start a new file: %v", after)
	}
	// Maintain starts the next day's file without a write.
	c.advance(24 * time.Hour)
	if err := l.Maintain(); err != nil {
		t.Fatal(err)
	}
	if got := names(t, dir); len(got) != len(after)+1 {
		t.Errorf("Maintain on a new day: %v", got)
	}
	if !slices.IsSorted(names(t, dir)) {
		t.Errorf("file names do not sort in sequence order: %v", names(t, dir))
	}
	_ = l.Close()
	mustVerify(t, dir)
}

func TestRetentionDeletesOnlyFilesWhoseNewestEventIsOlder(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	l := openLog(t, dir, c, 180, 0)
	for day := range 5 { // files of 1 to 5 March
		write(t, l, event(day))
		c.advance(24 * time.Hour)
	}
	before := names(t, dir)
	// The file of 1 March holds nothing newer than the start of the file of
	// 2 March: it goes once that is 180 days ago, not a second sooner.
	c.t = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC).Add(180*24*time.Hour - time.Second)
	if err := l.Maintain(); err != nil {
		t.Fatal(err)
	}
	if got := names(t, dir); got[0] != before[0] {
		t.Fatalf("a second before 180 days: %v, want %s kept", got, before[0])
	}
	c.advance(time.Second)
	if err := l.Maintain(); err != nil {
		t.Fatal(err)
	}
	if got := names(t, dir); got[0] != before[1] {
		t.Fatalf("after 180 days: %v, want only %s gone", got, before[0])
	}
	c.t = time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC).Add(180 * 24 * time.Hour)
	if err := l.Maintain(); err != nil {
		t.Fatal(err)
	}
	got := names(t, dir)
	if got[0] != before[2] {
		t.Errorf("after 180 days from 3 March the file of 2 March should go: %v", got)
	}
	deleted := records(t, dir, KindRetention)
	if len(deleted) != 2 || !strings.HasPrefix(deleted[0].get(detailDeleted), before[0]+" ") {
		t.Errorf("retention records %v", deleted)
	}
	// Far in the future every file goes but the current one and the one
	// before it, whose newest event may be as new as the current file.
	c.advance(10 * 365 * 24 * time.Hour)
	if err := l.Maintain(); err != nil {
		t.Fatal(err)
	}
	write(t, l, event(99))
	_ = l.Close()
	if got := names(t, dir); len(got) != 2 {
		t.Errorf("files %v: want the current file and the one before it", got)
	}
	// The log still verifies: its first file continues from a file
	// retention recorded as deleted.
	mustVerify(t, dir)
}

func TestRetentionZeroKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	l := openLog(t, dir, c, 0, 0)
	for range 3 {
		write(t, l, event(1))
		c.advance(400 * 24 * time.Hour)
	}
	_ = l.Maintain()
	if got := names(t, dir); len(got) != 4 {
		t.Errorf("files %v: want all kept", got)
	}
}

func hasFinding(r Report, file string, line int, text string) bool {
	for _, f := range r.Findings {
		if f.File == file && f.Line == line && strings.Contains(f.Message, text) {
			return true
		}
	}
	return false
}

func TestAnchorsFindARewrittenChain(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	l := openLog(t, dir, c, 0, 0)
	write(t, l, event(1), event(2))
	_, anchor := l.Head()
	write(t, l, event(3))
	_ = l.Close()
	if r, _ := Verify([]string{dir}, anchor); !r.OK() {
		t.Fatalf("an anchor of the untouched log: %v", r.Findings)
	}

	// Someone who can write the volume edits event 1 and computes the
	// chain again from there: the chain is consistent, the anchor is gone.
	path := filepath.Join(dir, names(t, dir)[0])
	data, _ := os.ReadFile(path)
	var out []byte
	var head Hash
	for line := range bytes.Lines(data) {
		content, _, _ := unseal(bytes.TrimSuffix(line, []byte("\n")))
		content = bytes.Replace(content, []byte("ev-000001"), []byte("ev-999999"), 1)
		if bytes.Contains(content, []byte(KindFileOpened)) {
			head = Hash{}
		}
		head = next(head, content)
		out = seal(out, content, head)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	if r, _ := Verify([]string{dir}); !r.OK() {
		t.Fatalf("the rewritten chain should be consistent in itself: %v", r.Findings)
	}
	r, _ := Verify([]string{dir}, anchor)
	if !hasFinding(r, "(log)", 0, "anchor "+anchor.String()+" is not the hash of any line") {
		t.Errorf("a rewritten chain with an anchor: %v", r.Findings)
	}
}

func TestConcurrentWritesKeepTheChain(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	l := openLog(t, dir, c, 0, 4000)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 25 {
				write(t, l, event(g*1000+i), event(g*1000+500+i))
			}
		})
	}
	wg.Go(func() {
		for range 10 {
			if err := l.Maintain(); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	_ = l.Close()
	if r := mustVerify(t, dir); r.Events != 400 {
		t.Errorf("%d events, want 400", r.Events)
	}
}
