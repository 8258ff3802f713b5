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
// which probe or volume. It needs root (CAP_SYS_ADMIN) for the namespaces.
package contract

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
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

// World is what the pod's volumes refer to.
type World struct {
	ConfigMaps map[string]*corev1.ConfigMap
	Secrets    map[string]*corev1.Secret
}

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
	cmd *exec.Cmd
	log *bytes.Buffer
	pod corev1.PodSpec
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
	fmt.Fprintf(&script, "mount --bind %s %s\n", quote(rootfs), quote(rootfs))
	for _, m := range c.VolumeMounts {
		src, err := volumeDir(pod, m.Name, filepath.Join(work, "volumes", m.Name), w)
		if err != nil {
			return nil, fmt.Errorf("volume %s (mounted at %s): %w", m.Name, m.MountPath, err)
		}
		target := filepath.Join(rootfs, filepath.Clean("/"+m.MountPath))
		if err := os.MkdirAll(target, 0o755); err != nil {
			return nil, err
		}
		fmt.Fprintf(&script, "mount --bind %s %s\n", quote(src), quote(target))
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
	env := []string{"env", "-i"}
	for _, e := range cfg.Env {
		env = append(env, quote(e))
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			return nil, fmt.Errorf("env %s: valueFrom is not laid out by the contract test", e.Name)
		}
		env = append(env, quote(e.Name+"="+e.Value))
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
	log := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &Container{cmd: cmd, log: log, pod: pod}, nil
}

// Stop ends the container and waits for it.
func (c *Container) Stop() {
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
}

// Log is what the container wrote so far.
func (c *Container) Log() string { return c.log.String() }

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
	exited := make(chan struct{})
	go func() {
		_, _ = c.cmd.Process.Wait()
		close(exited)
	}()
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
			case <-exited:
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
