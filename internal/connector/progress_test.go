/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"fmt"
	"os"
	"testing"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// The control-id file stays bounded on the state claim: it is compacted to
// the newest ids, which are still recognised as resends, across restarts.
func TestMLLPControlIDFileIsCompacted(t *testing.T) {
	defer func(n int) { keptControlIDs = n }(keptControlIDs)
	keptControlIDs = 3
	h := newMLLPHarness(t, policy.CategoryDemographics, policy.CategoryInpatientStays)
	messages := make([]string, 10)
	for i := range messages {
		messages[i] = adt("A08", fmt.Sprintf("MSG-%d", i), pid(), pv1("I", fmt.Sprintf("V%d", i), nil))
		wantAck(t, h.send(messages[i], 64), "AA", fmt.Sprintf("MSG-%d", i))
		info, err := os.Stat(h.statePath)
		if err != nil {
			t.Fatal(err)
		}
		if max := int64(2 * keptControlIDs * controlIDLine); info.Size() > max || info.Size()%controlIDLine != 0 {
			t.Fatalf("after %d messages the file holds %d bytes, want whole lines and at most %d", i+1, info.Size(), max)
		}
	}
	for round := range 2 {
		for i := len(messages) - keptControlIDs; i < len(messages); i++ {
			before := h.records.writeCount(encounterKey(fmt.Sprintf("V%d", i)))
			wantAck(t, h.send(messages[i], 64), "AA", fmt.Sprintf("MSG-%d", i))
			if after := h.records.writeCount(encounterKey(fmt.Sprintf("V%d", i))); after != before {
				t.Errorf("round %d: the resend of a recent message MSG-%d was applied again", round, i)
			}
		}
		h.restart() // the second round reads the compacted file
	}
	// One older than the window is applied again: the same records, overwritten.
	before := h.records.writeCount(encounterKey("V0"))
	wantAck(t, h.send(messages[0], 64), "AA", "MSG-0")
	if after := h.records.writeCount(encounterKey("V0")); after != before+1 {
		t.Errorf("a resend older than the window was written %d times more, want once", after-before)
	}
}
