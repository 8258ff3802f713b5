/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package contract runs a workload the operator writes as a container
// runtime would, without one: the image's filesystem, read-only, as the root
// of a private mount and network namespace (unshare), every volume the pod
// mounts laid out from its ConfigMap, Secret or emptyDir and bind-mounted at
// its mount path, the process started as the pod's user with exactly the
// container's command, args and env (chroot --userspec). Then the
// container's probes are called on their declared ports inside that network
// namespace (nsenter). A pod spec that does not fit the binary fails, saying
// which probe or volume. As the kubelet does, it mounts the service
// account's token, CA and namespace where client-go's in-cluster config
// reads them (unless the pod opts out) and sets KUBERNETES_SERVICE_HOST and
// KUBERNETES_SERVICE_PORT; the API server's address is made reachable
// inside the private network namespace by a relay the test opens there. It
// needs root (CAP_SYS_ADMIN) for the namespaces.
package contract

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
)

// ProbeEnv, when set in a test binary's environment, makes it an HTTP prober
// (see Probe): the contract test runs its own binary inside the workload's
// network namespace to call a probe.
const ProbeEnv = "SHCR_CONTRACT_PROBE_URL"

// Probe GETs the URL in ProbeEnv and exits 0 for a 2xx or 3xx answer, as the
// kubelet's HTTP probe counts success; 1 otherwise, printing why.
func Probe() {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(os.Getenv(ProbeEnv))
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		fmt.Printf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
		os.Exit(1)
	}
	os.Exit(0)
}

// World is what the pod's volumes and env refer to, and what the kubelet
// gives every pod: its names, its service account's token and the API
// server's address.
type World struct {
	ConfigMaps map[string]*corev1.ConfigMap
	Secrets    map[string]*corev1.Secret
	// Namespace and PodName are the pod's (env fieldRef metadata.namespace
	// and metadata.name, the service account's namespace file).
	Namespace, PodName string
	// ServiceAccount is the token and CA the kubelet projects at
	// ServiceAccountDir unless the pod sets automountServiceAccountToken
	// false; nil lays out nothing there.
	ServiceAccount *ServiceAccountToken
	// APIServer is the API server's host:port. When set, the container gets
	// KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT as the kubelet sets
	// them, and the address is reachable inside its network namespace (a
	// relay to the real API server).
	APIServer string
}

// ServiceAccountToken is what the kubelet projects for a pod's service
// account.
type ServiceAccountToken struct {
	Token string
	CA    []byte
}

// ServiceAccountDir is where the kubelet mounts a pod's service account
// token, CA and namespace, and where client-go's in-cluster config reads them.
const ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// ExtractRootFS writes the image's flattened filesystem to dir.
func ExtractRootFS(img v1.Image, dir string) error {
	rc := mutate.Extract(img)
	defer func() { _ = rc.Close() }()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		p := filepath.Join(dir, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			if err := os.Chmod(p, os.FileMode(h.Mode)&os.ModePerm|stickyOf(h.Mode)); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&os.ModePerm)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: tar entry type %c not handled", h.Name, h.Typeflag)
		}
		if err := os.Lchown(p, h.Uid, h.Gid); err != nil {
			return err
		}
	}
}

func stickyOf(mode int64) os.FileMode {
	if mode&0o1000 != 0 {
		return os.ModeSticky
	}
	return 0
}

// Container is a started workload.
type Container struct {
	cmd    *exec.Cmd
	log    *syncBuffer
	pod    corev1.PodSpec
	exited chan struct{}
	relay  net.Listener
}

