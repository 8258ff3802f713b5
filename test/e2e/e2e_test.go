/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package e2e runs the operator binary against a whole simulated cluster
// (kwok: a real API server, controller-manager and scheduler with fake
// nodes), so that workloads really become Available and ownerRefs really
// garbage-collect. `make test-e2e` creates the cluster and sets KUBECONFIG.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/kube"
	"github.com/shcr-io/shcr-operator/internal/samples"
	"github.com/shcr-io/shcr-operator/internal/specs"
	"github.com/shcr-io/shcr-operator/test/fixtures"
	"github.com/shcr-io/shcr-operator/test/testenv"
)

var (
	k8s client.Client
	ctx = context.Background()
)

func TestMain(m *testing.M) {
	if os.Getenv("KUBECONFIG") == "" || os.Getenv("KUBECTL") == "" {
		fmt.Fprintln(os.Stderr, "KUBECONFIG and KUBECTL are not set: run the e2e suite with 'make test-e2e' (it creates the kwok cluster)")
		os.Exit(1)
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	kubectl := exec.Command(os.Getenv("KUBECTL"), "apply", "--server-side", "--field-manager=shcr-e2e",
		"-f", filepath.Join(root, "config", "crd", "bases"), "-f", filepath.Join(root, "config", "admission", "region-namespace.yaml"))
	if out, err := kubectl.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "installing CRDs: %v\n%s", err, out)
		return 1
	}
	if out, err := exec.Command(os.Getenv("KUBECTL"), "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "waiting for CRDs: %v\n%s", err, out)
		return 1
	}

	bin := filepath.Join(os.TempDir(), fmt.Sprintf("shcr-e2e-manager-%d", os.Getpid()))
	build := exec.Command("go", "build", "-o", bin, "./cmd/manager")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the manager: %v\n%s", err, out)
		return 1
	}
	defer func() { _ = os.Remove(bin) }()
	logPath := filepath.Join(os.TempDir(), "shcr-e2e-manager.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	operator = &process{bin: bin, dir: root, log: logFile}
	if err := operator.start(); err != nil {
		fmt.Fprintln(os.Stderr, "starting the manager:", err)
		return 1
	}
	defer operator.stop()

	cfg, err := ctrl.GetConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	k8s, err = client.New(cfg, client.Options{Scheme: kube.Scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "the manager's log is %s\n", logPath)
	}
	return code
}

// operator is the manager process the suite runs.
var operator *process

type process struct {
	bin, dir string
	log      *os.File
	cmd      *exec.Cmd
}

func (p *process) start() error {
	p.cmd = exec.Command(p.bin, "--metrics-bind-address=0", "--health-probe-bind-address=0",
		"--local-webhook-host=127.0.0.1", "--webhook-port=9444")
	p.cmd.Dir = p.dir
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	return p.cmd.Start()
}

// stop kills the process, as a node failure would.
func (p *process) stop() {
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

// waitFor polls cond until it holds (testenv.WaitFor, the suites' one
// polling helper).
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	testenv.WaitFor(t, what, timeout, cond)
}

func gone(obj client.Object) func() (bool, string) {
	return func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		return apierrors.IsNotFound(err), fmt.Sprintf("still there (err %v)", err)
	}
}

func newRegion(name string, policy shcrv1alpha1.DeletionPolicy) *shcrv1alpha1.ShCRRegion {
	return &shcrv1alpha1.ShCRRegion{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: shcrv1alpha1.ShCRRegionSpec{
			DisplayName:    "E2E region " + name,
			DeletionPolicy: policy,
			// Without an identity provider the region is not Ready.
			Gateway: shcrv1alpha1.GatewaySpec{Identity: fixtures.GatewayIdentity(name)},
		},
	}
}

