/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // HL7 times without a zone are UK local time, in an image without tzdata

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// Identifier systems of the records mapped from HL7 v2.
const (
	// SystemNHSNumber is the NHS number identifier system.
	SystemNHSNumber = "https://fhir.nhs.uk/Id/nhs-number"
	// systemLocalPrefix starts the system of an organisation's own
	// identifiers: <prefix><ODS code>/<assigning authority>.
	systemLocalPrefix = "https://shcr.io/fhir/Id/hl7v2/"
	// oidNHSNumber is the OID of the NHS number, as some systems write
	// it in CX-4.2 (the assigning authority's universal id).
	oidNHSNumber = "2.16.840.1.113883.2.1.4.1"
)

// hl7Triggers are the message types the connector maps, by MSH-9.1^9.2.
var hl7Triggers = []string{
	"ADT^A01", "ADT^A02", "ADT^A03", "ADT^A04", "ADT^A05", "ADT^A08", "ADT^A11", "ADT^A12",
	"ADT^A13", "ADT^A28", "ADT^A31", "ADT^A40", "ORU^R01",
}

// hl7PatientClasses map PV1-2 (HL7 table 0004) to the FHIR Encounter class
// (v3 ActCode). A class with no data category (EMER, PRENC) is mapped but
// not forwarded.
var hl7PatientClasses = map[string]string{
	"I": policy.EncounterClassInpatient, "B": policy.EncounterClassInpatient,
	"O": policy.EncounterClassAmbulatory, "R": policy.EncounterClassAmbulatory,
	"E": "EMER", "P": "PRENC",
}

// mappedResource is one FHIR R4 resource a message maps to, with its data
// category ("" when it has none and is never forwarded).
type mappedResource struct {
	Source   sourceResource
	Category string
}

// hl7Mapping is what a message maps to.
type hl7Mapping struct {
	Resources []mappedResource
	// Repoint, for an A40, moves the prior patient's records to the
	// surviving one (hl7merge.go).
	Repoint *repoint
}

// mapHL7 maps a parsed message to FHIR R4 resources. An error is an
// *hl7Error locating what could not be mapped.
func mapHL7(m *hl7Message, ods string) (hl7Mapping, error) {
	code, trigger := m.messageType()
	kind := code + "^" + trigger
	if !slices.Contains(hl7Triggers, kind) {
		errCode := hl7UnsupportedEvent
		if code != "ADT" && code != "ORU" {
			errCode = hl7UnsupportedMessage
		}
		return hl7Mapping{}, &hl7Error{Segment: "MSH", Sequence: 1, Field: 9, Code: errCode, Reject: true,
			Text: "MSH-9: the connector maps " + strings.Join(hl7Triggers, ", ")}
	}
	patient, patientID, nhs, err := mapPatient(m, ods)
	if err != nil {
		return hl7Mapping{}, err
	}
	subject := patientReference(patientID, nhs)
	out := hl7Mapping{}
	add := func(resourceType, id, class string, body map[string]any) {
		body["resourceType"], body["id"] = resourceType, id
		if ref, ok := body["subject"].(map[string]any); ok {
			// References are rewritten in place: each resource its own.
			body["subject"] = maps.Clone(ref)
		}
		category, _ := policy.CategoryOf(resourceType, class)
		out.Resources = append(out.Resources, mappedResource{
			Source: sourceResource{ResourceType: resourceType, ID: id, Class: class, Body: body}, Category: category,
		})
	}
	switch {
	case kind == "ADT^A40":
		priorID, prior, err := mapMergedPatient(m, ods, patientID, nhs)
		if err != nil {
			return hl7Mapping{}, err
		}
		patient["link"] = []any{map[string]any{"other": patientReference(priorID, nhs), "type": "replaces"}}
		add("Patient", patientID, "", patient)
		add("Patient", priorID, "", prior)
		out.Repoint = &repoint{PriorID: priorID, Subject: subject}
	case kind == "ADT^A28" || kind == "ADT^A31":
		add("Patient", patientID, "", patient)
	case code == "ADT":
		add("Patient", patientID, "", patient)
		id, class, encounter, err := mapEncounter(m, trigger, subject)
		if err != nil {
			return hl7Mapping{}, err
		}
		add("Encounter", id, class, encounter)
	default: // ORU^R01
		add("Patient", patientID, "", patient)
		results, err := mapResults(m, subject)
		if err != nil {
			return hl7Mapping{}, err
		}
		for _, r := range results {
			add(r.Source.ResourceType, r.Source.ID, "", r.Source.Body)
		}
	}
	return out, nil
}

