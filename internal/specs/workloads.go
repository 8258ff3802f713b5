/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package specs

import (
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// Paths inside the gateway container.
const (
	GatewayBundleDir     = "/etc/shcr/bundle"
	GatewayJWKSDir       = "/etc/shcr/jwks"
	GatewayObjectionsDir = "/etc/shcr/objections"
	GatewayAuditDir      = "/var/log/shcr"
)

// GatewayAuditVolume is the name of the gateway StatefulSet's audit volume
// claim template; a replica's claim is audit-record-gateway-<ordinal>.
const GatewayAuditVolume = "audit"

// DefaultAuditStorageSize is the size of a gateway replica's audit volume
// when spec.audit.storage leaves it unset.
const DefaultAuditStorageSize = "10Gi"

// RecordServiceStatefulSet is the region's FHIR R4 record store. Its volume
// claims are never owned by the StatefulSet (retention policy Retain), so
// patient data outlives the workload; the region's deletionPolicy decides
// whether it is removed with the namespace.
func RecordServiceStatefulSet(region *shcrv1alpha1.ShCRRegion) *appsv1.StatefulSet {
	spec := region.Spec.RecordService
	labels := componentLabels(region, ComponentRecordService)
	tmp, tmpMount := tmpVolume()
	container := corev1.Container{
		Name:            ComponentRecordService,
		Image:           spec.Image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Ports: []corev1.ContainerPort{{
			Name: "http", ContainerPort: RecordServicePort, Protocol: corev1.ProtocolTCP,
		}},
		Env:             recordServiceEnv(region),
		Resources:       resourcesOr(spec.Resources, "500m", "1Gi", "2", "2Gi"),
		SecurityContext: restrictedContainerSecurity(),
		VolumeMounts: []corev1.VolumeMount{
			{Name: RecordServiceDataVolume, MountPath: "/data"},
			tmpMount,
		},
		ReadinessProbe: httpProbe(RecordServiceReadinessPath, RecordServicePort, 10),
		LivenessProbe:  httpProbe(RecordServiceLivenessPath, RecordServicePort, 30),
		StartupProbe:   startupProbe(RecordServiceLivenessPath, RecordServicePort),
	}
	return &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: regionMeta(region, RecordServiceName, labels),
		Spec: appsv1.StatefulSetSpec{
			Replicas:            ptr.To(spec.Replicas),
			ServiceName:         RecordServicePodsName,
			PodManagementPolicy: appsv1.ParallelPodManagement,
			Selector:            &metav1.LabelSelector{MatchLabels: selectorLabels(region, ComponentRecordService)},
			PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
				WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
				WhenScaled:  appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					ServiceAccountName:           ComponentRecordService,
					AutomountServiceAccountToken: ptr.To(false),
					SecurityContext:              restrictedPodSecurity(),
					Containers:                   []corev1.Container{container},
					Volumes:                      []corev1.Volume{tmp},
				},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{
					Name:   RecordServiceDataVolume,
					Labels: labels,
				},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					StorageClassName: spec.Storage.StorageClassName,
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceStorage: spec.Storage.Size,
					}},
				},
			}},
		},
	}
}

// RecordServiceServices are the ClusterIP Service the gateway and connectors
// call, and the headless Service that gives the StatefulSet's pods stable names.
func RecordServiceServices(region *shcrv1alpha1.ShCRRegion) []*corev1.Service {
	labels := componentLabels(region, ComponentRecordService)
	port := []corev1.ServicePort{{
		Name: "http", Port: RecordServicePort, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP,
	}}
	client := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: regionMeta(region, RecordServiceName, labels),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: selectorLabels(region, ComponentRecordService),
			Ports:    port,
		},
	}
	pods := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: regionMeta(region, RecordServicePodsName, labels),
		Spec: corev1.ServiceSpec{
			ClusterIP:                corev1.ClusterIPNone,
			Selector:                 selectorLabels(region, ComponentRecordService),
			Ports:                    port,
			PublishNotReadyAddresses: true,
		},
	}
	return []*corev1.Service{client, pods}
}

// GatewayIsStatefulSet says whether the region's gateway runs as a
// StatefulSet (the File audit sink: a volume per replica) rather than a
// Deployment (the Stdout sink). Both are named GatewayName; the operator
// removes the one not in use.
func GatewayIsStatefulSet(region *shcrv1alpha1.ShCRRegion) bool {
	return region.Spec.Audit.Sink == shcrv1alpha1.AuditSinkFile
}

