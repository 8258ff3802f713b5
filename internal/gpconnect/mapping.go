/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gpconnect

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// Resource is one R4 resource mapped from a GP's answer.
type Resource struct {
	// Type and ID are the R4 resource's type and id.
	Type, ID string
	// JSON is the resource.
	JSON []byte
}

// Withheld is a resource of a GP's answer that was not mapped, with why.
// It holds no clinical content and no identifier.
type Withheld struct {
	Type, Reason string
}

// Result is what a GP's answer maps to.
type Result struct {
	// Resources are the mapped resources of the categories asked for.
	Resources []Resource
	// Withheld are the resources that could not be mapped with certainty.
	Withheld []Withheld
}

// structuralTypes are the resources of an answer that carry no data of
// their own for the region: the patient (checked against the request),
// the practice, its staff and locations, the section Lists, and
// Medications (contained in the statements and requests that name them).
var structuralTypes = []string{"Patient", "Organization", "Practitioner", "PractitionerRole", "Location", "List", "Medication"}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

var errorCodePattern = regexp.MustCompile(`^[A-Z_]{1,40}$`)

// The STU3 codes each mapped element may take; any other withholds the
// resource.
var (
	allergyClinical     = []string{"active", "inactive", "resolved"}
	allergyVerification = []string{"unconfirmed", "confirmed", "refuted", "entered-in-error"}
	allergyType         = []string{"allergy", "intolerance"}
	allergyCategory     = []string{"food", "medication", "environment", "biologic"}
	allergyCriticality  = []string{"low", "high", "unable-to-assess"}
	reactionSeverity    = []string{"mild", "moderate", "severe"}
	statementStatus     = []string{"active", "completed", "entered-in-error", "intended", "stopped", "on-hold"}
	statementTaken      = []string{"y", "n", "unk", "na"}
	requestStatus       = []string{"active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft", "unknown"}
	requestIntent       = []string{"proposal", "plan", "order", "instance-order"}
	conditionClinical   = []string{"active", "recurrence", "inactive", "remission", "resolved"}
	// STU3's verification "unknown" has no R4 code: R4 leaves it absent.
	conditionVerification = []string{"provisional", "differential", "confirmed", "refuted", "entered-in-error", "unknown"}
	conditionCategory     = []string{"problem-list-item", "encounter-diagnosis"}
	// conditionAbated are the clinical statuses an abated Condition may
	// have (the con-4 invariant of STU3 and R4).
	conditionAbated = []string{"inactive", "remission", "resolved"}
)

// The R4 code systems of AllergyIntolerance's status CodeableConcepts.
const (
	systemAllergyClinical     = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
	systemAllergyVerification = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
	systemConditionClinical   = "http://terminology.hl7.org/CodeSystem/condition-clinical"
	systemConditionVerStatus  = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
	// systemConditionCategory is the R4 system of Condition.category;
	// stu3ConditionCategory is the STU3 one it replaces.
	systemConditionCategory = "http://terminology.hl7.org/CodeSystem/condition-category"
	stu3ConditionCategory   = "http://hl7.org/fhir/condition-category"
	// SystemSourceResource tags a mapped resource with the GP's own
	// resource it came from, as the connector tags what it copies.
	SystemSourceResource = "https://shcr.io/fhir/CodeSystem/source-resource"
)

// errWithhold is a resource that cannot be mapped with certainty.
type errWithhold string

func (e errWithhold) Error() string { return string(e) }

func withhold(format string, args ...any) error { return errWithhold(fmt.Sprintf(format, args...)) }

