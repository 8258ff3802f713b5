/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package assurance applies the IG Framework's own gate to a region: every
// requirement of the Framework must be assured by the region's independent
// assurance panel, within its review date, before the region shares. It
// computes the checkpoints the cluster can show by itself, counts the
// panel's records against them, and gives the window the policy bundle is
// cut to. It is pure: the clock is a parameter.
package assurance

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

// Outcome is the gate of one region at one time.
type Outcome struct {
	// Status is what the region reports in status.assurance.
	Status shcrv1alpha1.RegionAssuranceStatus
	// Gate is what the policy bundle is compiled with.
	Gate policy.Assurance
	// Reason and Message are the Assured condition's.
	Reason, Message string
	// Next is when the outcome next changes by the clock alone (an
	// assurance taking effect or lapsing); zero when never.
	Next time.Time
	// FreshRefusals are the requirements whose record this evaluation
	// refuses for the first time: a digest previous does not name, against
	// an unmet checkpoint. Such a refusal is for good, and it is only as
	// right as previous is current, so a caller that read previous from a
	// cache confirms it against the API server before acting on it.
	FreshRefusals []shcrv1alpha1.IGRequirement
}

// OnPanel reports whether the identity user, a member of groups, is on the
// panel: a User subject of its name or a Group subject of one of its groups.
func OnPanel(panel []rbacv1.Subject, user string, groups []string) bool {
	for _, s := range panel {
		switch s.Kind {
		case rbacv1.UserKind:
			if user != "" && s.Name == user {
				return true
			}
		case rbacv1.GroupKind:
			if slices.Contains(groups, s.Name) {
				return true
			}
		}
	}
	return false
}

// PanelAdmin names the first subject on the panel that is also an admin of
// the region (same kind and name), or "" when the panel is independent.
func PanelAdmin(panel, admins []rbacv1.Subject) string {
	for _, p := range panel {
		for _, a := range admins {
			if p.Kind == a.Kind && p.Name == a.Name {
				return p.Kind + " " + p.Name
			}
		}
	}
	return ""
}

