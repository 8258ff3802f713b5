/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/kube"
	"github.com/shcr-io/shcr-operator/internal/specs"
	"github.com/shcr-io/shcr-operator/test/fixtures"
)

const regionName = "bench"

// result is one region size's figures.
type result struct {
	orgs, agreements, policies int
	// w is the write ceiling, objects per second; wApply the same for the
	// operator's commonest write, a connector Deployment created by
	// server-side apply.
	w, wApply float64
	// wApplySettled is wApply measured again once the region has
	// settled, with every one of its objects in the API server and etcd.
	wApplySettled float64
	// makespan runs from the first apply to every object Ready; tail from
	// then to the operator's last write of the onboarding (Events still
	// queued in its recorder).
	makespan, tail time.Duration
	// writes are the accepted writes of the onboarding by the platform
	// team (apply), the operator, and the stand-in workload controllers.
	applyWrites, operatorWrites, workloadWrites int
	// operatorByResource splits the operator's onboarding writes.
	operatorByResource map[string]int
	refused            int
	grants             int32
	// idleWrites are everyone's writes during the idle minute;
	// resyncWrites the operator's during a forced full resync, which took
	// resync and reconciled resyncReconciles times.
	idleWrites, idleOperatorWrites, resyncWrites int
	resync                                       time.Duration
	resyncReconciles                             float64
	// oneMore are the create-to-Ready times of one more organisation.
	oneMore []time.Duration
	// heap is the manager's heap in use after GC once settled, and after
	// the resync; rss its peak resident set during the onboarding.
	heap, heapAfterResync, rss int64
}

func (r result) totalWrites() int { return r.applyWrites + r.operatorWrites + r.workloadWrites }

// ratio is the makespan over the time the API server's ceiling allows for
// the onboarding's writes.
func (r result) ratio() float64 {
	return r.makespan.Seconds() / (float64(r.totalWrites()) / r.w)
}

// ratioTo is the makespan over the time the API server needs for the
// onboarding's writes at w objects per second.
func (r result) ratioTo(w float64) float64 {
	return r.makespan.Seconds() / (float64(r.totalWrites()) / w)
}

