/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package auditlog

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fixtureLog writes a closed log of n events over several files, with a
// restart in the middle, and returns its files in order.
func fixtureLog(t *testing.T, dir string, n int, rng *rand.Rand) []string {
	t.Helper()
	return chaosLog(t, dir, n, rng, false)
}

// chaosLog is fixtureLog; with chaos, the writer also crashes at random
// moments, sometimes mid-line, and retention of one day deletes old files
// as the clock moves on by up to six hours a write.
func chaosLog(t *testing.T, dir string, n int, rng *rand.Rand, chaos bool) []string {
	t.Helper()
	c := newClock()
	retention := 0
	if chaos {
		retention = 1
	}
	l := openLog(t, dir, c, retention, 1500)
	for i := 0; i < n; {
		batch := 1 + rng.IntN(3)
		var lines []string
		for range batch {
			lines = append(lines, event(i))
			i++
		}
		write(t, l, lines...)
		if chaos {
			c.advance(time.Duration(rng.IntN(7)) * time.Hour)
		} else {
			c.advance(time.Duration(rng.IntN(3)) * time.Hour)
		}
		switch {
		case i == n/2:
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = openLog(t, dir, c, retention, 1500)
		case chaos && rng.IntN(8) == 0:
			crash(t, l, rng)
			l = openLog(t, dir, c, retention, 1500)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return names(t, dir)
}

// crash stops l without closing it, sometimes leaving part of a line.
func crash(t *testing.T, l *Log, rng *rand.Rand) {
	t.Helper()
	path := filepath.Join(l.opts.Dir, l.name)
	_ = l.f.Close()
	if rng.IntN(2) == 0 {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	_, _ = f.WriteString(event(-1)[:1+rng.IntN(60)])
}

func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(data, []byte("\n"))[:bytes.Count(data, []byte("\n"))]
}

func writeLines(t *testing.T, path string, lines [][]byte) {
	t.Helper()
	if err := os.WriteFile(path, bytes.Join(lines, nil), 0o600); err != nil {
		t.Fatal(err)
	}
}

// tampering changes the log in dir and says where a finding must point.
type tampering func(t *testing.T, dir string, files []string) (file string, line int)

// editLine changes line n (1-based) of a file with f.
func editLine(t *testing.T, dir, file string, n int, f func([]byte) []byte) {
	path := filepath.Join(dir, file)
	lines := readLines(t, path)
	lines[n-1] = f(bytes.Clone(lines[n-1]))
	writeLines(t, path, lines)
}

var tamperings = map[string]tampering{
	"edit one byte of an event": func(t *testing.T, dir string, files []string) (string, int) {
		editLine(t, dir, files[1], 2, func(b []byte) []byte { b[bytes.Index(b, []byte("ev-"))+4]++; return b })
		return files[1], 2
	},
	"edit one digit of a hash": func(t *testing.T, dir string, files []string) (string, int) {
		editLine(t, dir, files[1], 2, func(b []byte) []byte {
			i := len(b) - len(`"}]}`+"\n") - 1
			// Always a different hex digit.
			if b[i] == '0' {
				b[i] = '1'
			} else {
				b[i] = '0'
			}
			return b
		})
		return files[1], 2
	},
	"write a hash in upper case": func(t *testing.T, dir string, files []string) (string, int) {
		editLine(t, dir, files[1], 2, func(b []byte) []byte {
			i := bytes.LastIndex(b, []byte("sha256:"))
			return append(b[:i], bytes.ToUpper(b[i:])...)
		})
		return files[1], 2
	},
	"edit a byte of the chain extension": func(t *testing.T, dir string, files []string) (string, int) {
		editLine(t, dir, files[1], 3, func(b []byte) []byte { return bytes.Replace(b, []byte("audit-chain"), []byte("audit-chaim"), 1) })
		return files[1], 3
	},
	"delete a line": func(t *testing.T, dir string, files []string) (string, int) {
		path := filepath.Join(dir, files[1])
		lines := readLines(t, path)
		writeLines(t, path, append(lines[:2:2], lines[3:]...))
		return files[1], 3
	},
	"delete a file's opening record": func(t *testing.T, dir string, files []string) (string, int) {
		path := filepath.Join(dir, files[1])
		writeLines(t, path, readLines(t, path)[1:])
		return files[1], 1
	},
	"swap two lines": func(t *testing.T, dir string, files []string) (string, int) {
		path := filepath.Join(dir, files[1])
		lines := readLines(t, path)
		lines[1], lines[2] = lines[2], lines[1]
		writeLines(t, path, lines)
		return files[1], 2
	},
	"insert a copy of a line": func(t *testing.T, dir string, files []string) (string, int) {
		path := filepath.Join(dir, files[1])
		lines := readLines(t, path)
		writeLines(t, path, append(lines[:3:3], append([][]byte{lines[1]}, lines[3:]...)...))
		return files[1], 4
	},
	"insert a forged line with a made-up hash": func(t *testing.T, dir string, files []string) (string, int) {
		path := filepath.Join(dir, files[1])
		lines := readLines(t, path)
		forged := seal(nil, []byte(strings.TrimSuffix(event(999), "\n")), next(Hash{}, []byte("x")))
		writeLines(t, path, append(lines[:2:2], append([][]byte{forged}, lines[2:]...)...))
		return files[1], 3
	},
	"insert a plain event without hash": func(t *testing.T, dir string, files []string) (string, int) {
		path := filepath.Join(dir, files[1])
		lines := readLines(t, path)
		writeLines(t, path, append(lines[:2:2], append([][]byte{[]byte(event(999))}, lines[2:]...)...))
		return files[1], 3
	},
	"move a line to another file": func(t *testing.T, dir string, files []string) (string, int) {
		from, to := filepath.Join(dir, files[0]), filepath.Join(dir, files[1])
		a, b := readLines(t, from), readLines(t, to)
		writeLines(t, from, append(a[:1:1], a[2:]...))
		writeLines(t, to, append(b[:2:2], append([][]byte{a[1]}, b[2:]...)...))
		return files[0], 2
	},
	"join two lines": func(t *testing.T, dir string, files []string) (string, int) {
		editLine(t, dir, files[1], 2, func(b []byte) []byte { return b[:len(b)-1] })
		return files[1], 2
	},
	"remove a file from the middle": func(t *testing.T, dir string, files []string) (string, int) {
		_ = os.Remove(filepath.Join(dir, files[1]))
		return files[2], 0
	},
	"remove the oldest file": func(t *testing.T, dir string, files []string) (string, int) {
		_ = os.Remove(filepath.Join(dir, files[0]))
		return files[1], 1
	},
	"remove the newest file": func(t *testing.T, dir string, files []string) (string, int) {
		_ = os.Remove(filepath.Join(dir, files[len(files)-1]))
		return "", -1 // the log is no longer closed
	},
	"swap two files' names": func(t *testing.T, dir string, files []string) (string, int) {
		a, b := filepath.Join(dir, files[1]), filepath.Join(dir, files[2])
		_ = os.Rename(a, a+".tmp")
		_ = os.Rename(b, a)
		_ = os.Rename(a+".tmp", b)
		return files[1], 1
	},
	"truncate the end of the last file mid-line": func(t *testing.T, dir string, files []string) (string, int) {
		path := filepath.Join(dir, files[len(files)-1])
		data, _ := os.ReadFile(path)
		_ = os.WriteFile(path, data[:len(data)-10], 0o600)
		return files[len(files)-1], bytes.Count(data, []byte("\n"))
	},
	"truncate the end of the last file by whole lines": func(t *testing.T, dir string, files []string) (string, int) {
		path := filepath.Join(dir, files[len(files)-1])
		lines := readLines(t, path)
		writeLines(t, path, lines[:len(lines)-2])
		return "", -1 // the closing record is gone
	},
	"truncate the end of a middle file by whole lines": func(t *testing.T, dir string, files []string) (string, int) {
		path := filepath.Join(dir, files[1])
		lines := readLines(t, path)
		writeLines(t, path, lines[:len(lines)-1])
		return files[2], 1
	},
	"truncate the end of a middle file mid-line": func(t *testing.T, dir string, files []string) (string, int) {
		path := filepath.Join(dir, files[1])
		data, _ := os.ReadFile(path)
		_ = os.WriteFile(path, data[:len(data)-5], 0o600)
		return files[1], bytes.Count(data, []byte("\n"))
	},
	"empty a file": func(t *testing.T, dir string, files []string) (string, int) {
		_ = os.WriteFile(filepath.Join(dir, files[1]), nil, 0o600)
		return files[1], 0
	},
}

// detected says whether verifying dir finds the tampering where it was made.
// line -1 means only that the log no longer ends with its closing record.
func detected(t *testing.T, dir, file string, line int) (bool, Report) {
	r, err := Verify([]string{dir})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if line == -1 {
		return !r.Closed, r
	}
	for _, f := range r.Findings {
		if f.File == file && f.Line == line {
			return true, r
		}
	}
	return false, r
}

func TestVerifyFindsEveryKindOfTampering(t *testing.T) {
	for name, tamper := range tamperings {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			files := fixtureLog(t, dir, 30, rand.New(rand.NewPCG(1, 2)))
			if len(files) < 4 {
				t.Fatalf("the fixture has %d files, want 4 or more", len(files))
			}
			if r := mustVerify(t, dir); !r.Closed {
				t.Fatal("the untouched fixture is not closed")
			}
			file, line := tamper(t, dir, files)
			if ok, r := detected(t, dir, file, line); !ok {
				t.Errorf("not found at %s:%d; findings %v (closed %v)", file, line, r.Findings, r.Closed)
			}
		})
	}
}

