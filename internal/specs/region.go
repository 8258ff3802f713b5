/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package specs

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

// Pod Security Admission labels.
const (
	psaEnforce        = "pod-security.kubernetes.io/enforce"
	psaEnforceVersion = "pod-security.kubernetes.io/enforce-version"
	psaWarn           = "pod-security.kubernetes.io/warn"
	psaWarnVersion    = "pod-security.kubernetes.io/warn-version"
	psaAudit          = "pod-security.kubernetes.io/audit"
)

// Namespace is the region's namespace, enforcing the "restricted" Pod
// Security Standard.
func Namespace(region *shcrv1alpha1.ShCRRegion) *corev1.Namespace {
	labels := RegionLabels(region)
	labels[psaEnforce] = "restricted"
	labels[psaEnforceVersion] = "latest"
	labels[psaWarn] = "restricted"
	labels[psaWarnVersion] = "latest"
	labels[psaAudit] = "restricted"
	return &corev1.Namespace{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            shcrv1alpha1.NamespaceFor(region.Name),
			Labels:          labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(region, regionGVK)},
		},
	}
}

// RetainedNamespace is the namespace as it is kept after its region was
// deleted with deletionPolicy Retain: no owner, so nothing garbage-collects
// it, and marked as retained. Applied with the same field owner as Namespace,
// so re-adopting it removes the retained marks.
func RetainedNamespace(region *shcrv1alpha1.ShCRRegion, at metav1.Time) *corev1.Namespace {
	ns := Namespace(region)
	ns.OwnerReferences = nil
	ns.Labels[shcrv1alpha1.LabelRetained] = "true"
	ns.Annotations = map[string]string{shcrv1alpha1.AnnotationRetainedAt: at.UTC().Format(metav1.RFC3339Micro)}
	return ns
}

// ResourceQuota bounds the namespace from spec.quota. Volume claims: 50 for
// the region's own workloads, and one state claim per connector pod the
// quota admits.
func ResourceQuota(region *shcrv1alpha1.ShCRRegion) *corev1.ResourceQuota {
	q := region.Spec.Quota
	limitCPU := q.CPU.DeepCopy()
	limitCPU.Add(q.CPU)
	return &corev1.ResourceQuota{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ResourceQuota"},
		ObjectMeta: regionMeta(region, QuotaName, RegionLabels(region)),
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
			corev1.ResourceRequestsCPU:            q.CPU,
			corev1.ResourceLimitsCPU:              limitCPU,
			corev1.ResourceRequestsMemory:         q.Memory,
			corev1.ResourceLimitsMemory:           q.Memory,
			corev1.ResourceRequestsStorage:        q.Storage,
			corev1.ResourcePods:                   *resource.NewQuantity(int64(q.Pods), resource.DecimalSI),
			corev1.ResourcePersistentVolumeClaims: *resource.NewQuantity(50+int64(q.Pods), resource.DecimalSI),
			corev1.ResourceServicesLoadBalancers:  resource.MustParse("0"),
			corev1.ResourceServicesNodePorts:      resource.MustParse("0"),
		}},
	}
}

// LimitRange gives containers that set nothing modest requests and limits,
// so the quota can account for them.
func LimitRange(region *shcrv1alpha1.ShCRRegion) *corev1.LimitRange {
	return &corev1.LimitRange{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "LimitRange"},
		ObjectMeta: regionMeta(region, LimitRangeName, RegionLabels(region)),
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type: corev1.LimitTypeContainer,
			DefaultRequest: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("100m"),
				corev1.ResourceMemory: resource.MustParse("128Mi"),
			},
			Default: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("500m"),
				corev1.ResourceMemory: resource.MustParse("512Mi"),
			},
		}}},
	}
}

// ServiceAccounts are one per workload, with no API token mounted: neither
// the record service nor the gateway talks to the Kubernetes API.
func ServiceAccounts(region *shcrv1alpha1.ShCRRegion) []*corev1.ServiceAccount {
	out := make([]*corev1.ServiceAccount, 0, 2)
	for _, component := range []string{ComponentRecordService, ComponentGateway} {
		out = append(out, &corev1.ServiceAccount{
			TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
			ObjectMeta:                   regionMeta(region, component, componentLabels(region, component)),
			AutomountServiceAccountToken: ptr.To(false),
		})
	}
	return out
}

