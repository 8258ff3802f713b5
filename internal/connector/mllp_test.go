/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// Test patient identifiers: valid NHS numbers (modulus 11) and local
// record numbers. The harness asserts that none reaches a log.
const (
	testNHS      = "9000000009"
	testNHSOther = "9000000017"
	testMRN      = "K123456"
	testSurname  = "OKONKWO"
)

// seg builds a segment from its fields by HL7 number (fields[1] is
// field 1); MSH is built by msh.
func seg(name string, fields map[int]string) string {
	last := 0
	for n := range fields {
		last = max(last, n)
	}
	parts := make([]string, last+1)
	parts[0] = name
	for n, v := range fields {
		parts[n] = v
	}
	return strings.Join(parts, "|")
}

func msh(msgType, control, version string) string {
	return `MSH|^~\&|PAS|` + testODS + `|SHCR|TVS|20260301100000||` + msgType + `|` + control + `|P|` + version
}

func pid() string {
	return seg("PID", map[int]string{1: "1", 3: testMRN + "^^^RHW^MR~" + testNHS + "^^^NHS^NH", 5: testSurname + "^ADA", 7: "19700101", 8: "F",
		11: "1 HIGH ST^^READING^^RG1 1AA"})
}

func pv1(class, visit string, extra map[int]string) string {
	f := map[int]string{1: "1", 2: class, 3: "WARD 7^^^RHW", 19: visit + "^^^RHW^VN", 44: "202603011000"}
	for k, v := range extra {
		f[k] = v
	}
	return seg("PV1", f)
}

func adt(trigger, control string, segments ...string) string {
	return strings.Join(append([]string{msh("ADT^"+trigger+"^ADT_A01", control, "2.4"), "EVN|" + trigger + "|20260301100000"}, segments...), "\r") + "\r"
}

func oru(control string, obx ...string) string {
	segs := []string{msh("ORU^R01^ORU_R01", control, "2.5.1"), pid(),
		seg("OBR", map[int]string{1: "1", 2: "PL1", 3: "FL778", 4: "U&E^Urea and electrolytes^LOCAL", 7: "202603010900", 25: "F"})}
	return strings.Join(append(segs, obx...), "\r") + "\r"
}

func obx(set, valueType, code, value, unit, status string) string {
	return seg("OBX", map[int]string{1: set, 2: valueType, 3: code + "^" + code + "^LOCAL", 5: value, 6: unit, 7: "3.5-5.3", 8: "N", 11: status})
}

// mllpHarness is an MLLP listener on a real TCP port in front of the
// fixture record service.
type mllpHarness struct {
	t          *testing.T
	records    *recordService
	server     *MLLPServer
	addr       string
	logs       *syncBuffer
	statePath  string
	categories []string
	cancel     context.CancelFunc
	done       chan error
}

func newMLLPHarness(t *testing.T, categories ...string) *mllpHarness {
	h := &mllpHarness{t: t, records: newRecordService(t), logs: &syncBuffer{},
		statePath: filepath.Join(t.TempDir(), "hl7", "control-ids"), categories: categories}
	h.start()
	t.Cleanup(h.stop)
	return h
}

func (h *mllpHarness) start() {
	h.t.Helper()
	s, err := NewMLLPServer(MLLPOptions{
		ODSCode: testODS, Source: "mllp://pas.rhw.example", RecordService: h.records.base(),
		Categories: func() []string { return h.categories }, StatePath: h.statePath, MaxMessageBytes: 64 << 10,
		Tries: 2, RetryWait: time.Millisecond, Logger: slog.New(slog.NewJSONHandler(h.logs, nil)),
	})
	if err != nil {
		h.t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.server, h.addr, h.cancel, h.done = s, l.Addr().String(), cancel, make(chan error, 1)
	go func() { h.done <- s.Serve(ctx, l) }()
}

func (h *mllpHarness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Errorf("Serve: %v", err)
	}
	_ = h.server.Close()
	h.cancel = nil
}