// TestVerifyFindsRandomTamperingOfRandomLogs writes logs of random events
// in random batches, restarts and rotations, checks each verifies, then
// makes one random change and checks it is found.
func TestVerifyFindsRandomTamperingOfRandomLogs(t *testing.T) {
	kinds := []func(rng *rand.Rand, t *testing.T, dir string, files []string) (string, int){
		func(rng *rand.Rand, t *testing.T, dir string, files []string) (string, int) { // any byte of any line
			file := files[rng.IntN(len(files))]
			lines := readLines(t, filepath.Join(dir, file))
			n := 1 + rng.IntN(len(lines))
			editLine(t, dir, file, n, func(b []byte) []byte {
				i := rng.IntN(len(b) - 1) // not the newline: that joins lines, found one line on
				b[i] ^= byte(1 + rng.IntN(255))
				return b
			})
			return file, n
		},
		func(rng *rand.Rand, t *testing.T, dir string, files []string) (string, int) { // delete a line
			file := files[rng.IntN(len(files)-1)] // not the last: its last line may go unnoticed but for Closed
			path := filepath.Join(dir, file)
			lines := readLines(t, path)
			n := 1 + rng.IntN(len(lines))
			writeLines(t, path, append(lines[:n-1:n-1], lines[n:]...))
			if n > len(lines)-1 {
				return "", 0 // the last line: found at the next file's opening record
			}
			return file, n
		},
		func(rng *rand.Rand, t *testing.T, dir string, files []string) (string, int) { // swap two lines
			file := files[rng.IntN(len(files))]
			path := filepath.Join(dir, file)
			lines := readLines(t, path)
			i := rng.IntN(len(lines) - 1)
			j := i + 1 + rng.IntN(len(lines)-i-1)
			lines[i], lines[j] = lines[j], lines[i]
			writeLines(t, path, lines)
			return file, i + 1
		},
		func(rng *rand.Rand, t *testing.T, dir string, files []string) (string, int) { // insert a line from anywhere
			from := readLines(t, filepath.Join(dir, files[rng.IntN(len(files))]))
			file := files[rng.IntN(len(files))]
			path := filepath.Join(dir, file)
			lines := readLines(t, path)
			n := 1 + rng.IntN(len(lines)+1)
			lines = append(lines[:n-1:n-1], append([][]byte{from[rng.IntN(len(from))]}, lines[n-1:]...)...)
			writeLines(t, path, lines)
			return "", 0
		},
		func(rng *rand.Rand, t *testing.T, dir string, files []string) (string, int) { // remove a file
			_ = os.Remove(filepath.Join(dir, files[rng.IntN(len(files))]))
			return "", 0
		},
		func(rng *rand.Rand, t *testing.T, dir string, files []string) (string, int) { // truncate a file
			file := files[rng.IntN(len(files))]
			path := filepath.Join(dir, file)
			data, _ := os.ReadFile(path)
			_ = os.WriteFile(path, data[:rng.IntN(len(data))], 0o600)
			return "", 0
		},
	}
	for seed := range uint64(60) {
		rng := rand.New(rand.NewPCG(seed, 12))
		dir := t.TempDir()
		files := chaosLog(t, dir, 5+rng.IntN(40), rng, seed%2 == 1)
		if r := mustVerify(t, dir); !r.Closed {
			t.Fatalf("seed %d: the untouched log is not closed", seed)
		}
		if len(files) < 2 {
			continue
		}
		kind := rng.IntN(len(kinds))
		file, line := kinds[kind](rng, t, dir, files)
		r, err := Verify([]string{dir})
		if err != nil {
			t.Fatalf("seed %d: Verify: %v", seed, err)
		}
		if r.OK() && r.Closed {
			t.Errorf("seed %d, tampering %d: not detected", seed, kind)
			continue
		}
		if file != "" && !hasLocatedFinding(r, file, line) {
			t.Errorf("seed %d, tampering %d: want a finding at %s:%d, got %v", seed, kind, file, line, r.Findings)
		}
	}
}

func hasLocatedFinding(r Report, file string, line int) bool {
	for _, f := range r.Findings {
		if f.File == file && f.Line == line {
			return true
		}
	}
	return false
}
