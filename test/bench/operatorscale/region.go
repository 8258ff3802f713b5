/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package main

import (
	"context"
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/test/fixtures"
)

// regionObjects is everything a platform team applies to onboard a region.
type regionObjects struct {
	region     *shcrv1alpha1.ShCRRegion
	secrets    []*corev1.Secret
	members    []*shcrv1alpha1.MemberOrganisation
	agreements []*shcrv1alpha1.DataSharingAgreement
	policies   []*shcrv1alpha1.AccessPolicy
}

// objects is how many objects the platform team creates.
func (r *regionObjects) objects() int {
	return 1 + len(r.secrets) + len(r.members) + len(r.agreements) + len(r.policies)
}

var sharedCategories = []shcrv1alpha1.DataCategory{
	shcrv1alpha1.CategoryDemographics, shcrv1alpha1.CategoryMedications, shcrv1alpha1.CategoryAllergies,
	shcrv1alpha1.CategoryTestResults, shcrv1alpha1.CategoryCarePlans, shcrv1alpha1.CategoryAppointments,
	shcrv1alpha1.CategoryInpatientStays, shcrv1alpha1.CategoryDischargeLetters, shcrv1alpha1.CategoryClinicalContacts,
}

// buildRegion is a region of n organisations, each with a FHIR connector and
// its credentials Secret; every five consecutive organisations are the
// controllers of one direct-care agreement, approved by all five at once,
// with two access policies: clinicians (R8000) of every party, and care
// staff (R8003) of the first party for a narrower scope.
func buildRegion(n int) *regionObjects {
	ns := shcrv1alpha1.NamespaceFor(regionName)
	r := &regionObjects{region: &shcrv1alpha1.ShCRRegion{
		ObjectMeta: metav1.ObjectMeta{Name: regionName},
		Spec: shcrv1alpha1.ShCRRegionSpec{DisplayName: "Benchmark region",
			Gateway: shcrv1alpha1.GatewaySpec{Identity: fixtures.GatewayIdentity(regionName)}},
	}}
	for i := range n {
		m := fixtures.Member(ns, fmt.Sprintf("org-%05d", i), fmt.Sprintf("B%05d", i), "GPPractice")
		// The bench applies everything, approvals included, as cluster admin.
		m.Spec.Signatories = append(m.Spec.Signatories, shcrv1alpha1.Signatory{Kind: shcrv1alpha1.SignatoryGroup, Name: "system:masters"})
		r.members = append(r.members, m)
		r.secrets = append(r.secrets, fixtures.Credentials(ns, m.Spec.Connector.CredentialsSecretRef.Name))
	}
	from, until := time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0)
	for a := range n / 5 {
		id := fmt.Sprintf("BENCH-DSA-%04d", a)
		var parties []string
		for _, m := range r.members[5*a : 5*a+5] {
			parties = append(parties, m.Spec.ODSCode)
		}
		dsa := fixtures.Agreement(ns, fmt.Sprintf("dsa-%04d", a), id, 1, sharedCategories, from, until, parties...)
		for _, code := range parties {
			dsa.Spec.Approvals = append(dsa.Spec.Approvals, shcrv1alpha1.Approval{
				Organisation: code, Signatory: "Caldicott Guardian of " + code, Role: "CaldicottGuardian",
				Date: metav1.NewTime(from.Truncate(time.Second)),
			})
		}
		r.agreements = append(r.agreements, dsa)
		r.policies = append(r.policies,
			fixtures.AccessPolicy(ns, fmt.Sprintf("clinicians-%04d", a), id, []string{"R8000"}, nil, sharedCategories...),
			fixtures.AccessPolicy(ns, fmt.Sprintf("care-staff-%04d", a), id, []string{"R8003"}, parties[:1],
				shcrv1alpha1.CategoryDemographics, shcrv1alpha1.CategoryMedications, shcrv1alpha1.CategoryCarePlans))
	}
	return r
}

// apply creates the region as a GitOps tool would: everything, in
// dependency order (region; Secrets and organisations; agreements;
// policies), each retried until the API server accepts it (the namespace
// may not exist yet, or the webhooks may not yet see an agreement's
// parties).
func (r *regionObjects) apply(ctx context.Context, c client.Client, clients int) error {
	create := func(ctx context.Context, obj client.Object) error {
		obj = obj.DeepCopyObject().(client.Object)
		err := client.IgnoreAlreadyExists(c.Create(ctx, obj))
		if err != nil && ctx.Err() != nil {
			return fmt.Errorf("creating %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
		}
		return err
	}
	// The region's assurance panel is the administrators' group, and the
	// administrator applying it records every IG Framework assurance in its
	// own name, as the admission policy requires.
	review := &authenticationv1.SelfSubjectReview{}
	if err := c.Create(ctx, review); err != nil {
		return fmt.Errorf("asking who applies the region: %w", err)
	}
	who := review.Status.UserInfo
	r.region.Spec.Assurance = shcrv1alpha1.RegionAssurance{
		Panel:        []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:masters"}},
		Requirements: fixtures.Assurances(time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0), who.Username, who.Groups...),
	}
	if err := parallel(ctx, 1, []client.Object{r.region}, create); err != nil {
		return err
	}
	var wave []client.Object
	for i := range r.members {
		wave = append(wave, r.secrets[i], r.members[i])
	}
	if err := parallel(ctx, clients, wave, create); err != nil {
		return err
	}
	wave = wave[:0]
	for _, a := range r.agreements {
		wave = append(wave, a)
	}
	if err := parallel(ctx, clients, wave, create); err != nil {
		return err
	}
	wave = wave[:0]
	for _, p := range r.policies {
		wave = append(wave, p)
	}
	return parallel(ctx, clients, wave, create)
}