// syncBuffer is a log written by the container's process and read by the
// test at the same time.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Start lays out the pod's volumes under work, and starts its first
// container from rootfs (a copy it may add mount points to) with the
// image's entrypoint and env when the container names none.
func Start(rootfs, work string, pod corev1.PodSpec, cfg v1.Config, w World) (*Container, error) {
	if len(pod.Containers) != 1 {
		return nil, fmt.Errorf("want one container, the pod has %d", len(pod.Containers))
	}
	c := pod.Containers[0]
	var script strings.Builder
	script.WriteString("set -e\nip link set lo up\n")
	// With an API server to reach, the test opens the relay in the new
	// network namespace before the process starts: the script says it is
	// there (up) and waits for the word (go).
	up, goAhead := filepath.Join(work, "netns-up"), filepath.Join(work, "netns-go")
	if w.APIServer != "" {
		for _, f := range []string{up, goAhead} {
			if err := syscall.Mkfifo(f, 0o600); err != nil {
				return nil, err
			}
		}
		fmt.Fprintf(&script, "echo up > %s\nread word < %s\n", quote(up), quote(goAhead))
	}
	fmt.Fprintf(&script, "mount --bind %s %s\n", quote(rootfs), quote(rootfs))
	mounts := append([]corev1.VolumeMount{}, c.VolumeMounts...)
	if mountsServiceAccount(pod) {
		mounts = append(mounts, corev1.VolumeMount{Name: serviceAccountVolume, MountPath: ServiceAccountDir, ReadOnly: true})
	}
	// Parents before children, as the container runtime mounts them (a
	// volume at /tmp must not hide one at /tmp/certs).
	sort.SliceStable(mounts, func(i, j int) bool {
		return depth(mounts[i].MountPath) < depth(mounts[j].MountPath)
	})
	for _, m := range mounts {
		src, err := volumeDir(pod, m.Name, filepath.Join(work, "volumes", m.Name), w)
		if err != nil {
			return nil, fmt.Errorf("volume %s (mounted at %s): %w", m.Name, m.MountPath, err)
		}
		// The mount point is made when mounting: it may lie inside a
		// volume mounted just before.
		target := filepath.Join(rootfs, filepath.Clean("/"+m.MountPath))
		fmt.Fprintf(&script, "mkdir -p %s\nmount --bind %s %s\n", quote(target), quote(src), quote(target))
		if m.ReadOnly {
			fmt.Fprintf(&script, "mount -o remount,bind,ro %s\n", quote(target))
		}
	}
	if sc := c.SecurityContext; sc != nil && sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem {
		fmt.Fprintf(&script, "mount -o remount,bind,ro %s\n", quote(rootfs))
	}
	uid, gid, err := user(pod, c, cfg)
	if err != nil {
		return nil, err
	}
	vars, err := environment(c, cfg, w)
	if err != nil {
		return nil, err
	}
	env := []string{"env", "-i"}
	for _, e := range vars {
		env = append(env, quote(e))
	}
	command := c.Command
	if len(command) == 0 {
		command = cfg.Entrypoint
	}
	argv := []string{}
	for _, a := range append(append([]string{}, command...), c.Args...) {
		argv = append(argv, quote(a))
	}
	groups := ""
	if pod.SecurityContext != nil && pod.SecurityContext.FSGroup != nil {
		groups = " --groups=" + strconv.FormatInt(*pod.SecurityContext.FSGroup, 10)
	}
	chroot, err := exec.LookPath("chroot")
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(&script, "exec %s %s --userspec=%s:%s%s %s %s\n",
		strings.Join(env, " "), quote(chroot), uid, gid, groups, quote(rootfs), strings.Join(argv, " "))
	cmd := exec.Command("unshare", "--mount", "--net", "--propagation", "private", "sh", "-c", script.String())
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ctr := &Container{cmd: cmd, log: log, pod: pod, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(ctr.exited)
	}()
	if w.APIServer != "" {
		if err := ctr.openRelay(up, goAhead, w.APIServer); err != nil {
			ctr.Stop()
			return nil, fmt.Errorf("relaying the API server into the container's network namespace: %w\n%s", err, ctr.Log())
		}
	}
	return ctr, nil
}

