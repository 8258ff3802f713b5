/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package datasharingagreement

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/conditions"
	"github.com/shcr-io/shcr-operator/internal/governance"
	"github.com/shcr-io/shcr-operator/internal/index"
	"github.com/shcr-io/shcr-operator/internal/kube"
	"github.com/shcr-io/shcr-operator/internal/metrics"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

// transitionSlack is added to a requeue at a transition time, so the
// reconcile runs just after the second, never just before it.
const transitionSlack = 50 * time.Millisecond

// Reconcile derives one agreement version's status.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, reterr error) {
	agreement := &shcrv1alpha1.DataSharingAgreement{}
	if err := r.Client.Get(ctx, req.NamespacedName, agreement); err != nil {
		if client.IgnoreNotFound(err) == nil {
			metrics.SetStalled("DataSharingAgreement", req.Namespace, req.Name, false)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !agreement.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	base := agreement.DeepCopy()
	defer func() {
		reterr = errors.Join(reterr, r.patchStatus(ctx, base, agreement, reterr))
	}()

	region, err := kube.RegionOf(ctx, r.Client, agreement.Namespace)
	if errors.Is(err, kube.ErrNotRegionNamespace) {
		agreement.Status.Phase = shcrv1alpha1.PhaseInvalid
		r.set(agreement, shcrv1alpha1.ConditionReady, metav1.ConditionFalse, shcrv1alpha1.ReasonNotInRegion,
			fmt.Sprintf("namespace %s is not a region namespace: create DataSharingAgreements in shcr-<region>", agreement.Namespace))
		return ctrl.Result{}, reconcile.TerminalError(err)
	} else if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading the region of agreement %s/%s: %w", agreement.Namespace, agreement.Name, err)
	}
	agreement.Status.TermsHash = governance.TermsHash(&agreement.Spec.Terms, region)
	holders, err := r.signatoryHolders(ctx, agreement)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading the signatory holders of agreement %s/%s: %w", agreement.Namespace, agreement.Name, err)
	}
	missing, unsigned := governance.CountApprovals(&agreement.Spec, holders, true)
	now := r.Now()
	versions, duplicateOf, err := r.versions(ctx, agreement)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("listing the other versions of agreement %s/%s: %w", agreement.Namespace, agreement.Name, err)
	}
	// A duplicate never writes the ledger: it cannot claim the version's
	// entry before the object that holds the version is approved.
	ledger, err := r.checkLedger(ctx, agreement, len(missing) == 0 && duplicateOf == "", now)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("checking the ledger for agreement %s/%s: %w", agreement.Namespace, agreement.Name, err)
	}
	r.setRecorded(agreement, ledger)
	// A version the ledger records was approved by signatories when it was
	// recorded; a signatory or member leaving later does not undo that.
	approved := ledger.recorded && (len(missing) == 0 || len(governance.MissingApprovals(&agreement.Spec)) == 0)
	r.setApproved(agreement, missing, unsigned, approved)
	peerConfirmed, err := r.checkPeer(ctx, agreement, region)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("checking the peer region's counterpart of agreement %s/%s: %w", agreement.Namespace, agreement.Name, err)
	}
	parties, admissionPending, err := r.partyStates(ctx, agreement, region)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading the parties of agreement %s/%s: %w", agreement.Namespace, agreement.Name, err)
	}
	agreement.Status.Parties = parties
	agreement.Status.PartiesDisplay = partiesDisplay(agreement.Spec.Terms.Parties)

	window, err := r.window(ctx, agreement, versions, peerConfirmed, approved)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("computing the sharing window of agreement %s/%s: %w", agreement.Namespace, agreement.Name, err)
	}
	d := derive(phaseInput{
		duplicateOf:         duplicateOf,
		ledgerMismatch:      ledger.mismatch,
		blocked:             governance.PolicyAgreement(agreement).Blocked,
		approved:            approved,
		suspended:           agreement.Spec.Suspended,
		controllerEffective: anyControllerEffective(parties),
		admissionPending:    admissionPending,
		crossRegion:         agreement.Spec.Terms.Journey == shcrv1alpha1.JourneyCrossRegion,
		peerConfirmed:       peerConfirmed,
		window:              window,
		endsOn:              agreement.Spec.Terms.EndsOn.Time,
	}, now)
	r.apply(agreement, d)
	if d.next.IsZero() {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: d.next.Sub(now) + transitionSlack}, nil
}

