/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package specs builds the objects the operator owns. Every function here is
// pure: it takes the owning resource and returns the desired object, with no
// client, context or clock, so the builders are tested as plain tables.
package specs

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// ManagedBy is the value of app.kubernetes.io/managed-by on every object the
// operator creates. The manager's cache only holds objects with this label.
const ManagedBy = "shcr-operator"

// Standard label keys.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelName      = "app.kubernetes.io/name"
	LabelComponent = "app.kubernetes.io/component"
	LabelPartOf    = "app.kubernetes.io/part-of"
)

// Component names, used as app.kubernetes.io/component and as object names.
const (
	ComponentRecordService = "record-service"
	ComponentGateway       = "record-gateway"
	ComponentConnector     = "connector"
)

// Names of the fixed children of a region, inside its namespace.
const (
	RecordServiceName         = "record-service"
	RecordServicePodsName     = "record-service-pods"
	GatewayName               = "record-gateway"
	PolicyBundleName          = "policy-bundle"
	PolicyBundleKey           = "bundle.json" // policy.FileJSON
	AdminRoleName             = "shcr-region-admin"
	QuotaName                 = "shcr-quota"
	LimitRangeName            = "shcr-limits"
	RecordServicePort         = 8080
	GatewayPort               = 8080
	RecordServiceDataVolume   = "data"
	NetworkPolicyDefaultDeny  = "shcr-default-deny"
	NetworkPolicyDNS          = "shcr-allow-dns"
	NetworkPolicyRecordIn     = "shcr-record-service-ingress"
	NetworkPolicyRecordOut    = "shcr-record-service-egress"
	NetworkPolicyGatewayIn    = "shcr-gateway-ingress"
	NetworkPolicyGatewayOut   = "shcr-gateway-egress"
	NetworkPolicyConnectorOut = "shcr-connector-egress"
)

var regionGVK = shcrv1alpha1.GroupVersion.WithKind("ShCRRegion")

// RegionLabels are the labels every child of a region carries.
func RegionLabels(region *shcrv1alpha1.ShCRRegion) map[string]string {
	return map[string]string{
		LabelManagedBy:           ManagedBy,
		LabelPartOf:              "shcr",
		shcrv1alpha1.LabelRegion: region.Name,
	}
}

// componentLabels are RegionLabels plus the component's name.
func componentLabels(region *shcrv1alpha1.ShCRRegion, component string) map[string]string {
	l := RegionLabels(region)
	l[LabelName] = component
	l[LabelComponent] = component
	return l
}

// selectorLabels select a component's pods; they never change, because a
// workload's selector is immutable.
func selectorLabels(region *shcrv1alpha1.ShCRRegion, component string) map[string]string {
	return map[string]string{
		shcrv1alpha1.LabelRegion: region.Name,
		LabelComponent:           component,
	}
}

// regionMeta is the metadata of a namespaced child of a region.
func regionMeta(region *shcrv1alpha1.ShCRRegion, name string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:            name,
		Namespace:       shcrv1alpha1.NamespaceFor(region.Name),
		Labels:          labels,
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(region, regionGVK)},
	}
}

// restrictedPodSecurity is a pod security context that passes the
// "restricted" Pod Security Standard.
func restrictedPodSecurity() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To[int64](65532),
		RunAsGroup:     ptr.To[int64](65532),
		FSGroup:        ptr.To[int64](65532),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// restrictedContainerSecurity is a container security context that passes the
// "restricted" Pod Security Standard with a read-only root filesystem.
func restrictedContainerSecurity() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		RunAsNonRoot:             ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// resourcesOr returns the user's requirements, or the defaults when unset.
// Requests missing from the user's value are filled from the defaults so a
// container never runs without requests and limits.
func resourcesOr(user *corev1.ResourceRequirements, reqCPU, reqMem, limCPU, limMem string) corev1.ResourceRequirements {
	out := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse(reqCPU),
			corev1.ResourceMemory: resource.MustParse(reqMem),
		},
		Limits: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse(limCPU),
			corev1.ResourceMemory: resource.MustParse(limMem),
		},
	}
	if user == nil {
		return out
	}
	for k, v := range user.Requests {
		out.Requests[k] = v
	}
	for k, v := range user.Limits {
		out.Limits[k] = v
	}
	return out
}

// tmpVolume is a small writable scratch volume, since root filesystems are read-only.
func tmpVolume() (corev1.Volume, corev1.VolumeMount) {
	return corev1.Volume{
			Name: "tmp",
			VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
				SizeLimit: ptr.To(resource.MustParse("256Mi")),
			}},
		}, corev1.VolumeMount{
			Name:      "tmp",
			MountPath: "/tmp",
		}
}