func (h *mllpHarness) restart() {
	h.stop()
	h.start()
}

// dial opens a client connection.
func (h *mllpHarness) dial() (net.Conn, *bufio.Reader) {
	h.t.Helper()
	conn, err := net.Dial("tcp", h.addr)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = conn.Close() })
	return conn, bufio.NewReader(conn)
}

// send sends one framed message in chunks of chunk bytes (each its own
// write, so the server reads the frame in pieces) and reads the ACK.
func (h *mllpHarness) send(msg string, chunk int) *hl7Message {
	h.t.Helper()
	conn, r := h.dial()
	return h.sendOn(conn, r, msg, chunk)
}

func (h *mllpHarness) sendOn(conn net.Conn, r *bufio.Reader, msg string, chunk int) *hl7Message {
	h.t.Helper()
	framed := frame([]byte(msg))
	for len(framed) > 0 {
		n := min(chunk, len(framed))
		if _, err := conn.Write(framed[:n]); err != nil {
			h.t.Fatal(err)
		}
		framed = framed[n:]
	}
	ack, err := readFrame(r, 1<<20)
	if err != nil {
		h.t.Fatalf("reading the ACK: %v", err)
	}
	parsed, err := parseHL7(ack)
	if err != nil {
		h.t.Fatalf("the ACK does not parse: %v\n%q", err, ack)
	}
	return parsed
}

func (h *mllpHarness) assertNothingLogged() {
	h.t.Helper()
	for _, secret := range []string{testNHS, testNHSOther, testMRN, testSurname} {
		if strings.Contains(h.logs.String(), secret) {
			h.t.Errorf("a patient identifier or content reached the log: %s", h.logs.String())
		}
	}
}

func wantAck(t *testing.T, ack *hl7Message, code, control string) {
	t.Helper()
	if got := ack.Get("MSA", 1, 1, 1); got != code {
		t.Fatalf("MSA-1 = %s (%s; ERR %s), want %s", got, ack.Get("MSA", 1, 3, 1), ack.Get("ERR", 1, 2, 1), code)
	}
	if got := ack.Get("MSA", 1, 2, 1); got != control {
		t.Errorf("MSA-2 = %q, want the message's control id %q", got, control)
	}
	if ack.Get("MSH", 1, 9, 1) != "ACK" {
		t.Errorf("MSH-9 of the ACK = %q", ack.Get("MSH", 1, 9, 1))
	}
}

func recordKey(resourceType, sourceID string) string {
	return resourceType + "/" + recordID(testODS, sourceID)
}

func patientKey() string {
	return recordKey("Patient", hashID("pat", systemLocalPrefix+testODS+"/RHW", testMRN))
}

func encounterKey(visit string) string { return recordKey("Encounter", hashID("enc", "RHW", visit)) }

