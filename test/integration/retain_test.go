/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package integration

import (
	"fmt"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/test/testenv"
)

// A region deleted with deletionPolicy Retain leaves its namespace and the
// organisations, agreements and policies in it; each is judged again at
// once (NotInRegion: nothing is shared). A region re-created under the same
// name adopts the namespace, and each object is judged again at once too,
// without anything else touching it: the members are admitted, the
// agreement and the policy no longer say NotInRegion.
func TestRetainedNamespaceAdoptedByARecreatedRegionJudgesItsObjectsAgain(t *testing.T) {
	name := "rules-retain"
	ns := shcrv1alpha1.NamespaceFor(name)
	newRegion := func() *shcrv1alpha1.ShCRRegion {
		return &shcrv1alpha1.ShCRRegion{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: shcrv1alpha1.ShCRRegionSpec{
			DisplayName: "Integration " + name, DeletionPolicy: shcrv1alpha1.DeletionPolicyRetain,
			Admins: []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: signatories}},
		}}
	}
	regionRecorded := func() {
		waitFor(t, "the region recording its namespace", func() (bool, string) {
			r := &shcrv1alpha1.ShCRRegion{}
			if err := k8s.Get(ctx, client.ObjectKey{Name: name}, r); err != nil {
				return false, err.Error()
			}
			return r.Status.Namespace == ns, fmt.Sprint(r.Status.Conditions)
		})
	}
	create(t, newRegion())
	regionRecorded()
	codes := []string{"P7801", "P7802"}
	for i, code := range codes {
		m := member(ns, fmt.Sprintf("org-%d", i), code, shcrv1alpha1.OrganisationType("GPPractice"))
		create(t, credentials(ns, m.Spec.Connector.CredentialsSecretRef.Name))
		create(t, m)
	}
	create(t, agreement(ns, "dsa", "RETAIN-DSA-001", 1, allButPreferences, time.Now(), time.Now().AddDate(1, 0, 0), codes...))
	create(t, accessPolicy(ns, "clinicians", "RETAIN-DSA-001", []string{"R8000"}, nil, shcrv1alpha1.CategoryMedications))

	type judged struct {
		obj       client.Object
		condition string
	}
	objects := []judged{
		{&shcrv1alpha1.MemberOrganisation{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "org-0"}}, shcrv1alpha1.ConditionAdmitted},
		{&shcrv1alpha1.MemberOrganisation{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "org-1"}}, shcrv1alpha1.ConditionAdmitted},
		{&shcrv1alpha1.DataSharingAgreement{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "dsa"}}, shcrv1alpha1.ConditionReady},
		{&shcrv1alpha1.AccessPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "clinicians"}}, shcrv1alpha1.ConditionReady},
	}
	inRegion := func(want bool) {
		t.Helper()
		for _, o := range objects {
			waitFor(t, fmt.Sprintf("%T %s judged in a region=%v", o.obj, o.obj.GetName(), want), func() (bool, string) {
				if err := k8s.Get(ctx, client.ObjectKeyFromObject(o.obj), o.obj); err != nil {
					return false, err.Error()
				}
				c := meta.FindStatusCondition(testenv.ConditionsOf(o.obj), o.condition)
				if c == nil || c.ObservedGeneration != o.obj.GetGeneration() {
					return false, fmt.Sprint(c)
				}
				return (c.Reason != shcrv1alpha1.ReasonNotInRegion) == want, fmt.Sprintf("%s %s: %s", c.Status, c.Reason, c.Message)
			})
		}
	}
	inRegion(true)
	waitCondition(t, &shcrv1alpha1.MemberOrganisation{}, ns, "org-0", shcrv1alpha1.ConditionAdmitted, metav1.ConditionTrue)

	region := newRegion()
	if err := k8s.Delete(ctx, region); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the region gone", func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKey{Name: name}, &shcrv1alpha1.ShCRRegion{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	inRegion(false)

	create(t, newRegion())
	regionRecorded()
	inRegion(true)
	for _, name := range []string{"org-0", "org-1"} {
		waitCondition(t, &shcrv1alpha1.MemberOrganisation{}, ns, name, shcrv1alpha1.ConditionAdmitted, metav1.ConditionTrue)
	}
}
