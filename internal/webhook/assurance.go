/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/assurance"
)

// The assurance webhooks have paths of their own, so that other webhooks of
// ShCRRegion can be added beside them. Their failure policy is Ignore: a
// region must stay editable while the operator is down, and the rules hold
// without them (the shcr-assurance-identity admission policy stamps and
// checks the recorder inside the API server; the region controller refuses
// a record that contradicts a computed checkpoint).
//
// +kubebuilder:webhook:path=/mutate-shcr-io-v1alpha1-shcrregion-assurance,mutating=true,failurePolicy=ignore,sideEffects=None,groups=shcr.io,resources=shcrregions,verbs=create;update,versions=v1alpha1,name=massurance.shcrregion.shcr.io,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-shcr-io-v1alpha1-shcrregion-assurance,mutating=false,failurePolicy=ignore,sideEffects=None,groups=shcr.io,resources=shcrregions,verbs=create;update,versions=v1alpha1,name=vassurance.shcrregion.shcr.io,admissionReviewVersions=v1

// Paths of the assurance webhooks.
const (
	AssuranceStampPath    = "/mutate-shcr-io-v1alpha1-shcrregion-assurance"
	AssuranceValidatePath = "/validate-shcr-io-v1alpha1-shcrregion-assurance"
)

// assuranceStamper records, on every assurance a request adds or changes,
// the Kubernetes identity that made the request. Whatever the client put in
// assuredBy is replaced; records left unchanged keep who recorded them.
type assuranceStamper struct{}

func (s *assuranceStamper) Default(ctx context.Context, region *shcrv1alpha1.ShCRRegion) error {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	old, err := previousRegion(req)
	if err != nil {
		return err
	}
	StampAssurances(region.Spec.Assurance.Requirements, old.Spec.Assurance.Requirements, req.UserInfo.Username, req.UserInfo.Groups)
	return nil
}

func previousRegion(req admission.Request) (*shcrv1alpha1.ShCRRegion, error) {
	previous := &shcrv1alpha1.ShCRRegion{}
	if len(req.OldObject.Raw) > 0 {
		if err := json.Unmarshal(req.OldObject.Raw, previous); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("decoding the previous region: %v", err))
		}
	}
	return previous, nil
}

// StampAssurances sets AssuredBy and AssuredGroups on each record: kept
// from an old record of the same content, the requester's for a new or
// changed one.
func StampAssurances(records, old []shcrv1alpha1.RequirementAssurance, requester string, groups []string) {
	for i := range records {
		r := &records[i]
		if o, ok := sameRecord(old, *r); ok {
			r.AssuredBy, r.AssuredGroups = o.AssuredBy, slices.Clone(o.AssuredGroups)
			continue
		}
		r.AssuredBy, r.AssuredGroups = requester, slices.Clone(groups)
	}
}

// sameRecord finds the record of old with the same content as r, who
// recorded it aside.
func sameRecord(old []shcrv1alpha1.RequirementAssurance, r shcrv1alpha1.RequirementAssurance) (shcrv1alpha1.RequirementAssurance, bool) {
	for _, o := range old {
		probe := r
		probe.AssuredBy, probe.AssuredGroups = o.AssuredBy, o.AssuredGroups
		if assurance.Digest(probe) == assurance.Digest(o) {
			return o, true
		}
	}
	return shcrv1alpha1.RequirementAssurance{}, false
}

// assuranceValidator refuses an assurance record that someone off the panel
// adds, changes or removes, and an Assured record that contradicts a
// computed checkpoint of the region.
type assuranceValidator struct {
	client client.Reader
	now    func() time.Time
}

func (v *assuranceValidator) ValidateCreate(ctx context.Context, r *shcrv1alpha1.ShCRRegion) (admission.Warnings, error) {
	return nil, v.validate(ctx, &shcrv1alpha1.ShCRRegion{}, r)
}

func (v *assuranceValidator) ValidateUpdate(ctx context.Context, old, r *shcrv1alpha1.ShCRRegion) (admission.Warnings, error) {
	return nil, v.validate(ctx, old, r)
}

func (v *assuranceValidator) ValidateDelete(context.Context, *shcrv1alpha1.ShCRRegion) (admission.Warnings, error) {
	return nil, nil
}

