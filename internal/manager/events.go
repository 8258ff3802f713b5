/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package manager

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
)

// reportingComponent names the operator in the Events it writes.
const reportingComponent = "shcr-operator"

// The operator writes core/v1 Events (see newEventRecorder).
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// eventCacheSize bounds each of the recorder's three caches of recent
// Events (repeats folded into a count, similar Events aggregated, and a
// spam filter per object). client-go's default, 4,096 entries each, holds
// an Event of nearly every organisation of a large region for as long as
// the region is settled; repeats of one object's Event follow each other
// within a reconcile or two, so a few hundred recent ones fold the same
// repeats.
const eventCacheSize = 256

// newEventRecorder returns the operator's Event recorder. It writes core/v1
// Events, which carry firstTimestamp, lastTimestamp and count: the
// events.k8s.io/v1 API refuses those fields, and without them "kubectl get
// events --sort-by=.lastTimestamp" lists the operator's Events before every
// other, and "kubectl describe" shows a repeated Event once per copy
// instead of counting it. The recorder's correlator folds an Event repeated
// within minutes into one with a count. It records until ctx ends.
func newEventRecorder(ctx context.Context, mgr ctrl.Manager) (events.EventRecorder, error) {
	clientset, err := kubernetes.NewForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return nil, fmt.Errorf("building the Events client: %w", err)
	}
	b := record.NewBroadcaster(record.WithContext(ctx),
		record.WithCorrelatorOptions(record.CorrelatorOptions{LRUCacheSize: eventCacheSize}))
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: clientset.CoreV1().Events("")})
	go func() {
		<-ctx.Done()
		b.Shutdown()
	}()
	return coreRecorder{b.NewRecorder(mgr.GetScheme(), corev1.EventSource{Component: reportingComponent})}, nil
}

// coreRecorder gives a core/v1 recorder the events.EventRecorder interface
// the controllers use. The action (the condition type) is already the
// start of every note the operator writes ("Ready=True: ..."), so dropping
// it loses nothing.
type coreRecorder struct {
	rec record.EventRecorder
}

// Eventf records an Event about regarding; related is not recorded by the
// core/v1 API.
func (c coreRecorder) Eventf(regarding, _ runtime.Object, eventtype, reason, _, note string, args ...any) {
	c.rec.Eventf(regarding, eventtype, reason, note, args...)
}
