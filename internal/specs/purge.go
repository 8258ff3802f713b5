/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package specs

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// LabelPurge names, on a purge Job and its pod, the ODS code whose records
// it removes. The pod has the connector component label, so the region's
// policies let it reach the record service (and DNS) and nothing else, but
// not the organisation label: its organisation's connector policy, which
// opens the organisation's network, does not select it.
const LabelPurge = "shcr.io/purge"

// AnnotationPurgeCategories lists, on a purge Job, the categories it
// removes, comma-separated.
const AnnotationPurgeCategories = "shcr.io/purge-categories"

// Bounds of a purge Job: a few retries of its pod, a bounded run, and the
// finished Job kept a day for inspection.
const (
	purgeJobBackoffLimit  = 2
	purgeJobActiveSeconds = 30 * 60
	purgeJobTTLSeconds    = 24 * 60 * 60
)

// RecordServiceFHIRURL is the FHIR base URL of the record service of the
// region whose namespace is namespace.
func RecordServiceFHIRURL(namespace string) string {
	return serviceURLIn(namespace, RecordServiceName, RecordServicePort, "/fhir")
}

// PurgeJobName names the attempt-th Job of the purge requested at
// requestedUnix for an organisation, removing categories: a purge that
// grows by a further narrowing gets a Job of its own.
func PurgeJobName(member *shcrv1alpha1.MemberOrganisation, requestedUnix int64, attempt int32, categories []string) string {
	sum := sha256.Sum256([]byte(strings.Join(categories, ",")))
	return fmt.Sprintf("purge-%s-%d-%d-%s", strings.ToLower(member.Spec.ODSCode), requestedUnix, attempt, hex.EncodeToString(sum[:3]))
}

// PurgeJob runs `connector --purge` in the region namespace: it removes the
// organisation's records of the categories from the record service and
// writes an AuditEvent there. It runs the operator's connector image
// (image), never the organisation's own spec.connector.image, with no
// credentials and no API token; it is owned by the organisation.
func PurgeJob(region string, member *shcrv1alpha1.MemberOrganisation, name, image string, categories []string, reason string) *batchv1.Job {
	return purgeJob(region, member.Namespace, member.Spec.ODSCode, *metav1.NewControllerRef(member,
		shcrv1alpha1.GroupVersion.WithKind("MemberOrganisation")), name, image, categories, reason)
}

// DepartedPurgeJobName names the attempt-th Job of the purge, requested at
// requestedUnix, of the records an organisation that left the region
// provided; "left" keeps it apart from its member's own purge Jobs.
func DepartedPurgeJobName(odsCode string, requestedUnix int64, attempt int32, categories []string) string {
	sum := sha256.Sum256([]byte(strings.Join(categories, ",")))
	return fmt.Sprintf("purge-left-%s-%d-%d-%s", strings.ToLower(odsCode), requestedUnix, attempt, hex.EncodeToString(sum[:3]))
}

// DepartedPurgeJob is PurgeJob for an organisation whose MemberOrganisation
// is gone: owned by the region, in its namespace.
func DepartedPurgeJob(region *shcrv1alpha1.ShCRRegion, odsCode, name, image string, categories []string, reason string) *batchv1.Job {
	return purgeJob(region.Name, shcrv1alpha1.NamespaceFor(region.Name), odsCode, *metav1.NewControllerRef(region,
		shcrv1alpha1.GroupVersion.WithKind("ShCRRegion")), name, image, categories, reason)
}

// purgeJob is a purge Job of odsCode's records in namespace, owned by owner.
func purgeJob(region, namespace, odsCode string, owner metav1.OwnerReference, name, image string, categories []string, reason string) *batchv1.Job {
	if image == "" {
		image = DefaultConnectorImage
	}
	labels := map[string]string{
		LabelManagedBy:           ManagedBy,
		LabelPartOf:              "shcr",
		LabelName:                ComponentConnector,
		LabelComponent:           ComponentConnector,
		shcrv1alpha1.LabelRegion: region,
		LabelPurge:               odsCode,
	}
	return &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: namespace, Labels: labels,
			Annotations:     map[string]string{AnnotationPurgeCategories: strings.Join(categories, ",")},
			OwnerReferences: []metav1.OwnerReference{owner},
		},
		Spec: batchv1.JobSpec{
			BackoffLimit:            ptr.To[int32](purgeJobBackoffLimit),
			ActiveDeadlineSeconds:   ptr.To[int64](purgeJobActiveSeconds),
			TTLSecondsAfterFinished: ptr.To[int32](purgeJobTTLSeconds),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy:                corev1.RestartPolicyNever,
					AutomountServiceAccountToken: ptr.To(false),
					SecurityContext:              restrictedPodSecurity(),
					Containers: []corev1.Container{{
						Name:            "purge",
						Image:           image,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Args: []string{
							"--purge",
							"--purge-ods=" + odsCode,
							"--purge-categories=" + strings.Join(categories, ","),
							"--purge-record-service=" + RecordServiceFHIRURL(namespace),
							"--purge-reason=" + reason,
						},
						Resources:       resourcesOr(nil, "50m", "64Mi", "500m", "128Mi"),
						SecurityContext: restrictedContainerSecurity(),
					}},
				},
			},
		},
	}
}
