/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/governance"
	"github.com/shcr-io/shcr-operator/internal/index"
)

// +kubebuilder:webhook:path=/validate-shcr-io-v1alpha1-datasharingagreement,mutating=false,failurePolicy=fail,sideEffects=None,groups=shcr.io,resources=datasharingagreements,verbs=create;update,versions=v1alpha1,name=vdatasharingagreement.shcr.io,admissionReviewVersions=v1,patch=`{"namespaceSelector":{"matchExpressions":[{"key":"shcr.io/region","operator":"Exists"}]}}`

type agreementValidator struct{ client client.Reader }

func (v *agreementValidator) ValidateCreate(ctx context.Context, a *shcrv1alpha1.DataSharingAgreement) (admission.Warnings, error) {
	return nil, v.validate(ctx, nil, a)
}

func (v *agreementValidator) ValidateUpdate(ctx context.Context, old, a *shcrv1alpha1.DataSharingAgreement) (admission.Warnings, error) {
	return nil, v.validate(ctx, old, a)
}

func (v *agreementValidator) ValidateDelete(context.Context, *shcrv1alpha1.DataSharingAgreement) (admission.Warnings, error) {
	return nil, nil
}

func (v *agreementValidator) validate(ctx context.Context, old, a *shcrv1alpha1.DataSharingAgreement) error {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	var oldSpec any
	if old != nil {
		oldSpec = &old.Spec
	}
	nsErrs, err := ownedNamespace(ctx, v.client, a.Namespace, oldSpec, &a.Spec)
	if err != nil {
		return err
	}
	if old == nil {
		dup, err := v.versionHolder(ctx, a)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		if dup != "" {
			nsErrs = append(nsErrs, DuplicateVersion(a, dup))
		}
	}
	members, err := v.membersWithCodes(ctx, a.Namespace, codesNamed(a))
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	var peerMembers []shcrv1alpha1.MemberOrganisation
	var peer *shcrv1alpha1.ShCRRegion
	if t := a.Spec.Terms; t.Journey == shcrv1alpha1.JourneyCrossRegion {
		peer = &shcrv1alpha1.ShCRRegion{}
		if err := v.client.Get(ctx, client.ObjectKey{Name: t.PeerRegion}, peer); client.IgnoreNotFound(err) != nil {
			return apierrors.NewInternalError(err)
		} else if err != nil {
			peer = nil
		}
		list := &shcrv1alpha1.MemberOrganisationList{}
		if err := v.client.List(ctx, list, client.InNamespace(shcrv1alpha1.NamespaceFor(t.PeerRegion)), client.UnsafeDisableDeepCopy); err != nil {
			return apierrors.NewInternalError(err)
		}
		peerMembers = list.Items
	}
	errs := append(nsErrs, PartiesAreMembers(a, members, peerMembers, peer)...)
	var oldApprovals []shcrv1alpha1.Approval
	if old != nil {
		oldApprovals = old.Spec.Approvals
	}
	errs = append(errs, ApprovalsBySignatories(a, oldApprovals, append(members, peerMembers...),
		req.UserInfo.Username, req.UserInfo.Groups)...)
	return invalid("DataSharingAgreement", a.Name, errs)
}

// versionHolder names another DataSharingAgreement of a's namespace with
// a's agreementId and version, or "" when there is none. It reads the
// cache's index of agreementId, so the check costs the agreement's own
// versions, not the region's agreements.
func (v *agreementValidator) versionHolder(ctx context.Context, a *shcrv1alpha1.DataSharingAgreement) (string, error) {
	same := &shcrv1alpha1.DataSharingAgreementList{}
	if err := v.client.List(ctx, same, client.InNamespace(a.Namespace),
		client.MatchingFields{index.AgreementID: a.Spec.AgreementID}); err != nil {
		return "", err
	}
	for _, o := range same.Items {
		if o.Name != a.Name && o.Spec.Version == a.Spec.Version {
			return o.Name, nil
		}
	}
	return "", nil
}

// DuplicateVersion refuses a second object for an agreement version:
// holder already has a's agreementId and version.
func DuplicateVersion(a *shcrv1alpha1.DataSharingAgreement, holder string) *field.Error {
	return field.Forbidden(field.NewPath("spec", "version"), fmt.Sprintf(
		"DataSharingAgreement %s already holds agreement %s version %d; a version is one object: change its terms as a new version, "+
			"or delete %s before re-creating it under another name", holder, a.Spec.AgreementID, a.Spec.Version, holder))
}

// codesNamed are the ODS codes a's parties and approvals name, each once.
func codesNamed(a *shcrv1alpha1.DataSharingAgreement) []string {
	var codes []string
	for _, p := range a.Spec.Terms.Parties {
		codes = append(codes, p.ODSCode)
	}
	for _, ap := range a.Spec.Approvals {
		codes = append(codes, ap.Organisation)
	}
	slices.Sort(codes)
	return slices.Compact(codes)
}

// membersWithCodes are the MemberOrganisations of ns holding any of codes,
// read through the cache's index of ODS codes: an agreement's admission
// costs its parties, not the region's members. They are only read, so they
// are not copied out of the cache (client.UnsafeDisableDeepCopy).
func (v *agreementValidator) membersWithCodes(ctx context.Context, ns string, codes []string) ([]shcrv1alpha1.MemberOrganisation, error) {
	var out []shcrv1alpha1.MemberOrganisation
	for _, code := range codes {
		list := &shcrv1alpha1.MemberOrganisationList{}
		if err := v.client.List(ctx, list, client.InNamespace(ns), client.MatchingFields{index.MemberODSCode: code}, client.UnsafeDisableDeepCopy); err != nil {
			return nil, err
		}
		out = append(out, list.Items...)
	}
	return out, nil
}

