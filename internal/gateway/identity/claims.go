/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package identity

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Caller is the member of staff a verified token identifies.
type Caller struct {
	// Issuer and Subject identify the user at the identity provider.
	Issuer, Subject string
	// Organisation is the ODS code of the organisation the user acts for.
	Organisation string
	// Role is the national RBAC role code (R8000, ...) the user acts in.
	Role string
	// PurposeOfUse is the asserted HL7 PurposeOfUse code: TREAT or ETREAT.
	PurposeOfUse string
	// LegitimateRelationship is the user's assertion of a care relationship.
	LegitimateRelationship bool
	// BreakGlassReason, when set, asks for an emergency override.
	BreakGlassReason string
	// IssuedAt is the token's iat; an override starts then.
	IssuedAt time.Time
	// DecisionAPIAudience is true when the token's aud holds the audience
	// configured for the decision API.
	DecisionAPIAudience bool
}

// ClaimMapping names the token claims the gateway reads the caller from.
// DefaultClaimMapping follows NHS CIS2.
type ClaimMapping struct {
	// Subject is the claim identifying the user.
	Subject string
	// Roles is the array of the user's role profiles, and SelectedRole the
	// claim naming the one in use by its person_roleid. The entry gives the
	// organisation (org_code) and the role (role_code, "S…:G…:R…", of which
	// the R-code is used).
	Roles, SelectedRole string
	// Organisation and Role, when set, are top-level string claims read
	// instead of the role profile's org_code and role_code.
	Organisation, Role string
	// PurposeOfUse is a string claim holding TREAT or ETREAT.
	PurposeOfUse string
	// LegitimateRelationship is a boolean claim.
	LegitimateRelationship string
	// BreakGlassReason is a string claim; non-blank asks for an override.
	BreakGlassReason string
}

// DefaultClaimMapping reads a CIS2 token: sub, and the entry of
// nhsid_nrbac_roles whose person_roleid is selected_roleid, plus the
// gateway's own purpose_of_use, legitimate_relationship and
// break_glass_reason claims.
func DefaultClaimMapping() ClaimMapping {
	return ClaimMapping{
		Subject:                "sub",
		Roles:                  "nhsid_nrbac_roles",
		SelectedRole:           "selected_roleid",
		PurposeOfUse:           "purpose_of_use",
		LegitimateRelationship: "legitimate_relationship",
		BreakGlassReason:       "break_glass_reason",
	}
}

// roleProfile is one entry of the CIS2 nhsid_nrbac_roles claim.
type roleProfile struct {
	PersonRoleID string `json:"person_roleid"`
	OrgCode      string `json:"org_code"`
	RoleCode     string `json:"role_code"`
}

// claimSet is a verified token's payload.
type claimSet map[string]json.RawMessage

// caller reads the caller from verified claims. Subject, organisation and
// role are required; the rest are left to the policy decision.
func (m ClaimMapping) caller(claims claimSet) (Caller, error) {
	c := Caller{
		Subject:                claims.str(m.Subject),
		PurposeOfUse:           claims.str(m.PurposeOfUse),
		LegitimateRelationship: claims.boolean(m.LegitimateRelationship),
		BreakGlassReason:       strings.TrimSpace(claims.str(m.BreakGlassReason)),
	}
	if c.Subject == "" {
		return Caller{}, fmt.Errorf("the token has no %q claim naming the user", m.Subject)
	}
	profile, err := m.selectedProfile(claims)
	if err != nil {
		return Caller{}, err
	}
	c.Organisation = firstNonEmpty(claims.str(m.Organisation), profile.OrgCode)
	c.Role = firstNonEmpty(claims.str(m.Role), nationalRoleCode(profile.RoleCode))
	if c.Organisation == "" || c.Role == "" {
		return Caller{}, errors.New("the token does not name the user's organisation and role: " + m.describe())
	}
	return c, nil
}

// selectedProfile finds the role profile in use, unless both organisation
// and role come from top-level claims.
func (m ClaimMapping) selectedProfile(claims claimSet) (roleProfile, error) {
	if m.Organisation != "" && m.Role != "" {
		return roleProfile{}, nil
	}
	selected := claims.str(m.SelectedRole)
	var profiles []roleProfile
	if raw, ok := claims[m.Roles]; ok {
		if err := json.Unmarshal(raw, &profiles); err != nil {
			return roleProfile{}, fmt.Errorf("the %q claim is not an array of role profiles: %w", m.Roles, err)
		}
	}
	for _, p := range profiles {
		if selected != "" && p.PersonRoleID == selected {
			return p, nil
		}
	}
	return roleProfile{}, errors.New("the token does not name the user's organisation and role: " + m.describe())
}

func (m ClaimMapping) describe() string {
	if m.Organisation != "" && m.Role != "" {
		return fmt.Sprintf("expected string claims %q and %q", m.Organisation, m.Role)
	}
	return fmt.Sprintf("expected %q to match the person_roleid of an entry of %q with org_code and role_code",
		m.SelectedRole, m.Roles)
}

// nationalRoleCode reduces a CIS2 role code "S8000:G8000:R8000" to its
// national RBAC role, the last part.
func nationalRoleCode(code string) string {
	return code[strings.LastIndexByte(code, ':')+1:]
}

func (c claimSet) str(name string) string {
	var s string
	if raw, ok := c[name]; ok && name != "" && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return ""
}

// boolean is true only for a JSON true.
func (c claimSet) boolean(name string) bool {
	var b bool
	if raw, ok := c[name]; ok && name != "" && json.Unmarshal(raw, &b) == nil {
		return b
	}
	return false
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
