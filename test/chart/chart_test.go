/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package chart checks the Helm chart and the kustomize install render what
// the operator needs, the same way, with least privilege. `make test-chart`
// sets HELM and KUBECTL to the pinned binaries.
package chart

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/shcr-io/shcr-operator/internal/kube"
)

var root = filepath.Join("..", "..")

func tool(t *testing.T, env string) string {
	t.Helper()
	path := os.Getenv(env)
	if path == "" {
		t.Fatalf("%s is not set: run with 'make test-chart'", env)
	}
	return path
}

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// objects splits rendered YAML into objects.
func objects(t *testing.T, rendered []byte) []*unstructured.Unstructured {
	t.Helper()
	out, err := kube.DecodeObjects(rendered)
	if err != nil {
		t.Fatalf("rendered YAML does not parse: %v", err)
	}
	return out
}

func ofKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

func convert[T any](t *testing.T, u *unstructured.Unstructured) *T {
	t.Helper()
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func helmTemplate(t *testing.T, args ...string) []*unstructured.Unstructured {
	t.Helper()
	base := []string{"template", "shcr", filepath.Join(root, "charts", "shcr-operator"), "-n", "shcr-system", "--kube-version", "1.37.2", "--include-crds"}
	return objects(t, run(t, tool(t, "HELM"), append(base, args...)...))
}

func TestHelmLint(t *testing.T) {
	run(t, tool(t, "HELM"), "lint", "--strict", "--kube-version", "1.37.2", filepath.Join(root, "charts", "shcr-operator"))
}

func TestChartRendersTheOperatorWithLeastPrivilege(t *testing.T) {
	objs := helmTemplate(t)
	if n := len(ofKind(objs, "CustomResourceDefinition")); n != 4 {
		t.Errorf("%d CRDs, want 4", n)
	}
	for _, kind := range []string{"Deployment", "ServiceAccount", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
		"NetworkPolicy", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "Secret"} {
		if len(ofKind(objs, kind)) == 0 {
			t.Errorf("the chart renders no %s", kind)
		}
	}
	checkNoWildcards(t, objs)
	checkManagerRulesMatchGenerated(t, objs)
	checkRestrictedManager(t, objs)
	checkWebhooksMatchMarkers(t, objs)
	checkLedgerWriterIsTheManager(t, objs)
	checkEveryAdmissionPolicy(t, objs)
	checkSelectedParamsOnCreateOnly(t, objs)
}

// checkSelectedParamsOnCreateOnly: a policy whose binding selects its
// params by label is evaluated once per object selected, which in a region
// grows with the region; it may match creates only, so that the approvals,
// suspensions and status-driven writes of a large region never pay that
// cost (docs/benchmarks.md). None does now: the one that did
// (shcr-agreement-version) became the agreement webhook's indexed check.
func checkSelectedParamsOnCreateOnly(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, b := range ofKind(objs, "ValidatingAdmissionPolicyBinding") {
		binding := convert[admissionv1.ValidatingAdmissionPolicyBinding](t, b)
		if binding.Spec.ParamRef == nil || binding.Spec.ParamRef.Selector == nil {
			continue
		}
		i := slices.IndexFunc(ofKind(objs, "ValidatingAdmissionPolicy"), func(o *unstructured.Unstructured) bool { return o.GetName() == binding.Spec.PolicyName })
		if i < 0 {
			t.Errorf("binding %s: no policy %s", binding.Name, binding.Spec.PolicyName)
			continue
		}
		policy := convert[admissionv1.ValidatingAdmissionPolicy](t, ofKind(objs, "ValidatingAdmissionPolicy")[i])
		if policy.Spec.MatchConstraints == nil || len(policy.Spec.MatchConstraints.ResourceRules) == 0 {
			t.Errorf("policy %s: selected params and no resourceRules (it would match every write)", policy.Name)
		}
		for _, r := range policy.Spec.MatchConstraints.ResourceRules {
			if !slices.Equal(r.Operations, []admissionv1.OperationType{admissionv1.Create}) {
				t.Errorf("policy %s: evaluated once per selected object, it matches %v; it may match CREATE only", policy.Name, r.Operations)
			}
		}
	}
}

// checkEveryAdmissionPolicy: the chart renders every admission policy and
// binding config/admission installs.
func checkEveryAdmissionPolicy(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root, "config", "admission", "*.yaml"))
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		want, err := kube.DecodeObjects(data)
		if err != nil {
			continue // kustomization.yaml
		}
		for _, w := range want {
			if !strings.HasPrefix(w.GetKind(), "ValidatingAdmissionPolicy") {
				continue
			}
			if !slices.ContainsFunc(ofKind(objs, w.GetKind()), func(o *unstructured.Unstructured) bool { return o.GetName() == w.GetName() }) {
				t.Errorf("the chart renders no %s %s (config/admission/%s; run hack/sync-chart.sh)", w.GetKind(), w.GetName(), filepath.Base(path))
			}
		}
	}
}

