/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package auditlog keeps the record gateway's audit trail on disk: one
// JSON AuditEvent per line, appended to a current file, rotated by size and
// by UTC day, deleted after the retention period, and chained by sha256 so
// that any edited, removed, inserted or reordered line, and any file missing
// from the middle of the trail, is found by Verify.
//
// Every line the log holds stays a FHIR R4 AuditEvent a log shipper can
// read. Its chain hash is carried in the event itself, as the last element
// of the object: an extension with the URL ChainExtensionURL whose
// valueString is "sha256:" and 64 hex digits. The hash of line i is
// sha256(hash of line i-1 || the line as the gateway wrote it), the line
// without the extension and without its newline. The log's own records
// (a file opened, the log reopened after a restart, files deleted by
// retention, the log closed) are AuditEvents too, of DICOM type 110100
// Application Activity with a subtype from ChainCodeSystem, and are chained
// like every other line.
package auditlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// ChainExtensionURL is the URL of the extension that carries a line's chain
// hash.
const ChainExtensionURL = "https://shcr.io/fhir/StructureDefinition/audit-chain"

// hashPrefix starts the text form of a hash.
const hashPrefix = "sha256:"

// Hash is a link of the chain: the sha256 of the previous link and a line.
// The zero Hash is the start of a new log.
type Hash [sha256.Size]byte

// String is "sha256:" and the hash in hex.
func (h Hash) String() string { return hashPrefix + hex.EncodeToString(h[:]) }

// ParseHash reads the text form of a hash, as String writes it.
func ParseHash(s string) (Hash, error) {
	var h Hash
	hexPart, ok := strings.CutPrefix(s, hashPrefix)
	if !ok || len(hexPart) != 2*len(h) {
		return h, fmt.Errorf("hash %q: want %s and %d hex digits", s, hashPrefix, 2*len(h))
	}
	if _, err := hex.Decode(h[:], []byte(hexPart)); err != nil {
		return h, fmt.Errorf("hash %q: %w", s, err)
	}
	return h, nil
}

// next is the link after prev for line.
func next(prev Hash, line []byte) Hash {
	d := sha256.New()
	d.Write(prev[:])
	d.Write(line)
	var h Hash
	d.Sum(h[:0])
	return h
}

// linker computes links as next does, with one digest it resets for each
// line and without allocating: a writer keeps one.
type linker struct {
	d hash.Hash
	// buf holds the previous link, then the sum, so that nothing handed
	// to the digest escapes to the heap.
	buf [2 * sha256.Size]byte
}

// next is the link after prev for line.
func (k *linker) next(prev Hash, line []byte) Hash {
	if k.d == nil {
		k.d = sha256.New()
	}
	k.d.Reset()
	copy(k.buf[:sha256.Size], prev[:])
	k.d.Write(k.buf[:sha256.Size])
	k.d.Write(line)
	var h Hash
	copy(h[:], k.d.Sum(k.buf[sha256.Size:sha256.Size]))
	return h
}

var (
	sealHead = []byte(`,"extension":[{"url":"` + ChainExtensionURL + `","valueString":"` + hashPrefix)
	sealTail = []byte(`"}]}`)
	sealLen  = len(sealHead) + 2*sha256.Size + len(sealTail)
)

// errNotObject is returned for a line that is not a JSON object with at
// least one member: it cannot carry the chain extension.
var errNotObject = errors.New(`auditlog: every line must be a JSON object starting with {" and ending with }`)

// checkLine says whether a line the gateway hands over can be sealed.
func checkLine(line []byte) error {
	if len(line) < 3 || line[0] != '{' || line[1] != '"' || line[len(line)-1] != '}' {
		return errNotObject
	}
	return nil
}

// seal appends line with its chain hash h as its last element, and a newline.
func seal(dst, line []byte, h Hash) []byte {
	dst = append(dst, line[:len(line)-1]...)
	dst = append(dst, sealHead...)
	dst = hex.AppendEncode(dst, h[:])
	dst = append(dst, sealTail...)
	return append(dst, '\n')
}

// unseal splits a written line (without its newline) into the line that was
// hashed and the hash it carries. ok is false when it carries none.
func unseal(written []byte) (line []byte, h Hash, ok bool) {
	if len(written) < sealLen+2 {
		return nil, h, false
	}
	cut := len(written) - sealLen
	s := written[cut:]
	if !bytes.HasPrefix(s, sealHead) || !bytes.HasSuffix(s, sealTail) {
		return nil, h, false
	}
	digits := s[len(sealHead) : len(s)-len(sealTail)]
	// Lower case only: a hash written in another case is an edit too.
	if _, err := hex.Decode(h[:], digits); err != nil || !bytes.Equal(hex.AppendEncode(nil, h[:]), digits) {
		return nil, h, false
	}
	line = make([]byte, cut+1)
	copy(line, written[:cut])
	line[cut] = '}'
	return line, h, true
}
