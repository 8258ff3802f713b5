/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package specs

import (
	"math/rand/v2"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// A provider record reads back as written for every set of categories; a
// record under another name, or missing its code or uid, is refused; an
// unknown category is an error that keeps the categories it could read.
func TestProviderRecordRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for range 500 {
		var cats []shcrv1alpha1.DataCategory
		for _, c := range shcrv1alpha1.AllCategories {
			if rng.IntN(2) == 0 {
				cats = append(cats, c)
			}
		}
		rec := ProviderRecord{ODSCode: "A81001", Member: "gp", MemberUID: types.UID("6f1c2d3e-0000-4000-8000-000000000001"), Categories: cats}
		cm := ProviderRecordConfigMap("thames-valley", "shcr-thames-valley", rec)
		if !IsProviderRecord(cm) || cm.Labels[LabelManagedBy] != ManagedBy || cm.Labels[LabelOrganisation] != "A81001" {
			t.Fatalf("labels %v: not a cached provider record of A81001", cm.Labels)
		}
		got, err := ParseProviderRecord(cm)
		if err != nil || got.ODSCode != rec.ODSCode || got.Member != rec.Member || got.MemberUID != rec.MemberUID || !slices.Equal(got.Categories, cats) {
			t.Fatalf("round trip of %+v: %+v, %v", rec, got, err)
		}
	}
	good := ProviderRecordConfigMap("r", "shcr-r", ProviderRecord{ODSCode: "A1", Member: "m", MemberUID: "u1",
		Categories: []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryMedications}})
	renamed := good.DeepCopy()
	renamed.Name = "lookalike"
	if IsProviderRecord(renamed) {
		t.Error("a ConfigMap under another name is taken for a provider record")
	}
	for name, change := range map[string]func(m map[string]string){
		"no code":    func(m map[string]string) { delete(m, providerODSCodeKey) },
		"no uid":     func(m map[string]string) { delete(m, providerMemberUIDKey) },
		"other uid":  func(m map[string]string) { m[providerMemberUIDKey] = "u2" },
		"empty code": func(m map[string]string) { m[providerODSCodeKey] = "" },
	} {
		cm := good.DeepCopy()
		change(cm.Data)
		if _, err := ParseProviderRecord(cm); err == nil {
			t.Errorf("%s: read without error", name)
		}
	}
	cm := good.DeepCopy()
	cm.Data[providerCategoriesKey] = "Allergies,Gossip,Medications"
	got, err := ParseProviderRecord(cm)
	if err == nil || !slices.Equal(got.Categories, UnionCategories(nil, []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryAllergies, shcrv1alpha1.CategoryMedications})) {
		t.Errorf("an unknown category: %+v, %v; want an error keeping Allergies and Medications", got.Categories, err)
	}
}
