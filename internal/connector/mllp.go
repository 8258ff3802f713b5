/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// MLLP frame bytes: a message is <VT> message <FS><CR>.
const (
	mllpStart = 0x0b
	mllpEnd   = 0x1c
	mllpCR    = 0x0d
)

// Defaults of MLLPOptions.
const (
	DefaultMaxMessageBytes = 1 << 20
	defaultMLLPIdle        = 5 * time.Minute
	defaultMLLPTries       = 3
	defaultMLLPRetryWait   = 2 * time.Second
)

// Reasons a message's resources are acknowledged and not stored, as
// counted in MLLPStats.NotStored.
const (
	ReasonCategoryNotProvided = "category-not-provided"
	ReasonNoCategory          = "no-category"
)

// MLLPOptions configure an HL7 v2 listener.
type MLLPOptions struct {
	// ODSCode is the organisation; MSH-4 must name it, and every record is
	// stamped with it.
	ODSCode string
	// Source is the organisation's system, recorded as meta.source.
	Source string
	// RecordService is the FHIR base URL transactions are POSTed to.
	RecordService string
	// Categories gives the categories the organisation may provide now;
	// it is asked for every message, so a narrowed scope applies at once.
	Categories func() []string
	// StatePath is the file the control ids of committed messages are
	// appended to; put it on a persistent volume.
	StatePath string
	// MaxMessageBytes bounds one message; a larger frame closes the
	// connection. Zero means DefaultMaxMessageBytes.
	MaxMessageBytes int
	// TLS, when set, is the listener's TLS configuration (with
	// ClientAuth RequireAndVerifyClientCert for mutual TLS). Nil serves
	// plain TCP, which only tests and an explicit --mllp-plaintext use.
	TLS *tls.Config
	// HTTPClient calls the record service; nil means a client with a
	// 30-second timeout.
	HTTPClient *http.Client
	// Tries is how many times a transaction is tried before the message
	// is answered AR; RetryWait the wait between tries.
	Tries     int
	RetryWait time.Duration
	// IdleTimeout closes a connection that sends nothing for this long.
	IdleTimeout time.Duration
	Logger      *slog.Logger
}

// MLLPStats are the listener's counters.
type MLLPStats struct {
	Accepted, Duplicates, Errors, Rejected int64
	// NotStored counts resources acknowledged and not stored, by reason.
	NotStored map[string]int64
}

// MLLPServer receives HL7 v2 messages over MLLP, writes what they map to
// into the record service, and acknowledges each in original mode: AA only
// after the record service committed the message's transaction and its
// control id was recorded, AE for a message that cannot be mapped, AR for
// one refused or that could not be committed (the sender sends it again).
type MLLPServer struct {
	opts MLLPOptions
	prov provenance

	// mu serialises messages: a feed's order matters (an A11 after its A01).
	mu   sync.Mutex
	seen map[string]bool
	log  *os.File

	accepted, duplicates, errorsN, rejected atomic.Int64
	statsMu                                 sync.Mutex
	notStored                               map[string]int64
	ackSeq                                  atomic.Int64
}

// NewMLLPServer opens the control-id file and returns a listener.
func NewMLLPServer(opts MLLPOptions) (*MLLPServer, error) {
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient, _ = recordServiceClient(30 * time.Second)
	}
	if opts.Tries <= 0 {
		opts.Tries = defaultMLLPTries
	}
	if opts.RetryWait <= 0 {
		opts.RetryWait = defaultMLLPRetryWait
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = defaultMLLPIdle
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Categories == nil {
		opts.Categories = func() []string { return nil }
	}
	s := &MLLPServer{opts: opts, prov: newProvenance(opts.ODSCode, opts.Source), seen: map[string]bool{}, notStored: map[string]int64{}}
	if err := s.openLog(); err != nil {
		return nil, err
	}
	return s, nil
}

// openLog reads the control ids already committed and opens the file to
// append to it. Each line is the SHA-256 of sending application, facility
// and control id, so the file names no patient and no message content.
func (s *MLLPServer) openLog() error {
	if err := os.MkdirAll(filepath.Dir(s.opts.StatePath), 0o700); err != nil {
		return fmt.Errorf("creating the directory of %s: %w", s.opts.StatePath, err)
	}
	data, err := os.ReadFile(s.opts.StatePath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reading the control ids in %s: %w", s.opts.StatePath, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if len(line) == sha256.Size*2 {
			s.seen[line] = true
		}
	}
	f, err := os.OpenFile(s.opts.StatePath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("opening %s: %w", s.opts.StatePath, err)
	}
	s.log = f
	return nil
}

// Close closes the control-id file.
func (s *MLLPServer) Close() error { return s.log.Close() }

