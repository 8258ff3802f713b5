/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package memberorganisation

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/kube"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// DefaultPurgeBound is how long after a narrowing the records outside the
// new scope must be gone (status.purge.deadline).
const DefaultPurgeBound = time.Hour

// maxPurgeRecheck bounds the wait between looks at a pending purge: the
// operator reads its Job by name rather than watching every Job.
const maxPurgeRecheck = 30 * time.Second

// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;create;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=list

// purgeBound is the configured bound, or the default.
func (r *Reconciler) purgeBound() time.Duration {
	if r.PurgeBound > 0 {
		return r.PurgeBound
	}
	return DefaultPurgeBound
}

// maxPurgeSettle is how long a narrowing must hold before its purge Job
// starts: when a version supersedes a wider one, the organisation can see
// the old version Superseded a moment before the new one Active, and its
// scope is empty in between; a Job started then would remove records the
// new version keeps in scope. Once the scope settles, only what it really
// lost is pending.
const maxPurgeSettle = 10 * time.Second

// purgeSettle is maxPurgeSettle, or an eighth of a shorter bound.
func (r *Reconciler) purgeSettle() time.Duration {
	return min(maxPurgeSettle, r.purgeBound()/8)
}

// purgeRecheck is how often a pending purge is looked at again.
func (r *Reconciler) purgeRecheck() time.Duration {
	return min(maxPurgeRecheck, max(r.purgeBound()/4, time.Second))
}

// reconcilePurge follows the removal from the record service of the
// records the organisation provided in categories it may no longer
// provide: the categories before this reconcile less those now (plus any
// still pending), less any granted again. A Job (specs.PurgeJob) removes
// them, once the organisation's connector no longer forwards them: when no
// connector pod runs, or the connector has reported, after the narrowing,
// categories without them. It returns when to look again (0: nothing
// pending).
func (r *Reconciler) reconcilePurge(ctx context.Context, member *shcrv1alpha1.MemberOrganisation, region string,
	before []shcrv1alpha1.DataCategory, admitted bool) (time.Duration, error) {
	now := r.Now()
	p := member.Status.Purge
	pending := pendingCategories(before, member.Status.ProvidesCategories, p)
	if len(pending) == 0 {
		if p != nil && len(p.Categories) > 0 {
			p.Categories, p.Job, p.Attempts = nil, "", 0
			setCondition(member, shcrv1alpha1.ConditionRecordsPurged, metav1.ConditionTrue, shcrv1alpha1.ReasonPurged,
				"the categories pending removal were granted again: their records are in scope and are kept")
		}
		return 0, nil
	}
	if p == nil {
		p = &shcrv1alpha1.PurgeStatus{}
		member.Status.Purge = p
	}
	if len(p.Categories) == 0 || p.RequestedAt == nil {
		p.RequestedAt, p.CompletedAt, p.Job, p.Attempts = &metav1.Time{Time: now}, nil, "", 0
		p.Deadline = &metav1.Time{Time: now.Add(r.purgeBound())}
	} else if added := minus(pending, p.Categories); len(added) > 0 {
		// A further narrowing has its own bound.
		p.Deadline = &metav1.Time{Time: now.Add(r.purgeBound())}
	}
	p.Categories = pending

	state, err := r.advancePurge(ctx, member, region, p, admitted, now)
	if err != nil {
		return 0, err
	}
	if len(p.Categories) == 0 {
		return 0, nil
	}
	names := kube.JoinCategories(p.Categories)
	if now.After(p.Deadline.Time) {
		setCondition(member, shcrv1alpha1.ConditionRecordsPurged, metav1.ConditionFalse, shcrv1alpha1.ReasonPurgeOverdue,
			fmt.Sprintf("the records of %s the organisation provided are still in the record service, past the deadline %s: %s",
				names, p.Deadline.UTC().Format(time.RFC3339), state))
	} else {
		setCondition(member, shcrv1alpha1.ConditionRecordsPurged, metav1.ConditionFalse, shcrv1alpha1.ReasonPurgePending,
			fmt.Sprintf("removing the records of %s the organisation provided from the record service by %s: %s",
				names, p.Deadline.UTC().Format(time.RFC3339), state))
	}
	recheck := r.purgeRecheck()
	if untilSettled := p.RequestedAt.Add(r.purgeSettle()).Sub(now); p.Job == "" && untilSettled > 0 {
		recheck = min(recheck, untilSettled)
	}
	if untilDeadline := p.Deadline.Sub(now); untilDeadline > 0 {
		// Overdue shows on the second the deadline passes.
		recheck = min(recheck, untilDeadline+time.Second)
	}
	return recheck, nil
}

