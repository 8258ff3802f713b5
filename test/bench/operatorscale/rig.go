/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/shcr-io/shcr-operator/internal/kube"
	"github.com/shcr-io/shcr-operator/internal/specs"
	"github.com/shcr-io/shcr-operator/test/fixtures"
)

// The identities the API server's audit log tells apart.
const (
	operatorUser = "shcr-bench-operator"
	// workloadsUser plays the Deployment and StatefulSet controllers and
	// the kubelet, which envtest does not run.
	workloadsUser = "shcr-bench-workload-controllers"
)

// auditPolicy logs every write, at Metadata level (no bodies), once it has
// been answered.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  verbs: ["create", "update", "patch", "delete", "deletecollection"]
- level: None
`

// rig is a real kube-apiserver and etcd whose audit log records every write,
// with the operator's CRDs and admission policies installed.
type rig struct {
	root, dir string
	env       *envtest.Environment
	// admin creates what a platform team applies; its client-side rate
	// limit is off, as controller-runtime's is.
	admin     client.Client
	adminCfg  *rest.Config
	auditPath string
	// kubeconfig is the operator's: user operatorUser, in system:masters.
	kubeconfig string
	// managerArgs are added to the manager's flags.
	managerArgs []string
}

func startRig(root, dir string) (*rig, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, errors.New("KUBEBUILDER_ASSETS is not set: run 'make bench-operator', or set it to $(hack/toolchain.sh dir k8s)")
	}
	r := &rig{root: root, dir: dir, auditPath: filepath.Join(dir, "audit.log")}
	policyPath := filepath.Join(dir, "audit-policy.yaml")
	if err := os.WriteFile(policyPath, []byte(auditPolicy), 0o600); err != nil {
		return nil, err
	}
	r.env = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	r.env.ControlPlane.GetAPIServer().Configure().
		Set("audit-policy-file", policyPath).
		Set("audit-log-path", r.auditPath).
		Set("audit-log-mode", "blocking")
	cfg, err := r.env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting envtest: %w", err)
	}
	r.adminCfg = unlimited(cfg)
	if r.admin, err = client.New(r.adminCfg, client.Options{Scheme: kube.Scheme}); err != nil {
		return nil, r.stopWith(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "config", "admission", "region-namespace.yaml"))
	if err != nil {
		return nil, r.stopWith(err)
	}
	objs, err := kube.DecodeObjects(data)
	if err != nil {
		return nil, r.stopWith(err)
	}
	for _, obj := range objs {
		if err := r.admin.Create(context.Background(), obj); err != nil {
			return nil, r.stopWith(err)
		}
	}
	if err := r.admin.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shcr-operator-system"}}); err != nil {
		return nil, r.stopWith(err)
	}
	user, err := r.env.AddUser(envtest.User{Name: operatorUser, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, r.stopWith(err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return nil, r.stopWith(err)
	}
	r.kubeconfig = filepath.Join(dir, "operator.kubeconfig")
	if err := os.WriteFile(r.kubeconfig, kubeconfig, 0o600); err != nil {
		return nil, r.stopWith(err)
	}
	return r, nil
}

func (r *rig) stop() error { return r.env.Stop() }

// profileAPIServer writes a CPU profile of the API server, taken over the
// given time, to path. A failure is reported on out: a profile is a
// diagnosis, not a figure of the benchmark.
func (r *rig) profileAPIServer(ctx context.Context, path string, d time.Duration, out io.Writer) {
	rc, err := rest.RESTClientFor(r.profileConfig(d))
	if err == nil {
		var data []byte
		data, err = rc.Get().AbsPath("/debug/pprof/profile").Param("seconds", strconv.Itoa(int(d.Seconds()))).DoRaw(ctx)
		if err == nil {
			err = os.WriteFile(path, data, 0o600)
		}
	}
	if err != nil {
		fmt.Fprintf(out, "the API server's CPU profile %s: %v\n", path, err)
	}
}

// profileConfig is the admin's config for a raw request that lasts d.
func (r *rig) profileConfig(d time.Duration) *rest.Config {
	c := rest.CopyConfig(r.adminCfg)
	c.Timeout = d + 30*time.Second
	c.GroupVersion = &corev1.SchemeGroupVersion
	c.NegotiatedSerializer = serializer.NewCodecFactory(kube.Scheme).WithoutConversion()
	return c
}

func (r *rig) stopWith(err error) error { return errors.Join(err, r.stop()) }

// unlimited copies cfg without client-side rate limiting.
func unlimited(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = -1, 0
	return c
}

// clientAs is an admin client that the audit log names user.
func (r *rig) clientAs(user string) (client.Client, error) {
	u, err := r.env.AddUser(envtest.User{Name: user, Groups: []string{"system:masters"}}, unlimited(r.adminCfg))
	if err != nil {
		return nil, err
	}
	return client.New(u.Config(), client.Options{Scheme: kube.Scheme})
}

// auditEntry is what the benchmark reads of an audit event.
type auditEntry struct {
	Verb string `json:"verb"`
	User struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	Received time.Time `json:"requestReceivedTimestamp"`
	Done     time.Time `json:"stageTimestamp"`
}

// writeCounts are the writes in part of the audit log, by user, split into
// those the API server accepted and those it refused.
type writeCounts struct {
	ok, refused map[string]int
	// byResource counts the accepted writes of each user by resource
	// ("deployments", "memberorganisations/status", ...).
	byResource map[string]map[string]int
	// latency sums, for everyone's writes (accepted or refused), the time
	// from the API server receiving each request to its response, by verb
	// and resource ("patch memberorganisations/status"): where the
	// server's time went.
	latency map[string]*latencySum
}

// latencySum is the count and total time of one kind of request.
type latencySum struct {
	n     int
	total time.Duration
}

// slowest lists the kinds of write that took most of the API server's
// time, at most k, with their count and mean.
func (w writeCounts) slowest(k int) string {
	keys := make([]string, 0, len(w.latency))
	for key := range w.latency {
		keys = append(keys, key)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Compare(w.latency[b].total, w.latency[a].total) })
	var b strings.Builder
	for i, key := range keys {
		if i == k {
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		l := w.latency[key]
		fmt.Fprintf(&b, "%s: %d in %s (mean %s)", key, l.n, l.total.Round(time.Second), (l.total / time.Duration(l.n)).Round(time.Millisecond))
	}
	return b.String()
}

func (w writeCounts) accepted(user string) int { return w.ok[user] }

// auditOffset is where the audit log ends now.
func (r *rig) auditOffset() int64 {
	st, err := os.Stat(r.auditPath)
	if err != nil {
		return 0
	}
	return st.Size()
}

// countWrites reads the audit log between two offsets. Webhook
// configurations the operator installs for itself at start-up (a
// development-only flag) are left out.
func (r *rig) countWrites(from, to int64) (writeCounts, error) {
	w := writeCounts{ok: map[string]int{}, refused: map[string]int{}, byResource: map[string]map[string]int{},
		latency: map[string]*latencySum{}}
	err := r.scanAudit(from, to, func(e auditEntry) {
		if e.ObjectRef == nil || e.ResponseStatus == nil {
			return
		}
		resource := e.ObjectRef.Resource
		if strings.HasSuffix(resource, "webhookconfigurations") {
			return
		}
		if e.ObjectRef.Subresource != "" {
			resource += "/" + e.ObjectRef.Subresource
		}
		user := e.User.Username
		key := e.Verb + " " + resource
		if w.latency[key] == nil {
			w.latency[key] = &latencySum{}
		}
		w.latency[key].n++
		w.latency[key].total += e.Done.Sub(e.Received)
		if e.ResponseStatus.Code >= 300 {
			w.refused[user]++
			return
		}
		w.ok[user]++
		if w.byResource[user] == nil {
			w.byResource[user] = map[string]int{}
		}
		w.byResource[user][resource]++
	})
	return w, err
}

// scanAudit calls each with every audit event between two offsets of the
// log that it can read.
func (r *rig) scanAudit(from, to int64, each func(auditEntry)) error {
	f, err := os.Open(r.auditPath)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return err
	}
	sc := bufio.NewScanner(io.LimitReader(f, to-from))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e auditEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err == nil {
			each(e)
		}
	}
	return sc.Err()
}

// lastWrite is when user's last write between two offsets of the audit
// log was answered (zero if none).
func (r *rig) lastWrite(from, to int64, user string) (time.Time, error) {
	var last time.Time
	err := r.scanAudit(from, to, func(e auditEntry) {
		if e.User.Username == user && e.Done.After(last) {
			last = e.Done
		}
	})
	return last, err
}

// waitQuiet waits until user has written nothing for quiet, reading the
// audit log from offset from on, and returns when its last write was
// answered and the audit log's offset at that point.
func (r *rig) waitQuiet(ctx context.Context, from int64, user string, quiet time.Duration) (time.Time, int64, error) {
	var last time.Time
	for {
		to := r.auditOffset()
		l, err := r.lastWrite(from, to, user)
		if err != nil {
			return last, to, err
		}
		if l.After(last) {
			last = l
		}
		if time.Since(last) >= quiet {
			return last, to, nil
		}
		select {
		case <-ctx.Done():
			return last, to, ctx.Err()
		case <-time.After(time.Second):
		}
		from = to
	}
}

// workloadControllers reports every Deployment and StatefulSet the
// operator creates as rolled out and available, as the controller-manager
// and kubelets of a real cluster would once the pods ran.
type workloadControllers struct {
	c      client.Client
	cache  cache.Cache
	queue  chan client.ObjectKey
	writes atomic.Int64
	// failed counts reports that failed and were retried: a status write
	// the API server refused (a conflict with a newer version than the
	// cache held, mostly), or a read of the cache that failed.
	failed atomic.Int64
}

// state is what the stand-in has seen and done so far: Deployments it
// holds, how many of them it has reported rolled out, its queue and its
// writes, for the rig's progress lines.
func (wc *workloadControllers) state(ctx context.Context) string {
	var ds appsv1.DeploymentList
	if err := wc.cache.List(ctx, &ds); err != nil {
		return err.Error()
	}
	out := 0
	for i := range ds.Items {
		d := &ds.Items[i]
		if d.Status.ObservedGeneration == d.Generation && d.Status.AvailableReplicas > 0 {
			out++
		}
	}
	return fmt.Sprintf("Deployments %d, rolled out %d; stand-in queue %d, status writes sent %d, refused %d",
		len(ds.Items), out, len(wc.queue), wc.writes.Load(), wc.failed.Load())
}

func (r *rig) startWorkloadControllers(ctx context.Context, workers int) (*workloadControllers, error) {
	c, err := r.clientAs(workloadsUser)
	if err != nil {
		return nil, err
	}
	managed := labels.SelectorFromSet(labels.Set{specs.LabelManagedBy: specs.ManagedBy})
	ca, err := cache.New(unlimited(r.adminCfg), cache.Options{
		Scheme: kube.Scheme,
		ByObject: map[client.Object]cache.ByObject{
			&appsv1.Deployment{}: {Label: managed}, &appsv1.StatefulSet{}: {Label: managed},
		},
		DefaultTransform: cache.TransformStripManagedFields(),
	})
	if err != nil {
		return nil, err
	}
	wc := &workloadControllers{c: c, cache: ca, queue: make(chan client.ObjectKey, 1<<16)}
	for _, obj := range []client.Object{&appsv1.Deployment{}, &appsv1.StatefulSet{}} {
		kind := obj
		inf, err := ca.GetInformer(ctx, kind)
		if err != nil {
			return nil, err
		}
		enqueue := func(o any) {
			if m, ok := o.(client.Object); ok {
				key := client.ObjectKey{Namespace: m.GetNamespace(), Name: m.GetName()}
				if _, sts := kind.(*appsv1.StatefulSet); sts {
					key.Name = "sts/" + key.Name
				}
				wc.queue <- key
			}
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc: enqueue, UpdateFunc: func(_, o any) { enqueue(o) },
		}); err != nil {
			return nil, err
		}
	}
	go func() { _ = ca.Start(ctx) }()
	if !ca.WaitForCacheSync(ctx) {
		return nil, errors.New("the workload controllers' cache did not sync")
	}
	for range workers {
		go wc.work(ctx)
	}
	return wc, nil
}

func (wc *workloadControllers) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case key := <-wc.queue:
			for ctx.Err() == nil {
				err := wc.markAvailable(ctx, key)
				if err == nil || apierrors.IsNotFound(err) {
					break
				}
				wc.failed.Add(1)
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
}

// markAvailable writes a rolled-out status unless the object already has
// one for its generation, reading from the cache like a controller.
func (wc *workloadControllers) markAvailable(ctx context.Context, key client.ObjectKey) error {
	if name, ok := strings.CutPrefix(key.Name, "sts/"); ok {
		sts := &appsv1.StatefulSet{}
		if err := wc.cache.Get(ctx, client.ObjectKey{Namespace: key.Namespace, Name: name}, sts); err != nil {
			return err
		}
		n := int32(1)
		if sts.Spec.Replicas != nil {
			n = *sts.Spec.Replicas
		}
		if sts.Status.ObservedGeneration == sts.Generation && sts.Status.ReadyReplicas == n {
			return nil
		}
		fixtures.StatefulSetRolledOut(sts)
		wc.writes.Add(1)
		return wc.c.Status().Update(ctx, sts)
	}
	d := &appsv1.Deployment{}
	if err := wc.cache.Get(ctx, key, d); err != nil {
		return err
	}
	n := int32(1)
	if d.Spec.Replicas != nil {
		n = *d.Spec.Replicas
	}
	if d.Status.ObservedGeneration == d.Generation && d.Status.AvailableReplicas == n {
		return nil
	}
	fixtures.RolledOut(d)
	wc.writes.Add(1)
	return wc.c.Status().Update(ctx, d)
}

// operatorProcess is cmd/manager running as its own process, so that its
// memory is its own.
type operatorProcess struct {
	cmd                  *exec.Cmd
	metricsURL, pprofURL string
	exited               chan struct{}
	// heapAlloc is the live heap (HeapAlloc) the last heapAfterGC read.
	heapAlloc int64
}

// buildManager compiles cmd/manager.
func buildManager(root, dir string) (string, error) {
	bin := filepath.Join(dir, "manager")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/manager")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return bin, cmd.Run()
}

func (r *rig) startOperator(bin string, logName string) (*operatorProcess, error) {
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(r.dir, logName))
	if err != nil {
		return nil, err
	}
	addr := func(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }
	cmd := exec.Command(bin,
		"--metrics-bind-address="+addr(ports[0]), "--metrics-secure=false",
		"--health-probe-bind-address="+addr(ports[1]),
		"--pprof-bind-address="+addr(ports[2]),
		"--leader-elect=false",
		"--local-webhook-host=127.0.0.1", "--webhook-port="+strconv.Itoa(ports[3]),
		"--local-webhook-manifests="+filepath.Join(r.root, "config", "webhook", "manifests.yaml"),
		"--zap-log-level=info",
	)
	cmd.Args = append(cmd.Args, r.managerArgs...)
	cmd.Dir = r.root
	cmd.Env = append(os.Environ(), "KUBECONFIG="+r.kubeconfig, "POD_NAMESPACE=shcr-operator-system")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &operatorProcess{
		cmd: cmd, metricsURL: "http://" + addr(ports[0]) + "/metrics", pprofURL: "http://" + addr(ports[2]),
		exited: make(chan struct{}),
	}
	go func() {
		_ = cmd.Wait()
		_ = logFile.Close()
		close(p.exited)
	}()
	ready := "http://" + addr(ports[1]) + "/readyz"
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(ready) //nolint:gosec,noctx // loopback probe
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("the manager exited: see %s", logFile.Name())
		default:
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("the manager did not become ready: see %s", logFile.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The webhooks serve once the manager has started them.
	if err := waitForPort(addr(ports[3]), 30*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// stop sends SIGTERM and waits for the process to exit.
func (p *operatorProcess) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// profile writes one of the manager's pprof profiles ("heap?gc=1",
// "profile?seconds=60") to path.
func (p *operatorProcess) profile(path, which string) {
	resp, err := http.Get(p.pprofURL + "/debug/pprof/" + which) //nolint:gosec,noctx // loopback
	if err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return
	}
	defer func() { _ = resp.Body.Close() }()
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return
	}
	defer func() { _ = f.Close() }()
	_, _ = io.Copy(f, resp.Body)
}

var memStatLine = regexp.MustCompile(`(?m)^# (HeapInuse|HeapAlloc) = (\d+)$`)