// apply records a derived phase in status.
func (r *Reconciler) apply(agreement *shcrv1alpha1.DataSharingAgreement, d derived) {
	agreement.Status.Phase = d.phase
	agreement.Status.NextTransitionTime = nil
	if !d.next.IsZero() {
		agreement.Status.NextTransitionTime = &metav1.Time{Time: d.next}
	}
	if d.phase == shcrv1alpha1.PhaseActive {
		if agreement.Status.ActiveSince == nil || !agreement.Status.ActiveSince.Time.Equal(d.activeSince) {
			agreement.Status.ActiveSince = &metav1.Time{Time: d.activeSince}
		}
	}
	r.set(agreement, shcrv1alpha1.ConditionActive, conditions.Bool(d.phase == shcrv1alpha1.PhaseActive), shcrv1alpha1.PhaseReason(d.phase), d.message)
	status, reason, message := termsValidity(d)
	r.set(agreement, shcrv1alpha1.ConditionTermsValid, status, reason, message)
}

// termsValidity is the TermsValid condition of a derived phase: it speaks of
// the terms only, never of approvals or the clock, which Approved and Active
// report.
func termsValidity(d derived) (metav1.ConditionStatus, string, string) {
	if d.phase != shcrv1alpha1.PhaseInvalid && d.phase != shcrv1alpha1.PhaseSuspended {
		return metav1.ConditionTrue, shcrv1alpha1.ReasonTermsHold,
			"the terms can hold: this version is not suspended, not a duplicate of another object's, and the agreement ledger agrees with it"
	}
	reason := shcrv1alpha1.PhaseReason(d.phase)
	if d.reason != "" {
		reason = d.reason
	}
	return metav1.ConditionFalse, reason, d.message
}

// versions lists the objects of the agreement's agreementId in its namespace
// that hold a version (see governance.Distinct), and names the object that
// holds this agreement's version when that is another object: then this one
// is a duplicate.
func (r *Reconciler) versions(ctx context.Context, agreement *shcrv1alpha1.DataSharingAgreement) (
	[]*shcrv1alpha1.DataSharingAgreement, string, error) {
	list := &shcrv1alpha1.DataSharingAgreementList{}
	if err := r.Client.List(ctx, list, client.InNamespace(agreement.Namespace),
		client.MatchingFields{index.AgreementID: agreement.Spec.AgreementID}); err != nil {
		return nil, "", err
	}
	if !slices.ContainsFunc(list.Items, func(v shcrv1alpha1.DataSharingAgreement) bool { return v.UID == agreement.UID }) {
		// The cache has not seen this object yet: judge it with the rest.
		list.Items = append(list.Items, *agreement)
	}
	kept, duplicates := governance.Distinct(list.Items)
	return kept, duplicates[agreement.Name], nil
}

// window is this version's validity window as the policy compiler computes
// it, so status and enforcement agree to the second: over the versions that
// hold their agreement version, with the agreement ledger's highest
// approved version superseding every lower one. A version that is not
// eligible to grant (a draft, suspended, or an unconfirmed cross-region
// agreement) has no window in that computation; its own dates stand.
func (r *Reconciler) window(ctx context.Context, agreement *shcrv1alpha1.DataSharingAgreement,
	versions []*shcrv1alpha1.DataSharingAgreement, peerConfirmed, approved bool) (policy.Window, error) {
	ledger := &corev1.ConfigMap{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: agreement.Namespace, Name: governance.LedgerName}, ledger); client.IgnoreNotFound(err) != nil {
		return policy.Window{}, err
	}
	var inputs []policy.Agreement
	var own policy.Agreement
	for _, v := range versions {
		in := governance.PolicyAgreement(v)
		if v.UID == agreement.UID {
			in.PeerConfirmed = peerConfirmed
			in.Approved = approved
			own = in
		}
		inputs = append(inputs, in)
	}
	if !policy.Eligible(own) {
		return policy.Window{From: agreement.Spec.Terms.EffectiveFrom.Time, Until: agreement.Spec.Terms.EndsOn.Time}, nil
	}
	return policy.Windows(inputs, governance.Successors(ledger.Data))[policy.AgreementKey{ID: agreement.Spec.AgreementID, Version: agreement.Spec.Version}], nil
}

