/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"
)

// The output formats of the verbs.
const (
	FormatTable = "table"
	// FormatWide is the table with every column, as kubectl's -o wide.
	FormatWide = "wide"
	FormatJSON = "json"
	FormatYAML = "yaml"
)

// Output is the -o/--output flag: one of a verb's formats, the first by
// default. An unknown format is refused when the flag is parsed.
type Output struct {
	value   string
	allowed []string
}

// NewOutput returns an Output flag accepting the given formats; the first is
// the default.
func NewOutput(formats ...string) *Output {
	return &Output{value: formats[0], allowed: formats}
}

// String returns the chosen format.
func (o *Output) String() string { return o.value }

// Type names the flag's value in help text.
func (o *Output) Type() string { return "format" }

// Set chooses a format.
func (o *Output) Set(s string) error {
	if !slices.Contains(o.allowed, s) {
		return fmt.Errorf("unknown output format %q: use %s", s, strings.Join(o.allowed, ", "))
	}
	o.value = s
	return nil
}

// Usage is the flag's help text.
func (o *Output) Usage() string {
	return "output format: " + strings.Join(o.allowed, ", ")
}

// Print writes v as JSON or YAML, or calls table for the table formats.
func Print(w io.Writer, format string, v any, table func(io.Writer) error) error {
	switch format {
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case FormatYAML:
		out, err := yaml.Marshal(v)
		if err != nil {
			return fmt.Errorf("encoding YAML: %w", err)
		}
		_, err = w.Write(out)
		return err
	default:
		return table(w)
	}
}

// Table writes rows aligned in columns, as kubectl does.
type Table struct {
	w   io.Writer
	buf bytes.Buffer
	tw  *tabwriter.Writer
	err error
}

// NewTable starts a table with a header row.
func NewTable(w io.Writer, headers ...string) *Table {
	t := &Table{w: w}
	t.tw = tabwriter.NewWriter(&t.buf, 0, 8, 2, ' ', 0)
	t.Row(headers...)
	return t
}

// cellReplacer keeps every row on one line.
var cellReplacer = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")

// Row adds a row. Tabs and newlines in a cell are replaced by spaces, so
// that every row stays one line.
func (t *Table) Row(cells ...string) {
	if t.err != nil {
		return
	}
	clean := make([]string, len(cells))
	for i, c := range cells {
		clean[i] = cellReplacer.Replace(c)
	}
	_, t.err = fmt.Fprintln(t.tw, strings.Join(clean, "\t"))
}

// Flush writes the table out, without the padding an empty last cell
// leaves, and returns the first error met.
func (t *Table) Flush() error {
	if t.err != nil {
		return t.err
	}
	if err := t.tw.Flush(); err != nil {
		return err
	}
	for line := range strings.Lines(t.buf.String()) {
		if _, err := io.WriteString(t.w, strings.TrimRight(line, " \n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}