// heapAfterGC forces a garbage collection in the manager (pprof's gc=1) and
// returns the bytes of heap in use afterwards.
func (p *operatorProcess) heapAfterGC() (int64, error) {
	resp, err := http.Get(p.pprofURL + "/debug/pprof/heap?gc=1&debug=1") //nolint:gosec,noctx // loopback
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	inuse := int64(-1)
	for _, m := range memStatLine.FindAllStringSubmatch(string(body), -1) {
		v, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil {
			return 0, err
		}
		if m[1] == "HeapInuse" {
			inuse = v
		} else {
			p.heapAlloc = v
		}
	}
	if inuse < 0 {
		return 0, errors.New("no HeapInuse in the heap profile")
	}
	return inuse, nil
}

// peakRSS is the process's high-water resident set size (VmHWM).
func (p *operatorProcess) peakRSS() (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmHWM")
}

var metricLine = regexp.MustCompile(`(?m)^(controller_runtime_reconcile_total|workqueue_depth)\{([^}]*)\} ([0-9.e+]+)$`)

var controllerLabel = regexp.MustCompile(`(?:controller|name)="([^"]*)"`)

// queueMetrics reads the manager's metrics: reconciles completed, and
// items waiting in its work queues, by controller.
func (p *operatorProcess) queueMetrics() (reconciles, depth map[string]float64, err error) {
	resp, err := http.Get(p.metricsURL) //nolint:gosec,noctx // loopback
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	reconciles, depth = map[string]float64{}, map[string]float64{}
	for _, m := range metricLine.FindAllStringSubmatch(string(body), -1) {
		name := ""
		if c := controllerLabel.FindStringSubmatch(m[2]); c != nil {
			name = c[1]
		}
		v, _ := strconv.ParseFloat(m[3], 64)
		if m[1] == "workqueue_depth" {
			depth[name] += v
		} else {
			reconciles[name] += v
		}
	}
	return reconciles, depth, nil
}

