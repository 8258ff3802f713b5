/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gpconnect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// MaxAnswerBytes bounds a GP's answer.
const MaxAnswerBytes = 16 << 20

// ErrPatientNotFound means the practice holds no record for the patient:
// they are not registered there. It is not a failure.
var ErrPatientNotFound = errors.New("the practice holds no record for the patient")

// Client asks GP practices for structured records.
type Client struct {
	// HTTP makes the calls; its Timeout bounds each.
	HTTP *http.Client
	// Consumer is the region.
	Consumer Consumer
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Fetch asks a practice for a patient's record in the given categories and
// maps the answer. An error never holds the NHS number or the token: it
// says what failed, with the practice's ODS code. ErrPatientNotFound means
// the practice holds no record for the patient.
func (c *Client) Fetch(ctx context.Context, p Provider, u User, nhsNumber string, categories []string) (Result, error) {
	groups := GroupsFor(categories)
	if !groups.Any() {
		return Result{}, nil
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	req, _, err := NewRequest(ctx, c.Consumer, p, u, nhsNumber, groups, now())
	if err != nil {
		return Result{}, fmt.Errorf("GP Connect request to %s not made: %w", p.ODS, err)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("GP Connect endpoint of %s could not be reached", p.ODS)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerBytes+1))
	switch {
	case err != nil:
		return Result{}, fmt.Errorf("GP Connect answer of %s could not be read", p.ODS)
	case len(body) > MaxAnswerBytes:
		return Result{}, fmt.Errorf("GP Connect answer of %s is larger than %d bytes", p.ODS, MaxAnswerBytes)
	case resp.StatusCode == http.StatusNotFound && errorCode(body) == "PATIENT_NOT_FOUND":
		return Result{}, ErrPatientNotFound
	case resp.StatusCode != http.StatusOK:
		if code := errorCode(body); code != "" {
			return Result{}, fmt.Errorf("GP Connect endpoint of %s answered with status %d (%s)", p.ODS, resp.StatusCode, code)
		}
		return Result{}, fmt.Errorf("GP Connect endpoint of %s answered with status %d", p.ODS, resp.StatusCode)
	}
	result, err := Map(body, p, nhsNumber, categories)
	if err != nil {
		return Result{}, fmt.Errorf("GP Connect answer of %s not used: %w", p.ODS, err)
	}
	return result, nil
}

// errorCode is the GP Connect error code of an OperationOutcome
// (issue.details.coding.code, from the spine error or warning code
// system), when it is one of the codes GP Connect defines: letters and
// underscores only, so that nothing the practice wrote is repeated.
func errorCode(body []byte) string {
	o, err := decodeObject(body)
	if err != nil || o["resourceType"] != "OperationOutcome" {
		return ""
	}
	issues, _ := o["issue"].([]any)
	for _, raw := range issues {
		issue, _ := raw.(map[string]any)
		details, _ := issue["details"].(map[string]any)
		codings, _ := details["coding"].([]any)
		for _, c := range codings {
			coding, _ := c.(map[string]any)
			if code, ok := coding["code"].(string); ok && errorCodePattern.MatchString(code) {
				return code
			}
		}
	}
	return ""
}
