/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package shcrregion

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

// DefaultPurgeBound is how long after the region sees an organisation has
// left its records must be gone, when the reconciler names no bound.
const DefaultPurgeBound = time.Hour

// maxPurgeRecheck bounds the wait between looks at a pending purge: the
// region reads its Jobs by name rather than watching every Job.
const maxPurgeRecheck = 30 * time.Second

// departedReason is the reason the purge Job records in its AuditEvent.
const departedReason = "left: the organisation's MemberOrganisation was deleted from the region"

// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;create;delete

// purgeBound is the configured bound, or the default.
func (r *Reconciler) purgeBound() time.Duration {
	if r.PurgeBound > 0 {
		return r.PurgeBound
	}
	return DefaultPurgeBound
}

// reconcileDeparted removes from the record service the records of the
// organisations that left the region. status.providers records every
// category each ODS code has reported providing; when no MemberOrganisation
// with a recorded code exists any more (deleted, whether or not the
// operator was running then), the entry becomes a status.purges entry and
// a Job owned by the region removes every one of those categories' records
// of the code, once no connector pod of the code runs. The entry goes when
// its Job has succeeded. No finalizer on the member is needed: deleting
// one never waits.
func (r *Reconciler) reconcileDeparted(ctx context.Context, region *shcrv1alpha1.ShCRRegion) (ctrl.Result, error) {
	ns := shcrv1alpha1.NamespaceFor(region.Name)
	members := &shcrv1alpha1.MemberOrganisationList{}
	if err := r.Client.List(ctx, members, client.InNamespace(ns)); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing the members of region %s: %w", region.Name, err)
	}
	now := r.now()
	if slices.ContainsFunc(region.Status.Providers, func(p shcrv1alpha1.RegionProvider) bool { return !providerPresent(p, members.Items) }) {
		// The cache may lag a member just created: only the API server
		// says an organisation has gone.
		live := &shcrv1alpha1.MemberOrganisationList{}
		if err := r.APIReader.List(ctx, live, client.InNamespace(ns)); err != nil {
			return ctrl.Result{}, fmt.Errorf("listing the members of region %s: %w", region.Name, err)
		}
		kept := region.Status.Providers[:0]
		for _, p := range region.Status.Providers {
			if providerPresent(p, live.Items) || providerPresent(p, members.Items) {
				kept = append(kept, p)
				continue
			}
			r.startDeparted(region, p, now)
		}
		region.Status.Providers = kept
	}
	for i := range members.Items {
		m := &members.Items[i]
		if len(m.Status.ProvidesCategories) > 0 {
			recordProvider(region, m, m.Status.ProvidesCategories)
		}
	}
	if len(region.Status.Providers) == 0 {
		region.Status.Providers = nil
	}

	var states []string
	overdue := false
	kept := region.Status.Purges[:0]
	for i := range region.Status.Purges {
		p := &region.Status.Purges[i]
		state, done, err := r.advanceDeparted(ctx, region, p)
		if err != nil {
			return ctrl.Result{}, err
		}
		if done {
			continue
		}
		kept = append(kept, *p)
		overdue = overdue || now.After(p.Deadline.Time)
		states = append(states, fmt.Sprintf("%s (%s, by %s): %s", p.ODSCode, kube.JoinCategories(p.Categories),
			p.Deadline.UTC().Format(time.RFC3339), state))
	}
	region.Status.Purges = kept
	if len(kept) == 0 {
		region.Status.Purges = nil
		if c := findCondition(region, shcrv1alpha1.ConditionDepartedRecordsPurged); c != nil && c.Status != metav1.ConditionTrue {
			setCondition(region, shcrv1alpha1.ConditionDepartedRecordsPurged, metav1.ConditionTrue, shcrv1alpha1.ReasonDepartedPurged,
				"the records of every organisation that left the region were removed from the record service")
		}
		return ctrl.Result{}, nil
	}
	reason, lead := shcrv1alpha1.ReasonDepartedPurgesPending, "removing the records of organisations that left the region from the record service: "
	if overdue {
		reason, lead = shcrv1alpha1.ReasonDepartedPurgesOverdue, "records of organisations that left the region are still in the record service past a deadline: "
	}
	setCondition(region, shcrv1alpha1.ConditionDepartedRecordsPurged, metav1.ConditionFalse, reason, lead+strings.Join(states, "; "))
	return ctrl.Result{RequeueAfter: r.departedRecheck(kept, now)}, nil
}

