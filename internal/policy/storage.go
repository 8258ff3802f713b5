/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package policy

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// File names of a stored bundle: plain JSON, or gzip-compressed JSON when the
// plain form would not fit comfortably in a ConfigMap.
const (
	FileJSON = "bundle.json"
	FileGzip = "bundle.json.gz"
	// CompressAbove is the size above which a bundle is stored compressed:
	// below the 1 MiB ConfigMap limit with room for the object's metadata.
	CompressAbove = 900 * 1024
)

// maxDecompressed bounds what a compressed bundle may expand to, so a
// corrupt or hostile file cannot exhaust the gateway's memory.
const maxDecompressed = 256 << 20

// Stored is a bundle as it is written to a ConfigMap: under FileJSON as text,
// or under FileGzip as binary data.
type Stored struct {
	Name string
	Data []byte
}

// Store returns the form an encoded bundle is written in.
func Store(encoded []byte) (Stored, error) {
	if len(encoded) <= CompressAbove {
		return Stored{Name: FileJSON, Data: encoded}, nil
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return Stored{}, err
	}
	// gzip output is deterministic for the same input and level (no name or
	// time in the header), so an unchanged bundle is still byte-identical.
	if _, err := zw.Write(encoded); err != nil {
		return Stored{}, err
	}
	if err := zw.Close(); err != nil {
		return Stored{}, err
	}
	if buf.Len() > CompressAbove {
		return Stored{}, fmt.Errorf("policy bundle is %d bytes compressed, more than a ConfigMap holds", buf.Len())
	}
	return Stored{Name: FileGzip, Data: buf.Bytes()}, nil
}

// LoadDir reads the bundle stored in dir (a mounted ConfigMap) in either form
// and decodes it. Anything missing, unreadable or unknown is an error, and
// the caller must deny everything.
func LoadDir(dir string) (Bundle, error) {
	if data, err := os.ReadFile(filepath.Join(dir, FileGzip)); err == nil {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return Bundle{}, fmt.Errorf("policy bundle %s: %w", FileGzip, err)
		}
		plain, err := io.ReadAll(io.LimitReader(zr, maxDecompressed+1))
		if err != nil {
			return Bundle{}, fmt.Errorf("policy bundle %s: %w", FileGzip, err)
		}
		if len(plain) > maxDecompressed {
			return Bundle{}, fmt.Errorf("policy bundle %s expands beyond %d bytes", FileGzip, maxDecompressed)
		}
		return Decode(plain)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Bundle{}, err
	}
	data, err := os.ReadFile(filepath.Join(dir, FileJSON))
	if err != nil {
		return Bundle{}, fmt.Errorf("no policy bundle in %s: %w", dir, err)
	}
	return Decode(data)
}
