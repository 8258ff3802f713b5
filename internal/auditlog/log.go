/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package auditlog

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxFileBytes is the size a file is rotated at when Options leave it unset.
const DefaultMaxFileBytes = 64 << 20

// Options configure a Log.
type Options struct {
	// Dir holds the audit files; it is created if missing, and must be writable.
	Dir string
	// RetentionDays is how long files are kept: a file is deleted once its
	// newest event is older than this, and never while it is the current
	// file. 0 keeps every file.
	RetentionDays int
	// MaxFileBytes is the size past which the next write starts a new file;
	// DefaultMaxFileBytes when 0. A file is also started at every UTC midnight.
	MaxFileBytes int64
	// Observer names the writer in the log's own records, e.g. the pod name.
	Observer string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Log is the audit trail on disk. It is an io.Writer of complete JSON lines:
// each Write holds one or more lines, each a JSON object, each ending with a
// newline, and is appended as a whole to the current file. It is safe for
// concurrent use.
//
// Durability: a Write hands its bytes to the kernel and returns; it does not
// fsync. A file is fsynced when it is rotated (in the background, so that
// writes do not wait for it) and when the log is closed, and
// the directory when a file is created (in the background at a rotation)
// or deleted. A crash of the node may
// lose the last writes, and may leave a file ending in an incomplete line:
// the next Open finds it, leaves it as it is, and starts a new file whose
// first record names it (its length and sha256), so Verify can tell a
// recorded crash from a truncation.
type Log struct {
	mu   sync.Mutex
	opts Options

	f       *os.File // nil after a failed write: the next write reopens
	closed  bool
	name    string
	seq     uint64
	started time.Time
	size    int64
	count   int // lines in the current file
	head    Hash
	buf     []byte
	lines   [][]byte
	// links computes the chain's links.
	links linker

	// syncing counts the rotated files still being fsynced and closed in
	// the background; syncErr is the first failure among them, reported
	// by the next Write (which it refuses) or by Close.
	syncing sync.WaitGroup
	syncErr atomic.Pointer[error]
}

// Open opens the log in opts.Dir: it continues the newest file, or starts
// the first, and deletes what retention allows.
func Open(opts Options) (*Log, error) {
	if opts.Dir == "" {
		return nil, errors.New("auditlog: no directory")
	}
	if opts.RetentionDays < 0 {
		return nil, fmt.Errorf("auditlog: retention of %d days: want 0 (keep all) or more", opts.RetentionDays)
	}
	if opts.MaxFileBytes <= 0 {
		opts.MaxFileBytes = DefaultMaxFileBytes
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("auditlog: %w", err)
	}
	l := &Log{opts: opts}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

// Write appends p, one or more complete JSON lines, each with its chain hash.
func (l *Log) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if p[len(p)-1] != '\n' {
		return 0, errors.New("auditlog: a write must end with a newline")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, errClosed
	}
	if failed := l.syncErr.Swap(nil); failed != nil {
		return 0, *failed
	}
	l.lines = l.lines[:0]
	for line := range bytes.Lines(p) {
		line = line[:len(line)-1]
		if err := checkLine(line); err != nil {
			return 0, err
		}
		l.lines = append(l.lines, line)
	}
	if l.f == nil {
		if err := l.open(); err != nil {
			return 0, err
		}
	}
	now := l.opts.Now()
	if l.rotationDue(now, len(p)) {
		if err := l.rotate(now); err != nil {
			return 0, err
		}
	}
	err := l.append(l.lines...)
	clear(l.lines) // hold no reference to the caller's buffer
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// Maintain starts a new file if the UTC day has changed and deletes what
// retention allows, without waiting for a write. Call it periodically.
func (l *Log) Maintain() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errClosed
	}
	if l.f == nil {
		return l.open()
	}
	now := l.opts.Now()
	if day(now) != day(l.started) {
		return l.rotate(now)
	}
	return l.retain(now)
}

// Head is the current file and the log's last hash: an anchor to keep
// elsewhere, which Verify can be asked to find or to end at.
func (l *Log) Head() (file string, hash Hash) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.name, l.head
}

// errClosed is returned by writes after Close.
var errClosed = errors.New("auditlog: the log is closed")

