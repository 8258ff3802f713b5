/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// BenchmarkMLLP sends HL7v2 messages (admissions and results, alternately,
// each a new control id) over real TCP on loopback, from `senders`
// connections at once, each waiting for its AA before sending the next:
// every AA comes after the record service answered the message's
// transaction and its control id was fsynced. It reports messages
// acknowledged per second and the peak live heap of the whole process
// (record service included). Run it with:
//
//	go test -run '^$' -bench BenchmarkMLLP -benchtime 1x -count 3 ./internal/connector/
func BenchmarkMLLP(b *testing.B) {
	const perSender = 2000
	for _, senders := range []int{1, 4} {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) {
			benchmarkMLLP(b, senders, perSender)
		})
	}
}

func benchmarkMLLP(b *testing.B, senders, perSender int) {
	sink := newCountingRecordService(b)
	var elapsed time.Duration
	var peak uint64
	runs := 0
	for b.Loop() {
		runs++
		s, err := NewMLLPServer(MLLPOptions{ODSCode: testODS, Source: "mllp://pas", RecordService: sink.server.URL + "/fhir",
			Categories: func() []string {
				return []string{policy.CategoryDemographics, policy.CategoryInpatientStays, policy.CategoryTestResults}
			},
			StatePath: filepath.Join(b.TempDir(), "ids")})
		if err != nil {
			b.Fatal(err)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- s.Serve(ctx, l) }()
		runtime.GC()
		stop := heapPeak()
		start := time.Now()
		var wg sync.WaitGroup
		for sender := range senders {
			wg.Go(func() { sendBench(b, l.Addr().String(), sender, perSender) })
		}
		wg.Wait()
		elapsed += time.Since(start)
		peak = max(peak, stop())
		cancel()
		if err := <-served; err != nil {
			b.Fatal(err)
		}
		_ = s.Close()
		if got := s.Stats().Accepted; got != int64(senders*perSender) {
			b.Fatalf("accepted %d, want %d", got, senders*perSender)
		}
	}
	b.ReportMetric(float64(senders*perSender*runs)/elapsed.Seconds(), "messages/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

func sendBench(b *testing.B, addr string, sender, n int) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Error(err)
		return
	}
	defer func() { _ = conn.Close() }()
	r := bufio.NewReader(conn)
	for i := range n {
		control := fmt.Sprintf("B%d-%d", sender, i)
		msg := adt("A01", control, pid(), pv1("I", control, nil))
		if i%2 == 1 {
			msg = oru(control, obx("1", "NM", "K", "4.1", "mmol/L", "F"), obx("2", "NM", "NA", "139", "mmol/L", "F"))
		}
		if _, err := conn.Write(frame([]byte(msg))); err != nil {
			b.Error(err)
			return
		}
		ack, err := readFrame(r, 1<<20)
		if err != nil {
			b.Error(err)
			return
		}
		if m, _ := parseHL7(ack); m == nil || m.Get("MSA", 1, 1, 1) != "AA" {
			b.Errorf("ACK %q", ack)
			return
		}
	}
}