// Map maps a get structured record answer to R4 resources of the given
// categories. The answer as a whole is refused (an error) when it is not a
// collection Bundle, or when its Patient is missing or is not the patient
// asked for: then nothing of it can be trusted. A resource that cannot be
// mapped with certainty (an unknown type, a code outside its STU3 value
// set, a reference that does not resolve to the patient, unreadable
// security labels) is withheld, and said so in Result.Withheld.
func Map(body []byte, p Provider, nhsNumber string, categories []string) (Result, error) {
	bundle, err := decodeObject(body)
	if err != nil {
		return Result{}, fmt.Errorf("the answer is not a JSON object: %w", err)
	}
	if bundle["resourceType"] != "Bundle" || bundle["type"] != "collection" {
		return Result{}, fmt.Errorf("the answer is a %s of type %s, not a collection Bundle", safeName(bundle["resourceType"]), safeName(bundle["type"]))
	}
	m := &mapper{provider: p, nhs: nhsNumber, byRef: map[string]map[string]any{}, patients: map[string]bool{}}
	resources, err := m.index(bundle)
	if err != nil {
		return Result{}, err
	}
	var out Result
	for _, r := range resources {
		typ := safeName(r["resourceType"])
		if slices.Contains(structuralTypes, typ) {
			continue
		}
		category, known := policy.CategoryOf(typ, "")
		if known && !slices.Contains(categories, category) {
			// Not asked for: GP Connect answers the items linked to what
			// was asked (a problem's medications and test results), which
			// are neither mapped nor reported.
			continue
		}
		mapped, err := m.mapResource(typ, r)
		switch {
		case err == nil && !slices.Contains(categories, category):
			// Not asked for: the GP answered more than it was asked.
		case err == nil:
			out.Resources = append(out.Resources, mapped)
		default:
			out.Withheld = append(out.Withheld, Withheld{Type: typ, Reason: err.Error()})
		}
	}
	return out, nil
}

// mapper maps the resources of one answer.
type mapper struct {
	provider Provider
	nhs      string
	// byRef holds the answer's resources by "Type/id".
	byRef map[string]map[string]any
	// patients are the references of the answer's Patient.
	patients map[string]bool
}

// index reads the entries, checks the Patient and indexes the resources.
func (m *mapper) index(bundle map[string]any) ([]map[string]any, error) {
	entries, ok := bundle["entry"].([]any)
	if !ok && bundle["entry"] != nil {
		return nil, errors.New("the answer's entry is not a list")
	}
	var resources []map[string]any
	for i, e := range entries {
		entry, ok := e.(map[string]any)
		var r map[string]any
		if ok {
			r, ok = entry["resource"].(map[string]any)
		}
		typ, _ := r["resourceType"].(string)
		if !ok || typ == "" {
			return nil, fmt.Errorf("entry %d of the answer has no resource", i)
		}
		if id, ok := r["id"].(string); ok {
			m.byRef[typ+"/"+id] = r
		}
		if typ == "Patient" {
			if err := m.checkPatient(r); err != nil {
				return nil, err
			}
		}
		resources = append(resources, r)
	}
	if len(m.patients) == 0 && len(resources) > 0 {
		return nil, errors.New("the answer has no Patient with an id, so whose record it is cannot be checked")
	}
	return resources, nil
}

// checkPatient accepts the answer's Patient only when its NHS numbers are
// exactly the one asked for.
func (m *mapper) checkPatient(r map[string]any) error {
	id, _ := r["id"].(string)
	found := false
	ids, _ := r["identifier"].([]any)
	for _, raw := range ids {
		ident, _ := raw.(map[string]any)
		if ident["system"] != SystemNHSNumber {
			continue
		}
		if ident["value"] != m.nhs {
			return errors.New("the answer's Patient has another NHS number than the one asked for, so none of it is used")
		}
		found = true
	}
	if !found || id == "" {
		return errors.New("the answer's Patient has no id or no NHS number, so whose record it is cannot be checked")
	}
	m.patients["Patient/"+id] = true
	return nil
}