// partyStates says, per party, whether it shares now: it must be an Admitted
// member of this region, or of the peer region of a cross-region agreement.
func (r *Reconciler) partyStates(ctx context.Context, agreement *shcrv1alpha1.DataSharingAgreement, region string) (
	_ []shcrv1alpha1.PartyStatus, admissionPending bool, _ error) {
	var members []policy.Member
	regions := map[string]string{agreement.Namespace: region}
	if t := agreement.Spec.Terms; t.Journey == shcrv1alpha1.JourneyCrossRegion {
		regions[shcrv1alpha1.NamespaceFor(t.PeerRegion)] = t.PeerRegion
	}
	for _, p := range agreement.Spec.Terms.Parties {
		list := &shcrv1alpha1.MemberOrganisationList{}
		if err := r.Client.List(ctx, list, client.MatchingFields{index.MemberODSCode: p.ODSCode}); err != nil {
			return nil, false, err
		}
		if governance.IsController(p.Role) && slices.ContainsFunc(list.Items, admissionUndecided) {
			admissionPending = true
		}
		for ns, memberRegion := range regions {
			inRegion := slices.DeleteFunc(slices.Clone(list.Items), func(m shcrv1alpha1.MemberOrganisation) bool { return m.Namespace != ns })
			members = append(members, governance.PolicyMembers(inRegion, memberRegion)...)
		}
	}
	var out []shcrv1alpha1.PartyStatus
	for _, s := range policy.EffectiveParties(governance.PolicyAgreement(agreement), members, region) {
		out = append(out, shcrv1alpha1.PartyStatus{
			ODSCode: s.ODSCode, Role: shcrv1alpha1.PartyRole(s.Role), Effective: s.Effective, Reason: s.Reason,
		})
	}
	return out, admissionPending, nil
}

// setApproved records which controller parties' approvals count.
func (r *Reconciler) setApproved(agreement *shcrv1alpha1.DataSharingAgreement, missing, unsigned []string, approved bool) {
	agreement.Status.MissingApprovals = missing
	switch {
	case len(missing) == 0:
		r.set(agreement, shcrv1alpha1.ConditionApproved, metav1.ConditionTrue, shcrv1alpha1.ReasonApproved,
			"every controller party has approved the terms, each approval recorded by one of its signatories")
	case approved:
		agreement.Status.MissingApprovals = nil
		r.set(agreement, shcrv1alpha1.ConditionApproved, metav1.ConditionTrue, shcrv1alpha1.ReasonApproved, fmt.Sprintf(
			"every controller party's signatory approved the terms when the version was recorded in the agreement ledger "+
				"(the approval for %s would not count today)", strings.Join(missing, ", ")))
	case len(unsigned) > 0:
		r.set(agreement, shcrv1alpha1.ConditionApproved, metav1.ConditionFalse, shcrv1alpha1.ReasonNotSignatory, fmt.Sprintf(
			"the approval for %s is not counted: it was recorded by an identity that is not a signatory of that organisation "+
				"(spec.signatories of its MemberOrganisation); awaiting approval from %s",
			strings.Join(unsigned, ", "), strings.Join(missing, ", ")))
	default:
		r.set(agreement, shcrv1alpha1.ConditionApproved, metav1.ConditionFalse, shcrv1alpha1.ReasonAwaitingApprovals,
			"awaiting approval from "+strings.Join(missing, ", "))
	}
}

// setRecorded records what the agreement ledger says of the version.
func (r *Reconciler) setRecorded(agreement *shcrv1alpha1.DataSharingAgreement, ledger ledgerState) {
	switch {
	case ledger.mismatch != "":
		r.set(agreement, shcrv1alpha1.ConditionRecorded, metav1.ConditionFalse, shcrv1alpha1.ReasonLedgerMismatch, ledger.mismatch)
	case ledger.recorded:
		r.set(agreement, shcrv1alpha1.ConditionRecorded, metav1.ConditionTrue, shcrv1alpha1.ReasonRecorded,
			"the agreement ledger records this version with these terms")
	default:
		r.set(agreement, shcrv1alpha1.ConditionRecorded, metav1.ConditionFalse, shcrv1alpha1.ReasonNotYetApproved,
			"recorded in the agreement ledger once every controller party has approved")
	}
}

// signatoryHolders maps the ODS code of each controller party to the
// MemberOrganisations holding it where the agreement looks members up: its
// region, and the peer region of a cross-region agreement. Whoever records
// an approval for a party must be a signatory of them.
func (r *Reconciler) signatoryHolders(ctx context.Context, agreement *shcrv1alpha1.DataSharingAgreement) (
	map[string][]shcrv1alpha1.MemberOrganisation, error) {
	namespaces := []string{agreement.Namespace}
	if t := agreement.Spec.Terms; t.Journey == shcrv1alpha1.JourneyCrossRegion {
		namespaces = append(namespaces, shcrv1alpha1.NamespaceFor(t.PeerRegion))
	}
	out := map[string][]shcrv1alpha1.MemberOrganisation{}
	for _, p := range agreement.Spec.Terms.Parties {
		if !governance.IsController(p.Role) {
			continue
		}
		list := &shcrv1alpha1.MemberOrganisationList{}
		if err := r.Client.List(ctx, list, client.MatchingFields{index.MemberODSCode: p.ODSCode}); err != nil {
			return nil, err
		}
		for _, m := range list.Items {
			if slices.Contains(namespaces, m.Namespace) && m.DeletionTimestamp.IsZero() {
				out[p.ODSCode] = append(out[p.ODSCode], m)
			}
		}
	}
	return out, nil
}