func measure(ctx context.Context, o options, bin, dir string, n int, out io.Writer) (result, error) {
	res := result{orgs: n}
	logf := func(format string, args ...any) {
		fmt.Fprintf(out, "[%d orgs %s] %s\n", n, time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	rg, err := startRig(o.root, dir)
	if err != nil {
		return res, err
	}
	rg.managerArgs = o.managerArgs
	defer func() { _ = rg.stop() }()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	if res.w, err = writeCeiling(ctx, rg, o.clients, o.wObjects); err != nil {
		return res, fmt.Errorf("measuring W: %w", err)
	}
	logf("W = %.0f objects/s (%d ConfigMaps, %d clients)", res.w, o.wObjects, o.clients)
	var rounds []float64
	if res.wApply, rounds, err = medianApplyCeiling(ctx, rg, o.clients, o.wObjects/2, "m"); err != nil {
		return res, fmt.Errorf("measuring W for server-side applies: %w", err)
	}
	logf("W(apply) = %.0f objects/s (median of %.0f; %d connector Deployments created by server-side apply in each round)", res.wApply, rounds, o.wObjects/2)
	if o.deploymentCreates {
		wCreate, rounds, err := medianCeiling(ctx, rg, o.clients, o.wObjects/2, "c", false)
		if err != nil {
			return res, fmt.Errorf("measuring W for Deployment creates: %w", err)
		}
		logf("W(create) of the same Deployments = %.0f objects/s (median of %.0f, after W(apply)'s rounds): server-side apply at %.2f of a create's rate",
			wCreate, rounds, res.wApply/wCreate)
	}

	workloads, err := rg.startWorkloadControllers(ctx, o.workloadWorkers)
	if err != nil {
		return res, err
	}
	view, err := startView(ctx, rg)
	if err != nil {
		return res, err
	}
	op, err := rg.startOperator(bin, "manager-1.log")
	if err != nil {
		return res, err
	}
	defer func() { op.stop() }()

	region := buildRegion(n)
	res.agreements, res.policies = len(region.agreements), len(region.policies)
	logf("onboarding %d organisations, %d agreements, %d policies", n, res.agreements, res.policies)
	if o.cpuProfile != "" {
		go op.profile(fmt.Sprintf("%s.%d", o.cpuProfile, n), fmt.Sprintf("profile?seconds=%d", o.cpuSeconds))
	}
	if o.apiserverProfile != "" {
		// One profile at a time: the API server serves one CPU profile.
		go func() {
			rg.profileAPIServer(ctx, fmt.Sprintf("%s.apply.%d", o.apiserverProfile, n), 30*time.Second, out)
			// The API server ends any request after its request timeout
			// (a minute), so a longer one is taken a minute at a time
			// (.settle.<size>, .settle.<size>.2, ...; go tool pprof sums them).
			for i, left := 1, o.apiserverSettle; left > 0 && ctx.Err() == nil; i, left = i+1, left-time.Minute {
				path := fmt.Sprintf("%s.settle.%d", o.apiserverProfile, n)
				if i > 1 {
					path += fmt.Sprintf(".%d", i)
				}
				rg.profileAPIServer(ctx, path, min(left, time.Minute), out)
			}
		}()
	}
	from := rg.auditOffset()
	start := time.Now()
	onboardCtx, onboardCancel := context.WithTimeout(ctx, o.timeout)
	defer onboardCancel()
	if err := region.apply(onboardCtx, rg.admin, o.clients); err != nil {
		return res, err
	}
	logf("applied in %s", time.Since(start).Round(time.Millisecond))

	settledAt, grants, err := view.waitSettled(onboardCtx, region, func(why string) {
		logf("not settled: %s (Ready: members %d, agreements %d, policies %d; %s; %s)", why,
			view.members.count(), view.agreements.count(), view.policies.count(), workloads.state(ctx), op.queuesByController())
	})
	if err != nil {
		return res, err
	}
	res.makespan, res.grants = settledAt.Sub(start), grants
	// Every object is Ready, but the operator may still be writing what
	// the onboarding made: Events queue in its recorder, written one at a
	// time, while the API server is busiest. The onboarding's writes end
	// with the operator's last; its tail is how long after settling that
	// was. The stand-in controllers answer within a second or two.
	lastWrite, to, err := rg.waitQuiet(onboardCtx, from, operatorUser, 10*time.Second)
	if err != nil {
		return res, fmt.Errorf("waiting for the operator's writes to end: %w", err)
	}
	res.tail = max(0, lastWrite.Sub(settledAt))
	counts, err := rg.countWrites(from, to)
	if err != nil {
		return res, err
	}
	res.operatorWrites, res.workloadWrites = counts.accepted(operatorUser), counts.accepted(workloadsUser)
	res.applyWrites = region.objects()
	res.operatorByResource = counts.byResource[operatorUser]
	res.refused = counts.refused[operatorUser]
	logf("settled after %s (the operator's last write %s after that): %d grants; writes: apply %d, operator %d, workload stand-in %d (operator refused: %d) by resource %v",
		res.makespan.Round(time.Millisecond), res.tail.Round(time.Millisecond), grants, res.applyWrites, res.operatorWrites, res.workloadWrites, res.refused, res.operatorByResource)
	logf("the API server's time by kind of write (received to response): %s", counts.slowest(12))
	if byReason, err := eventsByReason(ctx, rg); err == nil {
		logf("events by kind and reason: %v", byReason)
	}
	if res.rss, err = op.peakRSS(); err != nil {
		return res, err
	}
	if res.heap, err = op.heapAfterGC(); err != nil {
		return res, err
	}
	logf("manager heap in use after GC %.1f MiB (live %.1f MiB), peak RSS %.1f MiB", mib(res.heap), mib(op.heapAlloc), mib(res.rss))
	if o.heapProfile != "" {
		op.profile(fmt.Sprintf("%s.%d", o.heapProfile, n), "heap?gc=1")
	}

	// Idle: nobody changes anything, and the onboarding's writes have
	// ended.
	from = rg.auditOffset()
	time.Sleep(o.idle)
	counts, err = rg.countWrites(from, rg.auditOffset())
	if err != nil {
		return res, err
	}
	for _, v := range counts.ok {
		res.idleWrites += v
	}
	res.idleOperatorWrites = counts.accepted(operatorUser)
	logf("idle %s: %d operator writes; everyone's: %d %v", o.idle, res.idleOperatorWrites, res.idleWrites, counts.byResource)

	// The same ceiling with the region in place: the API server and etcd
	// hold every object of the onboarding (and the first measurement's),
	// and each write costs what it costs at this size.
	if res.wApplySettled, rounds, err = medianApplyCeiling(ctx, rg, o.clients, o.wObjects/2, "s"); err != nil {
		return res, fmt.Errorf("measuring W for server-side applies in the settled region: %w", err)
	}
	logf("W(apply) with the region in place = %.0f objects/s (median of %.0f; %.0f before it): ratio to writes/W(apply) %.2f, to writes/W(apply) in place %.2f",
		res.wApplySettled, rounds, res.wApply, res.ratioTo(res.wApply), res.ratioTo(res.wApplySettled))

	// Forced full resync: a new manager process lists everything and
	// reconciles every object once.
	op.stop()
	from = rg.auditOffset()
	resyncStart := time.Now()
	if op, err = rg.startOperator(bin, "manager-2.log"); err != nil {
		return res, err
	}
	if res.resyncReconciles, err = waitQueuesDrained(ctx, op, 1+n+len(region.agreements)+len(region.policies)); err != nil {
		return res, err
	}
	res.resync = time.Since(resyncStart)
	counts, err = rg.countWrites(from, rg.auditOffset())
	if err != nil {
		return res, err
	}
	res.resyncWrites = counts.accepted(operatorUser)
	logf("resync: %.0f reconciles in %s, %d operator writes %v", res.resyncReconciles, res.resync.Round(time.Millisecond),
		res.resyncWrites, counts.byResource[operatorUser])
	if res.heapAfterResync, err = op.heapAfterGC(); err != nil {
		return res, err
	}
	logf("after the resync, manager heap in use after GC %.1f MiB (live %.1f MiB)", mib(res.heapAfterResync), mib(op.heapAlloc))

	// One more organisation, again and again.
	ns := shcrv1alpha1.NamespaceFor(regionName)
	for i := range o.more {
		name := fmt.Sprintf("late-%03d", i)
		m := fixtures.Member(ns, name, fmt.Sprintf("L%05d", i), "GPPractice")
		if err := rg.admin.Create(ctx, fixtures.Credentials(ns, m.Spec.Connector.CredentialsSecretRef.Name)); err != nil {
			return res, err
		}
		t0 := time.Now()
		if err := rg.admin.Create(ctx, m); err != nil {
			return res, err
		}
		if err := view.waitReady(ctx, &shcrv1alpha1.MemberOrganisation{}, client.ObjectKey{Namespace: ns, Name: name}, time.Minute); err != nil {
			return res, err
		}
		res.oneMore = append(res.oneMore, time.Since(t0))
		time.Sleep(500 * time.Millisecond)
	}
	slices.Sort(res.oneMore)
	logf("one more organisation, create to Ready (%d runs): p50 %s, p99 %s, max %s", o.more,
		percentile(res.oneMore, 50), percentile(res.oneMore, 99), res.oneMore[len(res.oneMore)-1])
	return res, nil
}

// writeCeiling creates ConfigMaps of about 1 KiB with parallel clients and
// returns objects per second.
func writeCeiling(ctx context.Context, rg *rig, clients, objects int) (float64, error) {
	if err := rg.admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "write-ceiling"}}); err != nil {
		return 0, err
	}
	payload := strings.Repeat("x", 1024)
	idx := make([]int, objects)
	for i := range idx {
		idx[i] = i
	}
	start := time.Now()
	err := parallel(ctx, clients, idx, func(ctx context.Context, i int) error {
		err := rg.admin.Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: "write-ceiling", Name: fmt.Sprintf("cm-%05d", i)},
			Data:       map[string]string{"payload": payload},
		})
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("creating ConfigMap %d: %w", i, err)
		}
		return nil
	})
	return float64(objects) / time.Since(start).Seconds(), err
}