func (m *mapper) mapResource(typ string, r map[string]any) (Resource, error) {
	var out map[string]any
	var err error
	if _, ok := r["modifierExtension"]; ok {
		// A modifier extension may change what the resource means; it is
		// not understood, so nothing of the resource is.
		return Resource{}, withhold("the resource has a modifierExtension, which can change its meaning")
	}
	switch typ {
	case "AllergyIntolerance":
		out, err = m.allergy(r)
	case "Condition":
		out, err = m.condition(r)
	case "MedicationStatement":
		out, err = m.statement(r)
	case "MedicationRequest":
		out, err = m.request(r)
	default:
		if _, ok := policy.CategoryOf(typ, ""); !ok {
			return Resource{}, withhold("resource type %s has no data category in the region", typ)
		}
		return Resource{}, withhold("resource type %s is not mapped from GP Connect", typ)
	}
	if err != nil {
		return Resource{}, err
	}
	data, err := json.Marshal(out)
	if err != nil {
		return Resource{}, withhold("the mapped resource cannot be encoded: %v", err)
	}
	return Resource{Type: typ, ID: out["id"].(string), JSON: data}, nil
}

// base starts an R4 resource: its record id, provenance and the STU3
// resource's security labels.
func (m *mapper) base(typ string, r map[string]any) (map[string]any, error) {
	id, _ := r["id"].(string)
	if !idPattern.MatchString(id) {
		return nil, withhold("the resource has no valid id")
	}
	meta := map[string]any{
		"source": m.provider.Base.String(),
		"tag": []any{
			map[string]any{"system": SystemODS, "code": m.provider.ODS},
			map[string]any{"system": SystemSourceResource, "code": typ + "/" + id},
		},
	}
	labels, err := securityLabels(r)
	if err != nil {
		return nil, err
	}
	if len(labels) > 0 {
		meta["security"] = labels
	}
	return map[string]any{"resourceType": typ, "id": RecordID(m.provider.ODS, id), "meta": meta}, nil
}

// securityLabels are a resource's meta.security Codings. Labels that
// cannot be read withhold the resource: a sensitive label must never be
// lost.
func securityLabels(r map[string]any) ([]any, error) {
	meta, ok := r["meta"].(map[string]any)
	if !ok {
		if r["meta"] != nil {
			return nil, withhold("meta is not an object, so its security labels cannot be read")
		}
		return nil, nil
	}
	raw, present := meta["security"]
	if !present {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, withhold("meta.security is not a list, so the security labels cannot be read")
	}
	var out []any
	for _, l := range list {
		c, ok := l.(map[string]any)
		code, codeOK := c["code"].(string)
		system, systemOK := c["system"].(string)
		if !ok || !codeOK || code == "" || (c["system"] != nil && !systemOK) {
			return nil, withhold("a security label has no code, so it cannot be read")
		}
		label := map[string]any{"code": code}
		if system != "" {
			label["system"] = system
		}
		out = append(out, label)
	}
	return out, nil
}

// patientRef is the R4 reference to the patient asked for, when the STU3
// reference in field names the answer's Patient.
func (m *mapper) patientRef(r map[string]any, field string) (map[string]any, error) {
	ref, _ := r[field].(map[string]any)
	target, _ := ref["reference"].(string)
	if !m.patients[target] {
		return nil, withhold("%s does not name the answer's Patient", field)
	}
	return map[string]any{"type": "Patient", "identifier": map[string]any{"system": SystemNHSNumber, "value": m.nhs}}, nil
}

