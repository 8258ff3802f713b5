/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package datasharingagreement

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/controllers/internal/phases"
	"github.com/shcr-io/shcr-operator/internal/governance"
	"github.com/shcr-io/shcr-operator/internal/index"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

// transitionSlack is added to a requeue at a transition time, so the
// reconcile runs just after the second, never just before it.
const transitionSlack = 50 * time.Millisecond

// scope is one reconcile of an agreement version: the version, its region,
// the clock, and what each phase found for the phases after it.
type scope struct {
	agreement *shcrv1alpha1.DataSharingAgreement
	region    string
	now       time.Time

	// missing and unsigned are the controller parties whose approvals do
	// not count (governance.CountApprovals).
	missing, unsigned []string
	// versions hold the agreementId's versions; duplicateOf names the
	// object holding this version when that is another (governance.Distinct).
	versions    []*shcrv1alpha1.DataSharingAgreement
	duplicateOf string
	ledger      ledgerState
	approved    bool
	// peerConfirmed: the peer region confirms a cross-region agreement.
	peerConfirmed bool
	// parties say which parties share now; admissionPending that a
	// controller party's admission is not yet decided.
	parties          []shcrv1alpha1.PartyStatus
	admissionPending bool
}

// Reconcile derives one agreement version's status, and writes it once
// (patchStatus).
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return phases.Reconcile(ctx, r.Client, "DataSharingAgreement", req, &shcrv1alpha1.DataSharingAgreement{}, r.reconcile, r.patchStatus)
}

// reconcile checks that the agreement is in a region, then runs its phases.
func (r *Reconciler) reconcile(ctx context.Context, agreement *shcrv1alpha1.DataSharingAgreement) (ctrl.Result, error) {
	region, err := phases.RegionOf(ctx, r.Client, "DataSharingAgreement", agreement, func() { markNotInRegion(agreement) })
	if err != nil {
		return ctrl.Result{}, err
	}
	agreement.Status.TermsHash = governance.TermsHash(&agreement.Spec.Terms, region)
	// Each phase builds on what the ones before it found.
	return phases.RunInOrder(ctx, &scope{agreement: agreement, region: region, now: r.Now()},
		r.reconcileApprovals,
		r.reconcileLedger,
		r.reconcilePeer,
		r.reconcileParties,
		r.reconcilePhase,
	)
}

// reconcileApprovals counts the controller parties' approvals recorded by
// one of their signatories.
func (r *Reconciler) reconcileApprovals(ctx context.Context, s *scope) (ctrl.Result, error) {
	agreement := s.agreement
	holders, err := r.signatoryHolders(ctx, agreement)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading the signatory holders of agreement %s/%s: %w", agreement.Namespace, agreement.Name, err)
	}
	s.missing, s.unsigned = governance.CountApprovals(&agreement.Spec, holders, true)
	return ctrl.Result{}, nil
}

// reconcileLedger finds the agreementId's other versions, records an
// approved version in the agreement ledger, and says whether the version
// counts as approved.
func (r *Reconciler) reconcileLedger(ctx context.Context, s *scope) (ctrl.Result, error) {
	agreement := s.agreement
	var err error
	s.versions, s.duplicateOf, err = r.versions(ctx, agreement)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("listing the other versions of agreement %s/%s: %w", agreement.Namespace, agreement.Name, err)
	}
	// A duplicate never writes the ledger: it cannot claim the version's
	// entry before the object that holds the version is approved.
	s.ledger, err = r.checkLedger(ctx, agreement, len(s.missing) == 0 && s.duplicateOf == "", s.now)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("checking the ledger for agreement %s/%s: %w", agreement.Namespace, agreement.Name, err)
	}
	setRecorded(agreement, s.ledger)
	// A version the ledger records was approved by signatories when it was
	// recorded; a signatory or member leaving later does not undo that.
	s.approved = s.ledger.recorded && (len(s.missing) == 0 || len(governance.MissingApprovals(&agreement.Spec)) == 0)
	setApproved(agreement, s.missing, s.unsigned, s.approved)
	return ctrl.Result{}, nil
}

// reconcilePeer confirms a cross-region agreement with its peer region.
func (r *Reconciler) reconcilePeer(ctx context.Context, s *scope) (ctrl.Result, error) {
	var err error
	s.peerConfirmed, err = r.checkPeer(ctx, s.agreement, s.region)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("checking the peer region's counterpart of agreement %s/%s: %w", s.agreement.Namespace, s.agreement.Name, err)
	}
	return ctrl.Result{}, nil
}

// reconcileParties records which parties share now.
func (r *Reconciler) reconcileParties(ctx context.Context, s *scope) (ctrl.Result, error) {
	agreement := s.agreement
	var err error
	s.parties, s.admissionPending, err = r.partyStates(ctx, agreement, s.region)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading the parties of agreement %s/%s: %w", agreement.Namespace, agreement.Name, err)
	}
	agreement.Status.Parties = s.parties
	agreement.Status.PartiesDisplay = partiesDisplay(agreement.Spec.Terms.Parties)
	return ctrl.Result{}, nil
}

// reconcilePhase derives the version's phase from what the other phases
// found and the clock, and wakes on the second of its next transition.
func (r *Reconciler) reconcilePhase(ctx context.Context, s *scope) (ctrl.Result, error) {
	agreement := s.agreement
	window, err := r.window(ctx, agreement, s.versions, s.peerConfirmed, s.approved)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("computing the sharing window of agreement %s/%s: %w", agreement.Namespace, agreement.Name, err)
	}
	d := derive(phaseInput{
		duplicateOf:         s.duplicateOf,
		ledgerMismatch:      s.ledger.mismatch,
		blocked:             governance.PolicyAgreement(agreement).Blocked,
		approved:            s.approved,
		suspended:           agreement.Spec.Suspended,
		controllerEffective: anyControllerEffective(s.parties),
		admissionPending:    s.admissionPending,
		crossRegion:         agreement.Spec.Terms.Journey == shcrv1alpha1.JourneyCrossRegion,
		peerConfirmed:       s.peerConfirmed,
		window:              window,
		endsOn:              agreement.Spec.Terms.EndsOn.Time,
	}, s.now)
	markPhase(agreement, d)
	if d.next.IsZero() {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: d.next.Sub(s.now) + transitionSlack}, nil
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
	// The ledger is only read here: not copied out of the cache, and only
	// this agreement's entries are decoded.
	ledger := &corev1.ConfigMap{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: agreement.Namespace, Name: governance.LedgerName}, ledger,
		&client.GetOptions{UnsafeDisableDeepCopy: ptr.To(true)}); client.IgnoreNotFound(err) != nil {
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
	return policy.Windows(inputs, governance.SuccessorsOf(ledger.Data, agreement.Spec.AgreementID))[policy.AgreementKey{ID: agreement.Spec.AgreementID, Version: agreement.Spec.Version}], nil
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
		setCondition(agreement, shcrv1alpha1.ConditionPeerConfirmed, metav1.ConditionFalse, shcrv1alpha1.ReasonPeerMismatch, msg)
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
		setCondition(agreement, shcrv1alpha1.ConditionPeerConfirmed, metav1.ConditionTrue, shcrv1alpha1.ReasonPeerConfirmed,
			fmt.Sprintf("peer region %s holds the same version and terms hash and lists this region as a peer", t.PeerRegion))
		return true, nil
	}
	return mismatch(fmt.Sprintf("peer region %s holds no %s v%d", t.PeerRegion, agreement.Spec.AgreementID, agreement.Spec.Version))
}
