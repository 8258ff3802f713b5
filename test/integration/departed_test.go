/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package integration

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/specs"
	"github.com/shcr-io/shcr-operator/test/fhirstore"
)

// waitRegion waits until the region's status satisfies cond.
func waitRegion(t *testing.T, name, what string, cond func(*shcrv1alpha1.ShCRRegion) bool) *shcrv1alpha1.ShCRRegion {
	t.Helper()
	r := &shcrv1alpha1.ShCRRegion{}
	waitFor(t, what, func() (bool, string) {
		if err := k8s.Get(ctx, client.ObjectKey{Name: name}, r); err != nil {
			return false, err.Error()
		}
		data, _ := json.Marshal(map[string]any{"purges": r.Status.Purges})
		return cond(r), string(data) + " " + fmt.Sprint(meta.FindStatusCondition(r.Status.Conditions, shcrv1alpha1.ConditionDepartedRecordsPurged))
	})
	return r
}

// departedPurge is the region's pending purge of ods, or nil.
func departedPurge(r *shcrv1alpha1.ShCRRegion, ods string) *shcrv1alpha1.DepartedPurge {
	i := slices.IndexFunc(r.Status.Purges, func(p shcrv1alpha1.DepartedPurge) bool { return p.ODSCode == ods })
	if i < 0 {
		return nil
	}
	return &r.Status.Purges[i]
}

// providerRecords are the provider records of ods in ns, by member uid.
func providerRecords(t *testing.T, ns, ods string) map[types.UID]specs.ProviderRecord {
	t.Helper()
	list := &corev1.ConfigMapList{}
	if err := k8s.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{specs.LabelProviderRecord: "true", specs.LabelOrganisation: ods}); err != nil {
		t.Fatal(err)
	}
	out := map[types.UID]specs.ProviderRecord{}
	for i := range list.Items {
		rec, err := specs.ParseProviderRecord(&list.Items[i])
		if err != nil {
			t.Errorf("provider record %s: %v", list.Items[i].Name, err)
		}
		out[rec.MemberUID] = rec
	}
	return out
}

// waitProviderRecord waits until the provider record of the member ns/name
// names categories, and returns it.
func waitProviderRecord(t *testing.T, ns, name string, categories []shcrv1alpha1.DataCategory) *corev1.ConfigMap {
	t.Helper()
	m := getMember(t, ns, name)
	cm := &corev1.ConfigMap{}
	waitFor(t, "the provider record of "+name+" naming what it provides", func() (bool, string) {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: specs.ProviderRecordName(m.UID)}, cm); err != nil {
			return false, err.Error()
		}
		rec, err := specs.ParseProviderRecord(cm)
		return err == nil && rec.ODSCode == m.Spec.ODSCode && rec.Member == name && sameCategories(rec.Categories, categories), fmt.Sprint(rec, err)
	})
	return cm
}

// A provider's MemberOrganisation deleted outright: the region, which
// recorded what the GP provided, starts a purge Job it owns for every
// category, shows it with a deadline in its status, and drops the entry
// once the Job succeeded; the GP's records are gone from the record
// service, the trust's kept, the purge audited, and Ready untouched.
func TestDeletedProviderIsPurgedByTheRegion(t *testing.T) {
	s := newScenarioWithCodes(t, "purgegone", "Y8G01", "Y8T", "Y8C")
	store := fhirstore.New(t)
	putProvided(store, s.gp, s.trust)
	record := waitProviderRecord(t, s.ns, "gp", allButPreferences)
	checkProviderRecordHeld(t, s, record)

	if err := k8s.Delete(ctx, &shcrv1alpha1.MemberOrganisation{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "gp"}}); err != nil {
		t.Fatal(err)
	}
	r := waitRegion(t, s.region, "the GP's purge pending in the region with a Job", func(r *shcrv1alpha1.ShCRRegion) bool {
		c := meta.FindStatusCondition(r.Status.Conditions, shcrv1alpha1.ConditionDepartedRecordsPurged)
		p := departedPurge(r, s.gp)
		return p != nil && p.Job != "" && c != nil && c.Status == metav1.ConditionFalse && c.Reason == shcrv1alpha1.ReasonDepartedPurgesPending
	})
	p := departedPurge(r, s.gp)
	if !sameCategories(p.Categories, allButPreferences) {
		t.Errorf("pending categories %v, want every category the GP provided %v", p.Categories, allButPreferences)
	}
	if !p.Deadline.Time.Equal(p.RequestedAt.Add(purgeBound)) {
		t.Errorf("requestedAt %v, deadline %v: want the deadline the bound (%s) after the request", p.RequestedAt, p.Deadline, purgeBound)
	}
	waitFor(t, "the departed GP's provider record deleted once its purge is recorded", func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(record), &corev1.ConfigMap{})
		return apierrors.IsNotFound(err), errString(err)
	})
	if departedPurge(r, s.trust) != nil {
		t.Errorf("a ConfigMap a region admin labelled as the trust's provider record started a purge of the trust: %+v", r.Status.Purges)
	}
	if c := meta.FindStatusCondition(r.Status.Conditions, shcrv1alpha1.ConditionReady); c == nil || strings.Contains(c.Message, shcrv1alpha1.ConditionDepartedRecordsPurged) {
		t.Errorf("Ready = %+v: a pending purge is not part of Ready", c)
	}
	checkDepartedPurgeJob(t, s.ns, p.Job, s.gp, s.region, p.Categories)

	runPurgeJob(t, s.ns, p.Job, store, false)
	r = waitRegion(t, s.region, "the GP's purge done and gone from the region's status", func(r *shcrv1alpha1.ShCRRegion) bool {
		c := meta.FindStatusCondition(r.Status.Conditions, shcrv1alpha1.ConditionDepartedRecordsPurged)
		return departedPurge(r, s.gp) == nil && c != nil && c.Status == metav1.ConditionTrue && c.Reason == shcrv1alpha1.ReasonDepartedPurged
	})
	gp, trust := s.gp+"-", s.trust+"-"
	for _, gone := range []string{"Patient/" + gp + "p1", "MedicationRequest/" + gp + "m1", "Observation/" + gp + "o1", "Encounter/" + gp + "imp"} {
		if store.Get(gone) != nil || store.VersionCount(gone) != 0 {
			t.Errorf("%s, provided by the GP that left, is still in the record service", gone)
		}
	}
	for _, kept := range []string{"Patient/" + trust + "p1", "Observation/" + trust + "o1", "Encounter/" + trust + "imp"} {
		if store.Get(kept) == nil {
			t.Errorf("%s, the trust's, was removed", kept)
		}
	}
	checkPurgeAudit(t, store, s.gp, map[string]string{"removed:TestResults": "2", "removed:InpatientStays": "1"})
	if data, _ := json.Marshal(r.Status); strings.Contains(string(data), purgeNHSNumber) {
		t.Errorf("the region's status holds an NHS number")
	}
}

