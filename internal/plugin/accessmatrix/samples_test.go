/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package accessmatrix_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/kube"
	"github.com/shcr-io/shcr-operator/internal/samples"
	"github.com/shcr-io/shcr-operator/test/fixtures"
	"github.com/shcr-io/shcr-operator/test/plugintest"
)

// applySample creates every object of a file in config/samples.
func applySample(file string) error {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "config", "samples", file))
	if err != nil {
		return err
	}
	objs, err := kube.DecodeObjects(data)
	if err != nil {
		return err
	}
	for _, obj := range objs {
		if err := plugintest.Client().Create(context.Background(), obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("%s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	return nil
}

// The access matrix of the shipped samples, as a platform team would apply
// them: the trust's clinicians read everything agreed, the council's care
// staff read what social care needs, and nobody reads Preferences.
func TestMatrixOfTheSamples(t *testing.T) {
	for _, f := range []string{"shcr_v1alpha1_shcrregion.yaml", "gateway-config.yaml", "credentials.yaml",
		"shcr_v1alpha1_memberorganisation.yaml", "shcr_v1alpha1_datasharingagreement.yaml", "shcr_v1alpha1_accesspolicy.yaml"} {
		plugintest.WaitFor(t, "applying "+f, func() (bool, string) {
			err := applySample(f)
			return err == nil, fmt.Sprint(err)
		})
	}
	// The sample panel's chair records the sample assurances, as make demo
	// does (the test panel group gives the chair RBAC to update regions).
	chair, err := plugintest.As("panel-chair@tvs.example", "tvs-ig-assurance-panel", fixtures.AssurancePanelGroup)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "config", "samples", "shcr_v1alpha1_shcrregion_assurance.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var sample shcrv1alpha1.ShCRRegion
	if err := yaml.UnmarshalStrict(samples.CurrentSample(data, time.Now()), &sample); err != nil {
		t.Fatal(err)
	}
	plugintest.WaitFor(t, "the sample assurances recorded", func() (bool, string) {
		region := &shcrv1alpha1.ShCRRegion{}
		if err := chair.Get(context.Background(), client.ObjectKey{Name: "thames-valley"}, region); err != nil {
			return false, err.Error()
		}
		region.Spec.Assurance.Requirements = sample.Spec.Assurance.Requirements
		err := chair.Update(context.Background(), region)
		return err == nil, fmt.Sprint(err)
	})
	plugintest.WaitFor(t, "the sample agreement Active", func() (bool, string) {
		a := &shcrv1alpha1.DataSharingAgreement{}
		err := plugintest.Client().Get(context.Background(), client.ObjectKey{Namespace: "shcr-thames-valley", Name: "tvs-direct-care-v1"}, a)
		return err == nil && a.Status.Phase == shcrv1alpha1.PhaseActive, fmt.Sprint(err, a.Status.Phase)
	})
	cases := []struct {
		org, role, category, policy string
		allowed                     bool
	}{
		{"RTH", "R8000", "Medications", "shcr-thames-valley/clinicians", true},
		{"K84001", "R8000", "DischargeLetters", "shcr-thames-valley/clinicians", true},
		{"OXCC1", "R8003", "CarePlans", "shcr-thames-valley/social-care-staff", true},
		{"OXCC1", "R8003", "TestResults", "", false},
		{"RTH", "R8000", "Preferences", "", false},
	}
	// Each member is admitted by its own reconcile, so the bundle reaches
	// its final shape in steps: wait until every granted cell is granted.
	var m = matrix(t, "--region", "thames-valley")
	plugintest.WaitFor(t, "every sample member and policy in the bundle", func() (bool, string) {
		m = matrix(t, "--region", "thames-valley")
		for _, tc := range cases {
			if !tc.allowed {
				continue
			}
			granted := false
			for _, c := range m.Cells {
				if c.Organisation == tc.org && c.Role == tc.role && c.Category == tc.category {
					granted = c.Allowed
				}
			}
			if !granted {
				return false, tc.org + " " + tc.role + " " + tc.category + " not yet granted"
			}
		}
		return true, ""
	})
	for _, tc := range cases {
		c := cell(t, m, tc.org, tc.role, tc.category)
		if c.Allowed != tc.allowed {
			t.Errorf("%s %s %s: allowed=%v, want %v (%+v)", tc.org, tc.role, tc.category, c.Allowed, tc.allowed, c)
			continue
		}
		if tc.allowed && (c.Grants[0].Agreement != "TVS-DSA-001" || c.Grants[0].AgreementVersion != 1 || c.Grants[0].Policy != tc.policy) {
			t.Errorf("%s %s %s allowed under %+v, want TVS-DSA-001 v1 %s", tc.org, tc.role, tc.category, c.Grants[0], tc.policy)
		}
	}
}
