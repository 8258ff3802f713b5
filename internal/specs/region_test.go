/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package specs

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

// region is a region as the API server returns it, defaults applied.
func region(mods ...func(*shcrv1alpha1.ShCRRegion)) *shcrv1alpha1.ShCRRegion {
	r := &shcrv1alpha1.ShCRRegion{
		ObjectMeta: metav1.ObjectMeta{Name: "wessex", UID: types.UID("uid-1")},
		Spec: shcrv1alpha1.ShCRRegionSpec{
			DisplayName: "Wessex Care Records",
			RecordService: shcrv1alpha1.RecordServiceSpec{
				Image: "fhir:1", Replicas: 1,
				Storage: shcrv1alpha1.StorageSpec{Size: resource.MustParse("10Gi")},
			},
			Gateway: shcrv1alpha1.GatewaySpec{Image: "gw:1", Replicas: 2},
			Quota: shcrv1alpha1.QuotaSpec{
				CPU: resource.MustParse("8"), Memory: resource.MustParse("16Gi"),
				Storage: resource.MustParse("200Gi"), Pods: 100,
			},
			Audit:          shcrv1alpha1.AuditSpec{RetentionDays: 2922, Sink: shcrv1alpha1.AuditSinkStdout},
			DeletionPolicy: shcrv1alpha1.DeletionPolicyRetain,
		},
	}
	for _, m := range mods {
		m(r)
	}
	return r
}

func allChildren(r *shcrv1alpha1.ShCRRegion) []client.Object {
	objs := []client.Object{
		Namespace(r), ResourceQuota(r), LimitRange(r), AdminRole(r), AdminRoleBinding(r),
		RecordServiceStatefulSet(r), GatewayDeployment(r), GatewayStatefulSet(r), GatewayService(r), PolicyBundleConfigMap(r, policy.Stored{Name: policy.FileJSON, Data: []byte("{}")}),
	}
	for _, o := range ServiceAccounts(r) {
		objs = append(objs, o)
	}
	for _, o := range NetworkPolicies(r) {
		objs = append(objs, o)
	}
	for _, o := range PodDisruptionBudgets(r) {
		objs = append(objs, o)
	}
	for _, o := range RecordServiceServices(r) {
		objs = append(objs, o)
	}
	return objs
}

func TestEveryChildIsLabelledOwnedAndTyped(t *testing.T) {
	r := region()
	for _, obj := range allChildren(r) {
		if obj.GetObjectKind().GroupVersionKind().Kind == "" {
			t.Errorf("%T %s has no kind: server-side apply needs it", obj, obj.GetName())
		}
		owner := metav1.GetControllerOf(obj)
		if owner == nil || owner.UID != r.UID || owner.Kind != "ShCRRegion" || !ptr.Deref(owner.BlockOwnerDeletion, false) {
			t.Errorf("%T %s: controller owner %v, want the region", obj, obj.GetName(), owner)
		}
		if obj.GetLabels()[LabelManagedBy] != ManagedBy || obj.GetLabels()[shcrv1alpha1.LabelRegion] != "wessex" {
			t.Errorf("%T %s: labels %v", obj, obj.GetName(), obj.GetLabels())
		}
		if _, ok := obj.(*corev1.Namespace); !ok && obj.GetNamespace() != "shcr-wessex" {
			t.Errorf("%T %s is in namespace %q, want shcr-wessex", obj, obj.GetName(), obj.GetNamespace())
		}
	}
}

func TestPodTemplatesAreRestrictedAndBounded(t *testing.T) {
	r := region()
	templates := map[string]corev1.PodTemplateSpec{
		"record service": RecordServiceStatefulSet(r).Spec.Template,
		"gateway":        GatewayDeployment(r).Spec.Template,
		"gateway (File)": GatewayStatefulSet(region(func(r *shcrv1alpha1.ShCRRegion) { r.Spec.Audit.Sink = shcrv1alpha1.AuditSinkFile })).Spec.Template,
		"purge Job":      PurgeJob("tv", connectorMember(), "purge-a81001-1-0-abcdef", "", []string{"TestResults"}, "narrowed").Spec.Template,
	}
	for name, tmpl := range templates {
		pod := tmpl.Spec
		if pod.SecurityContext == nil || !ptr.Deref(pod.SecurityContext.RunAsNonRoot, false) ||
			pod.SecurityContext.SeccompProfile == nil || pod.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: pod security context %+v is not restricted", name, pod.SecurityContext)
		}
		if ptr.Deref(pod.AutomountServiceAccountToken, true) {
			t.Errorf("%s: mounts an API token it does not need", name)
		}
		for _, c := range pod.Containers {
			sc := c.SecurityContext
			if sc == nil || ptr.Deref(sc.AllowPrivilegeEscalation, true) || !ptr.Deref(sc.ReadOnlyRootFilesystem, false) ||
				sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
				t.Errorf("%s/%s: container security context %+v is not restricted", name, c.Name, sc)
			}
			for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := c.Resources.Requests[res]; !ok {
					t.Errorf("%s/%s: no %s request", name, c.Name, res)
				}
				if _, ok := c.Resources.Limits[res]; !ok {
					t.Errorf("%s/%s: no %s limit", name, c.Name, res)
				}
			}
		}
	}
}