// createReady creates a region and waits until it is Ready, which on this
// cluster means its StatefulSet and Deployment really became Available.
func createReady(t *testing.T, region *shcrv1alpha1.ShCRRegion) *shcrv1alpha1.ShCRRegion {
	t.Helper()
	if err := k8s.Create(ctx, region); err != nil {
		t.Fatal(err)
	}
	// The identity provider's keys, in the namespace once it exists (a
	// retained namespace keeps them).
	waitFor(t, "the keys of region "+region.Name, time.Minute, func() (bool, string) {
		err := k8s.Create(ctx, fixtures.GatewayKeys(shcrv1alpha1.NamespaceFor(region.Name)))
		return err == nil || apierrors.IsAlreadyExists(err), fmt.Sprint(err)
	})
	waitFor(t, "region "+region.Name+" Ready", 2*time.Minute, func() (bool, string) {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(region), region); err != nil {
			return false, err.Error()
		}
		c := meta.FindStatusCondition(region.Status.Conditions, shcrv1alpha1.ConditionReady)
		if c == nil {
			return false, "no Ready condition"
		}
		return c.Status == metav1.ConditionTrue && region.Status.ObservedGeneration == region.Generation, c.Message
	})
	return region
}

func TestRegionBecomesReadyWhenItsWorkloadsAreAvailable(t *testing.T) {
	region := createReady(t, newRegion("e2e-ready", shcrv1alpha1.DeletionPolicyDelete))
	ns := shcrv1alpha1.NamespaceFor(region.Name)

	sts := &appsv1.StatefulSet{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: specs.RecordServiceName}, sts); err != nil {
		t.Fatal(err)
	}
	if sts.Status.ReadyReplicas != *sts.Spec.Replicas {
		t.Errorf("Ready region but record service has %d/%d ready", sts.Status.ReadyReplicas, *sts.Spec.Replicas)
	}
	deploy := &appsv1.Deployment{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: specs.GatewayName}, deploy); err != nil {
		t.Fatal(err)
	}
	if deploy.Status.AvailableReplicas != *deploy.Spec.Replicas {
		t.Errorf("Ready region but gateway has %d/%d available", deploy.Status.AvailableReplicas, *deploy.Spec.Replicas)
	}
	claim := &corev1.PersistentVolumeClaim{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "data-record-service-0"}, claim); err != nil {
		t.Fatal(err)
	}
	if claim.Status.Phase != corev1.ClaimBound {
		t.Errorf("the record service's claim is %s, want Bound", claim.Status.Phase)
	}
	// The real Pod Security Admission admitted the pods in the restricted namespace.
	pods := &corev1.PodList{}
	if err := k8s.List(ctx, pods, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 3 {
		t.Errorf("want 3 pods (1 record service, 2 gateway), got %d", len(pods.Items))
	}

	// Scaling the gateway is observed end to end. The edit is made again
	// from a fresh read if the operator wrote the region in between.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(region), region); err != nil {
			return err
		}
		region.Spec.Gateway.Replicas = 3
		return k8s.Update(ctx, region)
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "gateway scaled to 3 and the region Ready again", time.Minute, func() (bool, string) {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(region), region); err != nil {
			return false, err.Error()
		}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(deploy), deploy); err != nil {
			return false, err.Error()
		}
		ready := meta.IsStatusConditionTrue(region.Status.Conditions, shcrv1alpha1.ConditionReady)
		return deploy.Status.AvailableReplicas == 3 && ready && region.Status.ObservedGeneration == region.Generation,
			fmt.Sprintf("%d available, ready=%v", deploy.Status.AvailableReplicas, ready)
	})
}