// AdminRole lets a region's administrators manage the region's members,
// agreements and policies, and read (not change) its workloads.
func AdminRole(region *shcrv1alpha1.ShCRRegion) *rbacv1.Role {
	edit := []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	read := []string{"get", "list", "watch"}
	return &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: regionMeta(region, AdminRoleName, RegionLabels(region)),
		Rules: []rbacv1.PolicyRule{
			{
				APIGroups: []string{shcrv1alpha1.GroupVersion.Group},
				Resources: []string{"memberorganisations", "datasharingagreements", "accesspolicies"},
				Verbs:     edit,
			},
			{
				APIGroups: []string{shcrv1alpha1.GroupVersion.Group},
				Resources: []string{"memberorganisations/status", "datasharingagreements/status", "accesspolicies/status"},
				Verbs:     []string{"get"},
			},
			{
				APIGroups: []string{"apps"},
				Resources: []string{"deployments", "statefulsets"},
				Verbs:     read,
			},
			{
				APIGroups: []string{""},
				Resources: []string{"pods", "services", "configmaps", "persistentvolumeclaims", "events"},
				Verbs:     read,
			},
		},
	}
}

// AdminRoleBinding binds spec.admins to AdminRole. With no admins it binds
// no one.
func AdminRoleBinding(region *shcrv1alpha1.ShCRRegion) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: regionMeta(region, AdminRoleName, RegionLabels(region)),
		RoleRef: rbacv1.RoleRef{
			APIGroup: rbacv1.GroupName,
			Kind:     "Role",
			Name:     AdminRoleName,
		},
		Subjects: region.Spec.Admins,
	}
}

// PodDisruptionBudgets let voluntary disruptions (node drains) take down at
// most one pod of each workload at a time.
func PodDisruptionBudgets(region *shcrv1alpha1.ShCRRegion) []*policyv1.PodDisruptionBudget {
	out := make([]*policyv1.PodDisruptionBudget, 0, 2)
	for _, component := range []string{ComponentRecordService, ComponentGateway} {
		out = append(out, &policyv1.PodDisruptionBudget{
			TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
			ObjectMeta: regionMeta(region, component, componentLabels(region, component)),
			Spec: policyv1.PodDisruptionBudgetSpec{
				MaxUnavailable: ptr.To(intstr.FromInt32(1)),
				Selector:       &metav1.LabelSelector{MatchLabels: selectorLabels(region, component)},
			},
		})
	}
	return out
}

// PolicyBundleConfigMap holds the compiled policy bundle the gateway reads:
// as text under bundle.json, or compressed under bundle.json.gz when large.
func PolicyBundleConfigMap(region *shcrv1alpha1.ShCRRegion, bundle policy.Stored) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: regionMeta(region, PolicyBundleName, componentLabels(region, ComponentGateway)),
	}
	if bundle.Name == policy.FileJSON {
		cm.Data = map[string]string{bundle.Name: string(bundle.Data)}
	} else {
		cm.BinaryData = map[string][]byte{bundle.Name: bundle.Data}
	}
	return cm
}

// serviceURL is the in-cluster URL of a Service in the region namespace.
func serviceURL(region *shcrv1alpha1.ShCRRegion, name string, port int32, path string) string {
	return serviceURLIn(shcrv1alpha1.NamespaceFor(region.Name), name, port, path)
}

func serviceURLIn(namespace, name string, port int32, path string) string {
	return fmt.Sprintf("http://%s.%s.svc:%d%s", name, namespace, port, path)
}

// GatewayURL is the URL clients call: the gateway's FHIR base, which is
// its external URL (the gateway serves FHIR at its root, not at /fhir).
func GatewayURL(region *shcrv1alpha1.ShCRRegion) string {
	return GatewayExternalURL(region)
}

// RecordServiceURL is the record service's FHIR base URL.
func RecordServiceURL(region *shcrv1alpha1.ShCRRegion) string {
	return serviceURL(region, RecordServiceName, RecordServicePort, "/fhir")
}
