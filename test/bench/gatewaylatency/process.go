/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/shcr-io/shcr-operator/test/bench"
)

// gatewayFiles is what the gateway process is given: the record service's
// base URL and the files the rig wrote.
type gatewayFiles struct {
	upstream, bundleDir, jwksFile, objectionsFile, auditDir string
	maxPageSize                                             int
	// oneCore runs the gateway with GOMAXPROCS=1 and, where taskset is
	// installed, pinned to CPU 0 (-mode capacity); otherwise it has the
	// machine's cores, shared with the rig.
	oneCore bool
	// auditStdout, when not nil, is where the gateway's stdout goes, and
	// the gateway runs with --audit-sink=Stdout (as the region's default
	// sink) instead of File.
	auditStdout *os.File
}

// gatewayProcess is cmd/gateway run as its own process, as it ships. In
// -mode capacity it has GOMAXPROCS=1 and, where taskset is installed, is
// pinned to CPU 0, so that its capacity is that of one core; the rig (load
// and the FHIR stand-in) runs beside it.
type gatewayProcess struct {
	cmd  *exec.Cmd
	base string
	// pinned says whether taskset pinned the gateway to CPU 0.
	pinned bool
	exited chan struct{}
}

// startGatewayProcess builds cmd/gateway into dir, starts it on a loopback
// port with the flags the operator gives it (audit to files), and waits
// until its /readyz answers 200.
func startGatewayProcess(ctx context.Context, dir string, f gatewayFiles) (*gatewayProcess, error) {
	bin := filepath.Join(dir, "gateway")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/shcr-io/shcr-operator/cmd/gateway")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building cmd/gateway: %v: %s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	_ = l.Close()
	sink := []string{"--audit-sink=File", "--audit-dir=" + f.auditDir}
	if f.auditStdout != nil {
		sink = []string{"--audit-sink=Stdout"}
	}
	args := append([]string{
		"--listen=" + addr, "--upstream=" + f.upstream, "--external-url=http://" + addr + "/", "--region=" + bench.Region,
		"--bundle-dir=" + f.bundleDir,
		"--issuer=" + issuer, "--audience=" + audience, "--jwks-file=" + f.jwksFile, "--objections-file=" + f.objectionsFile,
		"--max-page-size=" + strconv.Itoa(f.maxPageSize), "--shutdown-delay=0s", "--shutdown-timeout=5s",
	}, sink...)
	p := &gatewayProcess{base: "http://" + addr, exited: make(chan struct{})}
	name := bin
	if taskset, err := exec.LookPath("taskset"); err == nil && f.oneCore {
		name, args, p.pinned = taskset, append([]string{"-c", "0", bin}, args...), true
	}
	logFile, err := os.Create(filepath.Join(dir, "gateway.log"))
	if err != nil {
		return nil, err
	}
	p.cmd = exec.Command(name, args...)
	p.cmd.Env = os.Environ()
	if f.oneCore {
		p.cmd.Env = append(p.cmd.Env, "GOMAXPROCS=1")
	}
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if f.auditStdout != nil {
		p.cmd.Stdout = f.auditStdout
	}
	if err := p.cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, err
	}
	go func() { _ = p.cmd.Wait(); _ = logFile.Close(); close(p.exited) }()
	if err := p.waitReady(ctx); err != nil {
		p.stop()
		log, _ := os.ReadFile(filepath.Join(dir, "gateway.log"))
		return nil, fmt.Errorf("%w; its log:\n%s", err, log)
	}
	return p, nil
}

// waitReady polls /readyz until it answers 200, the process exits, or a
// minute passes.
func (p *gatewayProcess) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/readyz", nil)
		if err != nil {
			return err
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.exited:
			return errors.New("the gateway process exited before it was ready")
		case <-ctx.Done():
			return errors.New("the gateway process was not ready within a minute")
		case <-tick.C:
		}
	}
}

// stop ends the process with SIGTERM, then SIGKILL if it has not exited
// within ten seconds.
func (p *gatewayProcess) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// usage is what the process has used: CPU time, and resident memory now
// and at its peak, from /proc (Linux).
type usage struct {
	cpu            time.Duration
	rssKiB, hwmKiB int64
}

func (p *gatewayProcess) usage() (usage, error) {
	var u usage
	pid := p.cmd.Process.Pid
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, err
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: utime and stime are the 12th and 13th of them, in clock
	// ticks (100 a second on Linux).
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if len(fields) < 13 {
		return u, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields))
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return u, err
	}
	u.cpu = time.Duration(utime+stime) * 10 * time.Millisecond
	status, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	defer status.Close() //nolint:errcheck // read-only
	sc := bufio.NewScanner(status)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			continue
		}
		switch key {
		case "VmRSS":
			u.rssKiB = kib
		case "VmHWM":
			u.hwmKiB = kib
		}
	}
	return u, sc.Err()
}
