/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// PurgeJob is what the operator's purge Job asks of the connector binary
// (connector --purge): remove an organisation's records of some categories
// from the record service, and record it in an AuditEvent there.
type PurgeJob struct {
	// ODSCode is the organisation whose records are removed.
	ODSCode string
	// Categories are the categories whose records are removed.
	Categories []string
	// RecordService is the record service's FHIR base URL.
	RecordService string
	// Reason says why, in the AuditEvent (no identifiers).
	Reason string
}

// Validate says what is wrong with the job, naming the flag.
func (j PurgeJob) Validate() error {
	var problems []string
	if !odsCodePattern.MatchString(j.ODSCode) {
		problems = append(problems, fmt.Sprintf("--purge-ods %q must be 3 to 6 upper-case letters and digits", j.ODSCode))
	}
	if len(j.Categories) == 0 {
		problems = append(problems, "--purge-categories must name at least one category")
	}
	for _, c := range j.Categories {
		if !slices.Contains(policy.Categories, c) {
			problems = append(problems, fmt.Sprintf("--purge-categories: %q is not a data category this connector knows", c))
		}
	}
	if err := checkURL("--purge-record-service", j.RecordService, "http", "https"); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return fmt.Errorf("purge: %s", strings.Join(problems, "; "))
	}
	return nil
}

// RunPurgeJob removes the records, then writes the AuditEvent (with the
// counts, also when the purge failed part-way), and logs the counts. It
// fails if the purge or the AuditEvent failed: the Job is then retried, and
// a purge that was not audited is not complete. Nothing it logs or writes
// names a patient or a record.
func RunPurgeJob(ctx context.Context, job PurgeJob, logger *slog.Logger) error {
	if err := job.Validate(); err != nil {
		return err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	client := &http.Client{Timeout: time.Minute, CheckRedirect: noRedirects}
	result, purgeErr := Purge(ctx, PurgeOptions{RecordService: job.RecordService, ODSCode: job.ODSCode, Categories: job.Categories, Client: client})
	auditErr := WriteAuditEvent(context.WithoutCancel(ctx), client, job.RecordService,
		PurgeAuditEvent(job.ODSCode, job.Reason, result, purgeErr, time.Now()))
	attrs := []any{"odsCode", job.ODSCode, "removed", result.Total()}
	for _, c := range slices.Sorted(maps.Keys(result.Removed)) {
		attrs = append(attrs, "removed."+c, result.Removed[c])
	}
	switch {
	case purgeErr != nil:
		logger.Error("Purge failed", append(attrs, "error", purgeErr.Error())...)
		return purgeErr
	case auditErr != nil:
		logger.Error("Purge done but not audited; failing so that it runs again", append(attrs, "error", auditErr.Error())...)
		return auditErr
	}
	logger.Info("Purged the organisation's records outside its scope", attrs...)
	return nil
}
