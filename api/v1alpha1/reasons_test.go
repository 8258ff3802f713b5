/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package v1alpha1

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// constants returns the string constants of this package whose names start
// with prefix, by name, read from its source.
func constants(t *testing.T, prefix string) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			spec, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, name := range spec.Names {
				if !strings.HasPrefix(name.Name, prefix) || i >= len(spec.Values) {
					continue
				}
				if lit, ok := spec.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					out[name.Name], _ = strconv.Unquote(lit.Value)
				}
			}
			return true
		})
	}
	return out
}

// Every Reason constant is classified, so Summarise and the Event filter
// never meet a reason the table does not know.
func TestEveryReasonIsClassified(t *testing.T) {
	reasons := constants(t, "Reason")
	if len(reasons) < 40 {
		t.Fatalf("found only %d Reason constants: the parse is broken", len(reasons))
	}
	for name, value := range reasons {
		if _, ok := ReasonClasses[value]; !ok {
			t.Errorf("%s (%q) is not in ReasonClasses", name, value)
		}
	}
	values := map[string]bool{}
	for _, v := range reasons {
		values[v] = true
	}
	for reason := range ReasonClasses {
		if !values[reason] {
			t.Errorf("ReasonClasses lists %q, which is no Reason constant", reason)
		}
	}
	if ClassOf("SomethingNew") != ClassTerminal {
		t.Error("an unclassified reason must count as terminal, so its Event is never silenced")
	}
}

// Every agreement phase has its Reason constant of the same name.
func TestEveryPhaseHasAReason(t *testing.T) {
	phases := constants(t, "Phase")
	if len(phases) != 7 {
		t.Fatalf("found %d phases, want 7: %v", len(phases), phases)
	}
	for name, value := range phases {
		if got := PhaseReason(AgreementPhase(value)); got != value {
			t.Errorf("%s: reason %q, want %q", name, got, value)
		}
	}
	if PhaseReason("Unheard") != ReasonInvalid {
		t.Error("an unknown phase must read as Invalid")
	}
}