// admissionUndecided says whether the operator has yet to check a member's
// admission: no Admitted condition for its current generation.
func admissionUndecided(m shcrv1alpha1.MemberOrganisation) bool {
	c := meta.FindStatusCondition(m.Status.Conditions, shcrv1alpha1.ConditionAdmitted)
	return m.DeletionTimestamp.IsZero() && (c == nil || c.ObservedGeneration != m.Generation)
}

func anyControllerEffective(parties []shcrv1alpha1.PartyStatus) bool {
	return slices.ContainsFunc(parties, func(p shcrv1alpha1.PartyStatus) bool {
		return p.Effective && governance.IsController(p.Role)
	})
}

// checkPeer confirms a cross-region agreement: the peer region exists, lists
// this region in spec.peers, and holds the same agreementId and version with
// the same terms hash.
func (r *Reconciler) checkPeer(ctx context.Context, agreement *shcrv1alpha1.DataSharingAgreement, region string) (bool, error) {
	t := agreement.Spec.Terms
	if t.Journey != shcrv1alpha1.JourneyCrossRegion {
		meta.RemoveStatusCondition(&agreement.Status.Conditions, shcrv1alpha1.ConditionPeerConfirmed)
		return false, nil
	}
	mismatch := func(msg string) (bool, error) {
		r.set(agreement, shcrv1alpha1.ConditionPeerConfirmed, metav1.ConditionFalse, shcrv1alpha1.ReasonPeerMismatch, msg)
		return false, nil
	}
	own := &shcrv1alpha1.ShCRRegion{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: region}, own); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	if !slices.Contains(own.Spec.Peers, t.PeerRegion) {
		return mismatch(fmt.Sprintf("this region does not list %s in spec.peers", t.PeerRegion))
	}
	peer := &shcrv1alpha1.ShCRRegion{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: t.PeerRegion}, peer); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return mismatch(fmt.Sprintf("peer region %s does not exist", t.PeerRegion))
		}
		return false, err
	}
	if !slices.Contains(peer.Spec.Peers, region) {
		return mismatch(fmt.Sprintf("peer region %s does not list %s in spec.peers", t.PeerRegion, region))
	}
	copies := &shcrv1alpha1.DataSharingAgreementList{}
	if err := r.Client.List(ctx, copies, client.InNamespace(shcrv1alpha1.NamespaceFor(t.PeerRegion)),
		client.MatchingFields{index.AgreementID: agreement.Spec.AgreementID}); err != nil {
		return false, err
	}
	ownHash := agreement.Status.TermsHash
	for i := range copies.Items {
		c := &copies.Items[i]
		if c.Spec.Version != agreement.Spec.Version {
			continue
		}
		if h := governance.TermsHash(&c.Spec.Terms, t.PeerRegion); h != ownHash {
			return mismatch(fmt.Sprintf("peer region %s holds %s v%d with terms hash %s, not %s",
				t.PeerRegion, agreement.Spec.AgreementID, agreement.Spec.Version, h, ownHash))
		}
		if c.Spec.Terms.PeerRegion != region {
			return mismatch(fmt.Sprintf("the copy in %s names %s as its peer, not %s", t.PeerRegion, c.Spec.Terms.PeerRegion, region))
		}
		r.set(agreement, shcrv1alpha1.ConditionPeerConfirmed, metav1.ConditionTrue, shcrv1alpha1.ReasonPeerConfirmed,
			fmt.Sprintf("peer region %s holds the same version and terms hash and lists this region as a peer", t.PeerRegion))
		return true, nil
	}
	return mismatch(fmt.Sprintf("peer region %s holds no %s v%d", t.PeerRegion, agreement.Spec.AgreementID, agreement.Spec.Version))
}

// partiesDisplay writes the parties as "ODS:Role", comma-separated, for
// the Parties printer column.
func partiesDisplay(parties []shcrv1alpha1.Party) string {
	out := make([]string, len(parties))
	for i, p := range parties {
		out[i] = p.ODSCode + ":" + string(p.Role)
	}
	return strings.Join(out, ",")
}