// Close writes the closing record, fsyncs and closes the current file. The
// log takes no more writes.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.f == nil {
		return nil
	}
	err := l.appendRecord(record{kind: KindClosed}, l.opts.Now())
	err = errors.Join(err, l.f.Sync(), l.f.Close())
	l.f = nil
	l.syncing.Wait()
	if failed := l.syncErr.Swap(nil); failed != nil {
		err = errors.Join(err, *failed)
	}
	return err
}

// open continues the newest file, or starts a new one when there is none,
// when the newest ends in an incomplete line, or when it holds no complete
// line. Then it applies retention.
func (l *Log) open() error {
	now := l.opts.Now()
	files, err := listFiles(l.opts.Dir)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		if err := l.start(now, 1, "", Hash{}, nil, false); err != nil {
			return err
		}
		return l.retain(now)
	}
	newest := files[len(files)-1]
	t, err := readTail(newest.path)
	if err != nil {
		return fmt.Errorf("reading the newest audit file %s: %w", newest.name, err)
	}
	if len(t.torn) > 0 || t.lines == 0 {
		head, err := l.lastHash(files, t)
		if err != nil {
			return err
		}
		torn := &record{}
		torn.add(detailTornFile, newest.name)
		torn.add(detailTornLine, itoa(t.lines+1))
		torn.add(detailTornBytes, itoa(len(t.torn)))
		torn.add(detailTornHash, tornSum(t.torn))
		if err := l.start(now, newest.seq+1, newest.name, head, torn.details, false); err != nil {
			return err
		}
		return l.retain(now)
	}
	_, head, ok := unseal(t.last)
	if !ok {
		return fmt.Errorf("the last line of the newest audit file %s carries no chain hash: run kubectl shcr audit verify", newest.name)
	}
	f, err := os.OpenFile(newest.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("opening the audit file %s: %w", newest.name, err)
	}
	info, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return err
	}
	l.f, l.name, l.seq, l.started, l.size, l.count, l.head = f, newest.name, newest.seq, newest.started, info.Size(), t.lines, head
	reopened := record{kind: KindReopened}
	reopened.add(detailPreviousRunClosed, strconv.FormatBool(isKind(t.last, KindClosed)))
	if err := l.appendRecord(reopened, now); err != nil {
		return err
	}
	return l.retain(now)
}

// lastHash is the hash the newest file's last complete line carries, or,
// when it holds none, that of the file before it.
func (l *Log) lastHash(files []auditFile, t tail) (Hash, error) {
	for i := len(files) - 1; ; i-- {
		if t.lines > 0 {
			_, h, ok := unseal(t.last)
			if !ok {
				return Hash{}, fmt.Errorf("the last complete line of audit file %s carries no chain hash: run kubectl shcr audit verify", files[i].name)
			}
			return h, nil
		}
		if i == 0 {
			return Hash{}, nil
		}
		var err error
		if t, err = readTail(files[i-1].path); err != nil {
			return Hash{}, err
		}
	}
}

// start creates the file with sequence seq and writes its first record,
// continuing the chain from prevHash, the last hash of prevFile. The
// directory is fsynced before it returns, or, with syncLater (at a
// rotation), in the background as the rotated file is.
func (l *Log) start(now time.Time, seq uint64, prevFile string, prevHash Hash, extra []detail, syncLater bool) error {
	name := fileName(now, seq)
	path := filepath.Join(l.opts.Dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating the audit file %s: %w", name, err)
	}
	if syncLater {
		l.syncing.Go(func() {
			if err := syncDir(l.opts.Dir); err != nil {
				failed := fmt.Errorf("syncing the audit directory after creating %s: %w", name, err)
				l.syncErr.CompareAndSwap(nil, &failed)
			}
		})
	} else if err := syncDir(l.opts.Dir); err != nil {
		_ = f.Close()
		return fmt.Errorf("syncing the audit directory: %w", err)
	}
	l.f, l.name, l.seq, l.started, l.size, l.count, l.head = f, name, seq, now, 0, 0, prevHash
	opened := record{kind: KindFileOpened}
	opened.add(detailFile, name)
	opened.add(detailSequence, itoa(seq))
	opened.add(detailPreviousFile, prevFile)
	opened.add(detailPreviousHash, prevHash.String())
	opened.details = append(opened.details, extra...)
	return l.appendRecord(opened, now)
}

