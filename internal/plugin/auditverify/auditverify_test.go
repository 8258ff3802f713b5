/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package auditverify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shcr-io/shcr-operator/internal/auditlog"
	"github.com/shcr-io/shcr-operator/internal/plugin/cli"
)

// writeLog writes a closed log of n events in files of about 2.5 kB and
// returns its directory, its files in order, and its head.
func writeLog(t *testing.T, n int) (string, []string, string) {
	t.Helper()
	dir := t.TempDir()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	l, err := auditlog.Open(auditlog.Options{Dir: dir, MaxFileBytes: 2500, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		line := fmt.Sprintf(`{"resourceType":"AuditEvent","id":"ev-%d","action":"R"}`+"\n", i)
		if _, err := l.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	_, head := l.Head()
	files, _ := filepath.Glob(filepath.Join(dir, "audit-*.jsonl"))
	return dir, files, head.String()
}

func run(args ...string) (string, error) {
	g := cli.NewGlobal()
	cmd := cli.NewRootCommand(g)
	cmd.AddCommand(NewCommand(g))
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(append([]string{"audit", "verify"}, args...))
	err := cmd.Execute()
	return out.String(), err
}

func TestVerifyAnUntouchedLog(t *testing.T) {
	dir, files, head := writeLog(t, 20)
	for name, args := range map[string][]string{
		"directory":          {dir},
		"files":              files,
		"head":               {"--head", head, dir},
		"open accepted":      {"--open", dir},
		"files out of order": append([]string{files[len(files)-1]}, files[:len(files)-1]...),
	} {
		out, err := run(args...)
		if err != nil || !strings.HasPrefix(out, "verified: ") || !strings.Contains(out, "20 event(s); closed; head "+head) {
			t.Errorf("%s: %v\n%s", name, err, out)
		}
	}
}

func TestVerifyNamesTheTamperedLineAndFails(t *testing.T) {
	dir, files, _ := writeLog(t, 20)
	data, _ := os.ReadFile(files[1])
	lines := strings.SplitAfter(string(data), "\n")
	lines[1], lines[2] = lines[2], lines[1]
	if err := os.WriteFile(files[1], []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := run(dir)
	if !errors.Is(err, ErrTampered) {
		t.Errorf("error %v, want ErrTampered", err)
	}
	if want := filepath.Base(files[1]) + ":2: hash does not match"; !strings.Contains(out, want) || !strings.Contains(out, "NOT VERIFIED") {
		t.Errorf("output does not say %q:\n%s", want, out)
	}

	out, err = run("-o", "json", dir)
	var r auditlog.Report
	if jerr := json.Unmarshal([]byte(out), &r); jerr != nil || !errors.Is(err, ErrTampered) || len(r.Findings) == 0 || r.Findings[0].Line != 2 {
		t.Errorf("-o json: %v, %v\n%s", err, jerr, out)
	}
}

func TestVerifyHoldsTheEndToTheClosingRecordAndAnchors(t *testing.T) {
	dir, files, head := writeLog(t, 20)
	last := files[len(files)-1]
	data, _ := os.ReadFile(last)
	lines := strings.SplitAfter(string(data), "\n")
	// The closing record and the last event removed: the chain that is
	// left is sound, so only the missing closing record and the anchors
	// find it.
	if err := os.WriteFile(last, []byte(strings.Join(lines[:len(lines)-3], "")), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run("--open", dir); err != nil || !strings.Contains(out, "open (no closing record") {
		t.Errorf("--open accepts a log without its closing record: %v\n%s", err, out)
	}
	for _, args := range [][]string{{dir}, {"--open", "--head", head, dir}, {"--open", "--anchor", head, dir}} {
		if out, err := run(args...); !errors.Is(err, ErrTampered) {
			t.Errorf("%v: %v, want ErrTampered\n%s", args, err, out)
		}
	}
}

func TestVerifyRefusesBadInput(t *testing.T) {
	for name, args := range map[string][]string{
		"no path":          {},
		"missing path":     {filepath.Join(t.TempDir(), "nope")},
		"malformed head":   {"--head", "abc", t.TempDir()},
		"malformed anchor": {"--anchor", "sha256:XYZ", t.TempDir()},
	} {
		if _, err := run(args...); err == nil || errors.Is(err, ErrTampered) {
			t.Errorf("%s: %v, want a usage error", name, err)
		}
	}
	// A directory without audit files verifies nothing: a finding, not a pass.
	if _, err := run(t.TempDir()); !errors.Is(err, ErrTampered) {
		t.Errorf("an empty directory: %v, want ErrTampered", err)
	}
}

// The kubectl-shcr binary is what an auditor or a CI job runs: exit code 0
// for a trail that verifies, 4 for one that does not, 1 on an error.
func TestKubectlShcrAuditVerifyExitCodes(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is needed to build kubectl-shcr")
	}
	bin := filepath.Join(t.TempDir(), "kubectl-shcr")
	if out, err := exec.Command(goTool, "build", "-o", bin, "github.com/shcr-io/shcr-operator/cmd/kubectl-shcr").CombinedOutput(); err != nil {
		t.Fatalf("building kubectl-shcr: %v\n%s", err, out)
	}
	good, _, _ := writeLog(t, 10)
	middle, files, _ := writeLog(t, 20)
	if err := os.Remove(files[1]); err != nil {
		t.Fatal(err)
	}
	newest, files, _ := writeLog(t, 10)
	if err := os.Remove(files[len(files)-1]); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dir  string
		code int
		want string
	}{
		{good, 0, "verified: "},
		{middle, ExitTampered, "are missing before it"},
		{newest, ExitTampered, "does not end with the closing record"},
		{filepath.Join(good, "missing"), 1, "Error: "},
	} {
		cmd := exec.Command(bin, "audit", "verify", tc.dir)
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != tc.code || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s: exit code %d, want %d, and output saying %q:\n%s", tc.dir, code, tc.code, tc.want, out)
		}
	}
}
