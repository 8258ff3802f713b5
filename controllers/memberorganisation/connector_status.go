/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package memberorganisation

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/connector"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// connectorStatusRefresh is how often a running connector's status is read.
const connectorStatusRefresh = time.Minute

// statusClient reads connectors' /status endpoints; they answer at once or
// not at all.
var statusClient = &http.Client{Timeout: 3 * time.Second}

// readConnectorStatus fetches a connector's /status (docs/connector.md).
func readConnectorStatus(ctx context.Context, url string) (*connector.Status, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := statusClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("connector status answered %s", resp.Status)
	}
	status := &connector.Status{}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(status); err != nil {
		return nil, fmt.Errorf("connector status is not valid JSON: %w", err)
	}
	return status, nil
}

// reportConnector copies what a running connector reports into the
// organisation's status: last successful sync, lag and circuit. Nothing else
// the connector says (its last error may name a URL) is copied. When the
// connector cannot be reached, the last report stands.
func (r *Reconciler) reportConnector(ctx context.Context, member *shcrv1alpha1.MemberOrganisation) {
	url := specs.ConnectorStatusURL(member)
	if r.ConnectorStatusURL != nil {
		url = r.ConnectorStatusURL(member)
	}
	reported, err := r.readStatus(ctx, url)
	if err != nil {
		ctrl.LoggerFrom(ctx).V(1).Info("Connector status not available", "error", err.Error())
		return
	}
	out := &shcrv1alpha1.ConnectorStatus{Circuit: reported.Circuit}
	if reported.LastSuccessfulSync != nil {
		out.LastSuccessfulSync = &metav1.Time{Time: reported.LastSuccessfulSync.UTC().Truncate(time.Second)}
	}
	if reported.LagSeconds != nil {
		lag := int64(math.Round(*reported.LagSeconds))
		out.LagSeconds = &lag
	}
	member.Status.Connector = out
}

func (r *Reconciler) readStatus(ctx context.Context, url string) (*connector.Status, error) {
	if r.ReadConnectorStatus != nil {
		return r.ReadConnectorStatus(ctx, url)
	}
	return readConnectorStatus(ctx, url)
}