// ApprovalsBySignatories refuses every approval the request adds (one not
// in old) unless the requester, user with groups, is a signatory of each
// member holding the approval's ODS code; an approval for a code no member
// holds is refused too, since no one may sign for it.
func ApprovalsBySignatories(a *shcrv1alpha1.DataSharingAgreement, old []shcrv1alpha1.Approval,
	members []shcrv1alpha1.MemberOrganisation, user string, groups []string) field.ErrorList {
	var errs field.ErrorList
	for i, approval := range a.Spec.Approvals {
		if slices.ContainsFunc(old, func(o shcrv1alpha1.Approval) bool { return sameApproval(o, approval) }) {
			continue
		}
		path := field.NewPath("spec", "approvals").Index(i).Child("organisation")
		var holders []*shcrv1alpha1.MemberOrganisation
		for j := range members {
			if members[j].Spec.ODSCode == approval.Organisation {
				holders = append(holders, &members[j])
			}
		}
		if len(holders) == 0 {
			errs = append(errs, field.Forbidden(path, fmt.Sprintf(
				"%s is not a MemberOrganisation here: no one may approve for it", approval.Organisation)))
			continue
		}
		for _, m := range holders {
			if !governance.IsSignatory(m.Spec.Signatories, user, groups) {
				errs = append(errs, field.Forbidden(path, fmt.Sprintf(
					"%s may not approve for %s: not one of the signatories (spec.signatories) of MemberOrganisation %s/%s",
					user, approval.Organisation, m.Namespace, m.Name)))
				break
			}
		}
	}
	return errs
}

// sameApproval reports whether two approvals are the same signature (who
// recorded it aside).
func sameApproval(a, b shcrv1alpha1.Approval) bool {
	return a.Organisation == b.Organisation && a.Signatory == b.Signatory && a.Role == b.Role && a.Date.Equal(&b.Date)
}

// PartiesAreMembers checks that every party is a member of the agreement's
// region, or, for a cross-region agreement, of its peer region, and that the
// peer region exists.
func PartiesAreMembers(a *shcrv1alpha1.DataSharingAgreement, members, peerMembers []shcrv1alpha1.MemberOrganisation,
	peer *shcrv1alpha1.ShCRRegion) field.ErrorList {
	var errs field.ErrorList
	terms := field.NewPath("spec", "terms")
	crossRegion := a.Spec.Terms.Journey == shcrv1alpha1.JourneyCrossRegion
	if crossRegion && peer == nil {
		errs = append(errs, field.NotFound(terms.Child("peerRegion"), a.Spec.Terms.PeerRegion))
	}
	for i, p := range a.Spec.Terms.Parties {
		if hasCode(members, p.ODSCode) || (crossRegion && hasCode(peerMembers, p.ODSCode)) {
			continue
		}
		where := "of this region"
		if crossRegion {
			where = "of this region or of peer region " + a.Spec.Terms.PeerRegion
		} else if len(peerMembers) == 0 {
			where += " (parties in other regions need a CrossRegion agreement)"
		}
		errs = append(errs, field.Invalid(terms.Child("parties").Index(i).Child("odsCode"), p.ODSCode,
			"is not a MemberOrganisation "+where))
	}
	return errs
}

func hasCode(members []shcrv1alpha1.MemberOrganisation, code string) bool {
	return slices.ContainsFunc(members, func(m shcrv1alpha1.MemberOrganisation) bool { return m.Spec.ODSCode == code })
}

// +kubebuilder:webhook:path=/mutate-shcr-io-v1alpha1-datasharingagreement,mutating=true,failurePolicy=fail,sideEffects=None,groups=shcr.io,resources=datasharingagreements,verbs=create;update,versions=v1alpha1,name=mdatasharingagreement.shcr.io,admissionReviewVersions=v1,patch=`{"namespaceSelector":{"matchExpressions":[{"key":"shcr.io/region","operator":"Exists"}]}}`

// approvalStamper records, on every approval a request adds, the
// Kubernetes identity that made the request. Whatever the client put in
// recordedBy is replaced; approvals already present keep what was recorded.
type approvalStamper struct{}

func (s *approvalStamper) Default(ctx context.Context, a *shcrv1alpha1.DataSharingAgreement) error {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	var old []shcrv1alpha1.Approval
	if len(req.OldObject.Raw) > 0 {
		previous := &shcrv1alpha1.DataSharingAgreement{}
		if err := json.Unmarshal(req.OldObject.Raw, previous); err != nil {
			return apierrors.NewBadRequest(fmt.Sprintf("decoding the previous agreement: %v", err))
		}
		old = previous.Spec.Approvals
	}
	StampApprovals(a.Spec.Approvals, old, req.UserInfo.Username, req.UserInfo.Groups)
	return nil
}

// StampApprovals sets RecordedBy and RecordedGroups on each approval: kept
// from the matching approval in old, the requester's for a new one.
func StampApprovals(approvals, old []shcrv1alpha1.Approval, requester string, groups []string) {
	for i := range approvals {
		a := &approvals[i]
		a.RecordedBy, a.RecordedGroups = requester, slices.Clone(groups)
		for _, o := range old {
			if sameApproval(o, *a) {
				a.RecordedBy, a.RecordedGroups = o.RecordedBy, slices.Clone(o.RecordedGroups)
				break
			}
		}
	}
}
