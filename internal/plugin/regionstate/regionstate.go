/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package regionstate reads from the cluster what the operator compiles a
// region's policy bundle from — its MemberOrganisations,
// DataSharingAgreements and AccessPolicies, and the members of the peer
// regions its cross-region agreements name — and the bundle the operator
// stored for the gateway.
package regionstate

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/governance"
	"github.com/shcr-io/shcr-operator/internal/plugin/cli"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

// State is a region's policy-relevant objects.
type State struct {
	cli.Target
	Members    []shcrv1alpha1.MemberOrganisation
	Agreements []shcrv1alpha1.DataSharingAgreement
	Policies   []shcrv1alpha1.AccessPolicy
	// PeerMembers are the members of each peer region a cross-region
	// agreement names, by region.
	PeerMembers map[string][]shcrv1alpha1.MemberOrganisation
	// Ledger is the data of the region's agreement ledger (ConfigMap
	// agreement-ledger); nil when there is none yet.
	Ledger map[string]string
	// Assurance is the region's IG Framework gate as the operator last
	// compiled it (from the stored policy bundle); not assured when there
	// is no bundle yet.
	Assurance policy.Assurance
	// PeerAssurance is each peer region's IG Framework gate, from its
	// stored policy bundle; a peer with no bundle is left out, so its
	// cross-region agreements grant nothing (as the operator compiles).
	PeerAssurance map[string]policy.Assurance
}

// Load reads a region's state, each list sorted by name.
func Load(ctx context.Context, c client.Reader, target cli.Target) (*State, error) {
	s := &State{Target: target, PeerMembers: map[string][]shcrv1alpha1.MemberOrganisation{}, PeerAssurance: map[string]policy.Assurance{}}
	var err error
	if s.Members, err = listMembers(ctx, c, target.Namespace); err != nil {
		return nil, err
	}
	agreements := &shcrv1alpha1.DataSharingAgreementList{}
	if err := c.List(ctx, agreements, client.InNamespace(target.Namespace)); err != nil {
		return nil, fmt.Errorf("listing DataSharingAgreements in %s: %w", target.Namespace, err)
	}
	s.Agreements = sortedByName(agreements.Items)
	policies := &shcrv1alpha1.AccessPolicyList{}
	if err := c.List(ctx, policies, client.InNamespace(target.Namespace)); err != nil {
		return nil, fmt.Errorf("listing AccessPolicies in %s: %w", target.Namespace, err)
	}
	s.Policies = sortedByName(policies.Items)
	ledger := &corev1.ConfigMap{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: target.Namespace, Name: governance.LedgerName}, ledger); client.IgnoreNotFound(err) != nil {
		return nil, fmt.Errorf("reading the agreement ledger (ConfigMap %s/%s): %w", target.Namespace, governance.LedgerName, err)
	}
	s.Ledger = ledger.Data
	// The gate is the operator's: the region's panel records are
	// cluster-scoped and counted against its checkpoints by the operator.
	if b, err := StoredBundle(ctx, c, target.Namespace); err == nil {
		s.Assurance = b.Assurance
	}
	if err := s.LoadPeers(ctx, c); err != nil {
		return nil, err
	}
	return s, nil
}

// LoadPeers reads the members, and the assurance gate, of every peer region
// the agreements name whose members are not read yet.
func (s *State) LoadPeers(ctx context.Context, c client.Reader) error {
	for _, peer := range s.PeerRegions() {
		if _, loaded := s.PeerMembers[peer]; loaded {
			continue
		}
		members, err := listMembers(ctx, c, shcrv1alpha1.NamespaceFor(peer))
		if err != nil {
			return err
		}
		s.PeerMembers[peer] = members
		if s.PeerAssurance == nil {
			s.PeerAssurance = map[string]policy.Assurance{}
		}
		if b, err := StoredBundle(ctx, c, shcrv1alpha1.NamespaceFor(peer)); err == nil {
			s.PeerAssurance[peer] = b.Assurance
		}
	}
	return nil
}

// listMembers lists the MemberOrganisations of a namespace, sorted by name.
func listMembers(ctx context.Context, c client.Reader, namespace string) ([]shcrv1alpha1.MemberOrganisation, error) {
	members := &shcrv1alpha1.MemberOrganisationList{}
	if err := c.List(ctx, members, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("listing MemberOrganisations in %s: %w", namespace, err)
	}
	return sortedByName(members.Items), nil
}

// PeerRegions are the peer regions the cross-region agreements name, sorted.
func (s *State) PeerRegions() []string {
	var peers []string
	for i := range s.Agreements {
		if t := s.Agreements[i].Spec.Terms; t.Journey == shcrv1alpha1.JourneyCrossRegion {
			peers = append(peers, t.PeerRegion)
		}
	}
	slices.Sort(peers)
	return slices.Compact(peers)
}

// Converter turns objects into what the policy compiler sees.
type Converter struct {
	Member    func(m *shcrv1alpha1.MemberOrganisation, region string) policy.Member
	Agreement func(a *shcrv1alpha1.DataSharingAgreement) policy.Agreement
}

// AsOperator converts objects exactly as the region controller does, from
// the admission and approvals the operator recorded.
var AsOperator = Converter{Member: governance.PolicyMember, Agreement: governance.PolicyAgreement}

// PolicyInput gathers the compiler's input as the region controller does.
func (s *State) PolicyInput(conv Converter) policy.Input {
	in := policy.Input{Region: s.Region, Assurance: s.Assurance, PeerAssurance: s.PeerAssurance}
	for i := range s.Members {
		in.Members = append(in.Members, conv.Member(&s.Members[i], s.Region))
	}
	for _, peer := range s.PeerRegions() {
		for i := range s.PeerMembers[peer] {
			in.Members = append(in.Members, conv.Member(&s.PeerMembers[peer][i], peer))
		}
	}
	kept, _ := governance.Distinct(s.Agreements)
	for _, a := range kept {
		in.Agreements = append(in.Agreements, conv.Agreement(a))
	}
	in.Successors = governance.Successors(s.Ledger)
	for i := range s.Policies {
		in.Policies = append(in.Policies, governance.PolicyPolicy(&s.Policies[i]))
	}
	return in
}

// Member finds a member of the region or of a peer region by ODS code.
func (s *State) Member(ods string) (*shcrv1alpha1.MemberOrganisation, bool) {
	lists := [][]shcrv1alpha1.MemberOrganisation{s.Members}
	for _, peer := range s.PeerRegions() {
		lists = append(lists, s.PeerMembers[peer])
	}
	for _, members := range lists {
		for i := range members {
			if members[i].Spec.ODSCode == ods {
				return &members[i], true
			}
		}
	}
	return nil, false
}

// sortedByName sorts objects by name, so that every output is stable.
func sortedByName[T any, P interface {
	*T
	client.Object
}](items []T) []T {
	slices.SortFunc(items, func(x, y T) int { return cmp.Compare(P(&x).GetName(), P(&y).GetName()) })
	return items
}
