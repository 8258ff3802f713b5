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
}

// Grant is one effective permission. The fields are completed by the
// governance work (members, agreements, policies); an empty list denies all.
type Grant struct {
	// Agreement is the agreementId and version the grant derives from.
	Agreement string `json:"agreement"`
	// Policy is the AccessPolicy that granted it.
	Policy string `json:"policy"`
}

// Input is everything Compile needs about one region.
type Input struct {
	// Region is the region's name.
	Region string
}

// Compile turns a region's inputs into its bundle.
func Compile(in Input) Bundle {
	return Bundle{Version: BundleVersion, Region: in.Region, Grants: []Grant{}}
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