// checkDepartedPurgeJob checks the region's purge Job: owned by the
// region, the operator's image without credentials, purging the ODS code's
// categories in the region's record service.
func checkDepartedPurgeJob(t *testing.T, ns, name, ods, region string, categories []shcrv1alpha1.DataCategory) {
	t.Helper()
	job := &batchv1.Job{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, job); err != nil {
		t.Fatal(err)
	}
	if owner := metav1.GetControllerOf(job); owner == nil || owner.Kind != "ShCRRegion" || owner.Name != region {
		t.Errorf("the purge Job's owner is %v, want the ShCRRegion %s", owner, region)
	}
	labels := job.Spec.Template.Labels
	if labels[specs.LabelComponent] != specs.ComponentConnector || labels[shcrv1alpha1.LabelRegion] != region || labels[specs.LabelPurge] != ods {
		t.Errorf("the purge pod's labels %v do not make it a connector pod of the region purging %s", labels, ods)
	}
	if _, ok := labels[specs.LabelOrganisation]; ok {
		t.Errorf("the purge pod carries the organisation label")
	}
	pod := job.Spec.Template.Spec
	c := pod.Containers[0]
	if c.Image != specs.DefaultConnectorImage || len(pod.Volumes) != 0 || len(c.Env) != 0 ||
		pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("the purge Job runs %s with volumes %v, env %v, token %v; want the operator's image, no credentials",
			c.Image, pod.Volumes, c.Env, pod.AutomountServiceAccountToken)
	}
	names := make([]string, 0, len(categories))
	for _, cat := range categories {
		names = append(names, string(cat))
	}
	want := []string{"--purge", "--purge-ods=" + ods, "--purge-categories=" + strings.Join(names, ","),
		"--purge-record-service=" + specs.RecordServiceFHIRURL(ns)}
	for _, arg := range want {
		if !slices.Contains(c.Args, arg) {
			t.Errorf("the purge Job's args %v lack %s", c.Args, arg)
		}
	}
	if !slices.ContainsFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--purge-reason=left") }) {
		t.Errorf("the purge Job's args %v do not give the reason left", c.Args)
	}
}

