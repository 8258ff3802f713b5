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
			Ready: true, LastSuccessfulSync: &sync, LagSeconds: &lag, Circuit: "closed",
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
	deploy.Status = appsv1.DeploymentStatus{ObservedGeneration: deploy.Generation, Replicas: 1, UpdatedReplicas: 1,
		ReadyReplicas: 1, AvailableReplicas: 1, Conditions: []appsv1.DeploymentCondition{{
			Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable",
			LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now(),
		}}}
	if err := k8s.Status().Update(ctx, deploy); err != nil {
		t.Fatal(err)
	}
	member := &shcrv1alpha1.MemberOrganisation{}
	waitFor(t, "the connector's report in the member's status", func() (bool, string) {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: "gp"}, member); err != nil {
			return false, err.Error()
		}
		c := member.Status.Connector
		return c != nil && c.LastSuccessfulSync != nil && c.LastSuccessfulSync.Time.Equal(lastSync) &&
			c.LagSeconds != nil && *c.LagSeconds == 42 && c.Circuit == "closed", fmt.Sprintf("%+v", c)
	})
	raw, _ := json.Marshal(member.Status)
	if strings.Contains(string(raw), "9434765919") || strings.Contains(string(raw), "fhir.example") {
		t.Errorf("the connector's last error leaked into status: %s", raw)
	}
	if specs.ConnectorStatusURL(member) != "http://connector-"+strings.ToLower(s.gp)+"."+s.ns+".svc:8080/status" {
		t.Errorf("in-cluster status URL %s", specs.ConnectorStatusURL(member))
	}
}
