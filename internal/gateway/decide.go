/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"time"

	"github.com/shcr-io/shcr-operator/internal/gateway/identity"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

// view is the configuration one response is decided with, taken once so
// that every entry of a search Bundle is decided under the same bundle and
// register even when a reload happens meanwhile.
type view struct {
	policy     *loadedPolicy
	objections *objectionRegister
	// objectionsMissing is true when a register is configured but none is
	// loaded.
	objectionsMissing bool
}

func (g *Gateway) currentView() view {
	objections := g.objections.Load()
	return view{
		policy:            g.policy.Load(),
		objections:        objections,
		objectionsMissing: g.cfg.ObjectionsFile != "" && objections == nil,
	}
}

// verdict is a decision on one resource.
type verdict struct {
	policy.Decision
	// denial, when set, is why the gateway denied without asking the
	// policy.
	denial string
	// deniedContained, when set, is the category of a contained resource
	// that the policy denied.
	deniedContained string
	// unavailable is true when the gateway denied because it had no usable
	// policy or register, rather than because the policy denies.
	unavailable bool
	// revision is the policy bundle revision that decided, if any.
	revision string
	// auditEvent is the id of the audit event that records the decision.
	auditEvent string
}

// evaluate decides whether a caller may take an action on a resource. It
// denies, in order: without a policy bundle or a configured register;
// resources that are never shared (unreadable, with no data category for
// themselves or a contained resource, or whose patients are not each
// identified by one valid NHS number, consistently, as resourcepatients.go
// requires); patient data with no patient; resources of which any patient
// objects to sharing data from the resource's source. Everything else is
// decided by the policy
// bundle, once for the resource's category and once for each other
// category among its contained resources.
func (v view) evaluate(c identity.Caller, action string, f resourceFacts, now time.Time) verdict {
	switch {
	case v.policy == nil:
		return unavailable("no valid policy bundle is loaded, so the gateway denies every request")
	case v.objectionsMissing:
		return unavailable("the objection register is configured but not loaded, so the gateway denies every request")
	case f.Unshareable != "":
		return denied(v.policy, f.Unshareable)
	case len(f.Patients) == 0 && f.Category != policy.CategoryClinicalContacts:
		return denied(v.policy, "the resource does not identify its patient by a valid NHS number, so it is not shared")
	case v.objections != nil && v.objections.objects(f.Patients, f.Source):
		// Every patient the resource names is checked.
		return denied(v.policy, objectionDenial)
	}
	req := policy.Request{
		CallerODS:              c.Organisation,
		Role:                   c.Role,
		PurposeOfUse:           c.PurposeOfUse,
		LegitimateRelationship: c.LegitimateRelationship,
		BreakGlassReason:       c.BreakGlassReason,
		BreakGlassStarted:      c.IssuedAt,
		Action:                 action,
		Category:               f.Category,
		SourceODS:              f.Source,
		SecurityLabels:         f.Labels,
	}
	decision := v.policy.decider.Decide(req, now)
	deniedContained := ""
	for _, category := range f.ContainedCategories {
		if !decision.Allow || category == f.Category {
			continue
		}
		req.Category = category
		contained := v.policy.decider.Decide(req, now)
		if !contained.Allow {
			deniedContained = category
			decision = contained
		}
		decision.BreakGlass = decision.BreakGlass || contained.BreakGlass
	}
	return verdict{Decision: decision, deniedContained: deniedContained, revision: v.policy.revision}
}

func unavailable(reason string) verdict {
	return verdict{denial: reason, unavailable: true}
}

func denied(p *loadedPolicy, reason string) verdict {
	return verdict{denial: reason, revision: p.revision}
}

// Reasons explain the verdict, most decisive first.
func (v verdict) Reasons() []string {
	if v.denial != "" {
		return []string{v.denial}
	}
	reasons := v.Decision.Reasons()
	if v.deniedContained != "" {
		reasons = append([]string{"a contained " + v.deniedContained + " resource is not shared"}, reasons...)
	}
	return reasons
}