func TestDeletePolicyDeleteGarbageCollectsEverything(t *testing.T) {
	region := createReady(t, newRegion("e2e-delete", shcrv1alpha1.DeletionPolicyDelete))
	ns := shcrv1alpha1.NamespaceFor(region.Name)
	if err := k8s.Delete(ctx, region); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the region gone", time.Minute, gone(&shcrv1alpha1.ShCRRegion{ObjectMeta: metav1.ObjectMeta{Name: region.Name}}))
	waitFor(t, "the namespace and everything in it gone", 2*time.Minute, gone(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	pvcs := &corev1.PersistentVolumeClaimList{}
	if err := k8s.List(ctx, pvcs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(pvcs.Items) != 0 {
		t.Errorf("Delete must remove the data claims, %d left", len(pvcs.Items))
	}
}

func TestDeletePolicyRetainKeepsNamespaceAndVolumes(t *testing.T) {
	region := createReady(t, newRegion("e2e-retain", shcrv1alpha1.DeletionPolicyRetain))
	claim := dataClaim(t, region)

	if err := k8s.Delete(ctx, region); err != nil {
		t.Fatal(err)
	}
	waitRetained(t, region, claim)

	// Creating the region again adopts the namespace and mounts the same data.
	createReady(t, newRegion("e2e-retain", shcrv1alpha1.DeletionPolicyDelete))
	kept := &corev1.PersistentVolumeClaim{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(claim), kept); err != nil || kept.UID != claim.UID {
		t.Errorf("the re-created region does not use the retained claim (err %v, uid %s want %s)", err, kept.UID, claim.UID)
	}
	// Clean up through the region itself.
	if err := k8s.Delete(ctx, &shcrv1alpha1.ShCRRegion{ObjectMeta: metav1.ObjectMeta{Name: "e2e-retain"}}); err != nil {
		t.Fatal(err)
	}
}

// A region deleted with Retain while the operator is down: its finalizer
// holds it, and with it every child, until the operator, started again,
// frees the namespace and the data claim of their owners; then the real
// garbage collector takes the rest and leaves those.
func TestRetainWhileTheOperatorIsDownKeepsNamespaceAndVolumes(t *testing.T) {
	region := createReady(t, newRegion("e2e-retain-down", shcrv1alpha1.DeletionPolicyRetain))
	ns := shcrv1alpha1.NamespaceFor(region.Name)
	claim := dataClaim(t, region)

	operator.stop()
	running := false
	defer func() {
		if !running {
			_ = operator.start()
		}
	}()
	if err := k8s.Delete(ctx, region); err != nil {
		t.Fatal(err)
	}
	// Kept: the assertion is that nothing happens, so the test must give the
	// garbage collector time to act wrongly; no condition signals "it chose
	// not to act".
	time.Sleep(3 * time.Second)
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(region), region); err != nil || region.DeletionTimestamp.IsZero() {
		t.Fatalf("with the operator down the region must wait, held by its finalizer: err %v", err)
	}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: specs.GatewayName}, &corev1.Service{}); err != nil {
		t.Fatalf("nothing may go while the region waits for the operator: %v", err)
	}

	if err := operator.start(); err != nil {
		t.Fatal(err)
	}
	running = true
	waitRetained(t, region, claim)
	// Clean up: the namespace with the data in it.
	if err := k8s.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
}

// dataClaim is the record service's first volume claim.
func dataClaim(t *testing.T, region *shcrv1alpha1.ShCRRegion) *corev1.PersistentVolumeClaim {
	t.Helper()
	claim := &corev1.PersistentVolumeClaim{}
	key := client.ObjectKey{Namespace: shcrv1alpha1.NamespaceFor(region.Name), Name: "data-record-service-0"}
	if err := k8s.Get(ctx, key, claim); err != nil {
		t.Fatal(err)
	}
	return claim
}

// waitRetained waits until a region deleted with Retain is gone and the
// garbage collector has taken its children, and checks that the namespace
// and the data claim are still there, ownerless and marked retained, with
// the claim still bound to the same volume.
func waitRetained(t *testing.T, region *shcrv1alpha1.ShCRRegion, claim *corev1.PersistentVolumeClaim) {
	t.Helper()
	ns := shcrv1alpha1.NamespaceFor(region.Name)
	waitFor(t, "the region gone", time.Minute, gone(&shcrv1alpha1.ShCRRegion{ObjectMeta: metav1.ObjectMeta{Name: region.Name}}))
	// Owned children really are garbage-collected ...
	waitFor(t, "the gateway Service garbage-collected", time.Minute,
		gone(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: specs.GatewayName}}))
	waitFor(t, "the record service StatefulSet removed", time.Minute,
		gone(&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: specs.RecordServiceName}}))
	// ... while the namespace and the data stay, with the garbage collector
	// having had every chance to take them. Kept: the assertion is that
	// nothing happens, and no condition signals that the collector chose not
	// to act.
	time.Sleep(3 * time.Second)
	namespace := &corev1.Namespace{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: ns}, namespace); err != nil {
		t.Fatalf("Retain lost the namespace: %v", err)
	}
	if !namespace.DeletionTimestamp.IsZero() || len(namespace.OwnerReferences) != 0 || namespace.Labels[shcrv1alpha1.LabelRetained] != "true" {
		t.Errorf("namespace deleting=%v owners=%v labels=%v, want kept, ownerless and marked retained",
			namespace.DeletionTimestamp, namespace.OwnerReferences, namespace.Labels)
	}
	kept := &corev1.PersistentVolumeClaim{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(claim), kept); err != nil {
		t.Fatalf("Retain lost the data claim: %v", err)
	}
	if kept.UID != claim.UID || !kept.DeletionTimestamp.IsZero() || len(kept.OwnerReferences) != 0 ||
		kept.Labels[shcrv1alpha1.LabelRetained] != "true" || kept.Status.Phase != corev1.ClaimBound {
		t.Errorf("the claim: uid %s→%s deleting=%v owners=%v labels=%v phase=%s, want the same, ownerless, retained and Bound",
			claim.UID, kept.UID, kept.DeletionTimestamp, kept.OwnerReferences, kept.Labels, kept.Status.Phase)
	}
}

