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
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/connector"
	"github.com/shcr-io/shcr-operator/internal/specs"
	"github.com/shcr-io/shcr-operator/test/fhirstore"
	"github.com/shcr-io/shcr-operator/test/fixtures"
	"github.com/shcr-io/shcr-operator/test/testenv"
)

// purgeBound is the operator's purge bound in this suite: status.purge's
// deadline is the narrowing plus it.
const purgeBound = 40 * time.Second

// purgeNHSNumber is the NHS number of the patient of the records put in the
// record service; it must never reach a status, Event or AuditEvent.
const purgeNHSNumber = "9434765919"

// record is a record an organisation provided, as its connector writes it.
func providedRecord(resourceType, id, ods string, fields map[string]any) map[string]any {
	r := map[string]any{"resourceType": resourceType, "id": ods + "-" + id, "meta": map[string]any{"tag": []any{
		map[string]any{"system": connector.SystemODS, "code": ods},
		map[string]any{"system": connector.SystemSourceResource, "code": resourceType + "/" + id},
	}}}
	if resourceType != "Patient" {
		r["subject"] = map[string]any{"reference": "Patient/" + ods + "-p1",
			"identifier": map[string]any{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": purgeNHSNumber}}
	}
	for k, v := range fields {
		r[k] = v
	}
	return r
}

// putProvided puts into the store, for each organisation, a record of five
// categories: Demographics, Medications, TestResults, InpatientStays and
// Appointments.
func putProvided(store *fhirstore.Store, orgs ...string) {
	for _, ods := range orgs {
		store.Put(providedRecord("Patient", "p1", ods, map[string]any{"identifier": []any{
			map[string]any{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": purgeNHSNumber}}}))
		store.Put(providedRecord("MedicationRequest", "m1", ods, nil))
		store.Put(providedRecord("Observation", "o1", ods, nil))
		store.Put(providedRecord("Observation", "o2", ods, nil))
		store.Put(providedRecord("Encounter", "imp", ods, map[string]any{"class": map[string]any{"code": "IMP"}}))
		store.Put(providedRecord("Encounter", "amb", ods, map[string]any{"class": map[string]any{"code": "AMB"}}))
	}
}

// getMember reads the MemberOrganisation ns/name.
func getMember(t *testing.T, ns, name string) *shcrv1alpha1.MemberOrganisation {
	t.Helper()
	m := &shcrv1alpha1.MemberOrganisation{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, m); err != nil {
		t.Fatal(err)
	}
	return m
}

// waitPurge waits until the member's purge satisfies cond.
func waitPurge(t *testing.T, ns, name, what string, cond func(*shcrv1alpha1.MemberOrganisation) bool) *shcrv1alpha1.MemberOrganisation {
	t.Helper()
	var m *shcrv1alpha1.MemberOrganisation
	waitFor(t, what, func() (bool, string) {
		m = getMember(t, ns, name)
		data, _ := json.Marshal(m.Status.Purge)
		return cond(m), string(data) + " " + fmt.Sprint(meta.FindStatusCondition(m.Status.Conditions, shcrv1alpha1.ConditionRecordsPurged))
	})
	return m
}

// runPurgeJob does what the kubelet would with the purge Job: it runs the
// connector's purge with the Job's arguments, against the store instead of
// the in-cluster record service, and reports the Job Complete (or Failed
// when fail is set, without running it).
func runPurgeJob(t *testing.T, ns, name string, store *fhirstore.Store, fail bool) {
	t.Helper()
	job := &batchv1.Job{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, job); err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	job.Status.StartTime = &now
	if fail {
		job.Status.Failed = 1
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", LastTransitionTime: now},
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", LastTransitionTime: now},
		}
	} else {
		pj := connector.PurgeJob{}
		for _, arg := range job.Spec.Template.Spec.Containers[0].Args {
			name, value, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
			switch name {
			case "purge-ods":
				pj.ODSCode = value
			case "purge-categories":
				pj.Categories = strings.Split(value, ",")
			case "purge-record-service":
				if want := specs.RecordServiceFHIRURL(ns); value != want {
					t.Errorf("the Job writes to %s, want the region's record service %s", value, want)
				}
				pj.RecordService = store.Base()
			case "purge-reason":
				pj.Reason = value
			}
		}
		if err := connector.RunPurgeJob(ctx, pj, nil); err != nil {
			t.Fatalf("the purge Job's work: %v", err)
		}
		done := metav1.Now()
		job.Status.Succeeded, job.Status.CompletionTime = 1, &done
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, Reason: "CompletionsReached", LastTransitionTime: done},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, Reason: "CompletionsReached", LastTransitionTime: done},
		}
	}
	outcome := job.Status
	updateStatus(t, job, func(j *batchv1.Job) { j.Status = outcome })
}

// An agreement superseded by a version with fewer categories: the GP's
// records outside the new scope are removed from the record service by a
// Job the operator starts, within the bound shown in status; its records in
// scope and the trust's records are kept; the purge is audited.
func TestNarrowedAgreementPurgesTheRecordsOutsideTheNewScope(t *testing.T) {
	s := newScenarioWithCodes(t, "purge", "Y4G01", "Y4T", "Y4C")
	store := fhirstore.New(t)
	putProvided(store, s.gp, s.trust)
	waitPurge(t, s.ns, "gp", "the GP providing every agreed category", func(m *shcrv1alpha1.MemberOrganisation) bool {
		return slices.Equal(m.Status.ProvidesCategories, allButPreferences) && m.Status.Purge == nil
	})

	narrower := []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryDemographics, shcrv1alpha1.CategoryMedications}
	create(t, agreement(s.ns, "dsa-v2", s.agreementID, 2, narrower, time.Now().Add(2*time.Second).Truncate(time.Second),
		time.Now().AddDate(1, 0, 0), s.gp, s.trust, s.council))
	approve(t, s, "dsa-v2")
	waitPhase(t, s.ns, "dsa-v2", shcrv1alpha1.PhaseActive)

	removed := []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryTestResults, shcrv1alpha1.CategoryCarePlans, shcrv1alpha1.CategoryAppointments,
		shcrv1alpha1.CategoryInpatientStays, shcrv1alpha1.CategoryDischargeLetters, shcrv1alpha1.CategoryClinicalContacts, shcrv1alpha1.CategoryAllergies}
	m := waitPurge(t, s.ns, "gp", "the GP's purge pending with a deadline and a Job", func(m *shcrv1alpha1.MemberOrganisation) bool {
		p := m.Status.Purge
		c := meta.FindStatusCondition(m.Status.Conditions, shcrv1alpha1.ConditionRecordsPurged)
		return p != nil && p.Job != "" && c != nil && c.Reason == shcrv1alpha1.ReasonPurgePending
	})
	p := m.Status.Purge
	if !sameCategories(p.Categories, removed) {
		t.Errorf("pending categories %v, want %v", p.Categories, removed)
	}
	if p.RequestedAt == nil || p.Deadline == nil || !p.Deadline.Time.Equal(p.RequestedAt.Add(purgeBound)) {
		t.Errorf("requestedAt %v, deadline %v: want the deadline the bound (%s) after the request", p.RequestedAt, p.Deadline, purgeBound)
	}
	checkPurgeJob(t, s.ns, p.Job, s.gp, s.region)

	runPurgeJob(t, s.ns, p.Job, store, false)
	m = waitPurge(t, s.ns, "gp", "the GP's purge completed", func(m *shcrv1alpha1.MemberOrganisation) bool {
		return m.Status.Purge != nil && len(m.Status.Purge.Categories) == 0 && m.Status.Purge.CompletedAt != nil
	})
	if c := meta.FindStatusCondition(m.Status.Conditions, shcrv1alpha1.ConditionRecordsPurged); c == nil || c.Status != metav1.ConditionTrue || c.Reason != shcrv1alpha1.ReasonPurged {
		t.Errorf("RecordsPurged = %+v, want True Purged", c)
	}
	if m.Status.Purge.CompletedAt.After(p.Deadline.Time) {
		t.Errorf("completed at %v, after the deadline %v", m.Status.Purge.CompletedAt, p.Deadline)
	}

	gp, trust := s.gp+"-", s.trust+"-"
	for _, gone := range []string{"Observation/" + gp + "o1", "Observation/" + gp + "o2", "Encounter/" + gp + "imp", "Encounter/" + gp + "amb"} {
		if store.Get(gone) != nil || store.VersionCount(gone) != 0 {
			t.Errorf("%s, outside the GP's new scope, is still in the record service (%d versions)", gone, store.VersionCount(gone))
		}
	}
	for _, kept := range []string{"Patient/" + gp + "p1", "MedicationRequest/" + gp + "m1",
		"Observation/" + trust + "o1", "Encounter/" + trust + "imp", "Encounter/" + trust + "amb", "Patient/" + trust + "p1"} {
		if store.Get(kept) == nil {
			t.Errorf("%s was removed: it is in the GP's scope or another organisation's", kept)
		}
	}
	checkPurgeAudit(t, store, s.gp, map[string]string{"removed:TestResults": "2", "removed:InpatientStays": "1", "removed:Appointments": "1", "removed:Allergies": "0"})
	checkNoNHSNumber(t, m, s.ns)
	waitFor(t, "an Event recording the purge", func() (bool, string) {
		events := &eventsv1.EventList{}
		if err := k8s.List(ctx, events, client.InNamespace(s.ns)); err != nil {
			return false, err.Error()
		}
		for _, e := range events.Items {
			if e.Regarding.Name == "gp" && e.Reason == shcrv1alpha1.ReasonPurged && strings.Contains(e.Note, "TestResults") {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d events", len(events.Items))
	})
}

// A suspended agreement: every category the GP provided is pending. A Job
// not done by the deadline turns RecordsPurged to PurgeOverdue; a failed
// Job is counted and another started, whose success completes the purge.
func TestPurgeNotDoneByTheDeadlineIsOverdueAndRetried(t *testing.T) {
	s := newScenarioWithCodes(t, "purgelate", "Y4G02", "Y4T2", "Y4C2")
	store := fhirstore.New(t)
	putProvided(store, s.gp, s.trust)
	waitPurge(t, s.ns, "gp", "the GP providing every agreed category", func(m *shcrv1alpha1.MemberOrganisation) bool {
		return slices.Equal(m.Status.ProvidesCategories, allButPreferences)
	})
	update(t, &shcrv1alpha1.DataSharingAgreement{}, s.ns, "dsa-v1", func(a *shcrv1alpha1.DataSharingAgreement) {
		a.Spec.Suspended = true
		a.Spec.SuspensionReason = "a purge test"
	})
	m := waitPurge(t, s.ns, "gp", "every category pending", func(m *shcrv1alpha1.MemberOrganisation) bool {
		return m.Status.Purge != nil && sameCategories(m.Status.Purge.Categories, allButPreferences) && m.Status.Purge.Job != ""
	})
	first := m.Status.Purge.Job
	testenv.WaitFor(t, "the purge overdue after its deadline", purgeBound+30*time.Second, func() (bool, string) {
		m = getMember(t, s.ns, "gp")
		c := meta.FindStatusCondition(m.Status.Conditions, shcrv1alpha1.ConditionRecordsPurged)
		return c != nil && c.Reason == shcrv1alpha1.ReasonPurgeOverdue && c.Status == metav1.ConditionFalse, fmt.Sprint(c)
	})
	if time.Now().Before(m.Status.Purge.Deadline.Time) {
		t.Errorf("PurgeOverdue before the deadline %v", m.Status.Purge.Deadline)
	}
	if store.Get("Observation/"+s.gp+"-o1") == nil {
		t.Fatalf("records removed without the Job running")
	}

	runPurgeJob(t, s.ns, first, store, true)
	m = waitPurge(t, s.ns, "gp", "a failed Job counted and another started", func(m *shcrv1alpha1.MemberOrganisation) bool {
		return m.Status.Purge.Attempts == 1 && m.Status.Purge.Job != "" && m.Status.Purge.Job != first
	})
	runPurgeJob(t, s.ns, m.Status.Purge.Job, store, false)
	waitPurge(t, s.ns, "gp", "the purge completed", func(m *shcrv1alpha1.MemberOrganisation) bool {
		c := meta.FindStatusCondition(m.Status.Conditions, shcrv1alpha1.ConditionRecordsPurged)
		return len(m.Status.Purge.Categories) == 0 && c != nil && c.Status == metav1.ConditionTrue
	})
	for _, key := range store.Keys() {
		if strings.Contains(key, "/"+s.gp+"-") {
			t.Errorf("%s is still in the record service after every category was purged", key)
		}
	}
	if store.Get("Observation/"+s.trust+"-o1") == nil {
		t.Errorf("the trust's records were removed by the GP's purge")
	}
}

// checkPurgeJob checks the Job runs the operator's image, reaches only what
// a connector pod may, holds no credentials and belongs to the organisation.
func checkPurgeJob(t *testing.T, ns, name, ods, region string) {
	t.Helper()
	job := &batchv1.Job{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, job); err != nil {
		t.Fatal(err)
	}
	labels := job.Spec.Template.Labels
	if labels[specs.LabelComponent] != specs.ComponentConnector || labels[shcrv1alpha1.LabelRegion] != region || labels[specs.LabelPurge] != ods {
		t.Errorf("the purge pod's labels %v do not make it a connector pod of the region purging %s", labels, ods)
	}
	if _, ok := labels[specs.LabelOrganisation]; ok {
		t.Errorf("the purge pod carries the organisation label, so the organisation's connector policy (egress to its network) selects it")
	}
	pod := job.Spec.Template.Spec
	if c := pod.Containers[0]; c.Image != specs.DefaultConnectorImage || len(pod.Volumes) != 0 || len(c.Env) != 0 {
		t.Errorf("the purge Job runs %s with volumes %v and env %v; want the operator's connector image, no credentials", c.Image, pod.Volumes, c.Env)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("the purge pod mounts an API token")
	}
	if owner := metav1.GetControllerOf(job); owner == nil || owner.Kind != "MemberOrganisation" || owner.Name != "gp" {
		t.Errorf("the purge Job's owner is %v, want the MemberOrganisation", owner)
	}
}

// checkPurgeAudit checks the record service holds an AuditEvent of the
// purge naming the organisation, with the counts given.
func checkPurgeAudit(t *testing.T, store *fhirstore.Store, ods string, counts map[string]string) {
	t.Helper()
	for _, ae := range store.OfType("AuditEvent") {
		data, _ := json.Marshal(ae)
		if !strings.Contains(string(data), `"value":"`+ods+`"`) {
			continue
		}
		if strings.Contains(string(data), purgeNHSNumber) {
			t.Errorf("the purge's AuditEvent holds the NHS number: %s", data)
		}
		for k, v := range counts {
			if !strings.Contains(string(data), `{"type":"`+k+`","valueString":"`+v+`"}`) {
				t.Errorf("the purge's AuditEvent lacks %s = %s: %s", k, v, data)
			}
		}
		if ae["action"] != "D" || ae["outcome"] != "0" {
			t.Errorf("the purge's AuditEvent is not a successful delete: %s", data)
		}
		return
	}
	t.Errorf("no AuditEvent of the purge of %s in the record service", ods)
}

// checkNoNHSNumber checks the member's status and the namespace's Events
// never hold the NHS number.
func checkNoNHSNumber(t *testing.T, m *shcrv1alpha1.MemberOrganisation, ns string) {
	t.Helper()
	data, _ := json.Marshal(m.Status)
	events := &eventsv1.EventList{}
	if err := k8s.List(ctx, events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	eventData, _ := json.Marshal(events)
	if strings.Contains(string(data)+string(eventData), purgeNHSNumber) {
		t.Errorf("an NHS number is in the member's status or the Events")
	}
}

func sameCategories(a, b []shcrv1alpha1.DataCategory) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// connectorCategories are the categories test connectors report, by
// status path; none when not set.
var connectorCategories sync.Map

func reportedCategories(path string) []string {
	if v, ok := connectorCategories.Load(path); ok {
		return v.([]string)
	}
	return []string{}
}

// While a pod of the organisation's connector still runs, no purge Job
// starts (it would race the connector's writes). Suspension leaves the
// organisation nothing to provide, so its connector Deployment is removed at
// once; once its last pod has gone, the Job starts and the purge completes.
func TestPurgeWaitsForTheRunningConnectorToStopForwarding(t *testing.T) {
	s := newScenarioWithCodes(t, "purgewait", "Y4G03", "Y4T3", "Y4C3")
	path := "/" + s.ns + "/gp/status"
	var all []string
	for _, c := range allButPreferences {
		all = append(all, string(c))
	}
	connectorCategories.Store(path, all)
	t.Cleanup(func() { connectorCategories.Delete(path) })

	deploy := &appsv1.Deployment{}
	key := client.ObjectKey{Namespace: s.ns, Name: "connector-" + strings.ToLower(s.gp)}
	waitFor(t, "the GP's connector", func() (bool, string) {
		err := k8s.Get(ctx, key, deploy)
		return err == nil, fmt.Sprint(err)
	})
	updateStatus(t, deploy, fixtures.RolledOut)
	// A running connector pod of the GP (envtest runs no kubelet: the object stands for it).
	create(t, connectorPod(s.ns, s.gp, s.region))

	update(t, &shcrv1alpha1.DataSharingAgreement{}, s.ns, "dsa-v1", func(a *shcrv1alpha1.DataSharingAgreement) {
		a.Spec.Suspended = true
		a.Spec.SuspensionReason = "a purge test"
	})
	m := waitPurge(t, s.ns, "gp", "the purge waiting for the connector", func(m *shcrv1alpha1.MemberOrganisation) bool {
		c := meta.FindStatusCondition(m.Status.Conditions, shcrv1alpha1.ConditionRecordsPurged)
		return m.Status.Purge != nil && len(m.Status.Purge.Categories) > 0 && c != nil && strings.Contains(c.Message, "waiting for the connector")
	})
	if m.Status.Purge.Job != "" {
		t.Errorf("a purge Job %s started while the connector still forwards the categories", m.Status.Purge.Job)
	}
	jobs := &batchv1.JobList{}
	if err := k8s.List(ctx, jobs, client.InNamespace(s.ns), client.MatchingLabels{specs.LabelPurge: s.gp}); err != nil || len(jobs.Items) != 0 {
		t.Errorf("purge Jobs %v (%v) while the connector still forwards the categories", len(jobs.Items), err)
	}

	waitFor(t, "the connector Deployment removed", func() (bool, string) {
		err := k8s.Get(ctx, key, &appsv1.Deployment{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	// The pod goes, as the kubelet would stop it with its Deployment.
	if err := k8s.Delete(ctx, connectorPod(s.ns, s.gp, s.region)); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "a purge Job once no connector pod runs", 2*time.Minute, func() (bool, string) {
		m = getMember(t, s.ns, "gp")
		return m.Status.Purge != nil && m.Status.Purge.Job != "", fmt.Sprint(meta.FindStatusCondition(m.Status.Conditions, shcrv1alpha1.ConditionRecordsPurged))
	})
	store := fhirstore.New(t)
	putProvided(store, s.gp)
	runPurgeJob(t, s.ns, m.Status.Purge.Job, store, false)
	waitPurge(t, s.ns, "gp", "the purge completed", func(m *shcrv1alpha1.MemberOrganisation) bool {
		return len(m.Status.Purge.Categories) == 0 && m.Status.Purge.CompletedAt != nil
	})
	if keys := store.Keys(); len(keys) != 1 || !strings.HasPrefix(keys[0], "AuditEvent/") {
		t.Errorf("after the purge the record service holds %v, want only the AuditEvent", keys)
	}
}

// connectorPod is a pod of the organisation's connector, restricted as the
// region namespace requires.
func connectorPod(ns, ods, region string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "connector-" + strings.ToLower(ods) + "-pod", Labels: map[string]string{
			specs.LabelOrganisation: ods, specs.LabelComponent: specs.ComponentConnector, shcrv1alpha1.LabelRegion: region,
		}},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptrTo(true), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{Name: "connector", Image: specs.DefaultConnectorImage, SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptrTo(false), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			}}},
		},
	}
}

func ptrTo[T any](v T) *T { return &v }