func TestResourcesOverrideKeepsTheOtherDefaults(t *testing.T) {
	r := region(func(r *shcrv1alpha1.ShCRRegion) {
		r.Spec.Gateway.Resources = &corev1.ResourceRequirements{
			Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
		}
	})
	res := GatewayDeployment(r).Spec.Template.Spec.Containers[0].Resources
	if got := res.Limits[corev1.ResourceMemory]; got.Cmp(resource.MustParse("1Gi")) != 0 {
		t.Errorf("memory limit = %s, want the user's 1Gi", got.String())
	}
	if got := res.Requests[corev1.ResourceCPU]; got.Cmp(resource.MustParse("100m")) != 0 {
		t.Errorf("cpu request = %s, want the default 100m", got.String())
	}
}

func TestNetworkPolicies(t *testing.T) {
	byName := func(r *shcrv1alpha1.ShCRRegion) map[string]*networkingv1.NetworkPolicy {
		out := map[string]*networkingv1.NetworkPolicy{}
		for _, np := range NetworkPolicies(r) {
			out[np.Name] = np
		}
		return out
	}

	plain := byName(region())
	deny := plain[NetworkPolicyDefaultDeny]
	if len(deny.Spec.PodSelector.MatchLabels) != 0 || len(deny.Spec.PolicyTypes) != 2 || deny.Spec.Ingress != nil || deny.Spec.Egress != nil {
		t.Errorf("default deny must select every pod and allow nothing both ways: %+v", deny.Spec)
	}
	if in := plain[NetworkPolicyGatewayIn]; len(in.Spec.Ingress) != 0 {
		t.Errorf("with no client namespaces nothing may reach the gateway, got %+v", in.Spec.Ingress)
	}
	if out := plain[NetworkPolicyRecordOut]; len(out.Spec.Egress) != 0 {
		t.Errorf("with no external database the record service may open no connections, got %+v", out.Spec.Egress)
	}
	from := plain[NetworkPolicyRecordIn].Spec.Ingress[0].From
	if len(from) != 2 || from[0].PodSelector.MatchLabels[LabelComponent] != ComponentGateway ||
		from[1].PodSelector.MatchLabels[LabelComponent] != ComponentConnector {
		t.Errorf("only the gateway and connectors may reach the record service, got %+v", from)
	}

	wired := byName(region(func(r *shcrv1alpha1.ShCRRegion) {
		r.Spec.Gateway.ClientNamespaces = []string{"portal", "ehr"}
		r.Spec.RecordService.Database = &shcrv1alpha1.DatabaseSpec{
			CredentialsSecretRef: corev1.LocalObjectReference{Name: "db"},
			NetworkRanges:        []string{"10.20.0.0/16"}, Port: 5432,
		}
	}))
	if in := wired[NetworkPolicyGatewayIn].Spec.Ingress; len(in) != 1 || len(in[0].From) != 2 ||
		in[0].From[1].NamespaceSelector.MatchLabels[corev1.LabelMetadataName] != "ehr" {
		t.Errorf("gateway ingress should admit exactly the two client namespaces, got %+v", in)
	}
	if out := wired[NetworkPolicyRecordOut].Spec.Egress; len(out) != 1 || out[0].To[0].IPBlock.CIDR != "10.20.0.0/16" ||
		out[0].Ports[0].Port.IntValue() != 5432 {
		t.Errorf("record service egress should reach only the database range and port, got %+v", out)
	}
}

func TestDatabaseCredentialsAreReferencedNeverCopied(t *testing.T) {
	r := region(func(r *shcrv1alpha1.ShCRRegion) {
		r.Spec.RecordService.Database = &shcrv1alpha1.DatabaseSpec{
			CredentialsSecretRef: corev1.LocalObjectReference{Name: "fhir-db"}, NetworkRanges: []string{"10.0.0.0/8"}, Port: 5432,
		}
	})
	for _, env := range RecordServiceStatefulSet(r).Spec.Template.Spec.Containers[0].Env {
		if env.Name == "SPRING_DATASOURCE_PASSWORD" {
			if env.Value != "" || env.ValueFrom == nil || env.ValueFrom.SecretKeyRef.Name != "fhir-db" {
				t.Errorf("the password must come from the Secret by reference, got %+v", env)
			}
			return
		}
	}
	t.Errorf("no database password reference in the record service")
}