// GatewayDeployment is the record gateway with the Stdout audit sink, with
// the policy bundle mounted. The gateway reloads the bundle when the mounted
// file changes, so a new bundle never restarts it.
func GatewayDeployment(region *shcrv1alpha1.ShCRRegion) *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: regionMeta(region, GatewayName, componentLabels(region, ComponentGateway)),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(region.Spec.Gateway.Replicas),
			Selector: &metav1.LabelSelector{MatchLabels: selectorLabels(region, ComponentGateway)},
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: ptr.To(intstr.FromInt32(0)),
					MaxSurge:       ptr.To(intstr.FromInt32(1)),
				},
			},
			Template: gatewayPodTemplate(region),
		},
	}
}

// GatewayStatefulSet is the record gateway with the File audit sink: each
// replica keeps its audit trail on its own volume, which outlives the pod,
// the StatefulSet (retention policy Retain) and, with deletionPolicy
// Retain, the region.
func GatewayStatefulSet(region *shcrv1alpha1.ShCRRegion) *appsv1.StatefulSet {
	storage := shcrv1alpha1.StorageSpec{Size: resource.MustParse(DefaultAuditStorageSize)}
	if s := region.Spec.Audit.Storage; s != nil {
		storage.StorageClassName = s.StorageClassName
		if !s.Size.IsZero() {
			storage.Size = s.Size
		}
	}
	labels := componentLabels(region, ComponentGateway)
	return &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: regionMeta(region, GatewayName, labels),
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To(region.Spec.Gateway.Replicas),
			// The client Service: clients never address a replica, so no
			// headless Service is made for per-pod names.
			ServiceName:         GatewayName,
			PodManagementPolicy: appsv1.ParallelPodManagement,
			Selector:            &metav1.LabelSelector{MatchLabels: selectorLabels(region, ComponentGateway)},
			PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
				WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
				WhenScaled:  appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
			},
			Template: gatewayPodTemplate(region),
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: GatewayAuditVolume, Labels: labels},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					StorageClassName: storage.StorageClassName,
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceStorage: storage.Size,
					}},
				},
			}},
		},
	}
}

// gatewayPodTemplate is the gateway's pod, for either workload.
func gatewayPodTemplate(region *shcrv1alpha1.ShCRRegion) corev1.PodTemplateSpec {
	spec := region.Spec.Gateway
	tmp, tmpMount := tmpVolume()
	args, mounts, volumes := gatewayConfiguration(region)
	image := spec.Image
	if image == "" {
		image = DefaultGatewayImage
	}
	container := corev1.Container{
		Name:            ComponentGateway,
		Image:           image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Args:            args,
		Ports: []corev1.ContainerPort{{
			Name: "http", ContainerPort: GatewayPort, Protocol: corev1.ProtocolTCP,
		}},
		Resources:       resourcesOr(spec.Resources, "100m", "128Mi", "1", "256Mi"),
		SecurityContext: restrictedContainerSecurity(),
		VolumeMounts:    append(mounts, tmpMount),
		ReadinessProbe:  httpProbe("/readyz", GatewayPort, 5),
		LivenessProbe:   httpProbe("/healthz", GatewayPort, 10),
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: componentLabels(region, ComponentGateway)},
		Spec: corev1.PodSpec{
			ServiceAccountName:           ComponentGateway,
			AutomountServiceAccountToken: ptr.To(false),
			SecurityContext:              restrictedPodSecurity(),
			Containers:                   []corev1.Container{container},
			Volumes:                      append(volumes, tmp),
		},
	}
}

