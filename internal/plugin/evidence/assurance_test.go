/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package evidence_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/plugin/evidence"
	"github.com/shcr-io/shcr-operator/test/fixtures"
	"github.com/shcr-io/shcr-operator/test/plugintest"
)

// The evidence pack shows the panel's assurance of each requirement beside
// the computed checkpoints, and the region's decision log.
func TestEvidencePackShowsTheAssuranceAndTheDecisionLog(t *testing.T) {
	s := plugintest.SharedScenario(t)
	plugintest.WaitFor(t, "the region's assurance reported", func() (bool, string) {
		r := &shcrv1alpha1.ShCRRegion{}
		err := plugintest.Client().Get(context.Background(), client.ObjectKey{Name: s.Region}, r)
		return err == nil && r.Status.Assurance != nil && r.Status.Assurance.Assured, "not yet"
	})
	md := plugintest.MustRun(t, evidence.NewCommand, "--region", s.Region)
	for _, want := range []string{
		"## IG Framework assurance", "Assured: True (Assured)", "Assurance panel: Group " + fixtures.AssurancePanelGroup,
		"TEST-IG-CyberSecurity", "Assurance panel test minutes, item CyberSecurity", "MembersDSPTCurrent", "NoMemberSuspended",
		"## Decision log", s.AgreementID + " v1",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the pack does not show %q", want)
		}
	}
}

// The public transparency page names the organisations, purposes,
// categories, lawful bases and agreements in force, and how to object —
// and no person: no signatory's name, no contact's name or email, no
// Kubernetes identity, and no NHS number, even one typed into free text.
func TestPublicPageHoldsNoPersonalData(t *testing.T) {
	s := plugintest.SharedScenario(t)
	// A member whose registered name carries an NHS number by mistake.
	const nhsNumber = "943 476 5919"
	careless := s.Member("careless", "P99002", "GPPractice")
	careless.Spec.Name = "Practice " + nhsNumber
	careless.Spec.Governance.DataProtectionOfficer = shcrv1alpha1.Contact{Name: "Dr Priya Distinctive", Email: "priya.distinctive@careless.nhs.uk"}
	plugintest.Create(t, fixtures.Credentials(s.Namespace, careless.Spec.Connector.CredentialsSecretRef.Name))
	plugintest.Create(t, careless)
	plugintest.WaitFor(t, "the careless member listed", func() (bool, string) {
		out := plugintest.MustRun(t, evidence.NewCommand, "--region", s.Region, "--public")
		return strings.Contains(out, "P99002") && strings.Contains(out, "number withheld"), "not yet"
	})

	var people []string
	members := &shcrv1alpha1.MemberOrganisationList{}
	agreements := &shcrv1alpha1.DataSharingAgreementList{}
	region := &shcrv1alpha1.ShCRRegion{}
	ctx := context.Background()
	if err := plugintest.Client().List(ctx, members, client.InNamespace(s.Namespace)); err != nil {
		t.Fatal(err)
	}
	if err := plugintest.Client().List(ctx, agreements, client.InNamespace(s.Namespace)); err != nil {
		t.Fatal(err)
	}
	if err := plugintest.Client().Get(ctx, client.ObjectKey{Name: s.Region}, region); err != nil {
		t.Fatal(err)
	}
	for _, m := range members.Items {
		g := m.Spec.Governance
		people = append(people, g.DataProtectionOfficer.Name, g.DataProtectionOfficer.Email, g.CaldicottGuardian.Name, g.CaldicottGuardian.Email)
		for _, sig := range m.Spec.Signatories {
			people = append(people, sig.Name)
		}
	}
	for _, a := range agreements.Items {
		for _, ap := range a.Spec.Approvals {
			people = append(people, ap.Signatory, ap.RecordedBy)
		}
	}
	for _, r := range region.Spec.Assurance.Requirements {
		people = append(people, r.AssuredBy)
	}
	anyNHSNumber := regexp.MustCompile(`\d{3}[ -]?\d{3}[ -]?\d{4}`)
	for _, format := range []string{"md", "html"} {
		page := plugintest.MustRun(t, evidence.NewCommand, "--region", s.Region, "--public", "-o", format)
		for _, want := range []string{"Organisation " + s.Trust, "your individual care", "6(1)(e)", "9(2)(h)", "Medications",
			"right to object", "data protection officer", "IG Framework"} {
			if !strings.Contains(page, want) {
				t.Errorf("%s: the public page does not show %q", format, want)
			}
		}
		for _, person := range people {
			if person != "" && strings.Contains(page, person) {
				t.Errorf("%s: the public page names %q", format, person)
			}
		}
		if n := anyNHSNumber.FindString(page); n != "" {
			t.Errorf("%s: the public page holds a possible NHS number %q", format, n)
		}
	}
}