func TestQuotaLimitsAreTwiceTheCPURequests(t *testing.T) {
	q := ResourceQuota(region())
	limit := q.Spec.Hard[corev1.ResourceLimitsCPU]
	if limit.Cmp(resource.MustParse("16")) != 0 {
		t.Errorf("limits.cpu = %s, want 16", limit.String())
	}
	if lb := q.Spec.Hard[corev1.ResourceServicesLoadBalancers]; !lb.IsZero() {
		t.Errorf("a region may not expose LoadBalancers, got %s", lb.String())
	}
}

func TestRetainedNamespaceHasNoOwnerAndIsMarked(t *testing.T) {
	ns := RetainedNamespace(region(), metav1.Now())
	if len(ns.OwnerReferences) != 0 {
		t.Errorf("a retained namespace must not be owned, got %v", ns.OwnerReferences)
	}
	if ns.Labels[shcrv1alpha1.LabelRetained] != "true" || ns.Annotations[shcrv1alpha1.AnnotationRetainedAt] == "" {
		t.Errorf("not marked retained: %v %v", ns.Labels, ns.Annotations)
	}
	if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("a retained namespace keeps its pod security")
	}
}

func TestGatewayConfigurationFollowsTheRegion(t *testing.T) {
	r := region(func(r *shcrv1alpha1.ShCRRegion) {
		r.Spec.Gateway.Identity = shcrv1alpha1.GatewayIdentity{
			Issuer:   "https://am.nhsidentity.spineservices.nhs.uk/openam/oauth2/realms/root/realms/NHSIdentity/realms/Healthcare",
			Audience: "tvs-gateway", JWKS: &shcrv1alpha1.ConfigMapKeyReference{Name: "cis2-keys", Key: "jwks.json"},
			Claims: shcrv1alpha1.ClaimNames{PurposeOfUse: "pou"},
		}
		r.Spec.Gateway.Objections = &shcrv1alpha1.ConfigMapKeyReference{Name: "objections", Key: "register.txt"}
		r.Spec.Gateway.DecisionAPI = shcrv1alpha1.GatewayDecisionAPI{Roles: []string{"R8000", "R0260"}, Audience: "tvs-pep"}
		r.Spec.Audit.Sink = shcrv1alpha1.AuditSinkFile
	})
	d := GatewayStatefulSet(r)
	args := d.Spec.Template.Spec.Containers[0].Args
	for _, want := range []string{
		"--decision-api-roles=R8000,R0260", "--decision-api-audience=tvs-pep",
		"--region=wessex", "--bundle-dir=" + GatewayBundleDir, "--audience=tvs-gateway", "--jwks-file=/etc/shcr/jwks/jwks.json",
		"--objections-file=/etc/shcr/objections/register.txt", "--claim-purpose-of-use=pou", "--audit-sink=File",
		"--audit-dir=/var/log/shcr", "--audit-retention-days=2922", "--external-url=http://record-gateway.shcr-wessex.svc:8080/", "--max-page-size=50",
	} {
		if !slices.Contains(args, want) {
			t.Errorf("gateway args %v lack %s", args, want)
		}
	}
	volumes := map[string]string{}
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil {
			volumes[v.Name] = v.ConfigMap.Name
		}
	}
	if volumes["jwks"] != "cis2-keys" || volumes["objections"] != "objections" || volumes["policy-bundle"] != PolicyBundleName {
		t.Errorf("gateway ConfigMap volumes %v", volumes)
	}
	for range 10 {
		if again := GatewayStatefulSet(r).Spec.Template.Spec.Containers[0].Args; !slices.Equal(again, args) {
			t.Fatalf("the gateway's args must be deterministic: %v vs %v", again, args)
		}
	}
	for _, arg := range GatewayDeployment(region()).Spec.Template.Spec.Containers[0].Args {
		if strings.HasPrefix(arg, "--decision-api-") {
			t.Errorf("a region without spec.gateway.decisionAPI must leave the decision API closed, got %s", arg)
		}
	}
	configured := GatewayDeployment(region(func(r *shcrv1alpha1.ShCRRegion) {
		r.Spec.Gateway.ExternalURL = "https://records.wessex.example/fhir/"
		r.Spec.Gateway.MaxPageSize = 1000
	})).Spec.Template.Spec.Containers[0].Args
	for _, want := range []string{"--external-url=https://records.wessex.example/fhir/", "--max-page-size=1000"} {
		if !slices.Contains(configured, want) {
			t.Errorf("gateway args %v lack %s", configured, want)
		}
	}
	egress := map[string]int{}
	for _, np := range NetworkPolicies(region(func(r *shcrv1alpha1.ShCRRegion) { r.Spec.Gateway.Identity.JWKSURL = "https://keys.example" })) {
		egress[np.Name] = len(np.Spec.Egress)
	}
	if egress[NetworkPolicyGatewayOut] != 2 {
		t.Errorf("a JWKS URL must open HTTPS egress for the gateway, got %d rules", egress[NetworkPolicyGatewayOut])
	}
}

