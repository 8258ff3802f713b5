/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchTypes share the generated source's resources equally.
var benchTypes = []string{"Patient", "MedicationRequest", "Observation", "AllergyIntolerance"}

// generatedSource serves n resources per type, made on demand so that the
// source holds nothing in memory; every ten share a lastUpdated instant.
type generatedSource struct {
	server *httptest.Server
	n      int
}

func newGeneratedSource(b *testing.B, n int) *generatedSource {
	g := &generatedSource{n: n}
	g.server = httptest.NewTLSServer(http.HandlerFunc(g.serve))
	b.Cleanup(g.server.Close)
	return g
}

func (g *generatedSource) instant(i int) time.Time { return t0.Add(time.Duration(i/10) * time.Second) }

func (g *generatedSource) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/fhir/oauth2/token" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, testToken)
		return
	}
	if strings.HasSuffix(r.URL.Path, "/_history") { // nothing was deleted
		w.Header().Set("Content-Type", "application/fhir+json")
		_, _ = fmt.Fprint(w, `{"resourceType":"Bundle","type":"history","entry":[]}`)
		return
	}
	resourceType := strings.TrimPrefix(r.URL.Path, "/fhir/")
	q := r.URL.Query()
	count, _ := strconv.Atoi(q.Get("_count"))
	start, _ := strconv.Atoi(q.Get("_offset"))
	n := g.n
	if !slices.Contains(benchTypes, resourceType) {
		n = 0
	}
	if bound := q.Get("_lastUpdated"); bound != "" && start == 0 {
		since, _ := time.Parse(time.RFC3339Nano, strings.TrimPrefix(bound, "ge"))
		for start < n && g.instant(start).Before(since) {
			start++
		}
	}
	end := min(start+count, n)
	w.Header().Set("Content-Type", "application/fhir+json")
	_, _ = fmt.Fprint(w, `{"resourceType":"Bundle","type":"searchset","entry":[`)
	for i := start; i < end; i++ {
		if i > start {
			_, _ = fmt.Fprint(w, ",")
		}
		_, _ = fmt.Fprintf(w, `{"search":{"mode":"match"},"resource":{"resourceType":%q,"id":"%s-%d",`+
			`"meta":{"versionId":"1","lastUpdated":%q,"profile":["https://fhir.hl7.org.uk/StructureDefinition/UKCore-%s"]},`+
			`"identifier":[{"system":"https://fhir.example.nhs.uk/Id/local","value":"%d"}],"status":"final",`+
			`"code":{"coding":[{"system":"http://snomed.info/sct","code":"1000731000000107","display":"Serum creatinine level"}]},`+
			`"subject":{"reference":"Patient/p-%d","identifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9000000009"}},`+
			`"effectiveDateTime":"2026-02-28T09:30:00Z","valueQuantity":{"value":72.5,"unit":"umol/L","system":"http://unitsofmeasure.org","code":"umol/L"}}}`,
			resourceType, strings.ToLower(resourceType[:1]), i, g.instant(i).Format(time.RFC3339Nano), resourceType, i, i/4)
	}
	_, _ = fmt.Fprint(w, `]`)
	if end < n {
		next := *r.URL
		nq := next.Query()
		nq.Set("_offset", strconv.Itoa(end))
		next.RawQuery = nq.Encode()
		_, _ = fmt.Fprintf(w, `,"link":[{"relation":"next","url":%q}]`, g.server.URL+next.RequestURI())
	}
	_, _ = fmt.Fprint(w, `}`)
}

// countingRecordService reads each transaction, counts its entries and
// keeps nothing.
type countingRecordService struct {
	server  *httptest.Server
	entries atomic.Int64
}

func newCountingRecordService(b *testing.B) *countingRecordService {
	rs := &countingRecordService{}
	rs.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var tx struct {
			Entry []struct {
				Request struct {
					URL string `json:"url"`
				} `json:"request"`
			} `json:"entry"`
		}
		if err := json.NewDecoder(r.Body).Decode(&tx); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rs.entries.Add(int64(len(tx.Entry)))
		_, _ = fmt.Fprint(w, `{"resourceType":"Bundle","type":"transaction-response","entry":[`)
		for i := range tx.Entry {
			if i > 0 {
				_, _ = fmt.Fprint(w, ",")
			}
			_, _ = fmt.Fprint(w, `{"response":{"status":"201 Created"}}`)
		}
		_, _ = fmt.Fprint(w, `]}`)
	}))
	b.Cleanup(rs.server.Close)
	return rs
}

// heapPeak samples the live heap until stopped and gives its peak.
func heapPeak() (stop func() uint64) {
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var m runtime.MemStats
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// BenchmarkForward pulls 100,000 resources (four types) from a source over
// TLS on loopback, with OAuth2, into a record service that counts them:
// one full first pull per iteration. It reports resources forwarded per
// second and the peak live heap of the whole process (source and record
// service included). Run it with:
//
//	go test -run '^$' -bench BenchmarkForward -benchtime 1x ./internal/connector/
func BenchmarkForward(b *testing.B) {
	const total = 100_000
	for _, pageSize := range []int{100, 1000} {
		b.Run(fmt.Sprintf("page=%d", pageSize), func(b *testing.B) {
			benchmarkForward(b, total, pageSize)
		})
	}
}

func benchmarkForward(b *testing.B, total, pageSize int) {
	src := newGeneratedSource(b, total/len(benchTypes))
	sink := newCountingRecordService(b)
	dir := b.TempDir()
	creds := filepath.Join(dir, "credentials")
	writeBenchFile(b, filepath.Join(creds, fileClientID), testClientID)
	writeBenchFile(b, filepath.Join(creds, fileClientSecret), testClientSecret)
	writeBenchFile(b, filepath.Join(creds, fileCA), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: src.server.Certificate().Raw})))
	cfg, _ := json.Marshal(Config{ODSCode: testODS, Kind: KindFHIR, Endpoint: src.server.URL + "/fhir", Schedule: "15m",
		RecordService: sink.server.URL + "/fhir", Categories: []string{"Allergies", "Demographics", "Medications", "TestResults"}})
	writeBenchFile(b, filepath.Join(dir, "config.json"), string(cfg))

	var elapsed time.Duration
	var peak uint64
	runs := 0
	for b.Loop() {
		runs++
		sink.entries.Store(0)
		c, err := New(Options{ConfigPath: filepath.Join(dir, "config.json"), CredentialsDir: creds,
			StatePath: filepath.Join(dir, fmt.Sprintf("state-%d.json", runs)), PageSize: pageSize})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		stop := heapPeak()
		start := time.Now()
		if err := c.RunCycle(b.Context()); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		peak = max(peak, stop())
		if got := sink.entries.Load(); got != int64(total) {
			b.Fatalf("forwarded %d, want %d", got, total)
		}
	}
	b.ReportMetric(float64(total*runs)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

func writeBenchFile(b *testing.B, path, content string) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		b.Fatal(err)
	}
}
