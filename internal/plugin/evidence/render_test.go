/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package evidence

import (
	"strings"
	"testing"
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