// openRelay waits until the container's network namespace exists, listens
// there on apiServer and forwards each connection to the real apiServer,
// then lets the container's process start.
func (c *Container) openRelay(up, goAhead, apiServer string) error {
	said := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(up, os.O_RDWR, 0)
		if err == nil {
			_, err = bufio.NewReader(f).ReadString('\n')
			_ = f.Close()
		}
		said <- err
	}()
	select {
	case err := <-said:
		if err != nil {
			return err
		}
	case <-c.exited:
		return errors.New("the container exited before its network namespace was up")
	case <-time.After(time.Minute):
		return errors.New("the container's network namespace was not up within a minute")
	}
	l, err := listenIn("/proc/"+strconv.Itoa(c.cmd.Process.Pid)+"/ns/net", apiServer)
	if err != nil {
		return err
	}
	c.relay = l
	go relay(l, apiServer)
	// O_RDWR never blocks on a FIFO; the script reads the word from it.
	f, err := os.OpenFile(goAhead, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString("go\n")
	go func() {
		<-c.exited
		_ = f.Close()
	}()
	return err
}

// listenIn listens on addr in the network namespace at nsPath, from a
// thread that enters it and comes back; the socket stays in that namespace.
func listenIn(nsPath, addr string) (net.Listener, error) {
	type result struct {
		l   net.Listener
		err error
	}
	out := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			out <- result{nil, err}
			return
		}
		defer func() { _ = home.Close() }()
		target, err := os.Open(nsPath)
		if err != nil {
			runtime.UnlockOSThread()
			out <- result{nil, err}
			return
		}
		defer func() { _ = target.Close() }()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			out <- result{nil, err}
			return
		}
		l, err := net.Listen("tcp", addr)
		// A thread that cannot come home stays locked, and ends with
		// this goroutine.
		if unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		out <- result{l, err}
	}()
	r := <-out
	return r.l, r.err
}

// relay forwards every connection l accepts to addr until l is closed.
func relay(l net.Listener, addr string) {
	for {
		in, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer func() { _ = in.Close() }()
			out, err := net.Dial("tcp", addr)
			if err != nil {
				return
			}
			defer func() { _ = out.Close() }()
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(out, in); done <- struct{}{} }()
			go func() { _, _ = io.Copy(in, out); done <- struct{}{} }()
			<-done
		}()
	}
}

// depth is how many components a mount path has.
func depth(path string) int {
	return len(strings.Split(strings.Trim(filepath.Clean(path), "/"), "/"))
}

// serviceAccountVolume names the volume the kubelet projects for the
// service account.
const serviceAccountVolume = "kube-api-access"

// mountsServiceAccount says whether the kubelet would mount the service
// account's token: unless the pod says automountServiceAccountToken false.
func mountsServiceAccount(pod corev1.PodSpec) bool {
	return pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken
}

// environment is the process's env as the runtime and kubelet make it: the
// image's, then the API server's Service variables, then the container's
// (later ones win).
func environment(c corev1.Container, cfg v1.Config, w World) ([]string, error) {
	vars := append([]string{}, cfg.Env...)
	if w.APIServer != "" {
		host, port, err := net.SplitHostPort(w.APIServer)
		if err != nil {
			return nil, err
		}
		vars = append(vars, "KUBERNETES_SERVICE_HOST="+host, "KUBERNETES_SERVICE_PORT="+port,
			"KUBERNETES_SERVICE_PORT_HTTPS="+port)
	}
	for _, e := range c.Env {
		value, err := envValue(e, w)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		vars = append(vars, e.Name+"="+value)
	}
	return vars, nil
}