func TestChartCRDsAreTheGeneratedOnes(t *testing.T) {
	generated, _ := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	for _, path := range generated {
		want, _ := os.ReadFile(path)
		got, err := os.ReadFile(filepath.Join(root, "charts", "shcr-operator", "crds", filepath.Base(path)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("charts/shcr-operator/crds/%s differs from config/crd/bases (run 'make manifests')", filepath.Base(path))
		}
	}
}

func TestChartWithCertManager(t *testing.T) {
	objs := helmTemplate(t, "--set", "certManager.enabled=true")
	if len(ofKind(objs, "Certificate")) != 1 || len(ofKind(objs, "Issuer")) != 1 {
		t.Errorf("cert-manager mode must render a Certificate and an Issuer")
	}
	if len(ofKind(objs, "Secret")) != 0 {
		t.Errorf("cert-manager mode must not render a generated certificate Secret")
	}
	for _, kind := range []string{"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"} {
		for _, w := range ofKind(objs, kind) {
			if w.GetAnnotations()["cert-manager.io/inject-ca-from"] == "" {
				t.Errorf("%s %s lacks the cert-manager CA injection annotation", kind, w.GetName())
			}
		}
	}
}

func TestChartAlerts(t *testing.T) {
	objs := helmTemplate(t, "--set", "metrics.prometheusRule.enabled=true", "--set", "metrics.serviceMonitor.enabled=true")
	rules := ofKind(objs, "PrometheusRule")
	if len(rules) != 1 || len(ofKind(objs, "ServiceMonitor")) != 1 {
		t.Fatalf("want one PrometheusRule and one ServiceMonitor")
	}
	groups, _, _ := unstructured.NestedSlice(rules[0].Object, "spec", "groups")
	alerts := map[string]string{}
	for _, r := range groups[0].(map[string]any)["rules"].([]any) {
		rule := r.(map[string]any)
		alerts[rule["alert"].(string)] = rule["expr"].(string)
	}
	for alert, metric := range map[string]string{
		"ShCRAgreementEndingSoon": "shcr_agreement_ends_timestamp_seconds",
		"ShCRAgreementReviewDue":  "shcr_agreement_review_timestamp_seconds",
		"ShCRObjectStalled":       "shcr_stalled",
		"ShCRPolicyCompileFailed": "shcr_policy_compile_errors_total",
		"ShCRReconcileErrors":     "controller_runtime_reconcile_errors_total",
	} {
		if !strings.Contains(alerts[alert], metric) {
			t.Errorf("alert %s: expression %q does not use %s", alert, alerts[alert], metric)
		}
	}
	if !strings.Contains(alerts["ShCRAgreementEndingSoon"], "30 * 86400") {
		t.Errorf("the ending-soon alert should look 30 days ahead: %s", alerts["ShCRAgreementEndingSoon"])
	}
}

func TestChartValuesAreValidated(t *testing.T) {
	cmd := exec.Command(tool(t, "HELM"), "template", "shcr", filepath.Join(root, "charts", "shcr-operator"), "--kube-version", "1.37.2",
		"--set", "webhook.failurePolicy=Sometimes")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "failurePolicy") {
		t.Errorf("values.schema.json should refuse webhook.failurePolicy=Sometimes, got err=%v\n%s", err, out)
	}
}