// patientReference refers to the patient's record and, when the patient
// has an NHS number, names it: the gateway knows whose a record is by the
// NHS number, and withholds a record that names its patient by a literal
// reference alone.
func patientReference(id, nhs string) map[string]any {
	ref := map[string]any{"reference": "Patient/" + id}
	if nhs != "" {
		ref["identifier"] = map[string]any{"system": SystemNHSNumber, "value": nhs}
	}
	return ref
}

// hashID is a FHIR id for a source key that never repeats the key (it may
// be a patient identifier).
func hashID(prefix string, parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return prefix + "-" + hex.EncodeToString(sum[:12])
}

// cxIdentifier is one CX repetition (PID-3, MRG-1, PV1-19) as a FHIR
// Identifier, and whether it is an NHS number.
func cxIdentifier(m *hl7Message, rep, ods string) (map[string]any, bool) {
	value := m.component(rep, 1)
	authority := m.subcomponent(rep, 4, 1)
	universal := m.subcomponent(rep, 4, 2)
	isNHS := strings.EqualFold(authority, "NHS") || universal == oidNHSNumber
	if isNHS {
		return map[string]any{"system": SystemNHSNumber, "value": value}, true
	}
	if authority == "" {
		authority = m.component(rep, 5) // identifier type code
	}
	return map[string]any{"system": systemLocalPrefix + ods + "/" + url.PathEscape(authority), "value": value}, false
}

// validNHSNumber checks the form and modulus 11 check digit of an NHS number.
func validNHSNumber(n string) bool {
	if len(n) != 10 {
		return false
	}
	sum := 0
	for i := 0; i < 10; i++ {
		if n[i] < '0' || n[i] > '9' {
			return false
		}
		if i < 9 {
			sum += int(n[i]-'0') * (10 - i)
		}
	}
	check := 11 - sum%11
	if check == 11 {
		check = 0
	}
	return check != 10 && check == int(n[9]-'0')
}

