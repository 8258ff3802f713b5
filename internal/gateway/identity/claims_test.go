/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package identity

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestClaimMapping reads the caller the CIS2 way and with top-level claims.
func TestClaimMapping(t *testing.T) {
	flat := DefaultClaimMapping()
	flat.Organisation, flat.Role = "ods_code", "rbac_role"
	cases := []struct {
		name    string
		mapping ClaimMapping
		claims  claims
		want    Caller
		wantErr string
	}{
		{
			name: "CIS2 selected role among several", mapping: DefaultClaimMapping(),
			claims: clinician().with(claims{"selected_roleid": "555021935109", "break_glass_reason": "  cardiac arrest  "}),
			want: Caller{Subject: "910000000001", Organisation: "B86001", Role: "R8001", PurposeOfUse: "TREAT",
				LegitimateRelationship: true, BreakGlassReason: "cardiac arrest"},
		},
		{
			name: "role code without job role parts", mapping: DefaultClaimMapping(),
			claims: clinician().with(claims{"nhsid_nrbac_roles": []map[string]string{{"person_roleid": "555021935107", "org_code": "RR8", "role_code": "R8003"}}}),
			want:   Caller{Subject: "910000000001", Organisation: "RR8", Role: "R8003", PurposeOfUse: "TREAT", LegitimateRelationship: true},
		},
		{
			name: "top-level claims", mapping: flat,
			claims: claims{"sub": "u1", "ods_code": "RTH", "rbac_role": "R8000", "purpose_of_use": "ETREAT"},
			want:   Caller{Subject: "u1", Organisation: "RTH", Role: "R8000", PurposeOfUse: "ETREAT"},
		},
		{
			name: "top-level claims missing", mapping: flat, claims: claims{"sub": "u1", "ods_code": "RTH"},
			wantErr: `expected string claims "ods_code" and "rbac_role"`,
		},
		{
			name: "profile without organisation", mapping: DefaultClaimMapping(),
			claims:  clinician().with(claims{"nhsid_nrbac_roles": []map[string]string{{"person_roleid": "555021935107", "role_code": "R8000"}}}),
			wantErr: `expected "selected_roleid" to match`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set := claimSet{}
			for k, v := range tc.claims {
				set[k] = json.RawMessage(mustJSON(v))
			}
			got, err := tc.mapping.caller(set)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("caller = %+v, want %+v", got, tc.want)
			}
		})
	}
}