// allergy maps an STU3 AllergyIntolerance.
func (m *mapper) allergy(r map[string]any) (map[string]any, error) {
	out, err := m.base("AllergyIntolerance", r)
	if err != nil {
		return nil, err
	}
	if out["patient"], err = m.patientRef(r, "patient"); err != nil {
		return nil, err
	}
	verification, err := code(r, "verificationStatus", allergyVerification, true)
	if err != nil {
		return nil, err
	}
	out["verificationStatus"] = concept(systemAllergyVerification, verification)
	clinical, err := code(r, "clinicalStatus", allergyClinical, false)
	if err != nil {
		return nil, err
	}
	// R4 forbids a clinical status on an entry made in error.
	if clinical != "" && verification != "entered-in-error" {
		out["clinicalStatus"] = concept(systemAllergyClinical, clinical)
	}
	for field, codes := range map[string][]string{"type": allergyType, "criticality": allergyCriticality} {
		c, err := code(r, field, codes, false)
		if err != nil {
			return nil, err
		}
		if c != "" {
			out[field] = c
		}
	}
	if raw, ok := r["category"]; ok {
		list, ok := raw.([]any)
		for _, c := range list {
			if s, isString := c.(string); !isString || !slices.Contains(allergyCategory, s) {
				ok = false
			}
		}
		if !ok {
			return nil, withhold("category holds a code outside the STU3 value set")
		}
		out["category"] = list
	}
	copyObject(r, out, "code", "code")
	copyString(r, out, "onsetDateTime", "onsetDateTime")
	copyObject(r, out, "onsetPeriod", "onsetPeriod")
	copyString(r, out, "assertedDate", "recordedDate")
	copyString(r, out, "lastOccurrence", "lastOccurrence")
	copyNotes(r, out)
	if raw, ok := r["reaction"]; ok {
		reactions, err := mapReactions(raw)
		if err != nil {
			return nil, err
		}
		out["reaction"] = reactions
	}
	return out, nil
}

func mapReactions(raw any) ([]any, error) {
	list, ok := raw.([]any)
	if !ok {
		return nil, withhold("reaction is not a list")
	}
	var out []any
	for _, item := range list {
		src, ok := item.(map[string]any)
		manifestations, listOK := src["manifestation"].([]any)
		if !ok || !listOK || len(manifestations) == 0 {
			return nil, withhold("a reaction has no manifestation")
		}
		reaction := map[string]any{"manifestation": manifestations}
		severity, err := code(src, "severity", reactionSeverity, false)
		if err != nil {
			return nil, err
		}
		if severity != "" {
			reaction["severity"] = severity
		}
		copyString(src, reaction, "description", "description")
		copyString(src, reaction, "onset", "onset")
		copyObject(src, reaction, "substance", "substance")
		copyObject(src, reaction, "exposureRoute", "exposureRoute")
		copyNotes(src, reaction)
		out = append(out, reaction)
	}
	return out, nil
}

// condition maps an STU3 Condition, GP Connect's ProblemHeader, to R4.
// Its statuses become CodeableConcepts, assertedDate becomes recordedDate
// and the category's STU3 system becomes R4's. Its extensions (the problem's
// links to other items of the record), context (a consultation) and
// asserter (a practice's staff member) are not served by the region and
// are dropped.
func (m *mapper) condition(r map[string]any) (map[string]any, error) {
	out, err := m.base("Condition", r)
	if err != nil {
		return nil, err
	}
	if out["subject"], err = m.patientRef(r, "subject"); err != nil {
		return nil, err
	}
	problem, ok := r["code"].(map[string]any)
	if !ok {
		return nil, withhold("code is missing, so what the problem is cannot be told")
	}
	out["code"] = problem
	clinical, err := code(r, "clinicalStatus", conditionClinical, false)
	if err != nil {
		return nil, err
	}
	verification, err := code(r, "verificationStatus", conditionVerification, false)
	if err != nil {
		return nil, err
	}
	if verification != "" && verification != "unknown" {
		out["verificationStatus"] = concept(systemConditionVerStatus, verification)
	}
	// R4 forbids a clinical status on an entry made in error.
	if clinical != "" && verification != "entered-in-error" {
		out["clinicalStatus"] = concept(systemConditionClinical, clinical)
	}
	if err := conditionDates(r, out, clinical); err != nil {
		return nil, err
	}
	if raw, ok := r["category"]; ok {
		categories, err := mapConditionCategories(raw)
		if err != nil {
			return nil, err
		}
		if len(categories) > 0 {
			out["category"] = categories
		}
	}
	copyObject(r, out, "severity", "severity")
	copyObjects(r, out, "bodySite", "bodySite")
	copyString(r, out, "assertedDate", "recordedDate")
	copyNotes(r, out)
	return out, nil
}

