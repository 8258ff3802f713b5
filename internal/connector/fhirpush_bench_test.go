/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// BenchmarkFHIRPush pushes transaction Bundles of 100 Observations over
// mutual TLS from several senders at once into a record service that
// counts them. It reports records stored per second (each acknowledged
// only after the record service answered its transaction) and the peak
// live heap of the whole process.
func BenchmarkFHIRPush(b *testing.B) {
	for _, senders := range []int{1, 4} {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) { benchmarkFHIRPush(b, senders, 20_000, 100) })
	}
}

func benchmarkFHIRPush(b *testing.B, senders, total, perBundle int) {
	records := newCountingRecordService(b)
	ca := newTestCA(b, "organisation CA")
	dir := b.TempDir()
	serverCert, serverKey := ca.issue(b, "connector", true)
	for name, data := range map[string][]byte{fileTLSCert: serverCert, fileTLSKey: serverKey, fileCA: ca.pem} {
		writeBenchFile(b, filepath.Join(dir, name), string(data))
	}
	cfg, _ := json.Marshal(Config{ODSCode: testODS, Region: "tvs", Kind: KindFHIR, Mode: ModePush, Endpoint: pushEndpoint,
		RecordService: records.server.URL + "/fhir", Categories: []string{policy.CategoryTestResults}})
	writeBenchFile(b, filepath.Join(dir, "config.json"), string(cfg))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	rt, err := NewFHIRPush(FHIRPushOptions{ConfigPath: filepath.Join(dir, "config.json"), CredentialsDir: dir, Listener: l})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = rt.Serve(ctx) }()
	h := &pushHarness{t: b}
	cert, key := ca.issue(b, "epr.rhw.example", false)
	client := h.httpClient(cert, key, ca.pem)
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = senders
	base := "https://" + l.Addr().String() + "/"

	bundles := make(chan []byte, senders)
	go func() {
		defer close(bundles)
		for start := 0; start < total*b.N; start += perBundle {
			entries := make([]map[string]any, 0, perBundle)
			for i := start; i < start+perBundle; i++ {
				o := observation(fmt.Sprintf("o%d", i), fmt.Sprintf("p%d", i%500))
				o["valueQuantity"] = map[string]any{"value": 5.4, "unit": "mmol/L"}
				entries = append(entries, put(o))
			}
			data, _ := json.Marshal(transaction("transaction", entries...))
			bundles <- data
		}
	}()
	stop := heapPeak()
	began := time.Now()
	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for data := range bundles {
				resp, err := client.Post(base, "application/fhir+json", bytes.NewReader(data))
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("answer %d", resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	peak := stop()
	if got := records.entries.Load(); got != int64(total*b.N) {
		b.Fatalf("stored %d of %d", got, total*b.N)
	}
	b.ReportMetric(float64(total*b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}
