/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package datasharingagreement

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/governance"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;update

// ledgerState is what the region's agreement ledger says of one version.
type ledgerState struct {
	// recorded: the ledger holds this version with these terms.
	recorded bool
	// mismatch explains, when non-empty, that the ledger holds this version
	// with other terms: this object rewrites a signed version.
	mismatch string
}

// checkLedger compares the version with the region's agreement ledger and,
// when the version is approved and not yet there, appends it. The ledger is
// written with optimistic concurrency (an update carries the resourceVersion
// read, a create fails if another wrote first), so a stale cache can never
// overwrite an entry: the write fails and the reconcile is retried.
func (r *Reconciler) checkLedger(ctx context.Context, agreement *shcrv1alpha1.DataSharingAgreement, approved bool, now time.Time) (ledgerState, error) {
	key := governance.LedgerKey(agreement.Spec.AgreementID, agreement.Spec.Version)
	hash := agreement.Status.TermsHash
	cm := &corev1.ConfigMap{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: agreement.Namespace, Name: governance.LedgerName}, cm)
	if client.IgnoreNotFound(err) != nil {
		return ledgerState{}, err
	}
	exists := err == nil
	if state, ok := judgeLedger(agreement, cm, key, hash); ok {
		return state, nil
	}
	if !approved {
		return ledgerState{}, nil
	}
	entry := governance.EncodeLedgerEntry(governance.LedgerEntry{
		TermsHash: hash, RecordedAt: now, Object: agreement.Name, Title: agreement.Spec.Title,
		EffectiveFrom: &agreement.Spec.Terms.EffectiveFrom.Time,
	})
	if r.ledgerReader == nil { // not set up with a manager: write on the cached copy
		res := r.commitLedger(ctx, agreement.Namespace, cm, exists, []*ledgerAppend{{agreement: agreement, key: key, hash: hash, value: entry}})[0]
		return res.state, res.err
	}
	return r.ledger.append(ctx, agreement.Namespace, &ledgerAppend{agreement: agreement, key: key, hash: hash, value: entry,
		done: make(chan ledgerResult, 1)}, r.commitFresh)
}

// ledgerAppend is one approved version waiting to be recorded in its
// namespace's ledger.
type ledgerAppend struct {
	agreement        *shcrv1alpha1.DataSharingAgreement
	key, hash, value string
	done             chan ledgerResult
}

type ledgerResult struct {
	state ledgerState
	err   error
}

// ledgerWriter groups the appends of concurrent reconciles: a region's
// agreements applied at once (a GitOps sync) would otherwise each rewrite
// the whole ledger (one ConfigMap holding every version), one after the
// other or over a copy another had just changed. The first appender of a
// namespace writes every append waiting for it in one update, on the
// ledger as the API server holds it, and hands each its result; appends
// that arrive meanwhile go in the next update.
type ledgerWriter struct {
	mu      sync.Mutex
	pending map[string][]*ledgerAppend
	busy    map[string]bool
}

func (w *ledgerWriter) append(ctx context.Context, ns string, a *ledgerAppend,
	commit func(context.Context, string, []*ledgerAppend) []ledgerResult) (ledgerState, error) {
	w.mu.Lock()
	if w.pending == nil {
		w.pending, w.busy = map[string][]*ledgerAppend{}, map[string]bool{}
	}
	w.pending[ns] = append(w.pending[ns], a)
	lead := !w.busy[ns]
	w.busy[ns] = true
	w.mu.Unlock()
	if lead {
		for {
			w.mu.Lock()
			batch := w.pending[ns]
			delete(w.pending, ns)
			if len(batch) == 0 {
				w.busy[ns] = false
				w.mu.Unlock()
				break
			}
			w.mu.Unlock()
			for i, res := range commit(ctx, ns, batch) {
				batch[i].done <- res
			}
		}
	}
	select {
	case res := <-a.done:
		return res.state, res.err
	case <-ctx.Done():
		return ledgerState{}, ctx.Err()
	}
}

// commitFresh reads the ledger from the API server and records batch in it.
func (r *Reconciler) commitFresh(ctx context.Context, ns string, batch []*ledgerAppend) []ledgerResult {
	cm := &corev1.ConfigMap{}
	err := r.ledgerReader.Get(ctx, client.ObjectKey{Namespace: ns, Name: governance.LedgerName}, cm)
	if client.IgnoreNotFound(err) != nil {
		out := make([]ledgerResult, len(batch))
		for i := range out {
			out[i].err = fmt.Errorf("reading the agreement ledger of %s: %w", ns, err)
		}
		return out
	}
	return r.commitLedger(ctx, ns, cm, err == nil, batch)
}

// commitLedger records each append of batch that the ledger cm does not
// hold yet (judging each against it, and against the appends before it in
// the batch), in one write.
func (r *Reconciler) commitLedger(ctx context.Context, ns string, cm *corev1.ConfigMap, exists bool, batch []*ledgerAppend) []ledgerResult {
	out := make([]ledgerResult, len(batch))
	var added []int
	for i, a := range batch {
		if state, ok := judgeLedger(a.agreement, cm, a.key, a.hash); ok {
			out[i].state = state
			continue
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data[a.key] = a.value
		added = append(added, i)
	}
	if len(added) == 0 {
		return out
	}
	var err error
	if exists {
		err = r.Client.Update(ctx, cm)
	} else {
		cm.ObjectMeta = metav1.ObjectMeta{
			Namespace: ns, Name: governance.LedgerName,
			Labels: map[string]string{specs.LabelManagedBy: specs.ManagedBy, specs.LabelPartOf: "shcr"},
		}
		err = r.Client.Create(ctx, cm)
	}
	for _, i := range added {
		key := batch[i].key
		switch {
		case apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err):
			out[i].err = fmt.Errorf("recording %s in the agreement ledger: another write came first, retrying: %w", key, err)
		case err != nil:
			out[i].err = fmt.Errorf("recording %s in the agreement ledger: %w", key, err)
		default:
			out[i].state = ledgerState{recorded: true}
		}
	}
	return out
}

// judgeLedger compares the version with the ledger's entry for key, if it
// has one (ok).
func judgeLedger(agreement *shcrv1alpha1.DataSharingAgreement, cm *corev1.ConfigMap, key, hash string) (ledgerState, bool) {
	value, ok := cm.Data[key]
	if !ok {
		return ledgerState{}, false
	}
	entry, err := governance.DecodeLedgerEntry(value)
	switch {
	case err != nil:
		return ledgerState{mismatch: fmt.Sprintf("the agreement ledger's entry %s cannot be read (%v): the version is treated as rewritten", key, err)}, true
	case entry.TermsHash != hash:
		return ledgerState{mismatch: fmt.Sprintf(
			"the agreement ledger records %s v%d as approved at %s with terms hash %s; these terms hash to %s: an approved version cannot be rewritten, agree changed terms as a new version",
			agreement.Spec.AgreementID, agreement.Spec.Version, stamp(entry.RecordedAt), entry.TermsHash, hash)}, true
	}
	return ledgerState{recorded: true}, true
}
