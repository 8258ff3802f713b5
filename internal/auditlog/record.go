/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package auditlog

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// ChainCodeSystem is the code system of the subtypes of the log's own records.
const ChainCodeSystem = "https://shcr.io/CodeSystem/audit-chain"

// The kinds of the log's own records, as their subtype codes.
const (
	// KindFileOpened is the first line of every file: it names the file, its
	// sequence number, the file and hash it continues from, and an
	// incomplete last line the previous file was left with, if any.
	KindFileOpened = "file-opened"
	// KindReopened is written when the gateway starts and continues the
	// newest file; it says whether the previous run closed the log.
	KindReopened = "log-reopened"
	// KindRetention names the files retention is about to delete, each with
	// the last hash it holds.
	KindRetention = "retention-deleted"
	// KindClosed is the last line the gateway writes when it stops.
	KindClosed = "log-closed"
)

// The detail types of the log's own records.
const (
	detailFile              = "file"
	detailSequence          = "sequence"
	detailPreviousFile      = "previousFile"
	detailPreviousHash      = "previousHash"
	detailTornFile          = "tornFile"
	detailTornLine          = "tornLine"
	detailTornBytes         = "tornBytes"
	detailTornHash          = "tornSHA256"
	detailDeleted           = "deleted"
	detailPreviousRunClosed = "previousRunClosed"
)

type coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

type reference struct {
	Display string `json:"display"`
}

type detail struct {
	Type        string `json:"type"`
	ValueString string `json:"valueString"`
}

// recordEvent is the AuditEvent shape of the log's own records.
type recordEvent struct {
	ResourceType string   `json:"resourceType"`
	ID           string   `json:"id"`
	Type         coding   `json:"type"`
	Subtype      []coding `json:"subtype"`
	Action       string   `json:"action"`
	Recorded     string   `json:"recorded"`
	Outcome      string   `json:"outcome"`
	Agent        []struct {
		Who       reference `json:"who"`
		Requestor bool      `json:"requestor"`
	} `json:"agent"`
	Source struct {
		Observer reference `json:"observer"`
	} `json:"source"`
	Entity []struct {
		What   reference `json:"what"`
		Type   coding    `json:"type"`
		Detail []detail  `json:"detail,omitempty"`
	} `json:"entity"`
}

// record is one of the log's own records, before it is encoded.
type record struct {
	kind    string
	details []detail
}

func (r *record) add(typ, value string) { r.details = append(r.details, detail{typ, value}) }

// encode is the record as an AuditEvent line, without chain or newline.
func (r record) encode(at time.Time, observer string) []byte {
	e := recordEvent{
		ResourceType: "AuditEvent",
		ID:           uuid.NewString(),
		Type:         coding{System: "http://dicom.nema.org/resources/ontology/DCM", Code: "110100", Display: "Application Activity"},
		Subtype:      []coding{{System: ChainCodeSystem, Code: r.kind}},
		Action:       "E",
		Recorded:     at.UTC().Format(time.RFC3339Nano),
		Outcome:      "0",
	}
	e.Agent = make([]struct {
		Who       reference `json:"who"`
		Requestor bool      `json:"requestor"`
	}, 1)
	e.Agent[0].Who.Display = "record gateway audit log"
	e.Source.Observer.Display = observer
	e.Entity = make([]struct {
		What   reference `json:"what"`
		Type   coding    `json:"type"`
		Detail []detail  `json:"detail,omitempty"`
	}, 1)
	e.Entity[0].What.Display = "audit trail"
	e.Entity[0].Type = coding{System: "http://terminology.hl7.org/CodeSystem/audit-entity-type", Code: "2", Display: "System Object"}
	e.Entity[0].Detail = r.details
	b, err := json.Marshal(e)
	if err != nil {
		panic(fmt.Sprintf("auditlog: encoding a record: %v", err)) // strings only: cannot fail
	}
	return b
}

// parsed is a line read back: the kind of the log's record it is ("" for
// an event of the gateway's) and its details.
type parsed struct {
	kind    string
	details []detail
}

// parseRecord reads the kind and details of a line; a line that is not one
// of the log's records has kind "".
func parseRecord(line []byte) parsed {
	var e struct {
		Subtype []coding `json:"subtype"`
		Entity  []struct {
			Detail []detail `json:"detail"`
		} `json:"entity"`
	}
	if json.Unmarshal(line, &e) != nil || len(e.Subtype) != 1 || e.Subtype[0].System != ChainCodeSystem || len(e.Entity) != 1 {
		return parsed{}
	}
	return parsed{kind: e.Subtype[0].Code, details: e.Entity[0].Detail}
}

// get is the value of the first detail of type typ, "" when none.
func (p parsed) get(typ string) string {
	for _, d := range p.details {
		if d.Type == typ {
			return d.ValueString
		}
	}
	return ""
}

// all are the values of every detail of type typ.
func (p parsed) all(typ string) []string {
	var out []string
	for _, d := range p.details {
		if d.Type == typ {
			out = append(out, d.ValueString)
		}
	}
	return out
}

// isKind is a cheap test of a line's record kind, without decoding it.
func isKind(line []byte, kind string) bool {
	return parseRecord(line).kind == kind
}

func itoa[T ~int | ~int64 | ~uint64](n T) string { return strconv.FormatInt(int64(n), 10) }