// envValue is an env var's value, resolved from the pod or World as the
// kubelet resolves valueFrom.
func envValue(e corev1.EnvVar, w World) (string, error) {
	from := e.ValueFrom
	switch {
	case from == nil:
		return e.Value, nil
	case from.FieldRef != nil:
		switch from.FieldRef.FieldPath {
		case "metadata.namespace":
			return w.Namespace, nil
		case "metadata.name":
			return w.PodName, nil
		}
		return "", fmt.Errorf("fieldRef %s is not laid out by the contract test", from.FieldRef.FieldPath)
	case from.SecretKeyRef != nil:
		s, ok := w.Secrets[from.SecretKeyRef.Name]
		if !ok {
			return "", fmt.Errorf("Secret %s does not exist (the pod would never start)", from.SecretKeyRef.Name)
		}
		if v, ok := s.Data[from.SecretKeyRef.Key]; ok {
			return string(v), nil
		}
		if v, ok := s.StringData[from.SecretKeyRef.Key]; ok {
			return v, nil
		}
		return "", fmt.Errorf("Secret %s has no key %s", from.SecretKeyRef.Name, from.SecretKeyRef.Key)
	case from.ConfigMapKeyRef != nil:
		cm, ok := w.ConfigMaps[from.ConfigMapKeyRef.Name]
		if !ok {
			return "", fmt.Errorf("ConfigMap %s does not exist (the pod would never start)", from.ConfigMapKeyRef.Name)
		}
		if v, ok := cm.Data[from.ConfigMapKeyRef.Key]; ok {
			return v, nil
		}
		return "", fmt.Errorf("ConfigMap %s has no key %s", from.ConfigMapKeyRef.Name, from.ConfigMapKeyRef.Key)
	}
	return "", errors.New("valueFrom source not laid out by the contract test")
}

// Stop ends the container and waits for it.
func (c *Container) Stop() {
	_ = c.cmd.Process.Kill()
	<-c.exited
	if c.relay != nil {
		_ = c.relay.Close()
	}
}

// Log is what the container wrote so far.
func (c *Container) Log() string { return c.log.String() }

// Exited is closed when the container's process has ended.
func (c *Container) Exited() <-chan struct{} { return c.exited }

// WaitForProbes calls the container's startup, readiness and liveness
// probes (those it declares; a container with none fails) on their ports
// inside its network namespace until each passes once, the container exits
// or ctx ends; the error names the probe and its last answer.
func (c *Container) WaitForProbes(ctx context.Context) error {
	ctr := c.pod.Containers[0]
	probes := []struct {
		kind  string
		probe *corev1.Probe
	}{{"startup", ctr.StartupProbe}, {"readiness", ctr.ReadinessProbe}, {"liveness", ctr.LivenessProbe}}
	declared := 0
	for _, p := range probes {
		if p.probe == nil {
			continue
		}
		declared++
		if p.probe.HTTPGet == nil {
			return fmt.Errorf("%s probe: only HTTP probes are checked", p.kind)
		}
		port, err := resolvePort(ctr, p.probe.HTTPGet.Port.String())
		if err != nil {
			return fmt.Errorf("%s probe: %w", p.kind, err)
		}
		url := fmt.Sprintf("http://127.0.0.1:%d%s", port, p.probe.HTTPGet.Path)
		last := ""
		for passed := false; !passed; {
			select {
			case <-c.exited:
				return fmt.Errorf("%s probe GET %s: the container exited:\n%s", p.kind, url, c.Log())
			case <-ctx.Done():
				return fmt.Errorf("%s probe GET %s never passed (last: %s); container log:\n%s", p.kind, url, last, c.Log())
			case <-time.After(100 * time.Millisecond):
			}
			prober := exec.Command("nsenter", "--net=/proc/"+strconv.Itoa(c.cmd.Process.Pid)+"/ns/net", os.Args[0], "-test.run=^$")
			prober.Env = append(os.Environ(), ProbeEnv+"="+url)
			out, err := prober.CombinedOutput()
			passed, last = err == nil, strings.TrimSpace(string(out))
		}
	}
	if declared == 0 {
		return errors.New("the container declares no probe")
	}
	return nil
}

