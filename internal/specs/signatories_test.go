/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package specs

import (
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// The grant an approval needs names one organisation's ODS code and the
// approve verb only, and binds exactly the organisation's signatories, as
// the spec spells them (RBAC compares names exactly, so a look-alike or a
// name in another case is a different subject), each as its own kind.
func TestSignatoriesGrantOnlyTheirCode(t *testing.T) {
	member := connectorMember()
	member.Spec.Signatories = []shcrv1alpha1.Signatory{
		{Kind: shcrv1alpha1.SignatoryUser, Name: "caldicott@rhw"},
		{Kind: shcrv1alpha1.SignatoryGroup, Name: "RHW-Partners"},
		{Kind: "ServiceAccount", Name: "not-a-signatory-kind"},
	}
	role := SignatoriesRole("wessex", member)
	want := []rbacv1.PolicyRule{{APIGroups: []string{"shcr.io"}, Resources: []string{"organisations"},
		ResourceNames: []string{member.Spec.ODSCode}, Verbs: []string{"approve"}}}
	if len(role.Rules) != 1 || !slices.Equal(role.Rules[0].APIGroups, want[0].APIGroups) || !slices.Equal(role.Rules[0].Resources, want[0].Resources) ||
		!slices.Equal(role.Rules[0].ResourceNames, want[0].ResourceNames) || !slices.Equal(role.Rules[0].Verbs, want[0].Verbs) ||
		len(role.Rules[0].NonResourceURLs) != 0 {
		t.Errorf("rules %+v, want only %+v", role.Rules, want)
	}
	binding := SignatoriesRoleBinding("wessex", member)
	wantSubjects := []rbacv1.Subject{
		{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "caldicott@rhw"},
		{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "RHW-Partners"},
	}
	if !slices.Equal(binding.Subjects, wantSubjects) {
		t.Errorf("subjects %+v, want %+v (an unknown kind grants nothing)", binding.Subjects, wantSubjects)
	}
	if binding.RoleRef != (rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name}) {
		t.Errorf("roleRef %+v, want the organisation's own Role %s", binding.RoleRef, role.Name)
	}
	for _, meta := range []struct {
		name, ns string
		owner    string
		labels   map[string]string
	}{{role.Name, role.Namespace, string(role.OwnerReferences[0].UID), role.Labels}, {binding.Name, binding.Namespace, string(binding.OwnerReferences[0].UID), binding.Labels}} {
		if meta.name != "shcr-signatories-"+member.Name || meta.ns != member.Namespace || meta.owner != string(member.UID) ||
			meta.labels[LabelManagedBy] != ManagedBy || meta.labels[LabelOrganisation] != member.Spec.ODSCode {
			t.Errorf("%s/%s owned by %s labelled %v: want shcr-signatories-<member> in %s, owned by the member and labelled as the operator's",
				meta.ns, meta.name, meta.owner, meta.labels, member.Namespace)
		}
	}
	// No signatories: a binding without subjects, so nobody may approve.
	member.Spec.Signatories = nil
	if b := SignatoriesRoleBinding("wessex", member); len(b.Subjects) != 0 {
		t.Errorf("subjects %+v for an organisation without signatories", b.Subjects)
	}
	// Another organisation's grant has another name and code.
	other := connectorMember()
	other.Name, other.Spec.ODSCode = "other", "RHX"
	if r := SignatoriesRole("wessex", other); r.Name == role.Name || r.Rules[0].ResourceNames[0] != "RHX" {
		t.Errorf("another organisation's role %s %v", r.Name, r.Rules[0].ResourceNames)
	}
	long := connectorMember()
	long.Name = strings.Repeat("a", 250)
	if n := SignatoriesName(long); len(n) > 253 || !strings.HasPrefix(n, "shcr-signatories-aaa") {
		t.Errorf("a long member name gives %q (%d characters)", n, len(n))
	}
}