func TestKustomizeDefaultInstallsTheSameOperator(t *testing.T) {
	objs := objects(t, run(t, tool(t, "KUBECTL"), "kustomize", filepath.Join(root, "config", "default")))
	if n := len(ofKind(objs, "CustomResourceDefinition")); n != 4 {
		t.Errorf("%d CRDs, want 4", n)
	}
	for _, kind := range []string{"Deployment", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
		"ValidatingAdmissionPolicy", "Certificate", "Namespace"} {
		if len(ofKind(objs, kind)) == 0 {
			t.Errorf("config/default renders no %s", kind)
		}
	}
	for _, o := range objs {
		if o.GetNamespace() != "" && o.GetNamespace() != "shcr-operator-system" {
			t.Errorf("%s %s is in namespace %s", o.GetKind(), o.GetName(), o.GetNamespace())
		}
	}
	checkNoWildcards(t, objs)
	checkRestrictedManager(t, objs)
	checkWebhooksMatchMarkers(t, objs)
	checkLedgerWriterIsTheManager(t, objs)
	for _, kind := range []string{"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"} {
		for _, w := range ofKind(objs, kind) {
			if got := w.GetAnnotations()["cert-manager.io/inject-ca-from"]; got != "shcr-operator-system/shcr-operator-serving-cert" {
				t.Errorf("%s CA injection from %q does not name the rendered Certificate", kind, got)
			}
		}
	}
	cert := ofKind(objs, "Certificate")[0]
	names, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	svc := "shcr-operator-webhook-service.shcr-operator-system.svc"
	if !slices.Contains(names, svc) {
		t.Errorf("the certificate %v does not name the webhook Service %s", names, svc)
	}
}

// checkNoWildcards refuses "*" anywhere in RBAC rules.
func checkNoWildcards(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, kind := range []string{"ClusterRole", "Role"} {
		for _, o := range ofKind(objs, kind) {
			role := convert[rbacv1.ClusterRole](t, o)
			for _, rule := range role.Rules {
				for _, list := range [][]string{rule.Verbs, rule.Resources, rule.APIGroups} {
					if slices.Contains(list, "*") {
						t.Errorf("%s %s has a wildcard rule %+v", kind, o.GetName(), rule)
					}
				}
			}
		}
	}
}

// checkManagerRulesMatchGenerated compares the chart's manager ClusterRole
// with the one controller-gen generates from the RBAC markers.
func checkManagerRulesMatchGenerated(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	generated := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal(data, generated); err != nil {
		t.Fatal(err)
	}
	for _, o := range ofKind(objs, "ClusterRole") {
		if strings.HasSuffix(o.GetName(), "-manager") {
			if got := convert[rbacv1.ClusterRole](t, o); !equalRules(got.Rules, generated.Rules) {
				t.Errorf("the chart's manager rules differ from config/rbac/role.yaml (run 'make manifests')")
			}
			return
		}
	}
	t.Errorf("no manager ClusterRole rendered")
}

func equalRules(a, b []rbacv1.PolicyRule) bool {
	ja, _ := yaml.Marshal(a)
	jb, _ := yaml.Marshal(b)
	return bytes.Equal(ja, jb)
}

