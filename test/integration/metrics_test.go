/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package integration

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shcr-io/shcr-operator/internal/metrics"
)

// The metrics the alerts use carry the region's real figures.
func TestMetricsDescribeTheRegion(t *testing.T) {
	s := newScenario(t, "metrics", "K")
	a := getAgreement(t, s.ns, "dsa-v1")
	waitFor(t, "the region's metrics", func() (bool, string) {
		active := testutil.ToFloat64(metrics.Agreements.WithLabelValues(s.region, "Active"))
		admitted := testutil.ToFloat64(metrics.Members.WithLabelValues(s.region, "true"))
		ends := testutil.ToFloat64(metrics.AgreementEnds.WithLabelValues(s.region, s.agreementID, strconv.Itoa(int(a.Spec.Version))))
		bytes := testutil.ToFloat64(metrics.BundleBytes.WithLabelValues(s.region))
		ok := active == 1 && admitted == 3 && ends == float64(a.Spec.Terms.EndsOn.Unix()) && bytes > 0
		return ok, fmt.Sprintf("active=%v admitted=%v ends=%v bytes=%v", active, admitted, ends, bytes)
	})
	if n := testutil.CollectAndCount(metrics.CompileDuration); n == 0 {
		t.Errorf("no compile durations recorded")
	}
}