// holdPurge records, for an organisation refused whatever its governance
// (its categories cleared), the categories it provided as pending, so that
// the narrowing is not lost: the purge goes on once it is judged again.
func (r *Reconciler) holdPurge(member *shcrv1alpha1.MemberOrganisation, reason string) {
	p := member.Status.Purge
	pending := pendingCategories(member.Status.ProvidesCategories, nil, p)
	if len(pending) == 0 {
		return
	}
	if p == nil {
		p = &shcrv1alpha1.PurgeStatus{}
		member.Status.Purge = p
	}
	if len(p.Categories) == 0 || p.RequestedAt == nil {
		now := r.Now()
		p.RequestedAt, p.CompletedAt, p.Job, p.Attempts = &metav1.Time{Time: now}, nil, "", 0
		p.Deadline = &metav1.Time{Time: now.Add(r.purgeBound())}
	}
	p.Categories = pending
	setCondition(member, shcrv1alpha1.ConditionRecordsPurged, metav1.ConditionFalse, shcrv1alpha1.ReasonPurgePending,
		fmt.Sprintf("the records of %s the organisation provided are to be removed from the record service; "+
			"the purge waits while the organisation is refused (%s)", kube.JoinCategories(pending), reason))
}

// advancePurge moves the purge on by one step and says where it stands:
// it completes it when its Job succeeded, notes a failed Job, or starts a
// Job once the connector no longer forwards the categories.
func (r *Reconciler) advancePurge(ctx context.Context, member *shcrv1alpha1.MemberOrganisation, region string,
	p *shcrv1alpha1.PurgeStatus, admitted bool, now time.Time) (string, error) {
	if p.Job != "" {
		job := &batchv1.Job{}
		err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: member.Namespace, Name: p.Job}, job)
		switch {
		case apierrors.IsNotFound(err):
			p.Job, p.Attempts = "", p.Attempts+1
			return "its Job was removed before it finished; another starts", nil
		case err != nil:
			return "", fmt.Errorf("reading purge Job %s/%s of member %s: %w", member.Namespace, p.Job, member.Name, err)
		case kube.JobConditionTrue(job, batchv1.JobComplete) && !slices.ContainsFunc(p.Categories, func(c shcrv1alpha1.DataCategory) bool {
			return !slices.Contains(strings.Split(job.Annotations[specs.AnnotationPurgeCategories], ","), string(c))
		}):
			at := now
			if job.Status.CompletionTime != nil {
				at = job.Status.CompletionTime.Time
			}
			names := kube.JoinCategories(p.Categories)
			p.Categories, p.CompletedAt, p.Attempts = nil, &metav1.Time{Time: at}, 0
			setCondition(member, shcrv1alpha1.ConditionRecordsPurged, metav1.ConditionTrue, shcrv1alpha1.ReasonPurged,
				fmt.Sprintf("Job %s removed the records of %s the organisation provided from the record service, and recorded it in an AuditEvent there", job.Name, names))
			ctrl.LoggerFrom(ctx).Info("Purge completed", "odsCode", member.Spec.ODSCode, "categories", names, "job", job.Name)
			return "", nil
		case kube.JobConditionTrue(job, batchv1.JobComplete) || kube.JobConditionTrue(job, batchv1.JobFailed):
			// Failed, or done for fewer categories than now pending.
			if kube.JobConditionTrue(job, batchv1.JobFailed) {
				p.Attempts++
			}
			p.Job = ""
		default:
			return fmt.Sprintf("Job %s is removing them", p.Job), nil
		}
	}
	if settled := p.RequestedAt.Add(r.purgeSettle()); now.Before(settled) {
		return fmt.Sprintf("the narrowing is acted on once it has held until %s", settled.UTC().Format(time.RFC3339)), nil
	}
	ready, why, err := r.connectorStopped(ctx, member, p)
	if err != nil {
		return "", err
	}
	if !ready {
		return why, nil
	}
	var categories []string
	for _, c := range p.Categories {
		categories = append(categories, string(c))
	}
	name := specs.PurgeJobName(member, p.RequestedAt.Unix(), p.Attempts, categories)
	job := specs.PurgeJob(region, member, name, r.ConnectorImage, categories, purgeReason(member, admitted))
	if err := r.Client.Create(ctx, job); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("creating purge Job %s/%s of member %s: %w", member.Namespace, name, member.Name, err)
	}
	p.Job = name
	state := fmt.Sprintf("Job %s is removing them", name)
	if p.Attempts > 0 {
		state += fmt.Sprintf(" (%d attempts failed before it; see their logs)", p.Attempts)
	}
	return state, nil
}