// An admission split across many TCP reads is committed to the record
// service before it is acknowledged AA; the records carry the
// organisation's provenance, the NHS number from PID-3 and the class from
// PV1-2.
func TestMLLPAdmissionCommittedThenAcknowledged(t *testing.T) {
	all := []string{policy.CategoryDemographics, policy.CategoryInpatientStays, policy.CategoryAppointments, policy.CategoryTestResults}
	h := newMLLPHarness(t, all...)
	msg := adt("A01", "MSG0001", pid(), pv1("I", "V0001", nil))
	for _, chunk := range []int{1, 7, 1 << 20} {
		wantAck(t, h.send(msg, chunk), "AA", "MSG0001")
	}
	patient := h.records.get(patientKey())
	if patient == nil {
		t.Fatalf("no Patient stored: %v", h.records.keys())
	}
	if !strings.Contains(fmt.Sprint(patient["identifier"]), SystemNHSNumber+" value:"+testNHS) {
		t.Errorf("the Patient has no NHS number identifier: %v", patient["identifier"])
	}
	if fmt.Sprint(patient["gender"]) != "female" || fmt.Sprint(patient["birthDate"]) != "1970-01-01" {
		t.Errorf("Patient = %v", patient)
	}
	if tags := fmt.Sprint(patient["meta"]); !strings.Contains(tags, SystemODS+"]") && !strings.Contains(tags, "code:"+testODS) {
		t.Errorf("the Patient has no provenance tag: %v", tags)
	}
	enc := h.records.get(encounterKey("V0001"))
	if enc == nil {
		t.Fatalf("no Encounter stored: %v", h.records.keys())
	}
	if fmt.Sprint(enc["class"]) != "map[code:IMP system:http://terminology.hl7.org/CodeSystem/v3-ActCode]" || enc["status"] != "in-progress" {
		t.Errorf("Encounter = %v", enc)
	}
	if ref := fmt.Sprint(enc["subject"]); ref != "map[identifier:map[system:"+SystemNHSNumber+" value:"+testNHS+"] reference:"+patientKey()+"]" {
		t.Errorf("Encounter.subject = %s, want %s naming the NHS number", ref, patientKey())
	}
	// The same control id three times: one commit, then duplicates.
	if n := h.records.writeCount(patientKey()); n != 1 {
		t.Errorf("the Patient was written %d times, want once", n)
	}
	if st := h.server.Stats(); st.Accepted != 1 || st.Duplicates != 2 {
		t.Errorf("stats %+v", st)
	}
	h.assertNothingLogged()
}

// Control ids survive a restart (they are on the state volume): a message
// sent again after the connector restarted is acknowledged, not applied
// again, so a replayed admission never undoes its later cancellation.
func TestMLLPControlIDsSurviveRestart(t *testing.T) {
	h := newMLLPHarness(t, policy.CategoryDemographics, policy.CategoryInpatientStays)
	admit := adt("A01", "MSG-A", pid(), pv1("I", "V0002", nil))
	cancel := adt("A11", "MSG-B", pid(), pv1("I", "V0002", nil))
	wantAck(t, h.send(admit, 64), "AA", "MSG-A")
	wantAck(t, h.send(cancel, 64), "AA", "MSG-B")
	if got := h.records.get(encounterKey("V0002"))["status"]; got != "entered-in-error" {
		t.Fatalf("a cancelled admission is %v, want entered-in-error", got)
	}
	h.restart()
	wantAck(t, h.send(admit, 64), "AA", "MSG-A")
	if got := h.records.get(encounterKey("V0002"))["status"]; got != "entered-in-error" {
		t.Errorf("the replayed admission revived the cancelled Encounter: %v", got)
	}
	if n := h.records.writeCount(encounterKey("V0002")); n != 2 {
		t.Errorf("the Encounter was written %d times, want 2 (admit, cancel)", n)
	}
}

// While the record service fails, no message is acknowledged AA: the
// sender gets AR with ERR 207 and the message is not remembered, so its
// resend is committed once the record service is back. Nothing is lost.
func TestMLLPRecordServiceFailureIsNotAcknowledged(t *testing.T) {
	h := newMLLPHarness(t, policy.CategoryDemographics, policy.CategoryInpatientStays)
	for _, fail := range []func(w http.ResponseWriter){
		func(w http.ResponseWriter) { http.Error(w, "down", http.StatusServiceUnavailable) },
		func(w http.ResponseWriter) {
			_, _ = io.WriteString(w, `{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"500"}}]}`)
		},
		func(w http.ResponseWriter) { _, _ = io.WriteString(w, `{"resourceType":"OperationOutcome"}`) },
	} {
		h.records.setIntercept(func(w http.ResponseWriter, r *http.Request) bool { fail(w); return true })
		ack := h.send(adt("A01", "MSG-F", pid(), pv1("I", "V0003", nil)), 1<<20)
		wantAck(t, ack, "AR", "MSG-F")
		if ack.Get("ERR", 1, 3, 1) != hl7ApplicationError {
			t.Errorf("ERR-3 = %q, want %s", ack.Get("ERR", 1, 3, 1), hl7ApplicationError)
		}
		if len(h.records.keys()) != 0 {
			t.Fatalf("something was stored: %v", h.records.keys())
		}
	}
	h.records.setIntercept(nil)
	wantAck(t, h.send(adt("A01", "MSG-F", pid(), pv1("I", "V0003", nil)), 1<<20), "AA", "MSG-F")
	if h.records.get(encounterKey("V0003")) == nil {
		t.Errorf("the resent message was not committed: %v", h.records.keys())
	}
	h.assertNothingLogged()
}