// mapPatient maps PID to a Patient. Its id comes from the first
// identifier of PID-3 that is not an NHS number (the organisation's own
// record number), or else from the NHS number.
func mapPatient(m *hl7Message, ods string) (patient map[string]any, id, nhs string, err error) {
	pids := m.segments("PID")
	if len(pids) == 0 {
		return nil, "", "", &hl7Error{Segment: "PID", Sequence: 1, Code: hl7SegmentSequenceError, Text: "the message has no PID segment"}
	}
	pid := pids[0]
	var identifiers []any
	var key []string
	var nhsKey []string
	for _, rep := range m.repetitions(pid, 3) {
		ident, isNHS := cxIdentifier(m, rep, ods)
		value, _ := ident["value"].(string)
		if value == "" {
			continue
		}
		if isNHS {
			if !validNHSNumber(value) {
				return nil, "", "", &hl7Error{Segment: "PID", Sequence: 1, Field: 3, Code: hl7DataTypeError,
					Text: "PID-3: an identifier of the NHS number assigning authority is not a valid NHS number (10 digits, modulus 11)"}
			}
			nhsKey = []string{SystemNHSNumber, value}
		} else if key == nil {
			key = []string{ident["system"].(string), value}
		}
		identifiers = append(identifiers, ident)
	}
	if key == nil {
		key = nhsKey
	}
	if key == nil {
		return nil, "", "", &hl7Error{Segment: "PID", Sequence: 1, Field: 3, Code: hl7RequiredFieldMissing, Text: "PID-3: no patient identifier"}
	}
	patient = map[string]any{"identifier": identifiers, "active": true}
	if family, given := m.Get("PID", 1, 5, 1), m.Get("PID", 1, 5, 2); family != "" || given != "" {
		name := map[string]any{"use": "official"}
		if family != "" {
			name["family"] = family
		}
		if given != "" {
			name["given"] = []any{given}
		}
		patient["name"] = []any{name}
	}
	if dob := m.Get("PID", 1, 7, 1); dob != "" {
		date, err := hl7Date(dob)
		if err != nil {
			return nil, "", "", &hl7Error{Segment: "PID", Sequence: 1, Field: 7, Code: hl7DataTypeError, Text: "PID-7: date of birth is not an HL7 date (YYYYMMDD)"}
		}
		patient["birthDate"] = date
	}
	if sex := m.Get("PID", 1, 8, 1); sex != "" {
		gender, ok := map[string]string{"M": "male", "F": "female", "O": "other", "U": "unknown", "A": "other", "N": "unknown"}[sex]
		if !ok {
			return nil, "", "", &hl7Error{Segment: "PID", Sequence: 1, Field: 8, Code: hl7TableValueNotFound, Text: "PID-8: sex is not a value of HL7 table 0001"}
		}
		patient["gender"] = gender
	}
	if postcode := m.Get("PID", 1, 11, 5); postcode != "" {
		address := map[string]any{"postalCode": postcode}
		if line := m.Get("PID", 1, 11, 1); line != "" {
			address["line"] = []any{line}
		}
		if city := m.Get("PID", 1, 11, 3); city != "" {
			address["city"] = city
		}
		patient["address"] = []any{address}
	}
	if nhsKey != nil {
		nhs = nhsKey[1]
	}
	return patient, hashID("pat", key...), nhs, nil
}

// mapMergedPatient maps MRG-1 (the prior patient identifiers of an A40) to
// the prior Patient: inactive, replaced by the surviving one, whose NHS
// number (nhs, when known) it now carries too, since a merge says they are
// one person. A prior patient with another NHS number is refused: only
// the Spine merges NHS numbers, and a local merge would carry one
// number's records, and objections, to another.
func mapMergedPatient(m *hl7Message, ods, survivorID, nhs string) (string, map[string]any, error) {
	mrgs := m.segments("MRG")
	if len(mrgs) == 0 {
		return "", nil, &hl7Error{Segment: "MRG", Sequence: 1, Code: hl7SegmentSequenceError, Text: "an A40 needs an MRG segment"}
	}
	var identifiers []any
	var key, nhsKey []string
	for _, rep := range m.repetitions(mrgs[0], 1) {
		ident, isNHS := cxIdentifier(m, rep, ods)
		value, _ := ident["value"].(string)
		if value == "" {
			continue
		}
		if isNHS {
			if !validNHSNumber(value) {
				return "", nil, &hl7Error{Segment: "MRG", Sequence: 1, Field: 1, Code: hl7DataTypeError, Text: "MRG-1: not a valid NHS number"}
			}
			nhsKey = []string{SystemNHSNumber, value}
		} else if key == nil {
			key = []string{ident["system"].(string), value}
		}
		identifiers = append(identifiers, ident)
	}
	if key == nil {
		key = nhsKey
	}
	if key == nil {
		return "", nil, &hl7Error{Segment: "MRG", Sequence: 1, Field: 1, Code: hl7RequiredFieldMissing, Text: "MRG-1: no prior patient identifier"}
	}
	priorID := hashID("pat", key...)
	if priorID == survivorID {
		return "", nil, &hl7Error{Segment: "MRG", Sequence: 1, Field: 1, Code: hl7DataTypeError, Text: "MRG-1: the prior patient is the surviving patient"}
	}
	if nhsKey != nil && nhs != "" && nhsKey[1] != nhs {
		return "", nil, &hl7Error{Segment: "MRG", Sequence: 1, Field: 1, Code: hl7DataTypeError,
			Text: "MRG-1: the prior patient has another NHS number; NHS numbers are merged on the Spine, not by a local merge"}
	}
	if nhsKey == nil && nhs != "" {
		identifiers = append(identifiers, map[string]any{"system": SystemNHSNumber, "value": nhs})
	}
	return priorID, map[string]any{
		"identifier": identifiers, "active": false,
		"link": []any{map[string]any{"other": patientReference(survivorID, nhs), "type": "replaced-by"}},
	}, nil
}