// connectorStopped says whether the organisation's connector no longer
// forwards the pending categories: no connector pod exists, or the
// connector reported, after the narrowing, categories without them.
func (r *Reconciler) connectorStopped(ctx context.Context, member *shcrv1alpha1.MemberOrganisation, p *shcrv1alpha1.PurgeStatus) (bool, string, error) {
	pods := &corev1.PodList{}
	if err := r.APIReader.List(ctx, pods, client.InNamespace(member.Namespace), client.MatchingLabels{
		specs.LabelOrganisation: member.Spec.ODSCode, specs.LabelComponent: specs.ComponentConnector,
	}); err != nil {
		return false, "", fmt.Errorf("listing the connector pods of member %s/%s: %w", member.Namespace, member.Name, err)
	}
	if len(pods.Items) == 0 {
		return true, "", nil
	}
	categories, at, ok := r.board.reportedCategories(client.ObjectKeyFromObject(member))
	if ok && !at.Before(p.RequestedAt.Time) && !slices.ContainsFunc(p.Categories, func(c shcrv1alpha1.DataCategory) bool {
		return slices.Contains(categories, string(c))
	}) {
		return true, "", nil
	}
	return false, "waiting for the connector to report that it no longer forwards them, so that nothing is written after the purge", nil
}

// reportedCategories are the categories the organisation's connector last
// said it forwards, and when; ok is false before any report.
func (b *statusBoard) reportedCategories(key client.ObjectKey) ([]string, time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entries[key]
	if e == nil || e.categoriesAt.IsZero() {
		return nil, time.Time{}, false
	}
	return slices.Clone(e.categories), e.categoriesAt, true
}

// pendingCategories are the categories whose records are to be removed:
// those provided before and not now, and those still pending, less those
// provided now; in the order of AllCategories.
func pendingCategories(before, now []shcrv1alpha1.DataCategory, p *shcrv1alpha1.PurgeStatus) []shcrv1alpha1.DataCategory {
	var out []shcrv1alpha1.DataCategory
	for _, c := range shcrv1alpha1.AllCategories {
		wanted := slices.Contains(before, c) || (p != nil && slices.Contains(p.Categories, c))
		if wanted && !slices.Contains(now, c) {
			out = append(out, c)
		}
	}
	return out
}

// minus is a less b.
func minus(a, b []shcrv1alpha1.DataCategory) []shcrv1alpha1.DataCategory {
	var out []shcrv1alpha1.DataCategory
	for _, c := range a {
		if !slices.Contains(b, c) {
			out = append(out, c)
		}
	}
	return out
}

// purgeReason says why the records are removed, for the AuditEvent.
func purgeReason(member *shcrv1alpha1.MemberOrganisation, admitted bool) string {
	switch {
	case !admitted:
		return "the organisation is no longer Admitted"
	case !hasRole(member, shcrv1alpha1.RoleProvider) || member.Spec.Connector == nil:
		return "the organisation no longer provides records"
	}
	return "the categories the organisation may provide narrowed (an agreement narrowed, suspended or expired)"
}