// Messages that cannot be mapped are answered AE and ones that are refused
// AR, each with ERR naming the segment and field; nothing is stored.
func TestMLLPBadMessagesGetTheRightAck(t *testing.T) {
	h := newMLLPHarness(t, policy.CategoryDemographics, policy.CategoryInpatientStays, policy.CategoryTestResults)
	badPID := strings.Replace(pid(), testNHS, "9000000001", 1)
	cases := []struct {
		name, msg, code, control, segment, field, errCode string
	}{
		{"no PID", adt("A01", "C1", pv1("I", "V1", nil)), "AE", "C1", "PID", "", hl7SegmentSequenceError},
		{"NHS number failing its check digit", adt("A01", "C2", badPID, pv1("I", "V1", nil)), "AE", "C2", "PID", "3", hl7DataTypeError},
		{"unknown patient class", adt("A01", "C3", pid(), pv1("X", "V1", nil)), "AE", "C3", "PV1", "2", hl7TableValueNotFound},
		{"no visit number", adt("A01", "C4", pid(), pv1("I", "", nil)), "AE", "C4", "PV1", "19", hl7RequiredFieldMissing},
		{"admit time not a time", adt("A01", "C5", pid(), pv1("I", "V1", map[int]string{44: "yesterday"})), "AE", "C5", "PV1", "44", hl7DataTypeError},
		{"numeric result not a number", oru("C6", obx("1", "NM", "K", "four", "mmol/L", "F")), "AE", "C6", "OBX", "5", hl7DataTypeError},
		{"result status unknown", oru("C7", obx("1", "NM", "K", "4.1", "mmol/L", "Q")), "AE", "C7", "OBX", "11", hl7TableValueNotFound},
		{"date of birth malformed", adt("A28", "C8", strings.Replace(pid(), "19700101", "1970-01-01", 1)), "AE", "C8", "PID", "7", hl7DataTypeError},
		{"unsupported version", strings.Replace(adt("A01", "C9", pid(), pv1("I", "V1", nil)), "|P|2.4", "|P|2.6", 1), "AR", "C9", "MSH", "12", hl7UnsupportedVersion},
		{"unsupported event", adt("A99", "C10", pid(), pv1("I", "V1", nil)), "AR", "C10", "MSH", "9", hl7UnsupportedEvent},
		{"unsupported message", strings.Replace(adt("A01", "C11", pid()), "ADT^A01", "ORM^O01", 1), "AR", "C11", "MSH", "9", hl7UnsupportedMessage},
		{"another organisation's facility", strings.Replace(adt("A01", "C12", pid(), pv1("I", "V1", nil)), "|PAS|"+testODS+"|", "|PAS|RXX|", 1), "AR", "C12", "MSH", "4", hl7ApplicationError},
		{"no control id", adt("A01", "", pid(), pv1("I", "V1", nil)), "AR", "", "MSH", "10", hl7RequiredFieldMissing},
		{"segment name lower case", adt("A01", "C13", pid(), "pv1|1|I"), "AE", "C13", "", "", hl7SegmentSequenceError},
		{"second MSH", adt("A01", "C14", pid(), msh("ADT^A01", "X", "2.4")), "AE", "C14", "MSH", "", hl7SegmentSequenceError},
		{"OBX before OBR", strings.Replace(oru("C15", obx("1", "NM", "K", "4", "", "F")), "\rOBR|", "\rZZZ|", 1), "AE", "C15", "OBX", "", hl7SegmentSequenceError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ack := h.send(tc.msg, 1<<20)
			wantAck(t, ack, tc.code, tc.control)
			if got := ack.Get("ERR", 1, 2, 1); got != tc.segment {
				t.Errorf("ERR-2.1 segment = %q, want %q", got, tc.segment)
			}
			if got := ack.Get("ERR", 1, 2, 3); got != tc.field {
				t.Errorf("ERR-2.3 field = %q, want %q", got, tc.field)
			}
			if got := ack.Get("ERR", 1, 3, 1); got != tc.errCode {
				t.Errorf("ERR-3 code = %q, want %q", got, tc.errCode)
			}
		})
	}
	if len(h.records.keys()) != 0 {
		t.Errorf("a bad message stored something: %v", h.records.keys())
	}
	h.assertNothingLogged()
}