// eventsByReason counts the Events in the region namespace by the kind of
// object they regard and their reason.
func eventsByReason(ctx context.Context, rg *rig) (map[string]int, error) {
	list := &eventsv1.EventList{}
	if err := rg.admin.List(ctx, list, client.InNamespace(shcrv1alpha1.NamespaceFor(regionName))); err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, e := range list.Items {
		out[e.Regarding.Kind+"/"+e.Reason]++
	}
	return out, nil
}

// applyRounds is how many times W(apply) is measured; the median is kept.
// One round of 2,000 applies lasts about 6 s, and single rounds on a fresh
// API server spread by a sixth either way (280 to 394 objects/s at 5,000
// organisations on 5 December), more than the onboarding's makespan did.
const applyRounds = 3

// medianApplyCeiling is applyCeiling's median over applyRounds rounds of
// objects each (names prefix-<round>-<n>), and every round's figure.
func medianApplyCeiling(ctx context.Context, rg *rig, clients, objects int, prefix string) (float64, []float64, error) {
	return medianCeiling(ctx, rg, clients, objects, prefix, true)
}

// medianCeiling is medianApplyCeiling, by server-side apply when apply is
// set and by plain creates otherwise.
func medianCeiling(ctx context.Context, rg *rig, clients, objects int, prefix string, apply bool) (float64, []float64, error) {
	var rounds []float64
	for i := range applyRounds {
		w, err := applyCeiling(ctx, rg, clients, objects, fmt.Sprintf("%s%d", prefix, i), apply)
		if err != nil {
			return 0, rounds, err
		}
		rounds = append(rounds, w)
	}
	sorted := slices.Clone(rounds)
	slices.Sort(sorted)
	return sorted[len(sorted)/2], rounds, nil
}

