/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// The code systems of the provenance the connector stamps on every record.
const (
	// SystemODS is the ODS code system: a meta.tag in it names the
	// organisation a record came from (ARCHITECTURE.md, Provenance).
	SystemODS = "https://fhir.nhs.uk/Id/ods-organization-code"
	// SystemSourceResource is this project's code system for the source
	// resource a record was copied from: the code is "<type>/<id>" on the
	// organisation's endpoint.
	SystemSourceResource = "https://shcr.io/fhir/CodeSystem/source-resource"
)

// maxFHIRID is the longest FHIR R4 logical id.
const maxFHIRID = 64

// recordID is the id a source resource has in the record service: the ODS
// code, "-", and the source id; or, when that is longer than a FHIR id may
// be, the ODS code, ".", and the start of the SHA-256 of the source id. ODS
// codes hold neither "-" nor ".", so the ids of different organisations,
// and the two forms, never collide; the same source resource always gets
// the same id, so delivering it again overwrites, never duplicates.
func recordID(odsCode, sourceID string) string {
	if id := odsCode + "-" + sourceID; len(id) <= maxFHIRID {
		return id
	}
	sum := sha256.Sum256([]byte(sourceID))
	return (odsCode + "." + hex.EncodeToString(sum[:]))[:maxFHIRID]
}

// provenance turns source resources into records of one organisation.
type provenance struct {
	odsCode string
	// endpoint is the organisation's FHIR base URL, recorded as meta.source.
	endpoint string
	// base prefixes the absolute references to resources on the endpoint.
	base string
}

func newProvenance(odsCode, endpoint string) provenance {
	return provenance{odsCode: odsCode, endpoint: endpoint, base: strings.TrimSuffix(endpoint, "/") + "/"}
}

// toRecord rewrites a source resource, in place, into what the record
// service stores, and gives its transaction entry: a PUT to its record id.
func (p provenance) toRecord(r sourceResource) (map[string]any, error) {
	id := recordID(p.odsCode, r.ID)
	r.Body["id"] = id
	if err := p.stamp(r); err != nil {
		return nil, fmt.Errorf("%s/%s: %w", r.ResourceType, r.ID, err)
	}
	p.rewriteReferences(r.Body)
	return map[string]any{
		"resource": r.Body,
		"request":  map[string]any{"method": "PUT", "url": r.ResourceType + "/" + id},
	}, nil
}

// stamp sets the record's provenance: meta.source is the endpoint, and the
// tags of SystemODS and SystemSourceResource are replaced by the
// organisation's ODS code and the source resource. The source's version
// and update time are dropped: the record service keeps its own.
func (p provenance) stamp(r sourceResource) error {
	meta, ok := r.Body["meta"].(map[string]any)
	switch {
	case r.Body["meta"] == nil:
		meta = map[string]any{}
	case !ok:
		return fmt.Errorf("meta is not a JSON object")
	}
	tags, ok := meta["tag"].([]any)
	if meta["tag"] != nil && !ok {
		return fmt.Errorf("meta.tag is not an array")
	}
	kept := make([]any, 0, len(tags)+2)
	for i, tag := range tags {
		coding, ok := tag.(map[string]any)
		if !ok {
			return fmt.Errorf("meta.tag[%d] is not a Coding", i)
		}
		if system, _ := coding["system"].(string); system != SystemODS && system != SystemSourceResource {
			kept = append(kept, coding)
		}
	}
	delete(meta, "versionId")
	delete(meta, "lastUpdated")
	meta["source"] = p.endpoint
	meta["tag"] = append(kept,
		map[string]any{"system": SystemODS, "code": p.odsCode},
		map[string]any{"system": SystemSourceResource, "code": r.ResourceType + "/" + r.ID},
	)
	r.Body["meta"] = meta
	return nil
}

// rewriteReferences points every reference to a resource on the endpoint,
// relative ("Patient/123") or absolute, at that resource's record id. A
// version-specific reference loses its version, which only the source
// knows. Contained ("#..."), urn: and other servers' references are kept.
func (p provenance) rewriteReferences(v any) {
	switch node := v.(type) {
	case map[string]any:
		for key, child := range node {
			if ref, ok := child.(string); ok && key == "reference" {
				node[key] = p.recordReference(ref)
				continue
			}
			p.rewriteReferences(child)
		}
	case []any:
		for _, child := range node {
			p.rewriteReferences(child)
		}
	}
}

func (p provenance) recordReference(ref string) string {
	local := strings.TrimPrefix(ref, p.base)
	parts := strings.Split(local, "/")
	versioned := len(parts) == 4 && parts[2] == "_history"
	if (len(parts) != 2 && !versioned) || !isResourceType(parts[0]) || !fhirIDPattern.MatchString(parts[1]) {
		return ref
	}
	return parts[0] + "/" + recordID(p.odsCode, parts[1])
}

// encodeTransaction is a FHIR transaction Bundle of the entries.
func encodeTransaction(entries []map[string]any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries})
	return buf.Bytes(), err
}

// checkTransactionResponse checks that the record service applied every
// entry of a transaction.
func checkTransactionResponse(body []byte, sent int) error {
	var b struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			Response struct {
				Status string `json:"status"`
			} `json:"response"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil || b.ResourceType != "Bundle" || b.Type != "transaction-response" {
		return fmt.Errorf("the record service did not answer with a transaction-response Bundle (%s)", prefix(body, 80))
	}
	if len(b.Entry) != sent {
		return fmt.Errorf("the record service answered %d entries for a transaction of %d", len(b.Entry), sent)
	}
	for i, e := range b.Entry {
		code, _, _ := strings.Cut(e.Response.Status, " ")
		if !slices.Contains([]string{"200", "201"}, code) {
			return fmt.Errorf("the record service answered entry[%d] of the transaction with status %q", i, e.Response.Status)
		}
	}
	return nil
}