// Digest identifies one assurance record's content, who recorded it
// included, so that the operator knows a record it has already judged.
func Digest(r shcrv1alpha1.RequirementAssurance) string {
	canonical := struct {
		Requirement, Status, AssuredAt, ReviewDate, Evidence, Summary, Reference, By string
		Groups                                                                       []string
	}{
		string(r.Requirement), string(r.Status), utc(r.AssuredAt.Time), utc(r.ReviewDate.Time), r.EvidenceReference,
		r.Rationale.Summary, r.Rationale.Reference, r.AssuredBy, r.AssuredGroups,
	}
	data, _ := json.Marshal(canonical) // plain strings: cannot fail
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func utc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Evaluate counts the panel's records at now. A requirement counts when its
// record is Assured, recorded by someone on the panel now, not lapsed, and
// was not refused: a record seen for the first time (a digest not in
// previous) while a computed checkpoint of its requirement is unmet
// contradicts the cluster and is refused for good; a record judged before
// keeps its judgement, so facts that change later are shown beside it but
// do not undo it (the organisation concerned stops sharing through its own
// admission). The region is assured from the latest assuredAt to the
// earliest reviewDate when every requirement counts.
//
// A panel that includes one of the region's admins is not independent: no
// record counts until it no longer does.
func Evaluate(region shcrv1alpha1.ShCRRegionSpec, previous *shcrv1alpha1.RegionAssuranceStatus,
	checkpoints []shcrv1alpha1.ComputedCheckpoint, now time.Time) Outcome {
	spec := region.Assurance
	out := Outcome{Status: shcrv1alpha1.RegionAssuranceStatus{Checkpoints: checkpoints}}
	if admin := PanelAdmin(spec.Panel, region.Admins); admin != "" {
		spec.Panel = nil
		out.Reason = shcrv1alpha1.ReasonNotAssured
		out.Message = "spec.assurance.panel includes " + admin + ", an admin of the region: the panel must be independent, so no assurance counts"
	}
	var from, until time.Time
	var missing, lapsed []string
	for _, req := range shcrv1alpha1.IGRequirements {
		state, fresh := judge(spec, previous, checkpoints, req, now)
		out.Status.Requirements = append(out.Status.Requirements, state)
		if fresh {
			out.FreshRefusals = append(out.FreshRefusals, req)
		}
		record, _ := find(spec.Requirements, req)
		switch {
		case state.Counted:
			if from.IsZero() || record.AssuredAt.After(from) {
				from = record.AssuredAt.UTC()
			}
			if until.IsZero() || record.ReviewDate.Before(&metav1.Time{Time: until}) {
				until = record.ReviewDate.UTC()
			}
		case state.Status == shcrv1alpha1.AssuranceLapsed:
			lapsed = append(lapsed, string(req)+" (review date "+utc(record.ReviewDate.Time)+")")
		default:
			missing = append(missing, string(req)+": "+state.Message)
		}
	}
	switch {
	case out.Reason != "":
	case len(lapsed) > 0:
		out.Reason = shcrv1alpha1.ReasonAssuranceLapsed
		out.Message = "the assurance of " + strings.Join(lapsed, ", ") + " has lapsed: the region shares nothing until the panel assures it again"
		if len(missing) > 0 {
			out.Message += "; not assured: " + strings.Join(missing, "; ")
		}
	case len(missing) > 0:
		out.Reason = shcrv1alpha1.ReasonNotAssured
		out.Message = "the region shares nothing until every IG Framework requirement is assured; not assured: " + strings.Join(missing, "; ")
	}
	if out.Reason != "" {
		out.Gate = policy.Assurance{Reason: policy.NotAssuredPrefix + ": " + gateReason(lapsed, missing)}
		return out
	}
	out.Gate = policy.Assurance{Assured: true, From: from, Until: until}
	out.Status.From, out.Status.Until = &metav1.Time{Time: from}, &metav1.Time{Time: until}
	if now.Before(from) {
		out.Reason = shcrv1alpha1.ReasonAssurancePending
		out.Message = fmt.Sprintf("every IG Framework requirement is assured, with effect from %s: the region shares from then until %s", utc(from), utc(until))
		out.Next = from
		return out
	}
	out.Status.Assured = true
	out.Reason = shcrv1alpha1.ReasonAssured
	out.Message = fmt.Sprintf("every IG Framework requirement is assured: the region shares until %s, the earliest review date", utc(until))
	if unmet := unmetNames(checkpoints); len(unmet) > 0 {
		out.Message += "; the panel should review: computed checkpoints now unmet: " + strings.Join(unmet, ", ")
	}
	out.Next = until
	return out
}

// gateReason is the reason the gateway gives: requirement names only, no
// one's name.
func gateReason(lapsed, missing []string) string {
	var parts []string
	for _, l := range lapsed {
		parts = append(parts, "lapsed "+l)
	}
	for _, m := range missing {
		parts = append(parts, strings.SplitN(m, ":", 2)[0]+" not assured")
	}
	return strings.Join(parts, "; ")
}

func unmetNames(checkpoints []shcrv1alpha1.ComputedCheckpoint) []string {
	var out []string
	for _, c := range checkpoints {
		if !c.Met {
			out = append(out, c.Name)
		}
	}
	return out
}

// judge gives one requirement's state, and whether it is refused for the
// first time.
func judge(spec shcrv1alpha1.RegionAssurance, previous *shcrv1alpha1.RegionAssuranceStatus,
	checkpoints []shcrv1alpha1.ComputedCheckpoint, req shcrv1alpha1.IGRequirement, now time.Time) (shcrv1alpha1.RequirementAssuranceState, bool) {
	state := shcrv1alpha1.RequirementAssuranceState{Requirement: req, Status: shcrv1alpha1.AssuranceNotAssured}
	record, ok := find(spec.Requirements, req)
	if !ok {
		state.Message = "no assurance recorded"
		return state, false
	}
	state.AssuredBy = record.AssuredBy
	state.ReviewDate = record.ReviewDate.DeepCopy()
	state.RecordDigest = Digest(record)
	switch {
	case record.Status != shcrv1alpha1.AssuranceAssured:
		state.Message = "the panel recorded " + string(record.Status)
		return state, false
	case record.AssuredBy == "":
		state.Message = "the record has no assuredBy: it was not stamped by admission, so it does not count"
		return state, false
	case !OnPanel(spec.Panel, record.AssuredBy, record.AssuredGroups):
		state.Message = "recorded by someone not on the assurance panel (spec.assurance.panel), so it does not count"
		return state, false
	}
	if refused, fresh := refusal(previous, state.RecordDigest, checkpoints, req); refused != "" {
		state.Refused = true
		state.Message = refused
		return state, fresh
	}
	if !now.Before(record.ReviewDate.Time) {
		state.Status = shcrv1alpha1.AssuranceLapsed
		state.Message = "review date " + utc(record.ReviewDate.Time) + " has passed"
		return state, false
	}
	state.Status, state.Counted = shcrv1alpha1.AssuranceAssured, true
	return state, false
}

// refusal says why a record is refused: judged refused before, or new and
// contradicting an unmet checkpoint of its requirement (fresh). Empty when
// it is not.
func refusal(previous *shcrv1alpha1.RegionAssuranceStatus, digest string,
	checkpoints []shcrv1alpha1.ComputedCheckpoint, req shcrv1alpha1.IGRequirement) (message string, fresh bool) {
	if previous != nil {
		for _, p := range previous.Requirements {
			if p.Requirement == req && p.RecordDigest == digest && digest != "" {
				if p.Refused {
					return p.Message, false
				}
				return "", false
			}
		}
	}
	if c := Contradicted(checkpoints, req); c != nil {
		return "refused: it contradicts computed checkpoint " + c.Name + " (" + c.Message + "); record a new assurance once it is met", true
	}
	return "", false
}

// Contradicted gives the first unmet checkpoint of a requirement, or nil.
func Contradicted(checkpoints []shcrv1alpha1.ComputedCheckpoint, req shcrv1alpha1.IGRequirement) *shcrv1alpha1.ComputedCheckpoint {
	for i := range checkpoints {
		if checkpoints[i].Requirement == req && !checkpoints[i].Met {
			return &checkpoints[i]
		}
	}
	return nil
}

func find(records []shcrv1alpha1.RequirementAssurance, req shcrv1alpha1.IGRequirement) (shcrv1alpha1.RequirementAssurance, bool) {
	for _, r := range records {
		if r.Requirement == req {
			return r, true
		}
	}
	return shcrv1alpha1.RequirementAssurance{}, false
}
