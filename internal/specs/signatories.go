/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package specs

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// The permission the API server checks before it admits an approval of a
// DataSharingAgreement for an organisation (the ValidatingAdmissionPolicy
// shcr-approval-signatory): the verb ApproveVerb on the resource
// ApprovalResource of the shcr.io group, named by the organisation's ODS
// code, in the region namespace. No such resource is served: the rule
// exists only to be checked, as Kubernetes checks "approve" on signers for
// CertificateSigningRequests. The operator grants it to an organisation's
// spec.signatories and to no one else.
const (
	ApproveVerb      = "approve"
	ApprovalResource = "organisations"
	// ComponentSignatories labels the Role and RoleBinding of an
	// organisation's signatories.
	ComponentSignatories = "signatories"
)

// SignatoriesName names the Role and the RoleBinding that let an
// organisation's signatories approve for it: after the MemberOrganisation,
// not its code, so that a later holder of the code never meets the grant of
// an earlier one still being collected. A name too long for an object
// (over 253 characters with the prefix) is shortened with a hash of it.
func SignatoriesName(member *shcrv1alpha1.MemberOrganisation) string {
	const prefix = "shcr-signatories-"
	if len(prefix)+len(member.Name) <= validation.DNS1123SubdomainMaxLength {
		return prefix + member.Name
	}
	sum := sha256.Sum256([]byte(member.Name))
	keep := validation.DNS1123SubdomainMaxLength - len(prefix) - 17
	return prefix + strings.TrimRight(member.Name[:keep], ".-") + "-" + hex.EncodeToString(sum[:8])
}

func signatoriesMeta(region string, member *shcrv1alpha1.MemberOrganisation) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:      SignatoriesName(member),
		Namespace: member.Namespace,
		Labels: map[string]string{
			LabelManagedBy:           ManagedBy,
			LabelPartOf:              "shcr",
			LabelName:                ComponentSignatories,
			LabelComponent:           ComponentSignatories,
			shcrv1alpha1.LabelRegion: region,
			LabelOrganisation:        member.Spec.ODSCode,
		},
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(member,
			shcrv1alpha1.GroupVersion.WithKind("MemberOrganisation"))},
	}
}

// SignatoriesRole grants approve on the organisation's ODS code, and
// nothing else.
func SignatoriesRole(region string, member *shcrv1alpha1.MemberOrganisation) *rbacv1.Role {
	return &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "Role"},
		ObjectMeta: signatoriesMeta(region, member),
		Rules: []rbacv1.PolicyRule{{
			APIGroups:     []string{shcrv1alpha1.GroupVersion.Group},
			Resources:     []string{ApprovalResource},
			ResourceNames: []string{member.Spec.ODSCode},
			Verbs:         []string{ApproveVerb},
		}},
	}
}

// SignatoriesRoleBinding binds SignatoriesRole to exactly the users and
// groups of spec.signatories (none: a binding without subjects, so no one
// may approve for the organisation).
func SignatoriesRoleBinding(region string, member *shcrv1alpha1.MemberOrganisation) *rbacv1.RoleBinding {
	subjects := make([]rbacv1.Subject, 0, len(member.Spec.Signatories))
	for _, s := range member.Spec.Signatories {
		var kind string
		switch s.Kind {
		case shcrv1alpha1.SignatoryUser:
			kind = rbacv1.UserKind
		case shcrv1alpha1.SignatoryGroup:
			kind = rbacv1.GroupKind
		default: // not admitted by the CRD; grants nothing
			continue
		}
		subjects = append(subjects, rbacv1.Subject{Kind: kind, APIGroup: rbacv1.GroupName, Name: s.Name})
	}
	return &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "RoleBinding"},
		ObjectMeta: signatoriesMeta(region, member),
		Subjects:   subjects,
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: SignatoriesName(member)},
	}
}