// resolvePort is a probe's port: a number, or the name of a container port.
func resolvePort(c corev1.Container, port string) (int, error) {
	if n, err := strconv.Atoi(port); err == nil {
		return n, nil
	}
	for _, p := range c.Ports {
		if p.Name == port {
			return int(p.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("port %q is not a container port", port)
}

// user is the uid and gid the process runs as: the pod's or container's
// security context, else the image's user.
func user(pod corev1.PodSpec, c corev1.Container, cfg v1.Config) (string, string, error) {
	uid, gid, _ := strings.Cut(cfg.User, ":")
	if s := pod.SecurityContext; s != nil {
		if s.RunAsUser != nil {
			uid = strconv.FormatInt(*s.RunAsUser, 10)
		}
		if s.RunAsGroup != nil {
			gid = strconv.FormatInt(*s.RunAsGroup, 10)
		}
	}
	if s := c.SecurityContext; s != nil {
		if s.RunAsUser != nil {
			uid = strconv.FormatInt(*s.RunAsUser, 10)
		}
		if s.RunAsGroup != nil {
			gid = strconv.FormatInt(*s.RunAsGroup, 10)
		}
	}
	if _, err := strconv.Atoi(uid); err != nil || uid == "0" {
		return "", "", fmt.Errorf("the container would run as user %q: want a numeric non-root user", uid)
	}
	if gid == "" {
		gid = uid
	}
	return uid, gid, nil
}

// volumeDir lays out a pod volume in dir as the kubelet would.
func volumeDir(pod corev1.PodSpec, name, dir string, w World) (string, error) {
	var vol *corev1.Volume
	for i := range pod.Volumes {
		if pod.Volumes[i].Name == name {
			vol = &pod.Volumes[i]
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	switch {
	case vol == nil && name == serviceAccountVolume:
		if w.ServiceAccount == nil {
			return "", errors.New("the pod mounts its service account's token (automountServiceAccountToken is not false) and none was given")
		}
		return dir, writeItems(dir, map[string][]byte{
			"token": []byte(w.ServiceAccount.Token), "ca.crt": w.ServiceAccount.CA, "namespace": []byte(w.Namespace),
		}, nil)
	case vol == nil:
		return "", errors.New("no such volume in the pod")
	case vol.ConfigMap != nil:
		cm, ok := w.ConfigMaps[vol.ConfigMap.Name]
		if !ok {
			return "", fmt.Errorf("ConfigMap %s does not exist (the pod would never start)", vol.ConfigMap.Name)
		}
		files := map[string][]byte{}
		for k, v := range cm.Data {
			files[k] = []byte(v)
		}
		for k, v := range cm.BinaryData {
			files[k] = v
		}
		return dir, writeItems(dir, files, vol.ConfigMap.Items)
	case vol.Secret != nil:
		s, ok := w.Secrets[vol.Secret.SecretName]
		if !ok {
			return "", fmt.Errorf("Secret %s does not exist (the pod would never start)", vol.Secret.SecretName)
		}
		files := map[string][]byte{}
		for k, v := range s.Data {
			files[k] = v
		}
		for k, v := range s.StringData {
			files[k] = []byte(v)
		}
		return dir, writeItems(dir, files, vol.Secret.Items)
	case vol.EmptyDir != nil:
		return dir, os.Chmod(dir, 0o777|os.ModeSticky)
	case vol.PersistentVolumeClaim != nil:
		// A fresh claim the operator creates with the workload (the
		// connector's state): empty, and writable through the pod's fsGroup.
		return dir, os.Chmod(dir, 0o777|os.ModeSticky)
	default:
		return "", errors.New("volume source not laid out by the contract test")
	}
}

// writeItems writes the keys (or only the items' keys, at their paths),
// readable by anyone as a projected volume's default mode 0644 makes them.
func writeItems(dir string, files map[string][]byte, items []corev1.KeyToPath) error {
	if len(items) == 0 {
		for k := range files {
			items = append(items, corev1.KeyToPath{Key: k, Path: k})
		}
	}
	for _, it := range items {
		data, ok := files[it.Key]
		if !ok {
			return fmt.Errorf("key %s is missing", it.Key)
		}
		p := filepath.Join(dir, filepath.Clean("/"+it.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// quote is s as one sh word.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
