/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package datasharingagreement

import (
	"context"
	"fmt"
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
	// Appends are made one at a time, each on the ledger as the API server
	// holds it: concurrent reconciles of a region's agreements (a GitOps
	// apply of many at once) would otherwise each write over a copy the
	// other had just changed, fail on its resourceVersion, and wait out an
	// ever longer retry backoff. Another process's write still fails ours.
	r.ledgerMu.Lock()
	defer r.ledgerMu.Unlock()
	if r.ledgerReader != nil {
		fresh := &corev1.ConfigMap{}
		err = r.ledgerReader.Get(ctx, client.ObjectKey{Namespace: agreement.Namespace, Name: governance.LedgerName}, fresh)
		if client.IgnoreNotFound(err) != nil {
			return ledgerState{}, err
		}
		if exists = err == nil; exists {
			cm = fresh
			if state, ok := judgeLedger(agreement, cm, key, hash); ok {
				return state, nil // recorded meanwhile
			}
		}
	}
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[key] = governance.EncodeLedgerEntry(governance.LedgerEntry{
		TermsHash: hash, RecordedAt: now, Object: agreement.Name, Title: agreement.Spec.Title,
		EffectiveFrom: &agreement.Spec.Terms.EffectiveFrom.Time,
	})
	if exists {
		err = r.Client.Update(ctx, cm)
	} else {
		cm.ObjectMeta = metav1.ObjectMeta{
			Namespace: agreement.Namespace, Name: governance.LedgerName,
			Labels: map[string]string{specs.LabelManagedBy: specs.ManagedBy, specs.LabelPartOf: "shcr"},
		}
		err = r.Client.Create(ctx, cm)
	}
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		return ledgerState{}, fmt.Errorf("recording %s in the agreement ledger: another write came first, retrying: %w", key, err)
	} else if err != nil {
		return ledgerState{}, fmt.Errorf("recording %s in the agreement ledger: %w", key, err)
	}
	return ledgerState{recorded: true}, nil
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