// checkRestrictedManager checks the manager pod meets the restricted Pod
// Security Standard and sets requests and limits.
func checkRestrictedManager(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	deploy := convert[appsv1.Deployment](t, ofKind(objs, "Deployment")[0])
	pod := deploy.Spec.Template.Spec
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Errorf("the manager pod must run as non-root")
	}
	for _, c := range pod.Containers {
		sc := c.SecurityContext
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("container %s is not restricted: %+v", c.Name, sc)
		}
		if c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() {
			t.Errorf("container %s has no requests or limits", c.Name)
		}
		if c.LivenessProbe == nil || c.ReadinessProbe == nil {
			t.Errorf("container %s has no probes", c.Name)
		}
	}
}

type hook struct{ name, path, resource string }

// checkWebhooksMatchMarkers compares the rendered webhooks with the ones
// controller-gen generates from the markers: same names, paths and
// resources, each namespaced one scoped to region namespaces and the
// cluster-scoped region's one failing open (Ignore), so that an operator
// outage blocks nothing outside the regions' namespaces.
func checkWebhooksMatchMarkers(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "config", "webhook", "manifests.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := hooks(t, objects(t, data))
	got := hooks(t, objs)
	if !slices.Equal(got, want) {
		t.Errorf("rendered webhooks %v, want %v", got, want)
	}
}

func hooks(t *testing.T, objs []*unstructured.Unstructured) []hook {
	t.Helper()
	var out []hook
	add := func(name string, cc admissionv1.WebhookClientConfig, sel *metav1.LabelSelector, policy *admissionv1.FailurePolicyType, rules []admissionv1.RuleWithOperations) {
		if rules[0].Resources[0] == "shcrregions" {
			if policy == nil || *policy != admissionv1.Ignore {
				t.Errorf("webhook %s for cluster-scoped regions must fail open (Ignore), has %v", name, policy)
			}
		} else if sel == nil {
			t.Errorf("webhook %s has no namespaceSelector", name)
		}
		path := ""
		if cc.Service != nil && cc.Service.Path != nil {
			path = *cc.Service.Path
		}
		out = append(out, hook{name, path, rules[0].Resources[0]})
	}
	for _, o := range ofKind(objs, "ValidatingWebhookConfiguration") {
		for _, w := range convert[admissionv1.ValidatingWebhookConfiguration](t, o).Webhooks {
			add(w.Name, w.ClientConfig, w.NamespaceSelector, w.FailurePolicy, w.Rules)
		}
	}
	for _, o := range ofKind(objs, "MutatingWebhookConfiguration") {
		for _, w := range convert[admissionv1.MutatingWebhookConfiguration](t, o).Webhooks {
			add(w.Name, w.ClientConfig, w.NamespaceSelector, w.FailurePolicy, w.Rules)
		}
	}
	slices.SortFunc(out, func(a, b hook) int { return strings.Compare(a.name, b.name) })
	return out
}

// checkLedgerWriterIsTheManager checks that the agreement ledger's admission
// policy admits exactly the ServiceAccount the manager Deployment runs as:
// any other identity and the operator could not record approved versions.
func checkLedgerWriterIsTheManager(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	var policy *admissionv1.ValidatingAdmissionPolicy
	for _, o := range ofKind(objs, "ValidatingAdmissionPolicy") {
		if strings.HasSuffix(o.GetName(), "shcr-agreement-ledger") {
			policy = convert[admissionv1.ValidatingAdmissionPolicy](t, o)
		}
	}
	if policy == nil {
		t.Fatal("no agreement ledger admission policy rendered")
	}
	vars := map[string]string{}
	for _, v := range policy.Spec.Variables {
		vars[v.Name] = strings.Trim(v.Expression, "'")
	}
	deploy := convert[appsv1.Deployment](t, ofKind(objs, "Deployment")[0])
	if got, want := vars["operatorNamespace"]+":"+vars["operatorServiceAccount"], deploy.Namespace+":"+deploy.Spec.Template.Spec.ServiceAccountName; got != want {
		t.Errorf("the agreement ledger policy admits the ServiceAccount %s, the manager runs as %s", got, want)
	}
}
