/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shcr-io/shcr-operator/internal/connector"
	"github.com/shcr-io/shcr-operator/internal/policy"
	"github.com/shcr-io/shcr-operator/test/fhirstore"
)

// hl7Feed is RTH's HL7v2 connector (its MLLP listener, over real TCP)
// writing into a record service stand-in that the gateway reads: what a
// clinician sees after admissions, cancellations and merges.
type hl7Feed struct {
	t     *testing.T
	store *fhirstore.Store
	addr  string
}

func newHL7Feed(t *testing.T) *hl7Feed {
	t.Helper()
	f := &hl7Feed{t: t, store: fhirstore.New(t)}
	server, err := connector.NewMLLPServer(connector.MLLPOptions{
		ODSCode: "RTH", Source: "mllp://pas.rth.example", RecordService: f.store.Base(),
		Categories: func() []string { return policy.Categories }, StatePath: filepath.Join(t.TempDir(), "control-ids"),
		Tries: 1, RetryWait: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, l) }()
	t.Cleanup(func() { cancel(); <-done; _ = server.Close() })
	f.addr = l.Addr().String()
	return f
}

// send sends one message framed in MLLP and returns MSA-1 of the answer,
// and the keys of the records the message added to the record service.
func (f *hl7Feed) send(msg string) (string, []string) {
	f.t.Helper()
	before := f.store.Keys()
	conn, err := net.Dial("tcp", f.addr)
	if err != nil {
		f.t.Fatal(err)
	}
	defer conn.Close() //nolint:errcheck // test
	if _, err := conn.Write([]byte("\x0b" + msg + "\x1c\r")); err != nil {
		f.t.Fatal(err)
	}
	ack, err := bufio.NewReader(conn).ReadString('\x1c')
	if err != nil {
		f.t.Fatal(err)
	}
	code := ""
	for _, segment := range strings.Split(ack, "\r") {
		if fields := strings.Split(strings.TrimPrefix(segment, "\x0b"), "|"); fields[0] == "MSA" && len(fields) > 1 {
			code = fields[1]
		}
	}
	var added []string
	for _, k := range f.store.Keys() {
		if !slices.Contains(before, k) {
			added = append(added, k)
		}
	}
	return code, added
}

// adtMessage is an ADT message from RTH's patient administration system.
func adtMessage(trigger, control string, segments ...string) string {
	return strings.Join(append([]string{
		"MSH|^~\\&|PAS|RTH|SHCR|TVS|20261101090000||ADT^" + trigger + "^ADT_A01|" + control + "|P|2.4",
		"EVN|" + trigger + "|20261101090000",
	}, segments...), "\r") + "\r"
}

// pidSegment names a patient by RTH's record number and, when nhs is
// not empty, the NHS number.
func pidSegment(mrn, nhs string) string {
	ids := mrn + "^^^RTH^MR"
	if nhs != "" {
		ids += "~" + nhs + "^^^NHS^NH"
	}
	return "PID|1||" + ids + "||SMITH^JO||19800101|F"
}

// outpatientVisit is PV1 of an outpatient attendance (class AMB, the
// Appointments category, which the clinicians' policy grants).
func outpatientVisit(visit string) string {
	fields := make([]string, 45)
	fields[0], fields[1], fields[2], fields[3] = "PV1", "1", "O", "CLINIC 3^^^RTH"
	fields[19], fields[44] = visit+"^^^RTH^VN", "202611010900"
	return strings.Join(fields, "|")
}

