/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package phases

import (
	"os"
	"path/filepath"
	"testing"
)

// controllerFiles are the files every controller package has, in the
// region's shape: the Reconciler and its setup, Reconcile and its phases,
// the pure status setters with their table tests, and the map functions of
// its watches. A package may have more (the region's deletion, the
// agreement's ledger).
var controllerFiles = []string{"controller.go", "reconcile.go", "status.go", "status_test.go", "watches.go"}

// Every controller package has the same files, so that a reader who knows
// one controller finds their way in the others.
func TestEveryControllerHasTheSameFiles(t *testing.T) {
	root := filepath.Join("..", "..")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	controllers := 0
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "internal" {
			continue
		}
		controllers++
		for _, f := range controllerFiles {
			if _, err := os.Stat(filepath.Join(root, e.Name(), f)); err != nil {
				t.Errorf("controllers/%s has no %s", e.Name(), f)
			}
		}
	}
	if controllers < 4 {
		t.Errorf("found %d controller packages under controllers/, want the four kinds'", controllers)
	}
}
