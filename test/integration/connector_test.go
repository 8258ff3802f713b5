/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/connector"
	"github.com/shcr-io/shcr-operator/internal/specs"
	"github.com/shcr-io/shcr-operator/test/fixtures"
)

// lastSync is what every test connector reports as its last successful sync.
var lastSync = time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)

// connectorStatusHandler answers /<namespace>/<name>/status as a running
// connector does, with the connector package's own Status type; its last
// error carries a URL the operator must not copy.
func connectorStatusHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/status") {
			http.NotFound(w, r)
			return
		}
		lag := 42.4
		sync := lastSync
		_ = json.NewEncoder(w).Encode(connector.Status{
			Ready: true, LastSuccessfulSync: &sync, LagSeconds: &lag, Circuit: "closed", Categories: reportedCategories(r.URL.Path),
			LastError: "GET https://fhir.example.nhs.uk/R4/Patient?identifier=9434765919: 500",
		})
	})
}

// The organisation's status shows when its running connector last synced and
// how far behind it is, read from the connector's status endpoint.
func TestMemberStatusShowsConnectorSyncAndLag(t *testing.T) {
	s := newScenario(t, "syncing", "M")
	deploy := &appsv1.Deployment{}
	key := client.ObjectKey{Namespace: s.ns, Name: "connector-" + strings.ToLower(s.gp)}
	waitFor(t, "the GP's connector", func() (bool, string) {
		err := k8s.Get(ctx, key, deploy)
		return err == nil, fmt.Sprint(err)
	})
	if err := k8s.Get(ctx, key, &corev1.Service{}); err != nil {
		t.Errorf("the connector's status Service: %v", err)
	}
	// envtest runs no Deployment controller: report the connector Available.
	updateStatus(t, deploy, fixtures.RolledOut)
	member := &shcrv1alpha1.MemberOrganisation{}
	waitFor(t, "the connector's report in the member's status", func() (bool, string) {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: "gp"}, member); err != nil {
			return false, err.Error()
		}
		c := member.Status.Connector
		return c != nil && c.LastSuccessfulSync != nil && c.LastSuccessfulSync.Time.Equal(lastSync) &&
			c.LagSeconds != nil && *c.LagSeconds == 42 && c.Circuit == "closed" &&
			c.Kind == shcrv1alpha1.ConnectorFHIR && c.Mode == shcrv1alpha1.ConnectorPull, fmt.Sprintf("%+v", c)
	})
	raw, _ := json.Marshal(member.Status)
	if strings.Contains(string(raw), "9434765919") || strings.Contains(string(raw), "fhir.example") {
		t.Errorf("the connector's last error leaked into status: %s", raw)
	}
	if specs.ConnectorStatusURL(member) != "http://connector-"+strings.ToLower(s.gp)+"."+s.ns+".svc:8080/status" {
		t.Errorf("in-cluster status URL %s", specs.ConnectorStatusURL(member))
	}
}

// A connector's Service is headless (no cluster IP per organisation), and a
// Service an older operator gave a cluster IP, which cannot be changed in
// place, is replaced by a headless one.
func TestConnectorServiceIsHeadlessAndReplacesAClusterIPOne(t *testing.T) {
	s := newScenario(t, "headless", "N")
	key := client.ObjectKey{Namespace: s.ns, Name: "connector-" + strings.ToLower(s.gp)}
	svc := &corev1.Service{}
	waitFor(t, "the GP's connector Service", func() (bool, string) {
		err := k8s.Get(ctx, key, svc)
		return err == nil, fmt.Sprint(err)
	})
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Fatalf("the connector Service has cluster IP %q, want a headless Service", svc.Spec.ClusterIP)
	}

	// What an older operator made: the same Service with a cluster IP.
	old := &corev1.Service{ObjectMeta: metav1.ObjectMeta{
		Namespace: key.Namespace, Name: key.Name, Labels: svc.Labels, OwnerReferences: svc.OwnerReferences,
		Annotations: svc.Annotations,
	}, Spec: corev1.ServiceSpec{Selector: svc.Spec.Selector, Ports: svc.Spec.Ports}}
	// The operator puts its headless Service back as soon as it is gone:
	// delete and create together until the old-style one gets in first.
	waitFor(t, "the old-style Service to be created", func() (bool, string) {
		live := &corev1.Service{}
		if err := k8s.Get(ctx, key, live); err == nil && live.Spec.ClusterIP != corev1.ClusterIPNone {
			return true, ""
		}
		if err := k8s.Delete(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}); client.IgnoreNotFound(err) != nil {
			return false, err.Error()
		}
		err := k8s.Create(ctx, old.DeepCopy())
		return err == nil, fmt.Sprint(err)
	})
	waitFor(t, "the old-style Service to be replaced by a headless one", func() (bool, string) {
		live := &corev1.Service{}
		if err := k8s.Get(ctx, key, live); err != nil {
			return false, err.Error()
		}
		return live.Spec.ClusterIP == corev1.ClusterIPNone, "cluster IP " + live.Spec.ClusterIP
	})
}
