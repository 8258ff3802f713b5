/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package main

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/connector"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// The stand-in serves progressPatients Patients, progressPageSize a page.
const (
	progressPageSize = 2
	progressPatients = 7
)

// progressSource is a FHIR stand-in over TLS serving progressPatients
// Patients, two a page, oldest first; block, when set, holds a search
// page at that offset until the connector is gone.
type progressSource struct {
	server *httptest.Server
	t0     time.Time

	mu sync.Mutex
	// searches are the queries of the Patient searches.
	searches []string
	block    int // offset of the page to hold; 0 holds none
	blocked  chan struct{}
}

func newProgressSource(t *testing.T) *progressSource {
	s := &progressSource{t0: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), blocked: make(chan struct{}, 1)}
	s.server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.server.Close)
	return s
}

func (s *progressSource) updated(i int) string {
	return s.t0.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano)
}

func (s *progressSource) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/fhir/oauth2/token" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"progress-token","token_type":"Bearer","expires_in":3600}`))
		return
	}
	q := r.URL.Query()
	offset, _ := strconv.Atoi(q.Get("_offset"))
	s.mu.Lock()
	if r.URL.Path == "/fhir/Patient" {
		s.searches = append(s.searches, r.URL.RawQuery)
	}
	block := s.block
	s.mu.Unlock()
	bundle := map[string]any{"resourceType": "Bundle", "type": "searchset", "entry": []any{}}
	if strings.HasSuffix(r.URL.Path, "/_history") {
		bundle["type"] = "history" // nothing was deleted at this source
	}
	if r.URL.Path == "/fhir/Patient" {
		if block != 0 && offset == block {
			s.blocked <- struct{}{}
			<-r.Context().Done() // the connector is killed while this page is served
			return
		}
		var matches []map[string]any
		for i := 1; i <= progressPatients; i++ {
			bound := strings.TrimPrefix(q.Get("_lastUpdated"), "ge")
			if bound == "" || s.updated(i) >= bound { // same format and zone: text order is time order
				matches = append(matches, map[string]any{"resourceType": "Patient", "id": fmt.Sprintf("p%d", i),
					"meta": map[string]any{"versionId": "1", "lastUpdated": s.updated(i)}})
			}
		}
		end := min(offset+progressPageSize, len(matches))
		entries := []any{}
		for _, m := range matches[min(offset, end):end] {
			entries = append(entries, map[string]any{"resource": m, "search": map[string]any{"mode": "match"}})
		}
		bundle["entry"] = entries
		if end < len(matches) {
			q.Set("_offset", strconv.Itoa(end))
			bundle["link"] = []any{map[string]any{"relation": "next", "url": s.server.URL + r.URL.Path + "?" + q.Encode()}}
		}
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	_ = json.NewEncoder(w).Encode(bundle)
}

// progressRecords is a record service stand-in counting the writes to
// each record; hold, when set, keeps the transaction with that many
// writes done (stored, not answered) until the connector is gone.
type progressRecords struct {
	server *httptest.Server

	mu           sync.Mutex
	writes       map[string]int
	transactions int
	hold         int
	held         chan struct{}
}

func newProgressRecords(t *testing.T) *progressRecords {
	rs := &progressRecords{writes: map[string]int{}, held: make(chan struct{}, 1)}
	rs.server = httptest.NewServer(http.HandlerFunc(rs.serve))
	t.Cleanup(rs.server.Close)
	return rs
}

func (rs *progressRecords) serve(w http.ResponseWriter, r *http.Request) {
	var tx struct {
		Entry []struct {
			Request struct {
				URL string `json:"url"`
			} `json:"request"`
		} `json:"entry"`
	}
	if err := json.NewDecoder(r.Body).Decode(&tx); err != nil {
		http.Error(w, "not a transaction", http.StatusBadRequest)
		return
	}
	rs.mu.Lock()
	responses := []any{}
	for _, e := range tx.Entry {
		rs.writes[e.Request.URL]++
		responses = append(responses, map[string]any{"response": map[string]any{"status": "200 OK"}})
	}
	rs.transactions++
	hold := rs.hold != 0 && rs.transactions == rs.hold
	rs.mu.Unlock()
	if hold {
		rs.held <- struct{}{}
		<-r.Context().Done() // stored, and the connector killed before it hears so
		return
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	_ = json.NewEncoder(w).Encode(map[string]any{"resourceType": "Bundle", "type": "transaction-response", "entry": responses})
}

func (rs *progressRecords) counts() map[string]int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	out := map[string]int{}
	for k, v := range rs.writes {
		out[k] = v
	}
	return out
}

// buildConnector builds this command into a temporary directory.
func buildConnector(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "connector")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the connector: %v\n%s", err, out)
	}
	return bin
}

