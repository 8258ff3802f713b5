/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package specs

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// A provider record is what the region keeps of one MemberOrganisation
// object that has provided records to the record service: its ODS code,
// uid and every category it has provided. The organisation's controller
// writes it before the organisation can provide a category it does not
// name; it belongs to no organisation, so it outlives the object; and when
// no MemberOrganisation with its uid exists any more, the region purges
// those categories' records of the code and then deletes it
// (controllers/shcrregion/departed.go). One small ConfigMap per provider
// keeps the region's own status the same size whatever the number of
// organisations. Only the operator may write or delete one (the admission
// policy shcr-agreement-ledger). It holds no patient or record identifier.
const (
	// LabelProviderRecord marks a provider record ConfigMap.
	LabelProviderRecord = "shcr.io/provider-record"
	// ProviderRecordPrefix starts every provider record's name.
	ProviderRecordPrefix = "shcr-provider-"

	providerODSCodeKey    = "odsCode"
	providerMemberKey     = "memberOrganisation"
	providerMemberUIDKey  = "memberUID"
	providerCategoriesKey = "categories"
)

// ProviderRecord is the content of a provider record.
type ProviderRecord struct {
	// ODSCode is the organisation's ODS code.
	ODSCode string
	// Member and MemberUID name the MemberOrganisation object that
	// provided: one re-created with the same code is another object, and
	// what the earlier one provided is purged all the same.
	Member    string
	MemberUID types.UID
	// Categories are every category it has provided, in the order of
	// AllCategories.
	Categories []shcrv1alpha1.DataCategory
}

// ProviderRecordName is the name of the provider record of the member with
// uid.
func ProviderRecordName(uid types.UID) string { return ProviderRecordPrefix + string(uid) }

// ProviderRecordConfigMap is the provider record rec of a member of region,
// in namespace ns.
func ProviderRecordConfigMap(region, ns string, rec ProviderRecord) *corev1.ConfigMap {
	categories := make([]string, 0, len(rec.Categories))
	for _, c := range rec.Categories {
		categories = append(categories, string(c))
	}
	return &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      ProviderRecordName(rec.MemberUID),
			Namespace: ns,
			Labels: map[string]string{
				LabelManagedBy:           ManagedBy,
				LabelPartOf:              "shcr",
				shcrv1alpha1.LabelRegion: region,
				LabelOrganisation:        rec.ODSCode,
				LabelProviderRecord:      "true",
			},
		},
		Data: map[string]string{
			providerODSCodeKey:    rec.ODSCode,
			providerMemberKey:     rec.Member,
			providerMemberUIDKey:  string(rec.MemberUID),
			providerCategoriesKey: strings.Join(categories, ","),
		},
	}
}

// ParseProviderRecord reads a provider record. A record that cannot be
// read in full is an error, with what could be read: the region then
// purges every category of the code, rather than guess which.
func ParseProviderRecord(cm *corev1.ConfigMap) (ProviderRecord, error) {
	rec := ProviderRecord{
		ODSCode:   cm.Data[providerODSCodeKey],
		Member:    cm.Data[providerMemberKey],
		MemberUID: types.UID(cm.Data[providerMemberUIDKey]),
	}
	if rec.ODSCode == "" || rec.MemberUID == "" || cm.Name != ProviderRecordName(rec.MemberUID) {
		return rec, fmt.Errorf("provider record %s: odsCode and memberUID are required, and the name must be %s<memberUID>", cm.Name, ProviderRecordPrefix)
	}
	var unknown []string
	for c := range strings.SplitSeq(cm.Data[providerCategoriesKey], ",") {
		switch {
		case c == "":
		case slices.Contains(shcrv1alpha1.AllCategories, shcrv1alpha1.DataCategory(c)):
			rec.Categories = append(rec.Categories, shcrv1alpha1.DataCategory(c))
		default:
			unknown = append(unknown, c)
		}
	}
	rec.Categories = UnionCategories(nil, rec.Categories)
	if len(unknown) > 0 {
		return rec, fmt.Errorf("provider record %s: %d of its categories are not data categories", cm.Name, len(unknown))
	}
	return rec, nil
}

// IsProviderRecord says whether a ConfigMap is a provider record: its
// label, and a name only the operator may write (the admission policy
// holds every name with ProviderRecordPrefix). A ConfigMap someone else
// labelled so is not one: it can neither start a purge nor be kept whole
// in the operator's cache.
func IsProviderRecord(cm metav1.Object) bool {
	return cm.GetLabels()[LabelProviderRecord] == "true" && strings.HasPrefix(cm.GetName(), ProviderRecordPrefix)
}

// UnionCategories are the categories in a or b, in the order of
// AllCategories.
func UnionCategories(a, b []shcrv1alpha1.DataCategory) []shcrv1alpha1.DataCategory {
	var out []shcrv1alpha1.DataCategory
	for _, c := range shcrv1alpha1.AllCategories {
		if slices.Contains(a, c) || slices.Contains(b, c) {
			out = append(out, c)
		}
	}
	return out
}