func TestGatewayWorkloadFollowsTheAuditSink(t *testing.T) {
	stdout := region()
	if GatewayIsStatefulSet(stdout) {
		t.Fatal("the Stdout sink needs no volume: the gateway is a Deployment")
	}
	d := GatewayDeployment(stdout)
	c := d.Spec.Template.Spec.Containers[0]
	for _, arg := range c.Args {
		if strings.HasPrefix(arg, "--audit-dir") || strings.HasPrefix(arg, "--audit-retention-days") {
			t.Errorf("with Stdout the gateway keeps no files, yet is passed %s", arg)
		}
	}
	for _, m := range c.VolumeMounts {
		if m.MountPath == GatewayAuditDir {
			t.Errorf("with Stdout the gateway mounts an audit volume: %+v", m)
		}
	}

	file := region(func(r *shcrv1alpha1.ShCRRegion) {
		r.Spec.Audit.Sink = shcrv1alpha1.AuditSinkFile
		r.Spec.Audit.RetentionDays = 400
		r.Spec.Gateway.Replicas = 3
	})
	if !GatewayIsStatefulSet(file) {
		t.Fatal("the File sink needs a volume per replica: the gateway is a StatefulSet")
	}
	sts := GatewayStatefulSet(file)
	if sts.Name != GatewayName || ptr.Deref(sts.Spec.Replicas, 0) != 3 || sts.Spec.ServiceName != GatewayName {
		t.Errorf("StatefulSet %s with %v replicas, service %q", sts.Name, sts.Spec.Replicas, sts.Spec.ServiceName)
	}
	if p := sts.Spec.PersistentVolumeClaimRetentionPolicy; p == nil || p.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType ||
		p.WhenScaled != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
		t.Errorf("audit volumes must outlive the StatefulSet and a scale-down: %+v", p)
	}
	if len(sts.Spec.VolumeClaimTemplates) != 1 {
		t.Fatalf("claim templates %v", sts.Spec.VolumeClaimTemplates)
	}
	claim := sts.Spec.VolumeClaimTemplates[0]
	if claim.Name != GatewayAuditVolume || claim.Labels[LabelComponent] != ComponentGateway || claim.Labels[LabelManagedBy] != ManagedBy {
		t.Errorf("claim template %s labelled %v", claim.Name, claim.Labels)
	}
	if got := claim.Spec.Resources.Requests[corev1.ResourceStorage]; got.Cmp(resource.MustParse(DefaultAuditStorageSize)) != 0 || claim.Spec.StorageClassName != nil {
		t.Errorf("default claim: %s of class %v", got.String(), claim.Spec.StorageClassName)
	}
	c = sts.Spec.Template.Spec.Containers[0]
	if !slices.Contains(c.Args, "--audit-retention-days=400") || !slices.Contains(c.Args, "--audit-dir="+GatewayAuditDir) {
		t.Errorf("args %v do not pass the audit directory and retention", c.Args)
	}
	if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
		return m.Name == GatewayAuditVolume && m.MountPath == GatewayAuditDir && !m.ReadOnly
	}) {
		t.Errorf("the audit claim is not mounted writable at %s: %+v", GatewayAuditDir, c.VolumeMounts)
	}
	for _, v := range sts.Spec.Template.Spec.Volumes {
		if v.Name == GatewayAuditVolume {
			t.Errorf("the pod declares its own audit volume %+v: it would hide the claim", v)
		}
	}
	if !equality.Semantic.DeepEqual(sts.Spec.Selector, d.Spec.Selector) || !equality.Semantic.DeepEqual(sts.Spec.Template.Labels, d.Spec.Template.Labels) {
		t.Errorf("both workloads must select the same pods, which the Service, network policies and disruption budget select")
	}

	sized := region(func(r *shcrv1alpha1.ShCRRegion) {
		r.Spec.Audit.Sink = shcrv1alpha1.AuditSinkFile
		r.Spec.Audit.Storage = &shcrv1alpha1.StorageSpec{Size: resource.MustParse("50Gi"), StorageClassName: ptr.To("encrypted")}
	})
	claim = GatewayStatefulSet(sized).Spec.VolumeClaimTemplates[0]
	if got := claim.Spec.Resources.Requests[corev1.ResourceStorage]; got.Cmp(resource.MustParse("50Gi")) != 0 || ptr.Deref(claim.Spec.StorageClassName, "") != "encrypted" {
		t.Errorf("spec.audit.storage not applied: %s of class %v", got.String(), claim.Spec.StorageClassName)
	}
}
