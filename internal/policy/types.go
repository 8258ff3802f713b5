/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package policy

import "time"

// Input is everything Compile needs about one region, taken from its
// MemberOrganisations, DataSharingAgreements and AccessPolicies. It holds
// plain values only, so that Compile is a pure function of it.
type Input struct {
	// Region is the region's name.
	Region string
	// Members are the region's MemberOrganisations, and the members of peer
	// regions that take part in cross-region agreements with it.
	Members []Member
	// Agreements are every version of every DataSharingAgreement in the region.
	Agreements []Agreement
	// Policies are the region's AccessPolicies.
	Policies []Policy
	// Successors are, per agreement ID, the highest version ever approved
	// (the region's agreement ledger), whether or not its object still
	// exists: every lower version is superseded from its start for good.
	Successors map[string]Successor
	// Assurance is the region's IG Framework gate: Compile grants nothing
	// unless it is Assured, and nothing outside its window.
	Assurance Assurance
	// PeerAssurance is, per peer region named by a cross-region (Journey 2)
	// agreement, that region's IG Framework gate: a cross-region agreement
	// grants only while both regions are assured, and nothing when its peer
	// region's gate is missing here (unknown) or not assured.
	PeerAssurance map[string]Assurance
}

// Successor is the highest approved version of an agreement and when it
// takes (or took) effect. It ends every lower version at From, even when
// the version itself is later deleted, suspended or expired: sharing under
// the agreement then stops, it never falls back to older terms.
type Successor struct {
	Version int32
	From    time.Time
}

// Member is a member organisation as far as policy is concerned.
type Member struct {
	// ODSCode identifies the organisation.
	ODSCode string
	// Region is the region the organisation is a member of.
	Region string
	// Admitted is true when the organisation passed the governance gate
	// (DSPT current and met, not suspended, credentials present).
	Admitted bool
	// Provider and Consumer are the organisation's roles.
	Provider, Consumer bool
}

// Party is one party to an agreement.
type Party struct {
	ODSCode string
	// Role is Controller, JointController or Processor.
	Role string
}

// Agreement is one version of a DataSharingAgreement.
type Agreement struct {
	// ID is spec.agreementId; Version is spec.version.
	ID      string
	Version int32
	// Approved is true when every Controller and JointController party has
	// an approval recorded by the admission webhook.
	Approved bool
	// Suspended is spec.suspended.
	Suspended bool
	// EffectiveFrom and EndsOn bound the version's validity.
	EffectiveFrom, EndsOn time.Time
	// Parties to the agreement.
	Parties []Party
	// Categories are the data categories agreed.
	Categories []string
	// Purpose is DirectCare or Other; only DirectCare grants access.
	Purpose string
	// Sensitive is Exclude, BreakGlassOnly or Allow.
	Sensitive string
	// CrossRegion is true for a Journey 2 agreement with PeerRegion;
	// PeerConfirmed is true when the peer holds the same agreement, version
	// and terms hash and lists this region as a peer.
	CrossRegion   bool
	PeerRegion    string
	PeerConfirmed bool
	// Blocked, when set, says why the terms cannot hold whatever the
	// approvals (a processor party without due diligence): the version
	// never grants.
	Blocked string
}

// Policy is one AccessPolicy.
type Policy struct {
	// Name is namespace/name of the AccessPolicy.
	Name string
	// AgreementID is the agreement it grants under.
	AgreementID string
	// Organisations are the ODS codes granted; empty means every party.
	Organisations []string
	// Roles are national RBAC role codes (R8000, ...).
	Roles []string
	// Grants are the categories and actions the policy asks for.
	Grants []PolicyGrant
	// PurposesOfUse are HL7 PurposeOfUse codes: TREAT, ETREAT.
	PurposesOfUse []string
	// RequireLegitimateRelationship demands the caller assert one.
	RequireLegitimateRelationship bool
	// BreakGlass, if set, allows an emergency override.
	BreakGlass *BreakGlass
	// Sensitive is Exclude, BreakGlassOnly or Allow.
	Sensitive string
}

// PolicyGrant is one grant of an AccessPolicy.
type PolicyGrant struct {
	Categories []string
	Actions    []string
}

// BreakGlass is a policy's emergency override.
type BreakGlass struct {
	AllowedRoles []string
	MaxDuration  time.Duration
}

// Request is one access to decide.
type Request struct {
	// CallerODS is the organisation of the member of staff.
	CallerODS string
	// Role is the caller's national RBAC role code (R8000, ...).
	Role string
	// PurposeOfUse is the caller's asserted purpose: TREAT or ETREAT.
	PurposeOfUse string
	// LegitimateRelationship is the caller's assertion of a care relationship.
	LegitimateRelationship bool
	// BreakGlassReason, when not empty, asks for an emergency override.
	BreakGlassReason string
	// BreakGlassStarted is when the override began (the token's issue time);
	// an override lasts at most the grant's MaxDuration from then.
	BreakGlassStarted time.Time
	// Action is read or search.
	Action string
	// Category is the data category of the resource.
	Category string
	// SourceODS is the organisation the resource came from (its provenance tag).
	SourceODS string
	// SecurityLabels are the resource's meta.security codes.
	SecurityLabels []string
}

// Decision is the outcome of Decide. It is a plain value: deciding
// allocates nothing, and the text that explains a decision is written only
// when Reasons is called.
type Decision struct {
	// Allow is true only when a grant covers the request.
	Allow bool
	// Agreement, AgreementVersion and Policy name what granted the access.
	Agreement        string
	AgreementVersion int32
	Policy           string
	// BreakGlass is true when the access was allowed only by an emergency override.
	BreakGlass bool
	// basis is what Reasons explains the decision from.
	basis basis
}

// basis is what a decision was made on: the request, the grant that
// allowed it or came closest, and the first check that grant failed.
type basis struct {
	query query
	// grant is nil when no grant names the caller as a consumer, or when
	// the bundle's version is unsupported.
	grant  *Grant
	failed check
	// unsupportedVersion is the bundle version when failed is
	// checkVersion.
	unsupportedVersion string
	// assurance is the bundle's gate when failed is checkAssured.
	assurance Assurance
}