func (v *assuranceValidator) validate(ctx context.Context, old, r *shcrv1alpha1.ShCRRegion) error {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	// Only a request that makes the panel overlap the admins is refused, so
	// that a region already in that state (from before the webhook) can
	// still be reconciled and mended; the controller counts nothing then.
	if admin := assurance.PanelAdmin(r.Spec.Assurance.Panel, r.Spec.Admins); admin != "" &&
		assurance.PanelAdmin(old.Spec.Assurance.Panel, old.Spec.Admins) == "" {
		return invalid("ShCRRegion", r.Name, field.ErrorList{field.Invalid(field.NewPath("spec", "assurance", "panel"), admin,
			"the independent assurance panel cannot include an admin of the region (spec.admins)")})
	}
	changed := ChangedAssurances(r.Spec.Assurance.Requirements, old.Spec.Assurance.Requirements)
	if len(changed) == 0 {
		return nil
	}
	panel := r.Spec.Assurance.Panel
	if old.Name != "" {
		panel = old.Spec.Assurance.Panel
	}
	var checkpoints []shcrv1alpha1.ComputedCheckpoint
	if slices.ContainsFunc(changed, func(c ChangedAssurance) bool { return c.Record.Status == shcrv1alpha1.AssuranceAssured }) {
		ns := client.InNamespace(shcrv1alpha1.NamespaceFor(r.Name))
		members := &shcrv1alpha1.MemberOrganisationList{}
		agreements := &shcrv1alpha1.DataSharingAgreementList{}
		if err := v.client.List(ctx, members, ns); err != nil {
			return apierrors.NewInternalError(err)
		}
		if err := v.client.List(ctx, agreements, ns); err != nil {
			return apierrors.NewInternalError(err)
		}
		checkpoints = assurance.Checkpoints(members.Items, agreements.Items, v.now())
	}
	return invalid("ShCRRegion", r.Name, AssurancesByPanel(changed, panel, checkpoints, req.UserInfo.Username, req.UserInfo.Groups))
}

// ChangedAssurance is a record a request adds, changes or (Removed) takes
// away, at its index in the new list (or the old one when removed).
type ChangedAssurance struct {
	Index   int
	Record  shcrv1alpha1.RequirementAssurance
	Removed bool
}

// ChangedAssurances lists the records that are new or changed, and the old
// records whose requirement no longer has one.
func ChangedAssurances(records, old []shcrv1alpha1.RequirementAssurance) []ChangedAssurance {
	var out []ChangedAssurance
	for i, r := range records {
		if _, ok := sameRecord(old, r); !ok {
			out = append(out, ChangedAssurance{Index: i, Record: r})
		}
	}
	for i, o := range old {
		if !slices.ContainsFunc(records, func(r shcrv1alpha1.RequirementAssurance) bool { return r.Requirement == o.Requirement }) {
			out = append(out, ChangedAssurance{Index: i, Record: o, Removed: true})
		}
	}
	return out
}

// AssurancesByPanel refuses every change unless the requester, user with
// groups, is on the panel (the panel before the request, for an update),
// and every new or changed Assured record whose requirement has an unmet
// computed checkpoint: the panel cannot assure what the cluster shows is
// not so.
func AssurancesByPanel(changed []ChangedAssurance, panel []rbacv1.Subject, checkpoints []shcrv1alpha1.ComputedCheckpoint,
	user string, groups []string) field.ErrorList {
	var errs field.ErrorList
	path := field.NewPath("spec", "assurance", "requirements")
	for _, c := range changed {
		at := path.Index(c.Index)
		if !assurance.OnPanel(panel, user, groups) {
			verb := "record"
			if c.Removed {
				verb = "remove"
			}
			errs = append(errs, field.Forbidden(at, fmt.Sprintf(
				"%s may not %s the assurance of %s: only a member of the region's assurance panel (spec.assurance.panel) can",
				user, verb, c.Record.Requirement)))
			continue
		}
		if c.Removed || c.Record.Status != shcrv1alpha1.AssuranceAssured {
			continue
		}
		if cp := assurance.Contradicted(checkpoints, c.Record.Requirement); cp != nil {
			errs = append(errs, field.Forbidden(at.Child("status"), fmt.Sprintf(
				"%s cannot be Assured: it contradicts the computed checkpoint %s (%s)", c.Record.Requirement, cp.Name, cp.Message)))
		}
	}
	return errs
}

// setupAssurance registers the two assurance webhooks on their own paths.
func setupAssurance(mgr ctrl.Manager) error {
	server := mgr.GetWebhookServer()
	server.Register(AssuranceStampPath, &admission.Webhook{
		Handler: readableDecode[shcrv1alpha1.ShCRRegion]{next: admission.WithDefaulter(mgr.GetScheme(), &assuranceStamper{})},
	})
	server.Register(AssuranceValidatePath, &admission.Webhook{
		Handler: admission.WithValidator(mgr.GetScheme(), &assuranceValidator{client: mgr.GetClient(), now: time.Now}),
	})
	return nil
}
