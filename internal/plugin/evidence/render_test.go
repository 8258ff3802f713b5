/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package evidence

import (
	"strings"
	"testing"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

func TestMarkdownEscapeKeepsValuesInertInsideATableCell(t *testing.T) {
	for in, want := range map[string]string{
		"shcr-plugin/clinicians":           "shcr-plugin/clinicians",
		"a | b":                            `a \| b`,
		"<img src=x onerror=alert(1)>":     "&lt;img src=x onerror=alert(1)&gt;",
		"**bold** _it_ `code` [link](x) &": `\*\*bold\*\* \_it\_ \` + "`" + `code\` + "`" + ` \[link\](x) &amp;`,
		"two\nlines":                       "two lines",
	} {
		if got := markdownEscape(in); got != want {
			t.Errorf("markdownEscape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRenderWritesEmptyTablesAsNone(t *testing.T) {
	p := Pack{Title: "T", Sections: []Section{{Title: "S", Tables: []Table{{Headers: []string{"A", "B"}}}}}}
	for _, format := range []string{FormatMarkdown, FormatHTML} {
		var b strings.Builder
		if err := render(&b, format, p); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), "None.") {
			t.Errorf("%s: an empty table is not written as None:\n%s", format, b.String())
		}
	}
}

func TestIsHashMarksOnlyDigests(t *testing.T) {
	for in, want := range map[string]bool{
		"sha256:" + strings.Repeat("0a", 32): true,
		strings.Repeat("f", 64):              true,
		"sha256:" + strings.Repeat("G", 64):  false, // not hex
		"sha256:abc":                         false, // too short to need breaking
		"DirectCare":                         false,
		"":                                   false,
	} {
		if got := isHash(in); got != want {
			t.Errorf("isHash(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestAuditNoteSaysWhatKeepsTheTrailForEachSink(t *testing.T) {
	file := auditNote(shcrv1alpha1.AuditSpec{Sink: shcrv1alpha1.AuditSinkFile, RetentionDays: 3000})
	if !strings.Contains(file, "deletes a file once its newest event is older than 3000 days") || strings.Contains(file, "not enforced") {
		t.Errorf("File sink: %q", file)
	}
	stdout := auditNote(shcrv1alpha1.AuditSpec{Sink: shcrv1alpha1.AuditSinkStdout, RetentionDays: 3000})
	if !strings.Contains(stdout, "3000 days, is not enforced") || strings.Contains(stdout, "deletes") {
		t.Errorf("Stdout sink: %q", stdout)
	}
}
