/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package governance

import (
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// The rules in this file span objects. Each is written once and applied by
// two callers: the admission webhook (internal/webhook), which refuses what
// breaks it, and the reconciler, which marks what reached the cluster anyway
// (the webhook down or bypassed). Both callers pass the rule the objects it
// reads; the rule itself reads nothing.

// ODSCodeHolder is the MemberOrganisation, of sameCode (the objects that
// name one ODS code, in any region), that holds the code: the oldest that is
// not being deleted, then the first by namespace/name. An object being
// deleted holds nothing, so a GitOps rename (delete, create) is admitted
// while the old object waits for its finalizers: it already shares nothing.
// An object with no creation timestamp yet is the newest. Nil when every
// object is being deleted.
func ODSCodeHolder(sameCode []shcrv1alpha1.MemberOrganisation) *shcrv1alpha1.MemberOrganisation {
	var holder *shcrv1alpha1.MemberOrganisation
	for i := range sameCode {
		m := &sameCode[i]
		if !m.DeletionTimestamp.IsZero() {
			continue
		}
		if holder == nil || older(m, holder) {
			holder = m
		}
	}
	return holder
}

// older reports whether a was created before b (a zero timestamp counts as
// now), ties broken by namespace/name.
func older(a, b *shcrv1alpha1.MemberOrganisation) bool {
	at, bt := a.CreationTimestamp, b.CreationTimestamp
	switch {
	case at.IsZero() != bt.IsZero():
		return bt.IsZero()
	case !at.Equal(&bt):
		return at.Before(&bt)
	}
	return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
}

// UniqueODSCode refuses m when another MemberOrganisation holds its ODS code
// (see ODSCodeHolder): ODS codes are unique across the cluster. sameCode is
// every object naming the code, m itself included or not. The refusal names
// the holder only when it is in m's region: another region's object names
// are not that region's admins' to read. An object being deleted is never
// refused: it holds nothing, and its finalizers must be removable.
func UniqueODSCode(m *shcrv1alpha1.MemberOrganisation, sameCode []shcrv1alpha1.MemberOrganisation) field.ErrorList {
	if !m.DeletionTimestamp.IsZero() {
		return nil
	}
	all := slices.DeleteFunc(slices.Clone(sameCode), func(o shcrv1alpha1.MemberOrganisation) bool {
		return o.Namespace == m.Namespace && o.Name == m.Name
	})
	all = append(all, *m)
	holder := ODSCodeHolder(all)
	if holder == nil || (holder.Namespace == m.Namespace && holder.Name == m.Name) {
		return nil
	}
	where := "in another region"
	if holder.Namespace == m.Namespace {
		where = "of this region, as MemberOrganisation " + holder.Name
	}
	return field.ErrorList{field.Duplicate(field.NewPath("spec", "odsCode"),
		fmt.Sprintf("%s (already a member %s: ODS codes are unique across the cluster)", m.Spec.ODSCode, where))}
}

// GoverningVersion is the version of an agreement a policy is judged
// against, of versions (every object of one agreementId in one region): the
// Active one, else the highest. The policy compiler grants only under the
// Active version; when none is Active the highest is the one being prepared,
// so a policy written ahead of it is checked against it at admission and its
// status says now what will be outside it. Nil when there is no version.
func GoverningVersion(versions []shcrv1alpha1.DataSharingAgreement) *shcrv1alpha1.DataSharingAgreement {
	var best *shcrv1alpha1.DataSharingAgreement
	for i := range versions {
		v := &versions[i]
		if v.Status.Phase == shcrv1alpha1.PhaseActive {
			return v
		}
		if best == nil || v.Spec.Version > best.Spec.Version {
			best = v
		}
	}
	return best
}

// WithinAgreement lists what a policy names outside its governing agreement
// version a: a granted category the agreement does not cover, and a subject
// organisation that is not a party to it. The webhook refuses such a policy;
// the reconciler reports it as ScopeNarrowed (the agreement may change after
// the policy was admitted) and the compiler enforces only the intersection.
func WithinAgreement(p *shcrv1alpha1.AccessPolicy, a *shcrv1alpha1.DataSharingAgreement) field.ErrorList {
	var errs field.ErrorList
	for i, g := range p.Spec.Grants {
		for j, c := range g.Categories {
			if !slices.Contains(a.Spec.Terms.DataCategories, c) {
				errs = append(errs, field.Invalid(field.NewPath("spec", "grants").Index(i).Child("categories").Index(j), c,
					fmt.Sprintf("is not a data category of agreement %s v%d; a policy cannot grant more than was agreed", a.Spec.AgreementID, a.Spec.Version)))
			}
		}
	}
	for i, code := range p.Spec.Subjects.Organisations {
		if !slices.ContainsFunc(a.Spec.Terms.Parties, func(party shcrv1alpha1.Party) bool { return party.ODSCode == code }) {
			errs = append(errs, field.Invalid(field.NewPath("spec", "subjects", "organisations").Index(i), code,
				fmt.Sprintf("is not a party to agreement %s v%d", a.Spec.AgreementID, a.Spec.Version)))
		}
	}
	return errs
}
