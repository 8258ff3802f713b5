/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package policy

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStoreAndLoadBothForms(t *testing.T) {
	small, _ := Compile(Input{Region: "r"}).Encode()
	big := Bundle{Version: BundleVersion, Region: "r"}
	for i := 0; len(mustEncode(t, big)) <= CompressAbove; i++ {
		big.Grants = append(big.Grants, Grant{Agreement: strings.Repeat("A", 40), Policy: "p", Consumers: []string{"RR8"}})
	}
	for name, encoded := range map[string][]byte{"small": small, "large": mustEncode(t, big)} {
		stored, err := Store(encoded)
		if err != nil {
			t.Fatal(err)
		}
		wantName := FileJSON
		if name == "large" {
			wantName = FileGzip
		}
		if stored.Name != wantName {
			t.Errorf("%s bundle stored as %s, want %s", name, stored.Name, wantName)
		}
		again, _ := Store(encoded)
		if !bytes.Equal(stored.Data, again.Data) {
			t.Errorf("%s: storing the same bundle twice gave different bytes", name)
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, stored.Name), stored.Data, 0o600); err != nil {
			t.Fatal(err)
		}
		loaded, err := LoadDir(dir)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(mustEncode(t, loaded), encoded) {
			t.Errorf("%s: loaded bundle differs from what was stored", name)
		}
	}
}

func TestLoadDirFailsClosed(t *testing.T) {
	empty := t.TempDir()
	if _, err := LoadDir(empty); err == nil {
		t.Errorf("a directory with no bundle must be an error")
	}
	corrupt := t.TempDir()
	_ = os.WriteFile(filepath.Join(corrupt, FileGzip), []byte("not gzip"), 0o600)
	if _, err := LoadDir(corrupt); err == nil {
		t.Errorf("a corrupt compressed bundle must be an error")
	}
}

func mustEncode(t *testing.T, b Bundle) []byte {
	t.Helper()
	out, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return out
}