// queues is queueMetrics summed over the controllers.
func (p *operatorProcess) queues() (reconciles, depth float64, err error) {
	byReconciles, byDepth, err := p.queueMetrics()
	for _, v := range byReconciles {
		reconciles += v
	}
	for _, v := range byDepth {
		depth += v
	}
	return reconciles, depth, err
}

// queuesByController is queueMetrics as the rig's progress lines show it.
func (p *operatorProcess) queuesByController() string {
	reconciles, depth, err := p.queueMetrics()
	if err != nil {
		return err.Error()
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(reconciles)) {
		parts = append(parts, fmt.Sprintf("%s %.0f (waiting %.0f)", name, reconciles[name], depth[name]))
	}
	return "reconciles: " + strings.Join(parts, ", ")
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func waitForPort(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return conn.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening: %w", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// parallel runs f on every item with n workers, retrying each item until it
// succeeds or ctx ends, and returns the first error that outlived ctx.
func parallel[T any](ctx context.Context, n int, items []T, f func(context.Context, T) error) error {
	work := make(chan T)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range n {
		wg.Go(func() {
			for item := range work {
				for {
					err := f(ctx, item)
					if err == nil {
						break
					}
					if ctx.Err() != nil {
						mu.Lock()
						firstErr = errors.Join(firstErr, err)
						mu.Unlock()
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
		})
	}
	for _, item := range items {
		work <- item
	}
	close(work)
	wg.Wait()
	return firstErr
}