// providerPresent says whether the member that provided p's records is
// among members: the same object (uid), or for an entry without one any
// member with the ODS code.
func providerPresent(p shcrv1alpha1.RegionProvider, members []shcrv1alpha1.MemberOrganisation) bool {
	return slices.ContainsFunc(members, func(m shcrv1alpha1.MemberOrganisation) bool {
		return m.Spec.ODSCode == p.ODSCode && (p.MemberUID == "" || string(m.UID) == p.MemberUID)
	})
}

// recordProvider adds categories to what status.providers says member's
// ODS code has provided. An entry of another object with the code (a
// duplicate member, refused) is left as it is: its own departure purges it.
func recordProvider(region *shcrv1alpha1.ShCRRegion, member *shcrv1alpha1.MemberOrganisation, categories []shcrv1alpha1.DataCategory) {
	code := member.Spec.ODSCode
	i := slices.IndexFunc(region.Status.Providers, func(p shcrv1alpha1.RegionProvider) bool { return p.ODSCode == code })
	if i < 0 {
		region.Status.Providers = append(region.Status.Providers, shcrv1alpha1.RegionProvider{ODSCode: code, MemberUID: string(member.UID)})
		slices.SortFunc(region.Status.Providers, func(a, b shcrv1alpha1.RegionProvider) int { return strings.Compare(a.ODSCode, b.ODSCode) })
		i = slices.IndexFunc(region.Status.Providers, func(p shcrv1alpha1.RegionProvider) bool { return p.ODSCode == code })
	}
	p := &region.Status.Providers[i]
	if p.MemberUID != "" && p.MemberUID != string(member.UID) {
		return
	}
	p.Categories = union(p.Categories, categories)
}

// startDeparted turns a provider that left into a pending purge, or adds
// its categories to one already pending for the code (with a new
// deadline when that adds any).
func (r *Reconciler) startDeparted(region *shcrv1alpha1.ShCRRegion, p shcrv1alpha1.RegionProvider, now time.Time) {
	deadline := metav1.Time{Time: now.Add(r.purgeBound())}
	if i := slices.IndexFunc(region.Status.Purges, func(d shcrv1alpha1.DepartedPurge) bool { return d.ODSCode == p.ODSCode }); i >= 0 {
		d := &region.Status.Purges[i]
		if all := union(d.Categories, p.Categories); len(all) > len(d.Categories) {
			d.Categories, d.Deadline = all, deadline
		}
		return
	}
	region.Status.Purges = append(region.Status.Purges, shcrv1alpha1.DepartedPurge{
		ODSCode: p.ODSCode, Categories: union(nil, p.Categories),
		RequestedAt: metav1.Time{Time: now}, Deadline: deadline,
	})
	slices.SortFunc(region.Status.Purges, func(a, b shcrv1alpha1.DepartedPurge) int { return strings.Compare(a.ODSCode, b.ODSCode) })
	ctrl.Log.WithName("shcrregion").Info("Organisation left the region: purging its records", "region", region.Name,
		"odsCode", p.ODSCode, "categories", kube.JoinCategories(p.Categories))
}

