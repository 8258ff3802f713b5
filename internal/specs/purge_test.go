/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package specs

import (
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// The purge Job runs the operator's connector image, never the
// organisation's own, with no credentials and no token, as a connector pod
// of the region that its organisation's connector policy does not select.
func TestPurgeJobRunsTheOperatorsImageWithoutCredentials(t *testing.T) {
	member := connectorMember()
	member.Spec.Connector.Image = "registry.example/organisations-own:1"
	job := PurgeJob("tv", member, "purge-x", "registry.example/shcr-connector:v1", []string{"TestResults", "Allergies"}, "narrowed")
	pod := job.Spec.Template.Spec
	c := pod.Containers[0]
	if c.Image != "registry.example/shcr-connector:v1" {
		t.Errorf("image %s, want the operator's", c.Image)
	}
	if len(pod.Volumes) != 0 || len(c.VolumeMounts) != 0 || len(c.Env) != 0 || len(c.EnvFrom) != 0 {
		t.Errorf("the purge pod mounts or is given something: %+v %+v", pod.Volumes, c.Env)
	}
	want := []string{"--purge", "--purge-ods=" + member.Spec.ODSCode, "--purge-categories=TestResults,Allergies",
		"--purge-record-service=http://record-service." + member.Namespace + ".svc:8080/fhir", "--purge-reason=narrowed"}
	if !slices.Equal(c.Args, want) {
		t.Errorf("args %q, want %q", c.Args, want)
	}
	labels := job.Spec.Template.Labels
	if _, ok := labels[LabelOrganisation]; ok || labels[LabelComponent] != ComponentConnector || labels[shcrv1alpha1.LabelRegion] != "tv" {
		t.Errorf("labels %v: want a connector pod of the region without the organisation label", labels)
	}
	if job.Annotations[AnnotationPurgeCategories] != "TestResults,Allergies" || !strings.HasPrefix(job.Name, "purge-") {
		t.Errorf("job %s annotations %v", job.Name, job.Annotations)
	}
	if job.Spec.BackoffLimit == nil || job.Spec.ActiveDeadlineSeconds == nil || job.Spec.TTLSecondsAfterFinished == nil {
		t.Errorf("the Job is not bounded: %+v", job.Spec)
	}
}

// The purge of an organisation that left: the same Job in the region's
// namespace, owned by the region, named apart from its member's purges.
func TestDepartedPurgeJobIsTheRegionsAndRunsWithoutCredentials(t *testing.T) {
	region := &shcrv1alpha1.ShCRRegion{ObjectMeta: metav1.ObjectMeta{Name: "tv", UID: "r-uid"}}
	name := DepartedPurgeJobName("A1B2C", 1700000000, 1, []string{"Medications"})
	if !strings.HasPrefix(name, "purge-left-a1b2c-1700000000-1-") {
		t.Errorf("name %s: want purge-left-<ods>-<requested>-<attempt>-", name)
	}
	job := DepartedPurgeJob(region, "A1B2C", name, "", []string{"Medications"}, "left")
	if job.Namespace != shcrv1alpha1.NamespaceFor("tv") {
		t.Errorf("namespace %s, want the region's", job.Namespace)
	}
	if owner := metav1.GetControllerOf(job); owner == nil || owner.Kind != "ShCRRegion" || owner.Name != "tv" || owner.UID != "r-uid" {
		t.Errorf("owner %+v, want the region", owner)
	}
	pod := job.Spec.Template.Spec
	c := pod.Containers[0]
	if c.Image != DefaultConnectorImage || len(pod.Volumes) != 0 || len(c.Env) != 0 || pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("the purge pod runs %s with %v %v: want the default image without credentials", c.Image, pod.Volumes, c.Env)
	}
	want := []string{"--purge", "--purge-ods=A1B2C", "--purge-categories=Medications",
		"--purge-record-service=http://record-service.shcr-tv.svc:8080/fhir", "--purge-reason=left"}
	if !slices.Equal(c.Args, want) {
		t.Errorf("args %q, want %q", c.Args, want)
	}
	if labels := job.Spec.Template.Labels; labels[LabelPurge] != "A1B2C" || labels[shcrv1alpha1.LabelRegion] != "tv" {
		t.Errorf("labels %v", labels)
	}
}