// rotationDue says whether a write of n bytes at now goes to a new file: the
// UTC day has changed, or the current file is full (and holds more than its
// first record).
func (l *Log) rotationDue(now time.Time, n int) bool {
	return day(now) != day(l.started) || (l.size+int64(n) > l.opts.MaxFileBytes && l.count > 1)
}

// rotate starts the next file, and fsyncs and closes the current one, and
// fsyncs the directory that now names the next, in the background: an
// fsync of a full file can take long enough that the writes queued behind
// it would show in the gateway's slowest answers, and on ext4 a directory's
// fsync commits the journal, which can wait for the full file's data. A
// failure refuses the next Write.
func (l *Log) rotate(now time.Time) error {
	old, oldName := l.f, l.name
	l.f = nil
	l.syncing.Go(func() {
		if err := errors.Join(old.Sync(), old.Close()); err != nil {
			failed := fmt.Errorf("syncing and closing the rotated audit file %s: %w", oldName, err)
			l.syncErr.CompareAndSwap(nil, &failed)
		}
	})
	if err := l.start(now, l.seq+1, l.name, l.head, nil, true); err != nil {
		return err
	}
	return l.retain(now)
}

// retain deletes, oldest first, every file but the current one whose
// newest event is older than the retention period: the next file was
// started before the cut-off. The deletions are first recorded in the
// chain, each file with the last hash it holds.
func (l *Log) retain(now time.Time) error {
	if l.opts.RetentionDays == 0 {
		return nil
	}
	cutoff := now.Add(-time.Duration(l.opts.RetentionDays) * 24 * time.Hour)
	files, err := listFiles(l.opts.Dir)
	if err != nil {
		return err
	}
	var doomed []auditFile
	rec := record{kind: KindRetention}
	for i := 0; i+1 < len(files) && files[i].seq < l.seq && !files[i+1].started.After(cutoff); i++ {
		t, err := readTail(files[i].path)
		if err != nil {
			return fmt.Errorf("reading the audit file %s before deleting it: %w", files[i].name, err)
		}
		_, last, ok := unseal(t.last)
		value := files[i].name + " " + itoa(t.lines)
		if ok {
			value += " " + last.String()
		}
		rec.add(detailDeleted, value)
		doomed = append(doomed, files[i])
	}
	if len(doomed) == 0 {
		return nil
	}
	if err := l.appendRecord(rec, now); err != nil {
		return err
	}
	if err := l.f.Sync(); err != nil {
		l.fail()
		return fmt.Errorf("syncing the audit file %s: %w", l.name, err)
	}
	for _, f := range doomed {
		if err := os.Remove(f.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("deleting the audit file %s: %w", f.name, err)
		}
	}
	return syncDir(l.opts.Dir)
}

// appendRecord appends one of the log's own records.
func (l *Log) appendRecord(r record, now time.Time) error {
	return l.append(r.encode(now, l.opts.Observer))
}

// append seals lines onto the chain and writes them in one call. After a
// failed write the file is dropped: the next write opens the log again from
// what is on disk.
func (l *Log) append(lines ...[]byte) error {
	l.buf = l.buf[:0]
	head := l.head
	for _, line := range lines {
		head = l.links.next(head, line)
		l.buf = seal(l.buf, line, head)
	}
	n, err := l.f.Write(l.buf)
	l.size += int64(n)
	if err != nil {
		l.fail()
		return fmt.Errorf("writing the audit file %s: %w", l.name, err)
	}
	l.head = head
	l.count += len(lines)
	if cap(l.buf) > 1<<20 {
		l.buf = nil
	}
	return nil
}

// fail drops the current file after an error.
func (l *Log) fail() {
	_ = l.f.Close()
	l.f = nil
}

// date is a UTC calendar day.
type date struct {
	year  int
	month time.Month
	day   int
}

// day is the UTC date of t, compared without formatting it: every write
// asks whether the day has changed.
func day(t time.Time) date {
	y, m, d := t.UTC().Date()
	return date{y, m, d}
}