// conditionDates copies onset[x] and abatement[x]. An abated Condition
// whose clinical status says it is not (active, recurrence) contradicts
// itself and is withheld; STU3's abatementBoolean has no R4 form and
// withholds it too.
func conditionDates(r, out map[string]any, clinical string) error {
	copyString(r, out, "onsetDateTime", "onsetDateTime")
	copyObject(r, out, "onsetPeriod", "onsetPeriod")
	copyString(r, out, "onsetString", "onsetString")
	if _, ok := r["abatementBoolean"]; ok {
		return withhold("abatementBoolean has no R4 form")
	}
	copyString(r, out, "abatementDateTime", "abatementDateTime")
	copyObject(r, out, "abatementPeriod", "abatementPeriod")
	copyString(r, out, "abatementString", "abatementString")
	abated := out["abatementDateTime"] != nil || out["abatementPeriod"] != nil || out["abatementString"] != nil
	if abated && clinical != "" && !slices.Contains(conditionAbated, clinical) {
		return withhold("the problem has abated but its clinicalStatus is %s", clinical)
	}
	return nil
}

// mapConditionCategories moves the codes of STU3's condition-category
// system to R4's; a code of that system outside its value set withholds the
// resource. Codings of other systems are kept as they are.
func mapConditionCategories(raw any) ([]any, error) {
	list, ok := raw.([]any)
	if !ok {
		return nil, withhold("category is not a list")
	}
	var out []any
	for _, item := range list {
		cc, ok := item.(map[string]any)
		if !ok {
			return nil, withhold("a category is not a CodeableConcept")
		}
		codings, _ := cc["coding"].([]any)
		if cc["coding"] != nil && codings == nil {
			return nil, withhold("a category's coding is not a list")
		}
		mapped := map[string]any{}
		copyString(cc, mapped, "text", "text")
		var kept []any
		for _, c := range codings {
			coding, ok := c.(map[string]any)
			if !ok {
				return nil, withhold("a category coding is not an object")
			}
			if coding["system"] == stu3ConditionCategory || coding["system"] == systemConditionCategory {
				value, _ := coding["code"].(string)
				if !slices.Contains(conditionCategory, value) {
					return nil, withhold("category holds a code outside the condition-category value set")
				}
				r4 := map[string]any{"system": systemConditionCategory, "code": value}
				copyString(coding, r4, "display", "display")
				coding = r4
			}
			kept = append(kept, coding)
		}
		if len(kept) > 0 {
			mapped["coding"] = kept
		}
		if len(mapped) > 0 {
			out = append(out, mapped)
		}
	}
	return out, nil
}

// statement maps an STU3 MedicationStatement. STU3's taken "n" is R4's
// status not-taken.
func (m *mapper) statement(r map[string]any) (map[string]any, error) {
	out, err := m.base("MedicationStatement", r)
	if err != nil {
		return nil, err
	}
	if out["subject"], err = m.patientRef(r, "subject"); err != nil {
		return nil, err
	}
	status, err := code(r, "status", statementStatus, true)
	if err != nil {
		return nil, err
	}
	taken, err := code(r, "taken", statementTaken, false)
	if err != nil {
		return nil, err
	}
	if taken == "n" && status != "entered-in-error" {
		status = "not-taken"
	}
	out["status"] = status
	if err := m.medication(r, out); err != nil {
		return nil, err
	}
	copyString(r, out, "effectiveDateTime", "effectiveDateTime")
	copyObject(r, out, "effectivePeriod", "effectivePeriod")
	copyString(r, out, "dateAsserted", "dateAsserted")
	copyObjects(r, out, "reasonCode", "reasonCode")
	copyNotes(r, out)
	m.basedOn(r, out)
	if raw, ok := r["dosage"]; ok {
		dosage, err := mapDosages(raw)
		if err != nil {
			return nil, err
		}
		out["dosage"] = dosage
	}
	return out, nil
}