// advanceDeparted moves one departed purge on by a step: done once its Job
// succeeded for all its categories; a failed or removed Job is counted and
// another started; a Job starts once no connector pod of the code runs.
func (r *Reconciler) advanceDeparted(ctx context.Context, region *shcrv1alpha1.ShCRRegion, p *shcrv1alpha1.DepartedPurge) (string, bool, error) {
	ns := shcrv1alpha1.NamespaceFor(region.Name)
	categories := make([]string, 0, len(p.Categories))
	for _, c := range p.Categories {
		categories = append(categories, string(c))
	}
	if p.Job != "" {
		job := &batchv1.Job{}
		err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: ns, Name: p.Job}, job)
		switch {
		case apierrors.IsNotFound(err):
			p.Job, p.Attempts = "", p.Attempts+1
		case err != nil:
			return "", false, fmt.Errorf("reading purge Job %s/%s of region %s: %w", ns, p.Job, region.Name, err)
		case kube.JobConditionTrue(job, batchv1.JobComplete) && !slices.ContainsFunc(categories, func(c string) bool {
			return !slices.Contains(strings.Split(job.Annotations[specs.AnnotationPurgeCategories], ","), c)
		}):
			names := kube.JoinCategories(p.Categories)
			r.event(region, corev1.EventTypeNormal, shcrv1alpha1.ReasonDepartedPurged,
				"Job %s removed the records of %s that %s, which left the region, provided, and recorded it in an AuditEvent in the record service",
				job.Name, names, p.ODSCode)
			ctrl.LoggerFrom(ctx).Info("Departed purge completed", "odsCode", p.ODSCode, "categories", names, "job", job.Name)
			return "", true, nil
		case kube.JobConditionTrue(job, batchv1.JobComplete) || kube.JobConditionTrue(job, batchv1.JobFailed):
			if kube.JobConditionTrue(job, batchv1.JobFailed) {
				p.Attempts++
			}
			p.Job = ""
		default:
			return fmt.Sprintf("Job %s is removing them", p.Job), false, nil
		}
	}
	pods := &corev1.PodList{}
	if err := r.APIReader.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{
		specs.LabelOrganisation: p.ODSCode, specs.LabelComponent: specs.ComponentConnector,
	}); err != nil {
		return "", false, fmt.Errorf("listing the connector pods of %s in region %s: %w", p.ODSCode, region.Name, err)
	}
	if len(pods.Items) > 0 && !r.memberExists(ctx, ns, p.ODSCode) {
		// The departed organisation's connector is still stopping; a
		// purge now could be followed by its last writes.
		return "waiting for its connector to stop, so that nothing is written after the purge", false, nil
	}
	name := specs.DepartedPurgeJobName(p.ODSCode, p.RequestedAt.Unix(), p.Attempts, categories)
	job := specs.DepartedPurgeJob(region, p.ODSCode, name, r.ConnectorImage, categories, departedReason)
	if err := r.Client.Create(ctx, job); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", false, fmt.Errorf("creating purge Job %s/%s of region %s: %w", ns, name, region.Name, err)
	}
	p.Job = name
	state := fmt.Sprintf("Job %s is removing them", name)
	if p.Attempts > 0 {
		state += fmt.Sprintf(" (%d attempts failed before it; see their logs)", p.Attempts)
	}
	return state, false, nil
}

// memberExists says whether a MemberOrganisation with odsCode exists again
// in the namespace: its connector pods are then the new object's, and the
// purge of what the old one provided does not wait for them.
func (r *Reconciler) memberExists(ctx context.Context, ns, odsCode string) bool {
	members := &shcrv1alpha1.MemberOrganisationList{}
	if err := r.Client.List(ctx, members, client.InNamespace(ns)); err != nil {
		return false
	}
	return slices.ContainsFunc(members.Items, func(m shcrv1alpha1.MemberOrganisation) bool { return m.Spec.ODSCode == odsCode })
}

// departedRecheck is when to look again at pending purges: a fraction of
// the bound (at most maxPurgeRecheck), or just after the nearest deadline.
func (r *Reconciler) departedRecheck(purges []shcrv1alpha1.DepartedPurge, now time.Time) time.Duration {
	recheck := min(maxPurgeRecheck, max(r.purgeBound()/4, time.Second))
	for _, p := range purges {
		if until := p.Deadline.Sub(now); until > 0 {
			recheck = min(recheck, until+time.Second)
		}
	}
	return recheck
}

// now is the reconciler's clock.
func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// union is a with b's categories added, in the order of AllCategories.
func union(a, b []shcrv1alpha1.DataCategory) []shcrv1alpha1.DataCategory {
	var out []shcrv1alpha1.DataCategory
	for _, c := range shcrv1alpha1.AllCategories {
		if slices.Contains(a, c) || slices.Contains(b, c) {
			out = append(out, c)
		}
	}
	return out
}
