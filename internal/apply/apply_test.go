/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package apply

import "testing"

func TestDifference(t *testing.T) {
	m := func(kv ...any) map[string]any {
		out := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}
	cases := []struct {
		name       string
		live, want any
		diff       string
	}{
		{"equal scalars", int64(2), int64(2), ""},
		{"changed scalar", int64(3), int64(2), " (3, want 2)"},
		{"server-defaulted field ignored", m("a", "x", "defaulted", true), m("a", "x"), ""},
		{"missing field", m("b", "y"), m("a", "x"), ".a"},
		{"empty wanted map may be absent", m(), m("labels", m()), ""},
		{"nested change", m("spec", m("replicas", int64(7))), m("spec", m("replicas", int64(2))), ".spec.replicas (7, want 2)"},
		{"element defaults ignored", []any{m("port", int64(80), "protocol", "TCP")}, []any{m("port", int64(80))}, ""},
		{"extra element is a difference", []any{"a", "b"}, []any{"a"}, "[len 1]"},
		{"removed element is a difference", []any{"a"}, []any{"a", "b"}, "[len 2]"},
		{"element changed", []any{m("name", "a"), m("name", "c")}, []any{m("name", "a"), m("name", "b")}, "[1].name (c, want b)"},
		{"empty lists", nil, []any{}, ""},
		{"type change", "1", int64(1), " (1, want 1)"},
	}
	for _, tc := range cases {
		if got := Difference(tc.live, tc.want); got != tc.diff {
			t.Errorf("%s: Difference = %q, want %q", tc.name, got, tc.diff)
		}
	}
}