// request maps an STU3 MedicationRequest.
func (m *mapper) request(r map[string]any) (map[string]any, error) {
	out, err := m.base("MedicationRequest", r)
	if err != nil {
		return nil, err
	}
	if out["subject"], err = m.patientRef(r, "subject"); err != nil {
		return nil, err
	}
	if out["status"], err = code(r, "status", requestStatus, true); err != nil {
		return nil, err
	}
	if out["intent"], err = code(r, "intent", requestIntent, true); err != nil {
		return nil, err
	}
	if err := m.medication(r, out); err != nil {
		return nil, err
	}
	copyString(r, out, "authoredOn", "authoredOn")
	copyObject(r, out, "groupIdentifier", "groupIdentifier")
	copyNotes(r, out)
	m.basedOn(r, out)
	if raw, ok := r["dosageInstruction"]; ok {
		dosage, err := mapDosages(raw)
		if err != nil {
			return nil, err
		}
		out["dosageInstruction"] = dosage
	}
	if src, ok := r["dispenseRequest"].(map[string]any); ok {
		dispense := map[string]any{}
		copyObject(src, dispense, "validityPeriod", "validityPeriod")
		copyObject(src, dispense, "quantity", "quantity")
		copyObject(src, dispense, "expectedSupplyDuration", "expectedSupplyDuration")
		if n, ok := src["numberOfRepeatsAllowed"].(json.Number); ok {
			dispense["numberOfRepeatsAllowed"] = n
		}
		if len(dispense) > 0 {
			out["dispenseRequest"] = dispense
		}
	}
	return out, nil
}

// medication sets medication[x]: a code as it is, or the answer's
// Medication a reference names, contained with its security labels.
func (m *mapper) medication(r, out map[string]any) error {
	if cc, ok := r["medicationCodeableConcept"].(map[string]any); ok {
		out["medicationCodeableConcept"] = cc
		return nil
	}
	ref, _ := r["medicationReference"].(map[string]any)
	target, _ := ref["reference"].(string)
	med, ok := m.byRef[target]
	if !ok || !strings.HasPrefix(target, "Medication/") {
		return withhold("medicationReference does not name a Medication of the answer")
	}
	cc, ok := med["code"].(map[string]any)
	if !ok {
		return withhold("the Medication named has no code")
	}
	contained := map[string]any{"resourceType": "Medication", "id": "med", "code": cc}
	labels, err := securityLabels(med)
	if err != nil {
		return err
	}
	if len(labels) > 0 {
		contained["meta"] = map[string]any{"security": labels}
	}
	out["contained"] = []any{contained}
	out["medicationReference"] = map[string]any{"reference": "#med"}
	return nil
}

// basedOn keeps the references to MedicationRequests of the answer,
// rewritten to their record ids; any other is dropped.
func (m *mapper) basedOn(r, out map[string]any) {
	list, _ := r["basedOn"].([]any)
	var kept []any
	for _, raw := range list {
		ref, _ := raw.(map[string]any)
		target, _ := ref["reference"].(string)
		id, isRequest := strings.CutPrefix(target, "MedicationRequest/")
		if _, ok := m.byRef[target]; ok && isRequest && idPattern.MatchString(id) {
			kept = append(kept, map[string]any{"reference": "MedicationRequest/" + RecordID(m.provider.ODS, id)})
		}
	}
	if len(kept) > 0 {
		out["basedOn"] = kept
	}
}