// gatewayConfiguration is the gateway's flags and the volumes they point at:
// the policy bundle, the issuer's keys, the objection register and, for the
// File audit sink, the audit volume (a claim of the StatefulSet, so not among
// the pod's volumes) and the retention.
func gatewayConfiguration(region *shcrv1alpha1.ShCRRegion) ([]string, []corev1.VolumeMount, []corev1.Volume) {
	spec := region.Spec.Gateway
	id := spec.Identity
	args := []string{
		"--listen=:" + strconv.Itoa(GatewayPort),
		"--bundle-dir=" + GatewayBundleDir,
		"--upstream=" + RecordServiceURL(region),
		"--region=" + region.Name,
		"--audit-sink=" + string(region.Spec.Audit.Sink),
		"--external-url=" + GatewayExternalURL(region),
		"--max-page-size=" + strconv.Itoa(int(gatewayMaxPageSize(spec))),
	}
	mounts := []corev1.VolumeMount{{Name: "policy-bundle", MountPath: GatewayBundleDir, ReadOnly: true}}
	volumes := []corev1.Volume{configMapVolume("policy-bundle", PolicyBundleName)}
	for flag, value := range map[string]string{
		"--issuer": id.Issuer, "--audience": id.Audience, "--jwks-url": id.JWKSURL,
		"--claim-organisation": id.Claims.Organisation, "--claim-role": id.Claims.Role,
		"--claim-purpose-of-use": id.Claims.PurposeOfUse, "--claim-legitimate-relationship": id.Claims.LegitimateRelationship,
		"--claim-break-glass-reason": id.Claims.BreakGlassReason,
		"--decision-api-roles":       strings.Join(spec.DecisionAPI.Roles, ","), "--decision-api-audience": spec.DecisionAPI.Audience,
	} {
		if value != "" {
			args = append(args, flag+"="+value)
		}
	}
	if id.JWKS != nil {
		args = append(args, "--jwks-file="+GatewayJWKSDir+"/"+id.JWKS.Key)
		mounts = append(mounts, corev1.VolumeMount{Name: "jwks", MountPath: GatewayJWKSDir, ReadOnly: true})
		volumes = append(volumes, configMapVolume("jwks", id.JWKS.Name))
	}
	if o := spec.Objections; o != nil {
		args = append(args, "--objections-file="+GatewayObjectionsDir+"/"+o.Key)
		mounts = append(mounts, corev1.VolumeMount{Name: "objections", MountPath: GatewayObjectionsDir, ReadOnly: true})
		volumes = append(volumes, configMapVolume("objections", o.Name))
	}
	args, mounts, volumes = gpConnectConfiguration(region, args, mounts, volumes)
	if GatewayIsStatefulSet(region) {
		args = append(args, "--audit-dir="+GatewayAuditDir,
			"--audit-retention-days="+strconv.Itoa(int(region.Spec.Audit.RetentionDays)))
		mounts = append(mounts, corev1.VolumeMount{Name: GatewayAuditVolume, MountPath: GatewayAuditDir})
	}
	// Flags from the map above are appended in map order; sort them after the
	// fixed ones so the pod template, and so the Deployment, never changes
	// for an unchanged region.
	slices.Sort(args[7:])
	return args, mounts, volumes
}

// GatewayExternalURL is the gateway's FHIR base URL as clients reach it:
// spec.gateway.externalURL, or the in-cluster URL of its Service.
func GatewayExternalURL(region *shcrv1alpha1.ShCRRegion) string {
	if u := region.Spec.Gateway.ExternalURL; u != "" {
		return u
	}
	return serviceURL(region, GatewayName, GatewayPort, "/")
}

// defaultMaxPageSize is spec.gateway.maxPageSize when the API server has
// not defaulted it (objects built in code).
const defaultMaxPageSize = 50

func gatewayMaxPageSize(spec shcrv1alpha1.GatewaySpec) int32 {
	if spec.MaxPageSize > 0 {
		return spec.MaxPageSize
	}
	return defaultMaxPageSize
}

func configMapVolume(name, configMap string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: configMap},
	}}}
}

// GatewayService is the Service clients call.
func GatewayService(region *shcrv1alpha1.ShCRRegion) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: regionMeta(region, GatewayName, componentLabels(region, ComponentGateway)),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: selectorLabels(region, ComponentGateway),
			Ports: []corev1.ServicePort{{
				Name: "http", Port: GatewayPort, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP,
			}},
		},
	}
}

func httpProbe(path string, port int32, period int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: path, Port: intstr.FromInt32(port),
		}},
		PeriodSeconds:    period,
		TimeoutSeconds:   5,
		FailureThreshold: 3,
	}
}

// startupProbe gives a slow-starting FHIR server up to ten minutes.
func startupProbe(path string, port int32) *corev1.Probe {
	p := httpProbe(path, port, 10)
	p.FailureThreshold = 60
	return p
}

// GatewayIdentityMissing names the fields of spec.gateway.identity the
// gateway needs to verify tokens and that are unset: the gateway refuses
// every request and reports not ready without them.
func GatewayIdentityMissing(region *shcrv1alpha1.ShCRRegion) []string {
	id := region.Spec.Gateway.Identity
	var missing []string
	if id.Issuer == "" {
		missing = append(missing, "spec.gateway.identity.issuer")
	}
	if id.Audience == "" {
		missing = append(missing, "spec.gateway.identity.audience")
	}
	if id.JWKS == nil && id.JWKSURL == "" {
		missing = append(missing, "spec.gateway.identity.jwks or jwksURL")
	}
	return missing
}