// Stats are the counters so far.
func (s *MLLPServer) Stats() MLLPStats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	out := MLLPStats{Accepted: s.accepted.Load(), Duplicates: s.duplicates.Load(), Errors: s.errorsN.Load(),
		Rejected: s.rejected.Load(), NotStored: map[string]int64{}}
	for k, v := range s.notStored {
		out.NotStored[k] = v
	}
	return out
}

// Serve accepts connections on l (wrapped in TLS when configured) until
// ctx ends.
func (s *MLLPServer) Serve(ctx context.Context, l net.Listener) error {
	if s.opts.TLS != nil {
		l = tls.NewListener(l, s.opts.TLS)
	}
	stop := context.AfterFunc(ctx, func() { _ = l.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accepting MLLP connections: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(ctx, conn)
		}()
	}
}

// errFraming is a stream that is not MLLP; errTooLarge a frame over the limit.
var (
	errFraming  = errors.New("not an MLLP frame")
	errTooLarge = errors.New("message larger than the limit")
)

// serveConn answers each framed message on one connection in turn. A
// framing error or an oversize message closes the connection: where the
// next frame starts is unknown, so nothing more on it can be trusted.
func (s *MLLPServer) serveConn(ctx context.Context, conn net.Conn) {
	defer func() { _ = conn.Close() }()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	r := bufio.NewReaderSize(conn, 64<<10)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(s.opts.IdleTimeout))
		msg, err := readFrame(r, s.opts.MaxMessageBytes)
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				s.opts.Logger.Warn("MLLP connection closed", "remote", conn.RemoteAddr().String(), "reason", err.Error())
			}
			return
		}
		ack := s.Handle(ctx, msg)
		_ = conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := conn.Write(frame(ack)); err != nil {
			return
		}
	}
}

// readFrame reads one MLLP frame's message.
func readFrame(r *bufio.Reader, limit int) ([]byte, error) {
	b, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	if b != mllpStart {
		return nil, errFraming
	}
	var msg []byte
	for {
		chunk, err := r.ReadSlice(mllpEnd)
		if len(msg)+len(chunk) > limit+1 {
			return nil, errTooLarge
		}
		msg = append(msg, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return nil, err
		}
		break
	}
	msg = msg[:len(msg)-1]
	if bytes.IndexByte(msg, mllpStart) >= 0 {
		return nil, errFraming
	}
	if b, err := r.ReadByte(); err != nil || b != mllpCR {
		return nil, errFraming
	}
	return msg, nil
}

// frame wraps a message in MLLP.
func frame(msg []byte) []byte {
	out := make([]byte, 0, len(msg)+3)
	out = append(out, mllpStart)
	out = append(out, msg...)
	return append(out, mllpEnd, mllpCR)
}

// Handle processes one message and returns its acknowledgement.
func (s *MLLPServer) Handle(ctx context.Context, data []byte) []byte {
	m, err := parseHL7(data)
	if err != nil {
		return s.answer(m, err) // m is nil when even the MSH could not be read
	}
	if facility := m.Get("MSH", 1, 4, 1); facility != s.opts.ODSCode {
		return s.answer(m, &hl7Error{Segment: "MSH", Sequence: 1, Field: 4, Code: hl7ApplicationError, Reject: true,
			Text: "MSH-4: the sending facility is not the organisation this connector serves"})
	}
	key := controlKey(m)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[key] {
		s.duplicates.Add(1)
		return s.ack(m, "AA", "already committed", nil)
	}
	mapping, err := mapHL7(m, s.opts.ODSCode)
	if err != nil {
		return s.answer(m, err)
	}
	allowed := s.opts.Categories()
	if mapping.Repoint != nil && slices.Contains(allowed, policy.CategoryDemographics) {
		// A merge moves the prior patient's records first (hl7merge.go);
		// the Patients that record the merge are written after.
		if err := s.repoint(ctx, mapping.Repoint, allowed); err != nil {
			s.opts.Logger.Warn("HL7 merge not committed; answered AR for the sender to send it again", "error", err.Error())
			return s.answer(m, &hl7Error{Code: hl7ApplicationError, Reject: true, Text: "the record service did not commit the merge; send it again"})
		}
	}
	var entries []map[string]any
	for _, r := range mapping.Resources {
		switch {
		case r.Category == "":
			s.count(ReasonNoCategory)
			continue
		case !slices.Contains(allowed, r.Category):
			s.count(ReasonCategoryNotProvided)
			continue
		}
		entry, err := s.prov.toRecord(r.Source)
		if err != nil {
			return s.answer(m, &hl7Error{Code: hl7ApplicationError, Text: "mapping: " + err.Error()})
		}
		entries = append(entries, entry)
	}
	if len(entries) > 0 {
		if err := s.commit(ctx, entries); err != nil {
			s.opts.Logger.Warn("HL7 message not committed; answered AR for the sender to send it again", "error", err.Error())
			return s.answer(m, &hl7Error{Code: hl7ApplicationError, Reject: true, Text: "the record service did not commit the message; send it again"})
		}
	}
	if err := s.remember(key); err != nil {
		s.opts.Logger.Error("Recording a committed control id", "error", err.Error())
		return s.answer(m, &hl7Error{Code: hl7ApplicationError, Reject: true, Text: "the connector could not record the message; send it again"})
	}
	s.accepted.Add(1)
	return s.ack(m, "AA", "", nil)
}