// Wrong encoding characters are refused with AR naming MSH-2; a message
// whose MSH cannot be read has no control id to acknowledge.
func TestMLLPWrongEncodingCharacters(t *testing.T) {
	h := newMLLPHarness(t, policy.CategoryDemographics)
	body := "|PAS|" + testODS + "|SHCR|TVS|20260301100000||ADT^A28|E1|P|2.4\r" + pid() + "\r"
	for _, header := range []string{
		`MSH|^~\&#`, // five encoding characters (v2.7's truncation character)
		`MSH|^~\`,   // three
		`MSH|^~^&`,  // repeated
		`MSH|^~A&`,  // a letter
		`MSH|^~ &`,  // a space
		`MSH|^~|&`,  // the field separator again
		`MSHA^~\&`,  // a letter as field separator
	} {
		t.Run(header, func(t *testing.T) {
			ack := h.send(header+body, 1<<20)
			if ack.Get("MSA", 1, 1, 1) != "AR" || ack.Get("ERR", 1, 2, 1) != "MSH" {
				t.Errorf("ack MSA-1 %q ERR-2 %q, want AR naming MSH", ack.Get("MSA", 1, 1, 1), ack.Get("ERR", 1, 2, 1))
			}
		})
	}
	ack := h.send("PID|1\r", 1<<20)
	if ack.Get("MSA", 1, 1, 1) != "AR" || ack.Get("MSA", 1, 2, 1) != "" {
		t.Errorf("a message without MSH: MSA-1 %q MSA-2 %q", ack.Get("MSA", 1, 1, 1), ack.Get("MSA", 1, 2, 1))
	}
	// A message with its own (valid) encoding characters is read with them.
	own := "MSH#*@!$#PAS#" + testODS + "#SHCR#TVS#20260301100000##ADT*A28#E9#P#2.5\rPID#1##" + testMRN + "***RHW*MR@" + testNHS +
		"***NHS*NH##O!S!BRIEN*ADA\r"
	wantAck(t, h.send(own, 1<<20), "AA", "E9")
	if got := fmt.Sprint(h.records.get(patientKey())["name"]); !strings.Contains(got, "family:O*BRIEN") {
		t.Errorf("the escaped component separator was not read back: %s", got)
	}
	if len(h.records.keys()) != 1 {
		t.Errorf("stored %v", h.records.keys())
	}
}

// A stream that is not MLLP, or a frame larger than the limit, closes the
// connection without storing anything.
func TestMLLPFramingErrorsCloseTheConnection(t *testing.T) {
	h := newMLLPHarness(t, policy.CategoryDemographics)
	big := adt("A28", "BIG", pid(), "NTE|1||"+strings.Repeat("x", 70<<10))
	for name, raw := range map[string][]byte{
		"no start byte":        []byte(adt("A28", "N1", pid()) + "\x1c\r"),
		"no CR after the end":  append(append([]byte{mllpStart}, adt("A28", "N2", pid())...), mllpEnd, 'x'),
		"start byte in a body": append(append([]byte{mllpStart, 'M', mllpStart}, adt("A28", "N3", pid())...), mllpEnd, mllpCR),
		"oversize":             frame([]byte(big)),
	} {
		t.Run(name, func(t *testing.T) {
			conn, r := h.dial()
			go func() { _, _ = conn.Write(raw) }()
			if _, err := readFrame(r, 1<<20); !errors.Is(err, io.EOF) && !isConnReset(err) {
				t.Errorf("want the connection closed, got %v", err)
			}
		})
	}
	if len(h.records.keys()) != 0 {
		t.Errorf("stored %v", h.records.keys())
	}
	// The listener still serves after closing those connections.
	wantAck(t, h.send(adt("A28", "OK1", pid()), 1<<20), "AA", "OK1")
}

func isConnReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "reset") || strings.Contains(err.Error(), "broken pipe"))
}

// What the organisation may not provide now is acknowledged and not
// stored, the reason counted; an emergency attendance (no category) too.
func TestMLLPOutOfScopeIsAcknowledgedNotStored(t *testing.T) {
	h := newMLLPHarness(t, policy.CategoryDemographics)
	wantAck(t, h.send(adt("A01", "S1", pid(), pv1("I", "V10", nil)), 1<<20), "AA", "S1")
	wantAck(t, h.send(adt("A04", "S2", pid(), pv1("E", "V11", nil)), 1<<20), "AA", "S2")
	wantAck(t, h.send(oru("S3", obx("1", "NM", "K", "4.1", "mmol/L", "F")), 1<<20), "AA", "S3")
	if h.records.get(encounterKey("V10")) != nil || h.records.get(encounterKey("V11")) != nil {
		t.Errorf("an Encounter outside the scope was stored: %v", h.records.keys())
	}
	if len(h.records.keys()) != 1 || h.records.get(patientKey()) == nil {
		t.Errorf("want only the Patient stored: %v", h.records.keys())
	}
	st := h.server.Stats()
	if st.NotStored[ReasonCategoryNotProvided] != 3 || st.NotStored[ReasonNoCategory] != 1 {
		t.Errorf("not stored %v, want 3 out of the categories (Encounter, DiagnosticReport, Observation) and 1 without one", st.NotStored)
	}
	// Nothing at all in scope: acknowledged, nothing written.
	h.categories = nil
	wantAck(t, h.send(adt("A28", "S4", pid()), 1<<20), "AA", "S4")
	h.assertNothingLogged()
}

// A result message maps to a DiagnosticReport whose results are its
// Observations, with typed values.
func TestMLLPResultsMapToReportAndObservations(t *testing.T) {
	h := newMLLPHarness(t, policy.CategoryDemographics, policy.CategoryTestResults)
	wantAck(t, h.send(oru("R1", obx("1", "NM", "K", "4.1", "mmol/L", "F"), obx("2", "ST", "COMMENT", "haemolysed\\E\\sample", "", "C")), 5), "AA", "R1")
	report := h.records.get(recordKey("DiagnosticReport", hashID("rep", "FL778")))
	if report == nil {
		t.Fatalf("no DiagnosticReport: %v", h.records.keys())
	}
	if report["status"] != "final" || !strings.Contains(fmt.Sprint(report["result"]), "Observation/"+testODS+"-obs-") {
		t.Errorf("DiagnosticReport = %v", report)
	}
	obs1 := h.records.get(recordKey("Observation", hashID("obs", "FL778", "1", "1")))
	obs2 := h.records.get(recordKey("Observation", hashID("obs", "FL778", "2", "2")))
	if obs1 == nil || obs2 == nil {
		t.Fatalf("Observations missing: %v", h.records.keys())
	}
	if q := fmt.Sprint(obs1["valueQuantity"]); q != "map[unit:mmol/L value:4.1]" {
		t.Errorf("valueQuantity = %s", q)
	}
	if obs2["valueString"] != `haemolysed\sample` || obs2["status"] != "corrected" {
		t.Errorf("Observation 2 = %v", obs2)
	}
}

// A merge links the two patients: the surviving one replaces the prior
// one, which becomes inactive and replaced-by the survivor.
func TestMLLPMergeLinksPatients(t *testing.T) {
	h := newMLLPHarness(t, policy.CategoryDemographics)
	mrg := "MRG|K999999^^^RHW^MR"
	wantAck(t, h.send(adt("A40", "M1", pid(), mrg), 1<<20), "AA", "M1")
	prior := recordKey("Patient", hashID("pat", systemLocalPrefix+testODS+"/RHW", "K999999"))
	survivor := h.records.get(patientKey())
	if !strings.Contains(fmt.Sprint(survivor["link"]), "reference:"+prior+"] type:replaces") {
		t.Errorf("survivor link = %v", survivor["link"])
	}
	old := h.records.get(prior)
	if old == nil || old["active"] != false || !strings.Contains(fmt.Sprint(old["link"]), "reference:"+patientKey()+"] type:replaced-by") {
		t.Errorf("prior patient = %v", old)
	}
	wantAck(t, h.send(adt("A40", "M2", pid(), "MRG|"+testMRN+"^^^RHW^MR"), 1<<20), "AE", "M2")
	// A prior patient with another NHS number is not merged locally.
	wantAck(t, h.send(adt("A40", "M3", pid(), "MRG|K888888^^^RHW^MR~"+testNHSOther+"^^^NHS^NH"), 1<<20), "AE", "M3")
}

// Cancelling a discharge reopens the Encounter; cancelling a transfer
// keeps it in progress at the prior location.
func TestMLLPCancellations(t *testing.T) {
	h := newMLLPHarness(t, policy.CategoryDemographics, policy.CategoryInpatientStays)
	key := encounterKey("V20")
	wantAck(t, h.send(adt("A03", "D1", pid(), pv1("I", "V20", map[int]string{45: "202603051200"})), 1<<20), "AA", "D1")
	if enc := h.records.get(key); enc["status"] != "finished" || !strings.Contains(fmt.Sprint(enc["period"]), "end:") {
		t.Fatalf("discharged Encounter = %v", enc)
	}
	wantAck(t, h.send(adt("A13", "D2", pid(), pv1("I", "V20", map[int]string{45: "202603051200"})), 1<<20), "AA", "D2")
	if enc := h.records.get(key); enc["status"] != "in-progress" || strings.Contains(fmt.Sprint(enc["period"]), "end:") {
		t.Errorf("after a cancelled discharge the Encounter = %v", enc)
	}
	wantAck(t, h.send(adt("A12", "D3", pid(), pv1("I", "V20", map[int]string{3: "WARD 2"})), 1<<20), "AA", "D3")
	if enc := h.records.get(key); enc["status"] != "in-progress" || !strings.Contains(fmt.Sprint(enc["location"]), "WARD 2") {
		t.Errorf("after a cancelled transfer the Encounter = %v", enc)
	}
}

// Every message type and trigger the connector maps is accepted in every
// version it accepts.
func TestMLLPEveryTriggerAndVersion(t *testing.T) {
	h := newMLLPHarness(t, policy.CategoryDemographics, policy.CategoryInpatientStays, policy.CategoryAppointments, policy.CategoryTestResults)
	n := 0
	for _, version := range hl7Versions {
		for _, kind := range hl7Triggers {
			n++
			code, trigger, _ := strings.Cut(kind, "^")
			segs := []string{msh(code+"^"+trigger, fmt.Sprintf("T%d", n), version), pid()}
			switch {
			case trigger == "A40":
				segs = append(segs, "MRG|K1^^^RHW^MR")
			case code == "ORU":
				segs = append(segs, seg("OBR", map[int]string{1: "1", 3: "F1", 25: "F"}), obx("1", "NM", "K", "4", "", "F"))
			case trigger != "A28" && trigger != "A31":
				segs = append(segs, pv1("O", "V30", nil))
			}
			wantAck(t, h.send(strings.Join(segs, "\r"), 1<<20), "AA", fmt.Sprintf("T%d", n))
		}
	}
}
