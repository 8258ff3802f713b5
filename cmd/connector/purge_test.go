/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/shcr-io/shcr-operator/internal/connector"
	"github.com/shcr-io/shcr-operator/test/fhirstore"
)

// The purge Job's command line removes the organisation's records of the
// categories, and only those, and logs counts, never a record.
func TestPurgeFlagsRunThePurgeJob(t *testing.T) {
	store := fhirstore.New(t)
	tag := func(resourceType, id, ods string) map[string]any {
		return map[string]any{"resourceType": resourceType, "id": id, "meta": map[string]any{"tag": []any{
			map[string]any{"system": connector.SystemODS, "code": ods}}}}
	}
	store.Put(tag("Observation", "RHW-o1", "RHW"))
	store.Put(tag("Observation", "XYZ-o1", "XYZ"))
	store.Put(tag("Patient", "RHW-p1", "RHW"))
	var logs bytes.Buffer
	err := run(context.Background(), []string{"--purge", "--purge-ods=RHW", "--purge-categories=TestResults",
		"--purge-record-service=" + store.Base(), "--purge-reason=the agreement narrowed"}, &logs)
	if err != nil {
		t.Fatalf("run --purge = %v", err)
	}
	if got := strings.Join(store.Keys(), " "); got != "AuditEvent/created-1 Observation/XYZ-o1 Patient/RHW-p1" {
		t.Errorf("the record service holds %s after the purge", got)
	}
	if !strings.Contains(logs.String(), `"removed.TestResults":1`) || strings.Contains(logs.String(), "RHW-o1") {
		t.Errorf("the log should count, not name, what was removed: %s", logs.String())
	}
	if len(store.OfType("AuditEvent")) != 1 {
		t.Errorf("no AuditEvent written")
	}
}

func TestPurgeFlagsSayWhatIsWrong(t *testing.T) {
	var logs bytes.Buffer
	err := run(context.Background(), []string{"--purge", "--purge-ods=rhw", "--purge-categories=Gossip", "--purge-record-service=nowhere"}, &logs)
	for _, want := range []string{"--purge-ods", `"Gossip" is not a data category`, "--purge-record-service"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("run = %v, want it to name %s", err, want)
		}
	}
}