// encounterStatus is the Encounter.status an ADT event leaves.
func encounterStatus(trigger string, discharged bool) string {
	switch trigger {
	case "A03":
		return "finished"
	case "A05":
		return "planned"
	case "A04":
		return "arrived"
	case "A11":
		return "entered-in-error"
	case "A08":
		if discharged {
			return "finished"
		}
	}
	return "in-progress" // A01, A02, A08, and A12/A13, which undo a transfer or discharge
}

// mapEncounter maps PV1 to an Encounter; its id comes from PV1-19 (the
// visit number).
func mapEncounter(m *hl7Message, trigger string, subject map[string]any) (id, class string, encounter map[string]any, err error) {
	if len(m.segments("PV1")) == 0 {
		return "", "", nil, &hl7Error{Segment: "PV1", Sequence: 1, Code: hl7SegmentSequenceError, Text: "an ADT " + trigger + " needs a PV1 segment"}
	}
	patientClass := m.Get("PV1", 1, 2, 1)
	class, ok := hl7PatientClasses[patientClass]
	if !ok {
		return "", "", nil, &hl7Error{Segment: "PV1", Sequence: 1, Field: 2, Code: hl7TableValueNotFound,
			Text: "PV1-2: patient class is not one of I, B, O, R, E, P (HL7 table 0004)"}
	}
	visit, authority := m.Get("PV1", 1, 19, 1), m.Get("PV1", 1, 19, 4)
	if visit == "" {
		return "", "", nil, &hl7Error{Segment: "PV1", Sequence: 1, Field: 19, Code: hl7RequiredFieldMissing, Text: "PV1-19: no visit number"}
	}
	encounter = map[string]any{
		"class":   map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": class},
		"subject": subject,
	}
	period := map[string]any{}
	for field, key := range map[int]string{44: "start", 45: "end"} {
		v := m.Get("PV1", 1, field, 1)
		if v == "" {
			continue
		}
		instant, err := hl7DateTime(v)
		if err != nil {
			return "", "", nil, &hl7Error{Segment: "PV1", Sequence: 1, Field: field, Code: hl7DataTypeError, Text: fmt.Sprintf("PV1-%d: not an HL7 date and time", field)}
		}
		period[key] = instant
	}
	discharged := period["end"] != nil
	if trigger == "A13" { // a cancelled discharge has no end
		delete(period, "end")
	}
	if len(period) > 0 {
		encounter["period"] = period
	}
	encounter["status"] = encounterStatus(trigger, discharged)
	if ward := m.Get("PV1", 1, 3, 1); ward != "" {
		encounter["location"] = []any{map[string]any{"location": map[string]any{"display": ward}}}
	}
	return hashID("enc", authority, visit), class, encounter, nil
}

// hl7ResultStatus maps OBR-25 and OBX-11 (HL7 table 0085/0123) to FHIR.
var hl7ResultStatus = map[string]string{
	"F": "final", "P": "preliminary", "C": "corrected", "R": "registered", "I": "registered", "S": "partial",
	"A": "partial", "X": "cancelled", "D": "entered-in-error", "W": "entered-in-error", "O": "registered",
}

