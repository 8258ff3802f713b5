/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"fmt"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// loadedPolicy is a policy bundle ready to decide with. It is never changed
// after it is loaded; a reload swaps in a new one.
type loadedPolicy struct {
	decider  *policy.Decider
	region   string
	revision string
}

// loadPolicy reads the bundle stored in dir and checks that it belongs to
// the gateway's region. Its revision is the one the operator reports in the
// ShCRRegion status.
func loadPolicy(dir, region string) (*loadedPolicy, error) {
	b, err := policy.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	if b.Region != region {
		return nil, fmt.Errorf("the policy bundle in %s is for region %q, and this gateway serves region %q", dir, b.Region, region)
	}
	encoded, err := b.Encode()
	if err != nil {
		return nil, err
	}
	return &loadedPolicy{decider: policy.NewDecider(b), region: b.Region, revision: policy.Revision(encoded)}, nil
}
