/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package integration

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// An agreement that adds Problems is admitted by the API server; once in
// force and granted, the bundle allows it, the GP may provide it and its
// connector is configured with it. A misspelt category is refused at
// admission, naming the allowed values.
func TestProblemsCategoryIsAgreedGrantedAndProvided(t *testing.T) {
	s := newScenarioWithCodes(t, "problems", "Y9G01", "Y9T", "Y9C")
	problem := access{s.trust, "R8000", string(shcrv1alpha1.CategoryProblems), s.gp}
	eventuallyDecides(t, s.region, problem, false, time.Time{})

	misspelt := agreement(s.ns, "dsa-misspelt", "Y9-MISSPELT", 1, []shcrv1alpha1.DataCategory{"Problem"},
		time.Now(), time.Now().AddDate(1, 0, 0), s.gp, s.trust)
	err := k8s.Create(ctx, misspelt)
	if err == nil || !strings.Contains(err.Error(), "dataCategories") || !strings.Contains(err.Error(), `"Problems"`) {
		t.Fatalf("a misspelt category: %v, want refused naming the field and the allowed values", err)
	}

	wider := append(slices.Clone(allButPreferences), shcrv1alpha1.CategoryProblems)
	create(t, agreement(s.ns, "dsa-v2", s.agreementID, 2, wider, time.Now().Add(2*time.Second).Truncate(time.Second),
		time.Now().AddDate(1, 0, 0), s.gp, s.trust, s.council))
	approve(t, s, "dsa-v2")
	waitPhase(t, s.ns, "dsa-v2", shcrv1alpha1.PhaseActive)
	// A policy cannot grant more than was agreed: it follows the agreement,
	// once the webhook's cache has seen version 2 in force.
	policy := accessPolicy(s.ns, "problems", s.agreementID, []string{"R8000"}, nil, shcrv1alpha1.CategoryProblems)
	webhookVerdict(t, policy, true, "")
	create(t, policy)
	eventuallyDecides(t, s.region, problem, true, time.Time{})

	gp := &shcrv1alpha1.MemberOrganisation{}
	waitFor(t, "the GP providing Problems, and its connector configured with it", func() (bool, string) {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: "gp"}, gp); err != nil {
			return false, err.Error()
		}
		if !slices.Contains(gp.Status.ProvidesCategories, shcrv1alpha1.CategoryProblems) {
			return false, fmt.Sprint(gp.Status.ProvidesCategories)
		}
		cm := &corev1.ConfigMap{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: specs.ConnectorName(gp)}, cm); err != nil {
			return false, err.Error()
		}
		data := cm.Data[specs.ConnectorConfigKey]
		return strings.Contains(data, `"Problems"`), data
	})
}