// A connector process killed (SIGKILL, no chance to tidy up) while a page is
// under way starts again from the state file on the same volume: it
// neither sends everything again nor skips anything. Killed while the
// source serves page 2, page 1 is not sent again; killed after the record
// service stored page 2 but before the connector heard so, page 2 is sent
// again (at least once) and overwrites the same records (no duplicates).
func TestKilledMidPageResumesWithoutResendingOrSkipping(t *testing.T) {
	bin := buildConnector(t)
	for _, tc := range []struct {
		name string
		// kill arms the stand-ins and returns the signal to kill on.
		kill func(*progressSource, *progressRecords) chan struct{}
		// again are the records sent twice.
		again []int
	}{
		{"while the source serves page 2", func(s *progressSource, _ *progressRecords) chan struct{} {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.block = progressPageSize
			return s.blocked
		}, nil},
		{"after page 2 was stored, before its answer", func(_ *progressSource, rs *progressRecords) chan struct{} {
			rs.mu.Lock()
			defer rs.mu.Unlock()
			rs.hold = 2
			return rs.held
		}, []int{3, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			source, records := newProgressSource(t), newProgressRecords(t)
			dir := t.TempDir()
			creds := filepath.Join(dir, "credentials")
			volume := filepath.Join(dir, "volume") // the state claim
			ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: source.server.Certificate().Raw})
			for name, data := range map[string][]byte{"client-id": []byte("c"), "client-secret": []byte("s"), "ca.crt": ca} {
				if err := os.MkdirAll(creds, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(creds, name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfg, _ := json.Marshal(connector.Config{ODSCode: "Y5T03", Region: "y5", Kind: "FHIR", Mode: "Pull", Schedule: "1h",
				Endpoint: source.server.URL + "/fhir", RecordService: records.server.URL + "/fhir", Categories: []string{"Demographics"}})
			if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{"--config=" + filepath.Join(dir, "config.json"), "--credentials=" + creds,
				"--state=" + filepath.Join(volume, "state.json"), "--page-size=" + strconv.Itoa(progressPageSize)}

			killAt := tc.kill(source, records)
			first := exec.Command(bin, append(args, "--listen=127.0.0.1:0")...)
			if err := first.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- first.Wait() }()
			select {
			case <-killAt:
			case err := <-exited:
				t.Fatalf("the connector exited before page 2: %v", err)
			case <-time.After(time.Minute):
				_ = first.Process.Kill()
				t.Fatal("the connector never reached page 2")
			}
			if err := first.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-exited

			source.mu.Lock()
			source.block, source.searches = 0, nil
			source.mu.Unlock()
			records.mu.Lock()
			records.hold = 0
			records.mu.Unlock()
			second := exec.Command(bin, append(args, "--once")...)
			if out, err := second.CombinedOutput(); err != nil {
				t.Fatalf("the restarted connector failed: %v\n%s", err, out)
			}

			counts := records.counts()
			for i := 1; i <= progressPatients; i++ {
				key := fmt.Sprintf("Patient/Y5T03-p%d", i)
				want := 1
				if slices.Contains(tc.again, i) {
					want = 2
				}
				if counts[key] != want {
					t.Errorf("%s written %d times, want %d (all: %v)", key, counts[key], want, counts)
				}
			}
			if len(counts) != progressPatients {
				t.Errorf("records %v, want the %d patients", counts, progressPatients)
			}
			// The restart searched from the last recorded page, not from the beginning.
			source.mu.Lock()
			searches := slices.Clone(source.searches)
			source.mu.Unlock()
			wantBound := "_lastUpdated=ge" + strings.ReplaceAll(source.updated(2), ":", "%3A")
			if len(searches) == 0 || !strings.Contains(searches[0], wantBound) || strings.Contains(searches[0], "_offset") {
				t.Errorf("the restart's Patient searches %v do not start from %s", searches, wantBound)
			}
		})
	}
}

// The flags the operator's Deployment passes put the watermarks and the
// control ids on the state claim's mount, not on the pod's /tmp.
func TestTheOperatorsArgsPutProgressOnTheClaim(t *testing.T) {
	member := &shcrv1alpha1.MemberOrganisation{Spec: shcrv1alpha1.MemberOrganisationSpec{ODSCode: "Y5T04", Connector: &shcrv1alpha1.ConnectorSpec{
		Kind: shcrv1alpha1.ConnectorFHIR, Mode: shcrv1alpha1.ConnectorPush, Endpoint: "https://epr.example"}}}
	d := specs.ConnectorDeployment("y5", member)
	opts, err := parseFlags(d.Spec.Template.Spec.Containers[0].Args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if opts.connector.StatePath != specs.ConnectorStatePath || opts.mllpState != specs.ConnectorControlIDsPath ||
		!strings.HasPrefix(opts.connector.StatePath, specs.ConnectorStateDir+"/") || !strings.HasPrefix(opts.mllpState, specs.ConnectorStateDir+"/") {
		t.Errorf("--state %s, --mllp-state %s: want both under %s", opts.connector.StatePath, opts.mllpState, specs.ConnectorStateDir)
	}
	if want := ":" + strconv.Itoa(specs.ConnectorPushPort); opts.pushListen != want {
		t.Errorf("--push-listen %s, want %s (the port the operator opens)", opts.pushListen, want)
	}
}