// mapDosages maps STU3 Dosages to R4: dose[x] and rate[x] move into
// doseAndRate.
func mapDosages(raw any) ([]any, error) {
	list, ok := raw.([]any)
	if !ok {
		return nil, withhold("dosage is not a list")
	}
	var out []any
	for _, item := range list {
		src, ok := item.(map[string]any)
		if !ok {
			return nil, withhold("a dosage is not an object")
		}
		d := map[string]any{}
		for _, field := range []string{"text", "patientInstruction"} {
			copyString(src, d, field, field)
		}
		if n, ok := src["sequence"].(json.Number); ok {
			d["sequence"] = n
		}
		if b, ok := src["asNeededBoolean"].(bool); ok {
			d["asNeededBoolean"] = b
		}
		for _, field := range []string{"timing", "asNeededCodeableConcept", "site", "route", "method", "maxDosePerPeriod"} {
			copyObject(src, d, field, field)
		}
		copyObjects(src, d, "additionalInstruction", "additionalInstruction")
		rate := map[string]any{}
		for _, field := range []string{"doseQuantity", "doseRange", "rateRatio", "rateRange", "rateQuantity"} {
			copyObject(src, rate, field, field)
		}
		if len(rate) > 0 {
			d["doseAndRate"] = []any{rate}
		}
		out = append(out, d)
	}
	return out, nil
}

// code reads a code of a value set: absent is "" unless required.
func code(r map[string]any, field string, codes []string, required bool) (string, error) {
	raw, present := r[field]
	if !present {
		if required {
			return "", withhold("%s is missing", field)
		}
		return "", nil
	}
	s, ok := raw.(string)
	if !ok || !slices.Contains(codes, s) {
		return "", withhold("%s is not a code of its STU3 value set", field)
	}
	return s, nil
}

func concept(system, code string) map[string]any {
	return map[string]any{"coding": []any{map[string]any{"system": system, "code": code}}}
}

func copyString(src, dst map[string]any, from, to string) {
	if s, ok := src[from].(string); ok && s != "" {
		dst[to] = s
	}
}

func copyObject(src, dst map[string]any, from, to string) {
	if o, ok := src[from].(map[string]any); ok {
		dst[to] = o
	}
}

func copyObjects(src, dst map[string]any, from, to string) {
	list, ok := src[from].([]any)
	if !ok {
		return
	}
	var kept []any
	for _, item := range list {
		if o, ok := item.(map[string]any); ok {
			kept = append(kept, o)
		}
	}
	if len(kept) > 0 {
		dst[to] = kept
	}
}

// copyNotes keeps each note's text and time; its author, a practice's
// staff member, is not served by the region.
func copyNotes(src, dst map[string]any) {
	list, _ := src["note"].([]any)
	var kept []any
	for _, item := range list {
		n, _ := item.(map[string]any)
		if text, ok := n["text"].(string); ok && text != "" {
			note := map[string]any{"text": text}
			copyString(n, note, "time", "time")
			kept = append(kept, note)
		}
	}
	if len(kept) > 0 {
		dst["note"] = kept
	}
}

// RecordID is the id of a GP's resource in the region: the ODS code and
// the GP's id when that fits in 64 characters, else the ODS code and a
// hash of the GP's id (the connector's record id scheme).
func RecordID(ods, sourceID string) string {
	if id := ods + "-" + sourceID; len(id) <= 64 {
		return id
	}
	sum := sha256.Sum256([]byte(sourceID))
	return (ods + "." + hex.EncodeToString(sum[:]))[:64]
}

// namePattern is what a resource type or code looks like.
var namePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9\-]{0,63}$`)

// safeName is a resource type or code the practice wrote, when it looks
// like one, so that nothing else it wrote (an NHS number, free text)
// reaches an error, a log or an OperationOutcome.
func safeName(v any) string {
	if s, ok := v.(string); ok && namePattern.MatchString(s) {
		return s
	}
	return "(unreadable)"
}

// decodeObject decodes one JSON object, keeping numbers as they are
// written.
func decodeObject(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	if out == nil {
		return nil, errors.New("null")
	}
	if dec.More() {
		return nil, errors.New("data after the object")
	}
	return out, nil
}