// encountersOf is what the clinician gets from the gateway searching the
// Encounters of the patient with NHS number nhs: the status answered and
// each entry's id and status.
func encountersOf(t *testing.T, h *harness, nhs string, extra url.Values) (int, map[string]string) {
	t.Helper()
	q := url.Values{"patient.identifier": {SystemNHSNumber + "|" + nhs}}
	for k, v := range extra {
		q[k] = v
	}
	resp := h.get(t, "/Encounter?"+q.Encode(), clinician().sign(t))
	out := map[string]string{}
	if resp.status != http.StatusOK {
		return resp.status, out
	}
	var b struct {
		Entry []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
				ID           string `json:"id"`
				Status       string `json:"status"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(resp.body, &b); err != nil {
		t.Fatalf("not a Bundle: %s", resp.body)
	}
	for _, e := range b.Entry {
		if e.Resource.ResourceType == "Encounter" {
			out[e.Resource.ID] = e.Resource.Status
		}
	}
	return resp.status, out
}

// gatewayOver is a gateway whose record service is the feed's.
func gatewayOver(t *testing.T, f *hl7Feed) *harness {
	t.Helper()
	upstream, err := url.Parse(f.store.Base())
	if err != nil {
		t.Fatal(err)
	}
	return newHarness(t, func(s *setup) {
		s.config = func(c *Config) { c.Upstream = upstream }
	})
}

func idOf(t *testing.T, keys []string, resourceType string) string {
	t.Helper()
	for _, k := range keys {
		if id, ok := strings.CutPrefix(k, resourceType+"/"); ok {
			return id
		}
	}
	t.Fatalf("no %s among %v", resourceType, keys)
	return ""
}

// A cancelled attendance (A11) is shown to the clinician, marked
// entered-in-error, and no longer matches a search for current ones: a
// clinician who saw the admission learns it was cancelled, and a
// client listing current encounters leaves it out. An objecting patient's
// attendance is never shown, before or after its cancellation.
func TestHL7CancelledEncounterIsShownEnteredInError(t *testing.T) {
	feed := newHL7Feed(t)
	h := gatewayOver(t, feed)

	code, added := feed.send(adtMessage("A04", "C1", pidSegment("R100", alice), outpatientVisit("VA")))
	if code != "AA" {
		t.Fatalf("A04 answered %s", code)
	}
	id := idOf(t, added, "Encounter")
	if status, got := encountersOf(t, h, alice, nil); status != http.StatusOK || got[id] != "arrived" {
		t.Fatalf("before the cancellation the clinician gets %d %v, want the attendance arrived", status, got)
	}
	current := url.Values{"status": {"planned,arrived,in-progress,finished"}}
	if code, _ := feed.send(adtMessage("A11", "C2", pidSegment("R100", alice), outpatientVisit("VA"))); code != "AA" {
		t.Fatalf("A11 answered %s", code)
	}
	if status, got := encountersOf(t, h, alice, nil); status != http.StatusOK || got[id] != "entered-in-error" {
		t.Errorf("after the cancellation the clinician gets %d %v, want the attendance marked entered-in-error", status, got)
	}
	if status, got := encountersOf(t, h, alice, current); status != http.StatusOK || len(got) != 0 {
		t.Errorf("a search for current encounters answers %d %v, want 200 without the cancelled one", status, got)
	}
	read := h.get(t, "/Encounter/"+id, clinician().sign(t))
	if read.status != http.StatusOK || !strings.Contains(string(read.body), `"status":"entered-in-error"`) {
		t.Errorf("reading the cancelled attendance: %d %s", read.status, read.body)
	}

	// bob objects to all sharing.
	code, added = feed.send(adtMessage("A04", "C3", pidSegment("R200", bob), outpatientVisit("VB")))
	bobs := idOf(t, added, "Encounter")
	if code != "AA" {
		t.Fatalf("A04 for bob answered %s", code)
	}
	for _, step := range []string{"registered", "cancelled"} {
		if _, got := encountersOf(t, h, bob, nil); len(got) != 0 {
			t.Errorf("%s: the objecting patient's attendance is shown: %v", step, got)
		}
		if r := h.get(t, "/Encounter/"+bobs, clinician().sign(t)); r.status == http.StatusOK {
			t.Errorf("%s: the objecting patient's attendance is readable", step)
		}
		if step == "registered" {
			if code, _ := feed.send(adtMessage("A11", "C4", pidSegment("R200", bob), outpatientVisit("VB"))); code != "AA" {
				t.Fatalf("A11 for bob answered %s", code)
			}
		}
	}
}

// A merge (A40) of a record without an NHS number into alice's: the
// attendance recorded under the prior record, which the gateway withheld
// (it named no NHS number), is found by alice's NHS number after the merge,
// and both Patients are shown, the prior one inactive and replaced by
// alice's. Merged into bob's (who objects), the prior record's attendance
// stays withheld. A prior record with another NHS number (carol's) is not
// merged, so neither patient's records cross to the other.
func TestHL7MergedRecordsAreFoundByTheSurvivingNHSNumberAndNothingLeaks(t *testing.T) {
	feed := newHL7Feed(t)
	h := gatewayOver(t, feed)

	if code, _ := feed.send(adtMessage("A04", "M1", pidSegment("R100", alice), outpatientVisit("V1"))); code != "AA" {
		t.Fatal("A04 for alice not accepted")
	}
	code, added := feed.send(adtMessage("A04", "M2", pidSegment("R101", ""), outpatientVisit("V2")))
	if code != "AA" {
		t.Fatalf("A04 for the prior record answered %s", code)
	}
	prior := idOf(t, added, "Encounter")
	if _, got := encountersOf(t, h, alice, nil); got[prior] != "" {
		t.Fatalf("the prior record's attendance is found by alice's NHS number before the merge: %v", got)
	}
	if code, _ := feed.send(adtMessage("A40", "M3", pidSegment("R100", alice), "MRG|R101^^^RTH^MR")); code != "AA" {
		t.Fatalf("A40 answered %s", code)
	}
	status, got := encountersOf(t, h, alice, nil)
	if status != http.StatusOK || got[prior] != "arrived" || len(got) != 2 {
		t.Errorf("after the merge alice's attendances are %d %v, want both, the prior record's included", status, got)
	}
	patients := h.get(t, "/Patient?"+url.Values{"identifier": {SystemNHSNumber + "|" + alice}}.Encode(), clinician().sign(t))
	if patients.status != http.StatusOK || strings.Count(string(patients.body), `"resourceType":"Patient"`) != 2 ||
		!strings.Contains(string(patients.body), `"type":"replaced-by"`) || !strings.Contains(string(patients.body), `"active":false`) {
		t.Errorf("alice's Patients after the merge: %d %s", patients.status, patients.body)
	}

	// Merged into an objecting patient: the merged attendance stays withheld.
	if code, _ := feed.send(adtMessage("A04", "M4", pidSegment("R200", bob), outpatientVisit("V3"))); code != "AA" {
		t.Fatal("A04 for bob not accepted")
	}
	_, added = feed.send(adtMessage("A04", "M5", pidSegment("R201", ""), outpatientVisit("V4")))
	bobsPrior := idOf(t, added, "Encounter")
	if code, _ := feed.send(adtMessage("A40", "M6", pidSegment("R200", bob), "MRG|R201^^^RTH^MR")); code != "AA" {
		t.Fatalf("A40 into bob answered %s", code)
	}
	if _, got := encountersOf(t, h, bob, nil); len(got) != 0 {
		t.Errorf("bob objects, but his merged attendances are shown: %v", got)
	}
	if r := h.get(t, "/Encounter/"+bobsPrior, clinician().sign(t)); r.status == http.StatusOK {
		t.Errorf("the attendance merged into bob's record is readable: %s", r.body)
	}
	if _, got := encountersOf(t, h, alice, nil); got[bobsPrior] != "" {
		t.Errorf("bob's merged attendance is found by alice's NHS number")
	}

	// A prior record with another NHS number is refused.
	if code, _ := feed.send(adtMessage("A04", "M7", pidSegment("R300", carol), outpatientVisit("V5"))); code != "AA" {
		t.Fatal("A04 for carol not accepted")
	}
	if code, _ := feed.send(adtMessage("A40", "M8", pidSegment("R100", alice), "MRG|R300^^^RTH^MR~"+carol+"^^^NHS^NH")); code != "AE" {
		t.Errorf("an A40 merging carol's NHS number into alice's answered %s, want AE", code)
	}
	if _, got := encountersOf(t, h, alice, nil); len(got) != 2 {
		t.Errorf("after the refused merge alice's attendances are %v, want her two", got)
	}
	// carol objects to RTH's data: hers stay withheld.
	if _, got := encountersOf(t, h, carol, nil); len(got) != 0 {
		t.Errorf("carol objects to RTH's data, but it is shown: %v", got)
	}
}