// applyCeiling creates connector Deployments, as the operator makes them,
// by server-side apply (or, apply unset, by plain creates) with parallel
// clients, and returns objects per second.
func applyCeiling(ctx context.Context, rg *rig, clients, objects int, prefix string, apply bool) (float64, error) {
	idx := make([]int, objects)
	for i := range idx {
		idx[i] = i
	}
	start := time.Now()
	err := parallel(ctx, clients, idx, func(ctx context.Context, i int) error {
		// The ODS code, and so the Deployment's name, is the round's own:
		// every round creates new objects. (Until 5 December 2026 every
		// round used the same codes, so the second and third rounds, and
		// those with the region in place, updated the first round's
		// Deployments, whose owner reference named another member.)
		m := fixtures.Member("write-ceiling", fmt.Sprintf("%s-%05d", prefix, i), fmt.Sprintf("W%s%05d", strings.ToUpper(prefix), i), "GPPractice")
		m.UID = types.UID(fmt.Sprintf("00000000-0000-0000-0000-%012d", i))
		d := specs.ConnectorDeployment("write-ceiling", m)
		// Not labelled as the operator's, so neither the operator's cache
		// nor the stand-in controllers ever see these.
		d.Labels = map[string]string{"app.kubernetes.io/name": "write-ceiling"}
		if !apply {
			err := rg.admin.Create(ctx, d, client.FieldOwner("write-ceiling"))
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("creating Deployment %d: %w", i, err)
			}
			return nil
		}
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(d)
		if err != nil {
			return err
		}
		err = rg.admin.Apply(ctx, client.ApplyConfigurationFromUnstructured(&unstructured.Unstructured{Object: u}),
			client.FieldOwner("write-ceiling"), client.ForceOwnership)
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("applying Deployment %d: %w", i, err)
		}
		return nil
	})
	return float64(objects) / time.Since(start).Seconds(), err
}

// view is the benchmark's own informer cache of the four kinds, so that
// waiting for Ready costs the API server nothing. It counts the region's
// Ready members, agreements and policies as their events arrive (readiness),
// so that a poll reads three numbers instead of listing the region: at
// 5,000 organisations, listing it ten times a second took a tenth of a core
// from the machine under test.
type view struct {
	cache cache.Cache
	// members, agreements, policies: which of the region's objects of
	// each kind are Ready.
	members, agreements, policies *readiness
}