// The samples, applied as a platform team would, become Ready on a cluster
// where Deployments really run: the connectors become Available, the
// agreement Active, the policies in force. Their dates are moved to today,
// as make demo moves them, so that they stay current.
func TestSamplesBecomeReadyWithRunningConnectors(t *testing.T) {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	dir := filepath.Join(root, "config", "samples")
	apply := func(name string, as ...string) error {
		data, err := os.ReadFile(filepath.Join(dir, name+".yaml"))
		if err != nil {
			return err
		}
		cmd := exec.Command(os.Getenv("KUBECTL"), append([]string{"apply", "--server-side", "-f", "-"}, as...)...)
		cmd.Stdin = bytes.NewReader(samples.CurrentSample(data, time.Now()))
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("kubectl apply %s: %v: %s", name, err, out)
		}
		return nil
	}
	if err := apply("shcr_v1alpha1_shcrregion"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"gateway-config", "credentials", "shcr_v1alpha1_memberorganisation", "shcr_v1alpha1_datasharingagreement", "shcr_v1alpha1_accesspolicy"} {
		waitFor(t, "applying "+f, time.Minute, func() (bool, string) {
			err := apply(f)
			return err == nil, fmt.Sprint(err)
		})
	}
	ns := "shcr-thames-valley"
	waitFor(t, "every member Ready with its connector Available", 2*time.Minute, func() (bool, string) {
		members := &shcrv1alpha1.MemberOrganisationList{}
		if err := k8s.List(ctx, members, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		for _, m := range members.Items {
			if !meta.IsStatusConditionTrue(m.Status.Conditions, shcrv1alpha1.ConditionConnectorAvailable) ||
				!meta.IsStatusConditionTrue(m.Status.Conditions, shcrv1alpha1.ConditionReady) {
				return false, fmt.Sprintf("%s: %v", m.Name, m.Status.Conditions)
			}
		}
		return len(members.Items) == 3, fmt.Sprintf("%d members", len(members.Items))
	})
	waitFor(t, "the agreement Active and its approvals recorded by the applier", time.Minute, func() (bool, string) {
		a := &shcrv1alpha1.DataSharingAgreement{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "tvs-direct-care-v1"}, a); err != nil {
			return false, err.Error()
		}
		for _, ap := range a.Spec.Approvals {
			if ap.RecordedBy == "" {
				return false, "an approval has no recordedBy"
			}
		}
		return a.Status.Phase == shcrv1alpha1.PhaseActive, string(a.Status.Phase)
	})
	// A Provider runs its connector once the agreement lets it provide:
	// each one's Deployment rolls out on the cluster.
	waitFor(t, "every Provider's connector running", 2*time.Minute, func() (bool, string) {
		members := &shcrv1alpha1.MemberOrganisationList{}
		if err := k8s.List(ctx, members, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		running := 0
		for _, m := range members.Items {
			if m.Spec.Connector == nil || !slices.Contains(m.Spec.Roles, shcrv1alpha1.RoleProvider) {
				continue
			}
			c := meta.FindStatusCondition(m.Status.Conditions, shcrv1alpha1.ConditionConnectorAvailable)
			if c == nil || c.Status != metav1.ConditionTrue || c.Reason == shcrv1alpha1.ReasonNothingToProvide || len(m.Status.ProvidesCategories) == 0 {
				return false, fmt.Sprintf("%s: %v", m.Name, c)
			}
			d := &appsv1.Deployment{}
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: specs.ConnectorName(&m)}, d); err != nil || d.Status.AvailableReplicas < 1 {
				return false, fmt.Sprintf("connector of %s: %v, %d available", m.Name, err, d.Status.AvailableReplicas)
			}
			running++
		}
		return running > 0, fmt.Sprintf("%d connectors running", running)
	})
	// The IG Framework's gate: the region shares nothing until its
	// assurance panel has assured every requirement; the panel's chair
	// then records the sample assurances, and the region shares.
	region := &shcrv1alpha1.ShCRRegion{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: "thames-valley"}, region); err != nil {
		t.Fatal(err)
	}
	if region.Status.PolicyBundle.Grants != 0 || meta.IsStatusConditionTrue(region.Status.Conditions, shcrv1alpha1.ConditionAssured) {
		t.Errorf("the region shares before its panel assured it: %d grants, %v", region.Status.PolicyBundle.Grants, region.Status.Conditions)
	}
	if err := apply("assurance-panel-rbac"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the panel's assurance recorded", time.Minute, func() (bool, string) {
		err := apply("shcr_v1alpha1_shcrregion_assurance", "--field-manager=tvs-ig-assurance-panel",
			"--as=panel-chair@tvs.example", "--as-group=tvs-ig-assurance-panel")
		return err == nil, fmt.Sprint(err)
	})
	waitFor(t, "the region Assured and sharing", time.Minute, func() (bool, string) {
		if err := k8s.Get(ctx, client.ObjectKey{Name: "thames-valley"}, region); err != nil {
			return false, err.Error()
		}
		return meta.IsStatusConditionTrue(region.Status.Conditions, shcrv1alpha1.ConditionAssured) && region.Status.PolicyBundle.Grants > 0,
			fmt.Sprintf("%d grants, %v", region.Status.PolicyBundle.Grants, meta.FindStatusCondition(region.Status.Conditions, shcrv1alpha1.ConditionAssured))
	})
	if err := k8s.Delete(ctx, &shcrv1alpha1.ShCRRegion{ObjectMeta: metav1.ObjectMeta{Name: "thames-valley"}}); err != nil {
		t.Fatal(err)
	}
}

