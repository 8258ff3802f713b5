/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package evidence

import (
	"embed"
	htmltemplate "html/template"
	"io"
	"strings"
	texttemplate "text/template"
)

// The formats of an evidence pack.
const (
	FormatMarkdown = "md"
	FormatHTML     = "html"
)

//go:embed templates
var templates embed.FS

// The pack's templates, one per format.
var (
	markdownTemplate = texttemplate.Must(texttemplate.New("pack.md.tmpl").
				Funcs(texttemplate.FuncMap{"md": markdownEscape}).
				ParseFS(templates, "templates/pack.md.tmpl"))
	htmlTemplate = htmltemplate.Must(htmltemplate.New("pack.html.tmpl").
			Funcs(htmltemplate.FuncMap{"isHash": isHash}).
			ParseFS(templates, "templates/pack.html.tmpl"))
)

// markdownEscaper makes a value inert in Markdown: the characters that
// format or break a table are backslash-escaped, HTML is written as
// entities so that a viewer never renders it, and newlines become spaces.
var markdownEscaper = strings.NewReplacer(
	`\`, `\\`, "|", `\|`, "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`,
	"&", "&amp;", "<", "&lt;", ">", "&gt;", "\r\n", " ", "\n", " ", "\r", " ",
)

func markdownEscape(s string) string { return markdownEscaper.Replace(s) }

// isHash reports whether a cell holds a hash ("sha256:<hex>" or a bare
// hex digest), which the HTML sets in monospace and lets break anywhere.
func isHash(s string) bool {
	s = strings.TrimPrefix(s, "sha256:")
	if len(s) < 32 {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}

// render writes a pack as Markdown or as HTML; html/template escapes every
// value by context.
func render(w io.Writer, format string, p Pack) error {
	if format == FormatHTML {
		return htmlTemplate.Execute(w, p)
	}
	return markdownTemplate.Execute(w, p)
}