// mapResults maps the OBR groups of an ORU^R01 to a DiagnosticReport each
// and their OBX segments to Observations.
func mapResults(m *hl7Message, subject map[string]any) ([]mappedResource, error) {
	var out []mappedResource
	obr, obx := 0, 0
	var report map[string]any
	var reportKey string
	for _, seg := range m.Segments {
		switch seg.Name {
		case "OBR":
			obr++
			key := m.Get("OBR", obr, 3, 1)
			if key == "" {
				key = m.Get("OBR", obr, 2, 1)
			}
			if key == "" {
				return nil, &hl7Error{Segment: "OBR", Sequence: obr, Field: 3, Code: hl7RequiredFieldMissing, Text: "OBR-3 (filler order number) and OBR-2 (placer order number) are both empty"}
			}
			status, ok := hl7ResultStatus[m.Get("OBR", obr, 25, 1)]
			if !ok {
				return nil, &hl7Error{Segment: "OBR", Sequence: obr, Field: 25, Code: hl7TableValueNotFound, Text: "OBR-25: result status is not a value of HL7 table 0123"}
			}
			reportKey = key
			report = map[string]any{
				"resourceType": "DiagnosticReport", "id": hashID("rep", key),
				"status": status, "code": codeable(m, "OBR", obr, 4), "subject": subject,
			}
			if t := m.Get("OBR", obr, 7, 1); t != "" {
				instant, err := hl7DateTime(t)
				if err != nil {
					return nil, &hl7Error{Segment: "OBR", Sequence: obr, Field: 7, Code: hl7DataTypeError, Text: "OBR-7: not an HL7 date and time"}
				}
				report["effectiveDateTime"] = instant
			}
			out = append(out, mappedResource{Source: sourceResource{ResourceType: "DiagnosticReport", ID: report["id"].(string), Body: report}})
		case "OBX":
			obx++
			if report == nil {
				return nil, &hl7Error{Segment: "OBX", Sequence: obx, Code: hl7SegmentSequenceError, Text: "an OBX before any OBR"}
			}
			observation, err := mapObservation(m, obx, subject)
			if err != nil {
				return nil, err
			}
			observation["id"] = hashID("obs", reportKey, m.Get("OBX", obx, 1, 1), strconv.Itoa(obx))
			results, _ := report["result"].([]any)
			report["result"] = append(results, map[string]any{"reference": "Observation/" + observation["id"].(string)})
			out = append(out, mappedResource{Source: sourceResource{ResourceType: "Observation", ID: observation["id"].(string), Body: observation}})
		}
	}
	if obr == 0 {
		return nil, &hl7Error{Segment: "OBR", Sequence: 1, Code: hl7SegmentSequenceError, Text: "an ORU^R01 needs an OBR segment"}
	}
	return out, nil
}