func startView(ctx context.Context, rg *rig) (*view, error) {
	ca, err := cache.New(unlimited(rg.adminCfg), cache.Options{Scheme: kube.Scheme, DefaultTransform: cache.TransformStripManagedFields()})
	if err != nil {
		return nil, err
	}
	v := &view{cache: ca, members: newReadiness(), agreements: newReadiness(), policies: newReadiness()}
	if _, err := ca.GetInformer(ctx, &shcrv1alpha1.ShCRRegion{}); err != nil {
		return nil, err
	}
	for obj, r := range map[client.Object]*readiness{
		&shcrv1alpha1.MemberOrganisation{}: v.members, &shcrv1alpha1.DataSharingAgreement{}: v.agreements, &shcrv1alpha1.AccessPolicy{}: v.policies,
	} {
		inf, err := ca.GetInformer(ctx, obj)
		if err != nil {
			return nil, err
		}
		if _, err := inf.AddEventHandler(r.handler()); err != nil {
			return nil, err
		}
	}
	go func() { _ = ca.Start(ctx) }()
	if !ca.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("the benchmark's cache did not sync")
	}
	return v, nil
}

// readiness is which objects of one kind in the region's namespace are
// Ready, kept from the informer's events.
type readiness struct {
	mu    sync.Mutex
	ready map[types.NamespacedName]bool
	n     int // how many of ready are true
}

func newReadiness() *readiness { return &readiness{ready: map[types.NamespacedName]bool{}} }

func (r *readiness) handler() toolscache.ResourceEventHandler {
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { r.set(o, false) },
		UpdateFunc: func(_, o any) { r.set(o, false) },
		DeleteFunc: func(o any) {
			if t, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
				o = t.Obj
			}
			r.set(o, true)
		},
	}
}

func (r *readiness) set(o any, deleted bool) {
	obj, ok := o.(client.Object)
	if !ok || obj.GetNamespace() != shcrv1alpha1.NamespaceFor(regionName) {
		return
	}
	now := !deleted && objectReady(obj)
	key := client.ObjectKeyFromObject(obj)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ready[key] {
		r.n--
	}
	if deleted {
		delete(r.ready, key)
		return
	}
	r.ready[key] = now
	if now {
		r.n++
	}
}

// count is how many are Ready.
func (r *readiness) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// objectReady is ready for the three kinds the view counts.
func objectReady(obj client.Object) bool {
	switch o := obj.(type) {
	case *shcrv1alpha1.MemberOrganisation:
		return ready(o, o.Status.Conditions)
	case *shcrv1alpha1.DataSharingAgreement:
		return ready(o, o.Status.Conditions)
	case *shcrv1alpha1.AccessPolicy:
		return ready(o, o.Status.Conditions)
	}
	return false
}

