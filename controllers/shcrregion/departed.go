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
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/index"
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
// organisations that left the region. Each MemberOrganisation that has
// provided records has a provider record (specs.ProviderRecord), written
// by its own controller before it could provide: its ODS code, uid and
// every category it provided. When no MemberOrganisation with a record's
// uid exists any more (deleted, whether or not the operator was running
// then), the record becomes a status.purges entry and a Job owned by the
// region removes every one of those categories' records of the code, once
// no connector pod of the code runs. The record is deleted once the
// region's status, as read, holds the purge; the entry goes when its Job
// has succeeded. No finalizer on the member is needed: deleting one never
// waits.
func (r *Reconciler) reconcileDeparted(ctx context.Context, region *shcrv1alpha1.ShCRRegion) (ctrl.Result, error) {
	ns := shcrv1alpha1.NamespaceFor(region.Name)
	// The cache's own objects, not copies (readOnly): the region reads
	// every record and every member, and changes none of them.
	list := &corev1.ConfigMapList{}
	if err := r.Client.List(ctx, list, readOnly(ns), client.MatchingLabels{specs.LabelProviderRecord: "true"}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing the provider records of region %s: %w", region.Name, err)
	}
	members, err := r.membersIn(ctx, ns)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("listing the members of region %s: %w", region.Name, err)
	}
	present := presentProviders(members)
	var departed []departedRecord
	for i := range list.Items {
		cm := &list.Items[i]
		if !specs.IsProviderRecord(cm) {
			continue
		}
		if rec := recordOf(ctx, cm); !present.has(rec) {
			departed = append(departed, departedRecord{object: cm, record: rec})
		}
	}
	if len(departed) > 0 {
		// The cache may lag a member just created: only the API server
		// says an organisation has gone.
		live := &shcrv1alpha1.MemberOrganisationList{}
		if err := r.APIReader.List(ctx, live, client.InNamespace(ns)); err != nil {
			return ctrl.Result{}, fmt.Errorf("listing the members of region %s: %w", region.Name, err)
		}
		present = presentProviders(live.Items)
		departed = slices.DeleteFunc(departed, func(d departedRecord) bool { return present.has(d.record) })
	}
	now := r.now()
	// The region was read as the API server holds it: a purge already in
	// its status is recorded, and the provider record it came from can go.
	recorded := slices.Clone(region.Status.Purges)
	for _, d := range departed {
		rec := d.record
		if rec.ODSCode == "" {
			continue // unreadable: recordOf logged it; nothing to purge by
		}
		if purgeCovers(recorded, rec) {
			if err := r.Client.Delete(ctx, d.object.DeepCopy()); client.IgnoreNotFound(err) != nil {
				return ctrl.Result{}, fmt.Errorf("deleting provider record %s/%s: %w", ns, d.object.Name, err)
			}
			continue
		}
		r.startDeparted(region, rec, now)
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

// departedRecord is a provider record whose MemberOrganisation is gone, as
// read once (recordOf).
type departedRecord struct {
	object *corev1.ConfigMap
	record specs.ProviderRecord
}

// providers are the MemberOrganisation objects of a region, by uid and by
// ODS code, to find a provider record's object without scanning the region
// once per record.
type providers struct {
	uids  map[types.UID]string // uid: ODS code
	codes map[string]bool
}

func presentProviders(members []shcrv1alpha1.MemberOrganisation) providers {
	p := providers{uids: make(map[types.UID]string, len(members)), codes: make(map[string]bool, len(members))}
	for i := range members {
		p.uids[members[i].UID] = members[i].Spec.ODSCode
		p.codes[members[i].Spec.ODSCode] = true
	}
	return p
}

// has says whether the MemberOrganisation object of a provider record is
// present (the same uid, with the record's ODS code); for a record without
// a uid (which the operator never writes), any member with its ODS code.
func (p providers) has(rec specs.ProviderRecord) bool {
	if rec.MemberUID == "" {
		return p.codes[rec.ODSCode]
	}
	code, ok := p.uids[rec.MemberUID]
	return ok && code == rec.ODSCode
}

// recordOf reads a provider record. One that cannot be read in full (only
// the operator writes them) is purged whole: every category of its code.
func recordOf(ctx context.Context, cm *corev1.ConfigMap) specs.ProviderRecord {
	rec, err := specs.ParseProviderRecord(cm)
	if err != nil {
		if rec.ODSCode == "" {
			rec.ODSCode = cm.Labels[specs.LabelOrganisation]
		}
		rec.Categories = shcrv1alpha1.AllCategories
		ctrl.LoggerFrom(ctx).Error(err, "Provider record unreadable: every category of its code is purged when it departs", "configMap", cm.Name)
	}
	return rec
}

// purgeCovers says whether a pending purge of purges already removes every
// category rec names.
func purgeCovers(purges []shcrv1alpha1.DepartedPurge, rec specs.ProviderRecord) bool {
	return slices.ContainsFunc(purges, func(d shcrv1alpha1.DepartedPurge) bool {
		return d.ODSCode == rec.ODSCode && len(specs.UnionCategories(d.Categories, rec.Categories)) == len(d.Categories)
	})
}

// startDeparted turns a provider that left into a pending purge, or adds
// its categories to one already pending for the code (with a new
// deadline when that adds any).
func (r *Reconciler) startDeparted(region *shcrv1alpha1.ShCRRegion, p specs.ProviderRecord, now time.Time) {
	deadline := metav1.Time{Time: now.Add(r.purgeBound())}
	if i := slices.IndexFunc(region.Status.Purges, func(d shcrv1alpha1.DepartedPurge) bool { return d.ODSCode == p.ODSCode }); i >= 0 {
		d := &region.Status.Purges[i]
		if all := specs.UnionCategories(d.Categories, p.Categories); len(all) > len(d.Categories) {
			d.Categories, d.Deadline = all, deadline
		}
		return
	}
	region.Status.Purges = append(region.Status.Purges, shcrv1alpha1.DepartedPurge{
		ODSCode: p.ODSCode, Categories: specs.UnionCategories(nil, p.Categories),
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
	if err := r.Client.List(ctx, members, readOnly(ns), client.MatchingFields{index.MemberODSCode: odsCode}); err != nil {
		return false
	}
	return len(members.Items) > 0
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
