/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// repoint is what an A40 (merge) moves: the records of the prior patient
// (PriorID, an HL7 source id) are made to refer to the surviving patient
// (Subject, its reference with its NHS number), so that the gateway finds
// them by the surviving NHS number and applies that patient's objection.
type repoint struct {
	PriorID string
	Subject map[string]any
}

// repointTypes are the types whose records refer to a patient by subject,
// as the HL7v2 mapping writes them.
var repointTypes = []string{"Encounter", "Observation", "DiagnosticReport"}

// repointPage is how many records are moved per transaction.
const repointPage = 100

// repoint moves this organisation's records of the prior patient to the
// surviving one: it searches them (subject and provenance tag), rewrites
// their subject and writes them back, a page per transaction, until none
// is left. Records of a category the organisation may no longer provide
// are left as they are (they are purged, not written). A resend of the A40
// finds what is left, so a failure part-way loses nothing.
func (s *MLLPServer) repoint(ctx context.Context, r *repoint, allowed []string) error {
	prior := "Patient/" + recordID(s.opts.ODSCode, r.PriorID)
	subject := maps.Clone(r.Subject)
	s.prov.rewriteReferences(map[string]any{"subject": subject})
	for _, t := range repointTypes {
		moved := map[string]bool{}
		for {
			records, err := s.searchRecords(ctx, t, prior)
			if err != nil {
				return err
			}
			var entries []map[string]any
			for _, rec := range records {
				id, _ := rec["id"].(string)
				class, _ := rec["class"].(map[string]any)
				code, _ := class["code"].(string)
				category, ok := policy.CategoryOf(t, code)
				if !ok || !slices.Contains(allowed, category) || moved[id] {
					continue
				}
				moved[id] = true
				rec["subject"] = maps.Clone(subject)
				if meta, ok := rec["meta"].(map[string]any); ok {
					delete(meta, "versionId")
					delete(meta, "lastUpdated")
				}
				entries = append(entries, map[string]any{"resource": rec, "request": map[string]any{"method": "PUT", "url": t + "/" + id}})
			}
			if len(entries) == 0 {
				break
			}
			if err := s.commit(ctx, entries); err != nil {
				return err
			}
		}
	}
	return nil
}

// searchRecords is the first page of this organisation's records of a type
// whose subject is prior.
func (s *MLLPServer) searchRecords(ctx context.Context, resourceType, prior string) ([]map[string]any, error) {
	q := url.Values{}
	q.Set("subject", prior)
	q.Set("_tag", SystemODS+"|"+s.opts.ODSCode)
	q.Set("_count", strconv.Itoa(repointPage))
	u := strings.TrimSuffix(s.opts.RecordService, "/") + "/" + resourceType + "?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/fhir+json")
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("record service: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("record service: searching %s to merge answered %d", resourceType, resp.StatusCode)
	}
	var b struct {
		ResourceType string `json:"resourceType"`
		Entry        []struct {
			Resource map[string]any `json:"resource"`
			Search   struct {
				Mode string `json:"mode"`
			} `json:"search"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(data, &b); err != nil || b.ResourceType != "Bundle" {
		return nil, fmt.Errorf("record service: the search of %s to merge is not a Bundle", resourceType)
	}
	var out []map[string]any
	for _, e := range b.Entry {
		if (e.Search.Mode == "" || e.Search.Mode == "match") && e.Resource["resourceType"] == resourceType {
			out = append(out, e.Resource)
		}
	}
	return out, nil
}