// The Helm chart installs into a real cluster and the manager Deployment
// becomes Available. The chart's CRDs are already there (helm skips them),
// the region-namespace policy too; its webhooks are installed with
// failurePolicy Ignore so that this release, whose pods kwok only simulates,
// never stands in the way of the other tests.
func TestHelmChartInstallsAndTheManagerBecomesAvailable(t *testing.T) {
	helm := os.Getenv("HELM")
	if helm == "" {
		t.Fatal("HELM is not set: run the e2e suite with 'make test-e2e'")
	}
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	install := exec.Command(helm, "install", "shcr", filepath.Join(root, "charts", "shcr-operator"),
		"--namespace", "shcr-operator-system", "--create-namespace", "--skip-crds",
		"--set", "webhook.failurePolicy=Ignore", "--set", "regionNamespacePolicy=false", "--set", "agreementLedgerPolicy=false", "--wait", "--timeout", "2m")
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("helm install: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		_ = exec.Command(helm, "uninstall", "shcr", "--namespace", "shcr-operator-system", "--wait").Run()
	})
	deploy := &appsv1.Deployment{}
	waitFor(t, "the manager Deployment Available", time.Minute, func() (bool, string) {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: "shcr-operator-system", Name: "shcr-shcr-operator"}, deploy); err != nil {
			return false, err.Error()
		}
		for _, c := range deploy.Status.Conditions {
			if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", deploy.Status)
	})
	if c := deploy.Spec.Template.Spec.Containers[0]; c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
		t.Errorf("the installed manager must run with a read-only root filesystem")
	}
}
