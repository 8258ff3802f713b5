/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// recordRef names one record an organisation provided: its type, its
// record id and, when known, the source resource it was copied from
// ("<Type>/<source id>", the SystemSourceResource tag).
type recordRef struct {
	ResourceType string
	ID           string
	Source       string
}

// removalURL is the conditional delete of one record: it matches only when
// the record still carries the organisation's provenance tag (and, when
// known, the source-resource tag). A record another organisation wrote, or
// one whose provenance is not this organisation's, never matches, so it is
// never touched, whatever id a source or a search names.
func removalURL(odsCode string, r recordRef) string {
	q := url.Values{}
	q.Set("_id", r.ID)
	q.Add("_tag", SystemODS+"|"+odsCode)
	if r.Source != "" {
		q.Add("_tag", SystemSourceResource+"|"+r.Source)
	}
	return r.ResourceType + "?" + q.Encode()
}

// removeRecords deletes the records in one transaction of conditional
// deletes and then asks the record service to expunge the deleted
// versions of their types, so that no earlier version stays readable
// through history or vread. It returns how many entries the record
// service says it deleted (a conditional delete that matched nothing, a
// record already gone or another organisation's, is not counted).
func removeRecords(ctx context.Context, rs *target, base, odsCode string, refs []recordRef) (int, error) {
	if len(refs) == 0 {
		return 0, nil
	}
	entries := make([]map[string]any, 0, len(refs))
	types := []string{}
	for _, r := range refs {
		entries = append(entries, map[string]any{"request": map[string]any{"method": http.MethodDelete, "url": removalURL(odsCode, r)}})
		if !slices.Contains(types, r.ResourceType) {
			types = append(types, r.ResourceType)
		}
	}
	data, err := encodeTransaction(entries)
	if err != nil {
		return 0, fmt.Errorf("encoding the transaction: %w", err)
	}
	body, err := rs.postFHIR(ctx, base, data)
	if err != nil {
		return 0, err
	}
	deleted, err := checkDeleteResponse(body, len(entries))
	if err != nil {
		return 0, withKind(kindRecordService, err)
	}
	for _, t := range types {
		if err := expungeDeleted(ctx, rs, base, t); err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}

// expungeDeleted removes the stored versions of the deleted records of a
// type ($expunge with expungeDeletedResources): a deleted record's earlier
// versions would otherwise stay in the record service's history.
func expungeDeleted(ctx context.Context, rs *target, base, resourceType string) error {
	params := []byte(`{"resourceType":"Parameters","parameter":[{"name":"expungeDeletedResources","valueBoolean":true}]}`)
	u := strings.TrimSuffix(base, "/") + "/" + resourceType + "/$expunge"
	_, err := rs.postFHIR(ctx, u, params)
	return err
}

// checkDeleteResponse checks that the record service answered every
// conditional delete of a transaction: 200, 202 or 204 (deleted, or
// nothing matched) or 404 (gone already). It counts the entries that
// deleted something: 200 and 202 answers, and 204 answers without an
// outcome saying nothing matched.
func checkDeleteResponse(body []byte, sent int) (int, error) {
	var b struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			Response struct {
				Status  string          `json:"status"`
				Outcome json.RawMessage `json:"outcome"`
			} `json:"response"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil || b.ResourceType != "Bundle" || b.Type != "transaction-response" {
		return 0, fmt.Errorf("the record service did not answer with a transaction-response Bundle (%s)", prefix(body, 80))
	}
	if len(b.Entry) != sent {
		return 0, fmt.Errorf("the record service answered %d entries for a transaction of %d", len(b.Entry), sent)
	}
	deleted := 0
	for i, e := range b.Entry {
		code, _, _ := strings.Cut(e.Response.Status, " ")
		switch code {
		case "200", "202", "204":
			if !matchedNothing(e.Response.Outcome) {
				deleted++
			}
		case "404", "410":
		default:
			return 0, fmt.Errorf("the record service answered entry[%d] of the deletions with status %q", i, e.Response.Status)
		}
	}
	return deleted, nil
}

// matchedNothing reports whether a conditional delete's outcome says no
// resource matched (HAPI FHIR answers so with an information issue whose
// code is not-found).
func matchedNothing(outcome json.RawMessage) bool {
	var o struct {
		Issue []struct {
			Code string `json:"code"`
		} `json:"issue"`
	}
	if len(outcome) == 0 || json.Unmarshal(outcome, &o) != nil {
		return false
	}
	for _, issue := range o.Issue {
		if issue.Code == "not-found" {
			return true
		}
	}
	return false
}