// A provider deleted and re-created at once with the same ODS code, before
// the region may have seen it gone: what the deleted object provided is
// purged all the same (the region recorded its uid), the new object is
// recorded as a provider of its own, and the purge completes.
func TestRecreatedProviderStillHasTheDeletedObjectsRecordsPurged(t *testing.T) {
	s := newScenarioWithCodes(t, "purgeback", "Y8G02", "Y8T2", "Y8C2")
	store := fhirstore.New(t)
	putProvided(store, s.gp, s.trust)
	waitProviderRecord(t, s.ns, "gp", allButPreferences)
	old := getMember(t, s.ns, "gp")
	if err := k8s.Delete(ctx, old); err != nil {
		t.Fatal(err)
	}
	again := &shcrv1alpha1.MemberOrganisation{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "gp", Labels: old.Labels, Annotations: old.Annotations},
		Spec: *old.Spec.DeepCopy()}
	if err := k8s.Create(ctx, again); err != nil {
		t.Fatal(err)
	}
	r := waitRegion(t, s.region, "the deleted object's purge pending with a Job", func(r *shcrv1alpha1.ShCRRegion) bool {
		p := departedPurge(r, s.gp)
		return p != nil && p.Job != ""
	})
	p := departedPurge(r, s.gp)
	if !sameCategories(p.Categories, allButPreferences) {
		t.Errorf("pending categories %v, want every category the deleted object provided %v", p.Categories, allButPreferences)
	}
	checkDepartedPurgeJob(t, s.ns, p.Job, s.gp, s.region, p.Categories)
	runPurgeJob(t, s.ns, p.Job, store, false)
	waitRegion(t, s.region, "the purge done", func(r *shcrv1alpha1.ShCRRegion) bool { return departedPurge(r, s.gp) == nil })
	waitFor(t, "the new object recorded as the provider, the deleted one's record gone", func() (bool, string) {
		recs := providerRecords(t, s.ns, s.gp)
		_, oldKept := recs[old.UID]
		_, newHeld := recs[again.UID]
		return !oldKept && newHeld && len(recs) == 1, fmt.Sprint(recs)
	})
	if store.Get("Observation/"+s.gp+"-o1") != nil {
		t.Errorf("the deleted object's record is still in the record service")
	}
	if store.Get("Observation/"+s.trust+"-o1") == nil {
		t.Errorf("the trust's record was removed")
	}
}

// checkProviderRecordHeld: a region admin, even one wrongly given every
// right on ConfigMaps, can neither delete nor change the GP's provider
// record (so as to spare its records from the purge), nor write another
// under the records' names; a lookalike under another name, labelled as
// the trust's record, is the admin's own ConfigMap and starts nothing
// (TestDeletedProviderIsPurgedByTheRegion checks that).
func checkProviderRecordHeld(t *testing.T, s *scenario, record *corev1.ConfigMap) {
	t.Helper()
	admin := configMapEditor(t, s)
	edit := func(change func(cm *corev1.ConfigMap)) func() error {
		return func() error {
			cm := record.DeepCopy()
			change(cm)
			return admin.Update(ctx, cm)
		}
	}
	for _, e := range []struct {
		name string
		do   func() error
	}{
		{"delete it", func() error { return admin.Delete(ctx, record.DeepCopy()) }},
		{"narrow its categories", edit(func(cm *corev1.ConfigMap) { cm.Data["categories"] = string(shcrv1alpha1.CategoryDemographics) })},
		{"empty its categories", edit(func(cm *corev1.ConfigMap) { cm.Data["categories"] = "" })},
		{"drop its categories", edit(func(cm *corev1.ConfigMap) { delete(cm.Data, "categories") })},
		{"move it to another organisation", edit(func(cm *corev1.ConfigMap) { cm.Data["odsCode"] = s.trust })},
		{"give it a live member's uid", edit(func(cm *corev1.ConfigMap) { cm.Data["memberUID"] = string(getMember(t, s.ns, "trust").UID) })},
		{"unlabel it", edit(func(cm *corev1.ConfigMap) { delete(cm.Labels, specs.LabelProviderRecord) })},
		{"create another under the records' names", func() error {
			return admin.Create(ctx, specs.ProviderRecordConfigMap(s.region, s.ns, specs.ProviderRecord{
				ODSCode: s.trust, Member: "trust", MemberUID: "00000000-0000-0000-0000-000000000000", Categories: allButPreferences}))
		}},
	} {
		if err := e.do(); err == nil || !strings.Contains(err.Error(), "provider record") {
			t.Errorf("a region admin could %s: %v", e.name, err)
		}
	}
	// Nor can the operator's own identity take a category away or move
	// the record to another object.
	operator := operatorIdentity(t)
	for _, e := range []struct {
		name   string
		change func(cm *corev1.ConfigMap)
	}{
		{"narrow its categories", func(cm *corev1.ConfigMap) { cm.Data["categories"] = string(shcrv1alpha1.CategoryDemographics) }},
		{"drop its categories", func(cm *corev1.ConfigMap) { delete(cm.Data, "categories") }},
		{"move it to another organisation", func(cm *corev1.ConfigMap) { cm.Data["odsCode"] = s.trust }},
		{"give it another uid", func(cm *corev1.ConfigMap) { cm.Data["memberUID"] = string(getMember(t, s.ns, "trust").UID) }},
	} {
		cm := record.DeepCopy()
		e.change(cm)
		if err := operator.Update(ctx, cm); err == nil || !strings.Contains(err.Error(), "its categories only grow") {
			t.Errorf("the operator's identity could %s: %v", e.name, err)
		}
	}
	lookalike := specs.ProviderRecordConfigMap(s.region, s.ns, specs.ProviderRecord{
		ODSCode: s.trust, Member: "trust", MemberUID: "00000000-0000-0000-0000-000000000001", Categories: allButPreferences})
	lookalike.Name = "lookalike"
	if err := admin.Create(ctx, lookalike); err != nil {
		t.Fatalf("the admin's own ConfigMap must be admitted (else the refusals above prove nothing): %v", err)
	}
}
