/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package shcrregion

import (
	"testing"

	"k8s.io/client-go/rest"
)

// managerConfig is the configuration of the suite's manager (built by
// kube.NewManager, as the operator's), and envConfig the one it was given.
var managerConfig, envConfig *rest.Config

// The operator's manager asks its API server for uncompressed answers
// (kube.NewManager), and leaves the configuration it was given as it was;
// every test of this suite runs against its watches.
func TestManagerAsksForUncompressedAnswers(t *testing.T) {
	if !managerConfig.DisableCompression {
		t.Errorf("the manager's client asks for compressed answers")
	}
	if envConfig.DisableCompression {
		t.Errorf("the configuration the manager was given was changed")
	}
}
