/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package policy compiles a region's members, agreements and access policies
// into the bundle its gateway enforces. It is pure: no Kubernetes client and
// no clock of its own, and the same input always gives the same bytes.
package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// BundleVersion is the format version of the bundles this package writes. A
// gateway that does not know a bundle's version denies everything.
const BundleVersion = "shcr.io/policy-bundle/v1"

// Bundle is the compiled policy of one region. A bundle with no grants denies
// every request.
type Bundle struct {
	// Version is the bundle format, BundleVersion.
	Version string `json:"version"`
	// Region is the ShCRRegion the bundle belongs to.
	Region string `json:"region"`
	// Grants are the effective grants; nothing outside them is allowed.
	Grants []Grant `json:"grants"`
	// Assurance is the region's IG Framework gate: no grant allows anything
	// outside its window, and a bundle without it (or with Assured false)
	// allows nothing.
	Assurance Assurance `json:"assurance"`
}

// Assurance is the IG Framework gate of a region: sharing is allowed only
// while every requirement of the Framework is assured by the region's
// independent assurance panel, From <= now < Until. From is when the last
// requirement's assurance took effect, Until the earliest review date.
type Assurance struct {
	// Assured is true when every requirement has a counted assurance.
	Assured bool `json:"assured"`
	// From and Until bound when the region is assured, in UTC.
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
	// Reason says why a region is not assured; empty when Assured.
	Reason string `json:"reason,omitempty"`
}

// Covers reports whether the region is assured at t.
func (a Assurance) Covers(t time.Time) bool {
	return a.Assured && !t.Before(a.From) && t.Before(a.Until)
}

// Grant is one compiled permission: staff of the Consumers holding one of
// the Roles may take the Actions on the Categories of records that came from
// the Providers, for the PurposesOfUse, while ValidFrom <= now < ValidUntil.
// It is the intersection of one AccessPolicy grant with one version of the
// agreement it names, so it never exceeds what was signed.
type Grant struct {
	// Agreement is the agreementId the grant derives from.
	Agreement string `json:"agreement"`
	// AgreementVersion is the version of that agreement.
	AgreementVersion int32 `json:"agreementVersion"`
	// Policy is the AccessPolicy (namespace/name) that granted it.
	Policy string `json:"policy"`
	// Consumers are the ODS codes of the organisations whose staff are
	// granted: admitted consumer parties named by the policy.
	Consumers []string `json:"consumers"`
	// Providers are the ODS codes of the organisations whose records are
	// covered: admitted provider parties.
	Providers []string `json:"providers"`
	// Roles are the national RBAC role codes granted. R8008 never is.
	Roles []string `json:"roles"`
	// Categories are the data categories granted, inside the agreement's.
	Categories []string `json:"categories"`
	// Actions are read and/or search.
	Actions []string `json:"actions"`
	// PurposesOfUse are TREAT and/or ETREAT; ETREAT works only with a valid
	// break-glass override.
	PurposesOfUse []string `json:"purposesOfUse"`
	// RequireLegitimateRelationship demands that the caller asserts a care
	// relationship with the patient, unless breaking glass.
	RequireLegitimateRelationship bool `json:"requireLegitimateRelationship"`
	// Sensitive is how records with sensitive security labels are treated:
	// Exclude, BreakGlassOnly or Allow.
	Sensitive string `json:"sensitive"`
	// BreakGlass, when present, allows an emergency override.
	BreakGlass *GrantBreakGlass `json:"breakGlass,omitempty"`
	// ValidFrom and ValidUntil bound when the grant is in force, in UTC:
	// ValidFrom <= now < ValidUntil.
	ValidFrom  time.Time `json:"validFrom"`
	ValidUntil time.Time `json:"validUntil"`
}

// GrantBreakGlass is a grant's emergency override.
type GrantBreakGlass struct {
	// Roles are the role codes that may break glass.
	Roles []string `json:"roles"`
	// MaxDurationSeconds is how long one override lasts from its start.
	MaxDurationSeconds int64 `json:"maxDurationSeconds"`
}

// Encode serialises a bundle. Its output is deterministic, so an unchanged
// bundle has unchanged bytes and an unchanged revision.
func (b Bundle) Encode() ([]byte, error) {
	out, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("encoding policy bundle: %w", err)
	}
	return out, nil
}

// Revision is the sha256 of a bundle's encoded bytes.
func Revision(encoded []byte) string {
	sum := sha256.Sum256(encoded)
	return hex.EncodeToString(sum[:])
}

// Decode reads a bundle and refuses one whose format it does not know.
func Decode(data []byte) (Bundle, error) {
	var b Bundle
	if err := json.Unmarshal(data, &b); err != nil {
		return Bundle{}, fmt.Errorf("policy bundle is not valid JSON: %w", err)
	}
	if b.Version != BundleVersion {
		return Bundle{}, fmt.Errorf("policy bundle version %q is not supported (want %q)", b.Version, BundleVersion)
	}
	return b, nil
}