func (s *MLLPServer) count(reason string) {
	s.statsMu.Lock()
	s.notStored[reason]++
	s.statsMu.Unlock()
}

// controlKey identifies a message among all those the organisation sends.
func controlKey(m *hl7Message) string {
	sum := sha256.Sum256([]byte(m.Get("MSH", 1, 3, 1) + "\x00" + m.Get("MSH", 1, 4, 1) + "\x00" + m.Get("MSH", 1, 10, 1)))
	return hex.EncodeToString(sum[:])
}

// remember records a committed control id durably before it is acknowledged.
func (s *MLLPServer) remember(key string) error {
	if _, err := s.log.WriteString(key + "\n"); err != nil {
		return err
	}
	if err := s.log.Sync(); err != nil {
		return err
	}
	s.seen[key] = true
	if err := s.compactControlIDs(); err != nil { // the message is committed either way
		s.opts.Logger.Error("Compacting the control-id file", "error", err.Error())
	}
	return nil
}

// commit writes the entries in one transaction, trying again on failure.
func (s *MLLPServer) commit(ctx context.Context, entries []map[string]any) error {
	body, err := encodeTransaction(entries)
	if err != nil {
		return err
	}
	var last error
	for try := 0; try < s.opts.Tries; try++ {
		if try > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(s.opts.RetryWait):
			}
		}
		if last = s.post(ctx, body, len(entries)); last == nil {
			return nil
		}
	}
	return last
}

func (s *MLLPServer) post(ctx context.Context, body []byte, sent int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.RecordService, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Accept", "application/fhir+json")
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("record service: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("record service: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("record service answered %d", resp.StatusCode)
	}
	return checkTransactionResponse(data, sent)
}

// answer acknowledges a message that failed: AR when refused, AE when it
// cannot be mapped.
func (s *MLLPServer) answer(m *hl7Message, err error) []byte {
	var he *hl7Error
	if !errors.As(err, &he) {
		he = &hl7Error{Code: hl7ApplicationError, Text: "internal error", Reject: true}
	}
	if he.Reject {
		s.rejected.Add(1)
		return s.ack(m, "AR", he.Text, he)
	}
	s.errorsN.Add(1)
	return s.ack(m, "AE", he.Text, he)
}

// ack builds an original-mode acknowledgement with the standard encoding
// characters. m is nil when the message's MSH could not be read: the ACK
// then has no control id to name.
func (s *MLLPServer) ack(m *hl7Message, code, text string, he *hl7Error) []byte {
	get := func(field, comp int) string {
		if m == nil {
			return ""
		}
		return escapeHL7(m.Get("MSH", 1, field, comp))
	}
	version, trigger, control := get(12, 1), get(9, 2), get(10, 1)
	if version == "" || m == nil || !slices.Contains(hl7Versions, m.Get("MSH", 1, 12, 1)) {
		version = "2.5.1"
	}
	now := time.Now().UTC().Format("20060102150405") + "+0000"
	var b strings.Builder
	fmt.Fprintf(&b, "MSH|^~\\&|%s|%s|%s|%s|%s||ACK^%s^ACK|%s-%d|P|%s\r", get(5, 1), get(6, 1), get(3, 1), get(4, 1), now,
		trigger, s.opts.ODSCode, s.ackSeq.Add(1), version)
	fmt.Fprintf(&b, "MSA|%s|%s|%s\r", code, control, escapeHL7(text))
	if he != nil {
		seq := ""
		if he.Segment != "" {
			seq = fmt.Sprint(he.Sequence)
		}
		field := ""
		if he.Field > 0 {
			field = fmt.Sprint(he.Field)
		}
		// ERR-1 (v2.3/v2.4 location and code) and ERR-2..4 (v2.5).
		fmt.Fprintf(&b, "ERR|%s^%s^%s^%s&%s&HL70357|%s^%s^%s|%s^%s^HL70357|E\r",
			he.Segment, seq, field, he.Code, escapeHL7(he.Text), he.Segment, seq, field, he.Code, escapeHL7(he.Text))
	}
	return []byte(b.String())
}