// ready says whether obj's Ready condition is True for its generation.
func ready(obj client.Object, conds []metav1.Condition) bool {
	c := meta.FindStatusCondition(conds, shcrv1alpha1.ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == obj.GetGeneration()
}

// waitSettled waits until every object of the region is Ready and the
// region's bundle stops changing, and returns when that first held (so the
// makespan excludes the quiet period used to confirm it) and the bundle's
// grants.
func (v *view) waitSettled(ctx context.Context, reg *regionObjects, progress func(string)) (time.Time, int32, error) {
	var since time.Time
	var revision, why string
	lastReport := time.Now()
	for {
		ok, rev, grants, notReady := v.allReady(ctx, reg)
		if time.Since(lastReport) >= 10*time.Second {
			// What the onboarding waits for, every 10 s: where its time goes.
			lastReport = time.Now()
			if ok {
				progress("every object Ready, the bundle at revision " + rev)
			} else {
				progress(notReady)
			}
		}
		switch {
		case !ok:
			since, why = time.Time{}, notReady
		case since.IsZero() || rev != revision:
			since, revision = time.Now(), rev
		case time.Since(since) > 3*time.Second:
			return since, grants, nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, 0, fmt.Errorf("not settled: %s", why)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (v *view) allReady(ctx context.Context, reg *regionObjects) (bool, string, int32, string) {
	region := &shcrv1alpha1.ShCRRegion{}
	if err := v.cache.Get(ctx, client.ObjectKey{Name: regionName}, region); err != nil {
		return false, "", 0, err.Error()
	}
	if !ready(region, region.Status.Conditions) {
		return false, "", 0, "the region is not Ready"
	}
	for _, c := range []struct {
		kind string
		of   *readiness
		want int
	}{
		{"members", v.members, len(reg.members)}, {"agreements", v.agreements, len(reg.agreements)}, {"policies", v.policies, len(reg.policies)},
	} {
		if n := c.of.count(); n < c.want {
			return false, "", 0, fmt.Sprintf("%s: %d of %d Ready", c.kind, n, c.want)
		}
	}
	return true, region.Status.PolicyBundle.Revision, region.Status.PolicyBundle.Grants, ""
}

func errorsOf(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// waitReady waits for one object to be Ready, polling the cache.
func (v *view) waitReady(ctx context.Context, obj client.Object, key client.ObjectKey, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if err := v.cache.Get(ctx, key, obj); err == nil {
			if m, ok := obj.(*shcrv1alpha1.MemberOrganisation); ok && ready(m, m.Status.Conditions) {
				return nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return fmt.Errorf("%s not Ready after %s", key, timeout)
}

// waitQueuesDrained waits until the manager has reconciled at least min
// times and its work queues have stayed empty for two seconds, and returns
// its reconcile count.
func waitQueuesDrained(ctx context.Context, op *operatorProcess, minReconciles int) (float64, error) {
	var emptySince time.Time
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		reconciles, depth, err := op.queues()
		if err == nil && reconciles >= float64(minReconciles) && depth == 0 {
			if emptySince.IsZero() {
				emptySince = time.Now()
			} else if time.Since(emptySince) > 2*time.Second {
				return reconciles, nil
			}
		} else {
			emptySince = time.Time{}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return 0, fmt.Errorf("the manager's queues did not drain")
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))].Round(time.Millisecond)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func report(out io.Writer, results []result) {
	fmt.Fprintln(out)
	fmt.Fprintln(out, "| organisations (agreements, policies) | W: creates, applies, applies with the region in place (objects/s) | writes per organisation (apply + operator + workloads) | makespan (the operator's last write after it) | ratio to writes/W (to writes/W(apply); in place) | operator writes idle (everyone's) | operator writes in a resync (reconciles, time) | one more: p50 / p99 | heap after GC (per 1,000) | peak RSS |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range results {
		per := func(v int) float64 { return float64(v) / float64(r.orgs) }
		fmt.Fprintf(out, "| %d (%d, %d) | %.0f, %.0f, %.0f | %.1f (%.1f + %.1f + %.1f) | %.1f s (+%.1f s) | %.2f (%.2f; %.2f) | %d (%d) | %d (%.0f, %.1f s) | %s / %s | %.1f MiB (%.1f) | %.1f MiB |\n",
			r.orgs, r.agreements, r.policies, r.w, r.wApply, r.wApplySettled, per(r.totalWrites()), per(r.applyWrites), per(r.operatorWrites), per(r.workloadWrites),
			r.makespan.Seconds(), r.tail.Seconds(), r.ratio(), r.ratioTo(r.wApply), r.ratioTo(r.wApplySettled), r.idleOperatorWrites, r.idleWrites, r.resyncWrites, r.resyncReconciles, r.resync.Seconds(),
			percentile(r.oneMore, 50), percentile(r.oneMore, 99), mib(r.heap), mib(r.heap)*1000/float64(r.orgs), mib(r.rss))
	}
	for i := 1; i < len(results); i++ {
		a, b := results[i-1], results[i]
		fmt.Fprintf(out, "\nheap after GC from %d to %d organisations: %.1f MiB more, %.1f MiB per 1,000 more\n",
			a.orgs, b.orgs, mib(b.heap-a.heap), mib(b.heap-a.heap)*1000/float64(b.orgs-a.orgs))
	}
}
