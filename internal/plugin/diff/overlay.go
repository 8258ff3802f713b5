/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package diff

import (
	"fmt"
	"maps"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/governance"
	"github.com/shcr-io/shcr-operator/internal/plugin/regionstate"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

// deleteKinds maps the kind names --delete accepts, as kubectl does, to
// the kind.
var deleteKinds = map[string]string{
	"memberorganisation": "MemberOrganisation", "memberorganisations": "MemberOrganisation",
	"member": "MemberOrganisation", "members": "MemberOrganisation", "org": "MemberOrganisation",
	"datasharingagreement": "DataSharingAgreement", "datasharingagreements": "DataSharingAgreement",
	"dsa": "DataSharingAgreement", "agreement": "DataSharingAgreement", "agreements": "DataSharingAgreement",
	"accesspolicy": "AccessPolicy", "accesspolicies": "AccessPolicy", "ap": "AccessPolicy", "accesspol": "AccessPolicy",
}

// parseDeletions reads --delete values, kind/name, into Kind/name keys.
func parseDeletions(values []string) (sets.Set[string], error) {
	out := sets.New[string]()
	for _, v := range values {
		kind, name, ok := strings.Cut(v, "/")
		if canonical, known := deleteKinds[strings.ToLower(kind)]; ok && known && name != "" {
			out.Insert(canonical + "/" + name)
			continue
		}
		return nil, fmt.Errorf("--delete %q: want kind/name, such as accesspolicy/clinicians, dsa/tvs-direct-care-v1 or member/gp", v)
	}
	return out, nil
}

// apply returns the state the cluster would hold after the proposal: a
// proposed object replaces the live object of the same kind and name, or
// is added; a deleted object is removed.
func (p *proposal) apply(live *regionstate.State, deleted sets.Set[string]) (*regionstate.State, error) {
	if err := p.checkDeletions(live, deleted); err != nil {
		return nil, err
	}
	next := &regionstate.State{Target: live.Target, PeerMembers: maps.Clone(live.PeerMembers), Ledger: live.Ledger, Assurance: live.Assurance}
	next.Members = overlay(live.Members, p.members, deleted)
	next.Agreements = overlay(live.Agreements, p.agreements, deleted)
	next.Policies = overlay(live.Policies, p.policies, deleted)
	return next, nil
}

func (p *proposal) checkDeletions(live *regionstate.State, deleted sets.Set[string]) error {
	existing := sets.New(keysOf(live.Members)...).Insert(keysOf(live.Agreements)...).Insert(keysOf(live.Policies)...)
	for _, k := range sets.List(deleted) {
		switch {
		case !existing.Has(k):
			return fmt.Errorf("--delete %s: there is no such object in %s", k, live.Namespace)
		case p.seen.Has(k):
			return fmt.Errorf("--delete %s: the files also propose it; delete it or change it, not both", k)
		}
	}
	return nil
}

func keysOf[T any, P interface {
	*T
	client.Object
}](items []T) []string {
	out := make([]string, len(items))
	for i := range items {
		out[i] = key(P(&items[i]))
	}
	return out
}

func overlay[T any, P interface {
	*T
	client.Object
}](live, proposed []T, deleted sets.Set[string]) []T {
	replaced := sets.New[string]()
	for i := range proposed {
		replaced.Insert(P(&proposed[i]).GetName())
	}
	var out []T
	for i := range live {
		o := P(&live[i])
		if !replaced.Has(o.GetName()) && !deleted.Has(key(o)) {
			out = append(out, live[i])
		}
	}
	return append(out, proposed...)
}

// converter converts the proposed state for the compiler. Live objects are
// converted as the operator does. Proposed objects have no status yet, so:
// a proposed member is admitted when it passes the governance gate at the
// given time (DSPT, suspension), its credentials assumed present; a
// proposed agreement is approved when every controller party has an
// approval, whoever records it, and a cross-region one is assumed confirmed
// by its peer.
func (p *proposal) converter(region string, at time.Time) regionstate.Converter {
	members, agreements := sets.New[string](), sets.New[string]()
	for i := range p.members {
		members.Insert(p.members[i].Name)
	}
	for i := range p.agreements {
		agreements.Insert(p.agreements[i].Name)
	}
	return regionstate.Converter{
		Member: func(m *shcrv1alpha1.MemberOrganisation, memberRegion string) policy.Member {
			out := governance.PolicyMember(m, memberRegion)
			if memberRegion == region && members.Has(m.Name) {
				out.Admitted = governance.Admit(m, at).Admitted
			}
			return out
		},
		Agreement: func(a *shcrv1alpha1.DataSharingAgreement) policy.Agreement {
			out := governance.PolicyAgreement(a)
			if agreements.Has(a.Name) {
				out.Approved = signedByEveryController(&a.Spec)
				out.PeerConfirmed = out.CrossRegion
			}
			return out
		},
	}
}

// signedByEveryController reports whether every Controller and
// JointController party has an approval, recorded or not.
func signedByEveryController(spec *shcrv1alpha1.DataSharingAgreementSpec) bool {
	signed := sets.New[string]()
	for _, a := range spec.Approvals {
		signed.Insert(a.Organisation)
	}
	for _, party := range spec.Terms.Parties {
		if governance.IsController(party.Role) && !signed.Has(party.ODSCode) {
			return false
		}
	}
	return true
}
