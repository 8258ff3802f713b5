/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package auditlog

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// BenchmarkWrite is the cost of the File sink per write: one event (a read)
// or twenty (a search page), each of about 2.2 kB, as the gateway writes them.
func BenchmarkWrite(b *testing.B) {
	line := `{"resourceType":"AuditEvent","id":"929cf3a4-73d8-404c-9ba0-d6c9b387cf2b","detail":"` + strings.Repeat("x", 2100) + `"}` + "\n"
	for _, n := range []int{1, 20} {
		p := []byte(strings.Repeat(line, n))
		b.Run(map[int]string{1: "read", 20: "search-page"}[n], func(b *testing.B) {
			l, err := Open(Options{Dir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = l.Close() }()
			b.SetBytes(int64(len(p)))
			for b.Loop() {
				if _, err := l.Write(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// The plain append the File sink replaced, for comparison.
	b.Run("plain-append-read", func(b *testing.B) {
		f, err := os.CreateTemp(b.TempDir(), "audit")
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = f.Close() }()
		p := bytes.Repeat([]byte(line), 1)
		b.SetBytes(int64(len(p)))
		for b.Loop() {
			if _, err := f.Write(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