// mapObservation maps the seq-th OBX to an Observation.
func mapObservation(m *hl7Message, seq int, subject map[string]any) (map[string]any, error) {
	status, ok := hl7ResultStatus[m.Get("OBX", seq, 11, 1)]
	if !ok {
		return nil, &hl7Error{Segment: "OBX", Sequence: seq, Field: 11, Code: hl7TableValueNotFound, Text: "OBX-11: result status is not a value of HL7 table 0085"}
	}
	o := map[string]any{"resourceType": "Observation", "status": status, "code": codeable(m, "OBX", seq, 3), "subject": subject,
		"category": []any{map[string]any{"coding": []any{map[string]any{
			"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}}}}}
	value := m.Get("OBX", seq, 5, 1)
	switch valueType := m.Get("OBX", seq, 2, 1); valueType {
	case "NM", "SN":
		if value == "" {
			break
		}
		if _, err := strconv.ParseFloat(value, 64); err != nil {
			return nil, &hl7Error{Segment: "OBX", Sequence: seq, Field: 5, Code: hl7DataTypeError, Text: "OBX-5: a value of type NM is not a number"}
		}
		q := map[string]any{"value": jsonNumber(value)}
		if unit := m.Get("OBX", seq, 6, 1); unit != "" {
			q["unit"] = unit
		}
		o["valueQuantity"] = q
	case "ST", "TX", "FT":
		if value != "" {
			o["valueString"] = value
		}
	case "CE", "CWE":
		o["valueCodeableConcept"] = codeable(m, "OBX", seq, 5)
	default:
		return nil, &hl7Error{Segment: "OBX", Sequence: seq, Field: 2, Code: hl7TableValueNotFound, Text: "OBX-2: value type is not one of NM, SN, ST, TX, FT, CE, CWE"}
	}
	if rr := m.Get("OBX", seq, 7, 1); rr != "" {
		o["referenceRange"] = []any{map[string]any{"text": rr}}
	}
	if flag := m.Get("OBX", seq, 8, 1); flag != "" {
		o["interpretation"] = []any{map[string]any{"coding": []any{map[string]any{
			"system": "http://terminology.hl7.org/CodeSystem/v2-0078", "code": flag}}}}
	}
	if t := m.Get("OBX", seq, 14, 1); t != "" {
		instant, err := hl7DateTime(t)
		if err != nil {
			return nil, &hl7Error{Segment: "OBX", Sequence: seq, Field: 14, Code: hl7DataTypeError, Text: "OBX-14: not an HL7 date and time"}
		}
		o["effectiveDateTime"] = instant
	}
	return o, nil
}

// codeable maps a CE/CWE field (identifier^text^coding system) to a
// CodeableConcept.
func codeable(m *hl7Message, seg string, seq, field int) map[string]any {
	cc := map[string]any{}
	if text := m.Get(seg, seq, field, 2); text != "" {
		cc["text"] = text
	}
	if code := m.Get(seg, seq, field, 1); code != "" {
		coding := map[string]any{"code": code}
		if system := m.Get(seg, seq, field, 3); system != "" {
			coding["system"] = "urn:hl7v2:" + url.PathEscape(system)
		}
		cc["coding"] = []any{coding}
	}
	return cc
}

// jsonNumber keeps a numeric value's text as a JSON number.
type jsonNumber string

// MarshalJSON writes the number as it was sent.
func (n jsonNumber) MarshalJSON() ([]byte, error) {
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return nil, err
	}
	return []byte(strconv.FormatFloat(f, 'f', -1, 64)), nil
}

// hl7Date reads an HL7 DT (YYYY[MM[DD]]), or the date of a DTM, as a FHIR date.
func hl7Date(v string) (string, error) {
	digits := v
	if len(digits) > 8 {
		digits = digits[:8]
	}
	for _, layout := range []struct{ hl7, fhir string }{{"20060102", "2006-01-02"}, {"200601", "2006-01"}, {"2006", "2006"}} {
		if len(digits) == len(layout.hl7) {
			t, err := time.Parse(layout.hl7, digits)
			if err != nil {
				return "", err
			}
			return t.Format(layout.fhir), nil
		}
	}
	return "", fmt.Errorf("not an HL7 date")
}

// hl7DateTime reads an HL7 DTM (YYYYMMDD[HHMM[SS[.S+]]][+/-ZZZZ]) as a FHIR
// dateTime. Without a zone it is UK local time (Europe/London).
func hl7DateTime(v string) (string, error) {
	zone := ""
	if i := strings.IndexAny(v, "+-"); i >= 0 {
		v, zone = v[:i], v[i:]
	}
	if dot := strings.IndexByte(v, '.'); dot >= 0 {
		v = v[:dot]
	}
	if len(v) <= 8 {
		return hl7Date(v)
	}
	layouts := map[int]string{12: "200601021504", 14: "20060102150405"}
	layout, ok := layouts[len(v)]
	if !ok {
		return "", fmt.Errorf("not an HL7 date and time")
	}
	loc := london
	if zone != "" {
		zt, err := time.Parse("-0700", zone)
		if err != nil {
			return "", err
		}
		loc = zt.Location()
	}
	t, err := time.ParseInLocation(layout, v, loc)
	if err != nil {
		return "", err
	}
	return t.Format(time.RFC3339), nil
}

// london is the zone of HL7 times sent without one.
var london = func() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		return time.UTC
	}
	return loc
}()
