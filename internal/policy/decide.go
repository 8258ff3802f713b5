/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// check is one of the rules Decide applies to a grant, in order. A grant
// that fails an earlier check is a worse match than one that fails a later
// check; the best match explains a denial.
type check int

const (
	// checkAssured is failed by every grant of a bundle whose region is
	// not assured at the time of the request.
	checkAssured check = iota - 2
	// checkVersion is failed by every grant of a bundle of unknown version.
	checkVersion
	checkCaller
	checkSource
	checkInForce
	checkPurpose
	checkRole
	checkRelationship
	checkCategory
	checkAction
	checkSensitive
	checkPassed
)

// breakGlassState is whether a request's emergency override is valid under
// a grant, and if not, why not.
type breakGlassState int

const (
	breakGlassValid breakGlassState = iota
	breakGlassNotConfigured
	breakGlassRoleNotAllowed
	breakGlassNoReason
	breakGlassNoStart
	breakGlassFutureStart
	breakGlassExpired
)

// query is a request with what Decide works out once for all grants.
type query struct {
	Request
	now       time.Time
	sensitive bool
}

// Decide says whether a bundle allows a request at now. It denies by
// default and denies everything under a bundle of an unknown version. It is
// allowed when one grant passes, in order: the caller's organisation is a
// consumer; the source organisation is a provider; the grant is in force;
// the purpose is TREAT (or ETREAT with a valid break-glass); the role is
// granted; a legitimate relationship is asserted where required (or glass
// is broken); the category and action are granted; and a sensitive record
// is allowed by the grant's mode. A denial is explained by the first rule
// the best-matching grant fails. An allow that needs no override is
// preferred to one that does. Patient objections are the gateway's job.
//
// Decide looks at every grant; a Decider gives the same decisions faster.
func Decide(b Bundle, req Request, now time.Time) Decision {
	if b.Version != BundleVersion {
		return unsupported(b.Version, req, now)
	}
	if !b.Assurance.Covers(now) {
		return notAssured(b.Assurance, req, now)
	}
	s := newSearch(b.Grants, req, now, false)
	for i := range b.Grants {
		if s.consider(i) {
			break
		}
	}
	return s.decision()
}

// Decider makes the decisions of Decide for one bundle, looking only at the
// grants that name the caller's organisation as a consumer. The grants it
// skips would fail Decide's first rule, so its decisions are the same, and
// it does not check that rule again.
type Decider struct {
	bundle     Bundle
	byConsumer map[string][]int
}

// NewDecider indexes a bundle, which must not be changed afterwards.
func NewDecider(b Bundle) *Decider {
	d := &Decider{bundle: b, byConsumer: map[string][]int{}}
	for i, g := range b.Grants {
		for _, consumer := range g.Consumers {
			if listed := d.byConsumer[consumer]; len(listed) == 0 || listed[len(listed)-1] != i {
				d.byConsumer[consumer] = append(listed, i)
			}
		}
	}
	return d
}

// Decide is Decide for the indexed bundle.
func (d *Decider) Decide(req Request, now time.Time) Decision {
	if d.bundle.Version != BundleVersion {
		return unsupported(d.bundle.Version, req, now)
	}
	if !d.bundle.Assurance.Covers(now) {
		return notAssured(d.bundle.Assurance, req, now)
	}
	s := newSearch(d.bundle.Grants, req, now, true)
	for _, i := range d.byConsumer[req.CallerODS] {
		if s.consider(i) {
			break
		}
	}
	return s.decision()
}

func unsupported(version string, req Request, now time.Time) Decision {
	return Decision{basis: basis{query: query{Request: req, now: now}, failed: checkVersion, unsupportedVersion: version}}
}

// notAssured denies a request under a bundle whose region is not assured at
// now: the IG Framework's gate comes before every grant.
func notAssured(gate Assurance, req Request, now time.Time) Decision {
	return Decision{basis: basis{query: query{Request: req, now: now}, failed: checkAssured, assurance: gate}}
}

// search looks through grants, in ascending order, for one that allows a
// request, remembering the best match to explain a denial.
type search struct {
	query
	grants []Grant
	// indexed is true when every grant looked at names the caller as a
	// consumer.
	indexed bool
	// allowed and overrideAllowed are the first grants that allow without
	// and with a break-glass override; best is the grant that passed the
	// most checks, at least the caller's, and bestCheck the check it
	// failed. -1 is none.
	allowed, overrideAllowed, best int
	bestCheck                      check
}

func newSearch(grants []Grant, req Request, now time.Time, indexed bool) search {
	return search{
		query:   query{Request: req, now: now, sensitive: IsSensitive(req.SecurityLabels)},
		grants:  grants,
		indexed: indexed,
		allowed: -1, overrideAllowed: -1, best: -1,
	}
}

// consider evaluates grant i and reports whether it allows the request
// without an override, which ends the search.
func (s *search) consider(i int) bool {
	failed, override := s.evaluate(&s.grants[i])
	switch {
	case failed == checkPassed && !override:
		s.allowed = i
		return true
	case failed == checkPassed && s.overrideAllowed < 0:
		s.overrideAllowed = i
	case failed > checkCaller && (s.best < 0 || failed > s.bestCheck):
		s.best, s.bestCheck = i, failed
	}
	return false
}

func (s *search) decision() Decision {
	switch {
	case s.allowed >= 0:
		return s.allow(&s.grants[s.allowed], false)
	case s.overrideAllowed >= 0:
		return s.allow(&s.grants[s.overrideAllowed], true)
	case s.best < 0:
		return Decision{basis: basis{query: s.query, failed: checkCaller}}
	default:
		return Decision{basis: basis{query: s.query, grant: &s.grants[s.best], failed: s.bestCheck}}
	}
}

func (s *search) allow(g *Grant, override bool) Decision {
	return Decision{
		Allow:            true,
		Agreement:        g.Agreement,
		AgreementVersion: g.AgreementVersion,
		Policy:           g.Policy,
		BreakGlass:       override,
		basis:            basis{query: s.query, grant: g, failed: checkPassed},
	}
}

// evaluate gives the first check a grant fails (checkPassed if none) and
// whether passing needed a break-glass override. An indexed search does not
// check the caller again.
func (s *search) evaluate(g *Grant) (failed check, override bool) {
	switch {
	case !s.indexed && !slices.Contains(g.Consumers, s.CallerODS):
		return checkCaller, false
	case !slices.Contains(g.Providers, s.SourceODS):
		return checkSource, false
	case s.now.Before(g.ValidFrom) || !s.now.Before(g.ValidUntil):
		return checkInForce, false
	}
	purposeOK, override := s.purposeAllowed(g)
	switch {
	case !purposeOK:
		return checkPurpose, false
	case s.Role == RoleAdmin || !slices.Contains(g.Roles, s.Role):
		return checkRole, false
	}
	if g.RequireLegitimateRelationship && !s.LegitimateRelationship {
		if s.breakGlass(g) != breakGlassValid {
			return checkRelationship, false
		}
		override = true
	}
	switch {
	case !slices.Contains(g.Categories, s.Category):
		return checkCategory, false
	case !slices.Contains(g.Actions, s.Action):
		return checkAction, false
	}
	if s.sensitive {
		sensitiveOK, needsOverride := s.sensitiveAllowed(g)
		if !sensitiveOK {
			return checkSensitive, false
		}
		override = override || needsOverride
	}
	return checkPassed, override
}

// purposeAllowed allows TREAT when the grant does, and ETREAT only when the
// grant does and glass is validly broken.
func (q *query) purposeAllowed(g *Grant) (ok, override bool) {
	switch q.PurposeOfUse {
	case PurposeTreat:
		return slices.Contains(g.PurposesOfUse, PurposeTreat), false
	case PurposeEmergencyTreat:
		ok := slices.Contains(g.PurposesOfUse, PurposeEmergencyTreat) && q.breakGlass(g) == breakGlassValid
		return ok, ok
	default:
		return false, false
	}
}

// sensitiveAllowed applies the grant's mode to a sensitive record.
func (q *query) sensitiveAllowed(g *Grant) (ok, override bool) {
	switch g.Sensitive {
	case SensitiveAllow:
		return true, false
	case SensitiveBreakGlassOnly:
		ok := q.breakGlass(g) == breakGlassValid
		return ok, ok
	default:
		return false, false
	}
}

// breakGlass checks the request's override against the grant: configured
// (for one second to MaxBreakGlassDuration), allowed for the role, with a
// reason, started, and not yet expired.
func (q *query) breakGlass(g *Grant) breakGlassState {
	bg := g.BreakGlass
	switch {
	case bg == nil || bg.MaxDurationSeconds < 1 || bg.MaxDurationSeconds > int64(MaxBreakGlassDuration/time.Second):
		return breakGlassNotConfigured
	case q.Role == RoleAdmin || !slices.Contains(bg.Roles, q.Role):
		return breakGlassRoleNotAllowed
	case strings.TrimSpace(q.BreakGlassReason) == "":
		return breakGlassNoReason
	case q.BreakGlassStarted.IsZero():
		return breakGlassNoStart
	case q.now.Before(q.BreakGlassStarted):
		return breakGlassFutureStart
	case !q.now.Before(q.breakGlassEnd(bg)):
		return breakGlassExpired
	default:
		return breakGlassValid
	}
}

func (q *query) breakGlassEnd(bg *GrantBreakGlass) time.Time {
	return q.BreakGlassStarted.Add(time.Duration(bg.MaxDurationSeconds) * time.Second)
}

// Reasons explain the decision, most decisive first. They are written on
// each call, for the audit trail and for people.
func (d Decision) Reasons() []string {
	b := &d.basis
	switch {
	case b.failed == checkVersion:
		return []string{fmt.Sprintf("policy bundle version %q is not supported (want %q)", b.unsupportedVersion, BundleVersion)}
	case b.failed == checkAssured:
		return []string{b.query.notAssuredReason(b.assurance)}
	case d.Allow:
		return d.allowReasons()
	case b.grant == nil:
		return []string{b.query.callerReason()}
	default:
		return b.query.explain(b.grant, b.failed)
	}
}

func (d Decision) allowReasons() []string {
	reasons := []string{"allowed by policy " + d.Policy + " under agreement " + d.Agreement +
		" version " + strconv.FormatInt(int64(d.AgreementVersion), 10)}
	if d.BreakGlass {
		reasons = append(reasons, "allowed only by a break-glass emergency override")
	}
	return reasons
}

// explain gives the reasons a grant fails a check, most decisive first.
func (q *query) explain(g *Grant, failed check) []string {
	switch failed {
	case checkSource:
		return []string{q.sourceReason()}
	case checkInForce:
		return []string{fmt.Sprintf("agreement %s version %d covering %s and %s is not in force at %s (in force from %s until %s)",
			g.Agreement, g.AgreementVersion, q.CallerODS, q.SourceODS, stamp(q.now), stamp(g.ValidFrom), stamp(g.ValidUntil))}
	case checkPurpose:
		return q.purposeReasons(g)
	case checkRole:
		return []string{q.roleReason()}
	case checkRelationship:
		return q.withBreakGlassReason(g, "legitimate relationship required")
	case checkCategory:
		return []string{q.categoryReason()}
	case checkAction:
		return []string{fmt.Sprintf("action %q not granted for category %s", q.Action, q.Category)}
	default:
		return q.sensitiveReasons(g)
	}
}

// NotAssuredPrefix starts the reason of every decision denied because the
// region's IG Framework assurance does not cover the time of the request.
const NotAssuredPrefix = "region not assured"

func (q *query) notAssuredReason(gate Assurance) string {
	switch {
	case !gate.Assured && gate.Reason != "":
		if strings.HasPrefix(gate.Reason, NotAssuredPrefix) {
			return gate.Reason
		}
		return NotAssuredPrefix + ": " + gate.Reason
	case !gate.Assured:
		return NotAssuredPrefix + ": the policy bundle records no assurance of the IG Framework's requirements"
	case q.now.Before(gate.From):
		return fmt.Sprintf("%s at %s: its assurance takes effect at %s", NotAssuredPrefix, stamp(q.now), stamp(gate.From))
	default:
		return fmt.Sprintf("%s at %s: its assurance lapsed at %s (review date passed)", NotAssuredPrefix, stamp(q.now), stamp(gate.Until))
	}
}

func (q *query) callerReason() string {
	if q.CallerODS == "" {
		return "caller organisation is missing"
	}
	return "caller organisation " + q.CallerODS + " is not an admitted party of any active agreement"
}

func (q *query) sourceReason() string {
	if q.SourceODS == "" {
		return "resource has no source organisation, so it is never shared"
	}
	return fmt.Sprintf("no agreement covering %s and %s is in force at %s", q.CallerODS, q.SourceODS, stamp(q.now))
}

func (q *query) purposeReasons(g *Grant) []string {
	switch {
	case q.PurposeOfUse != PurposeTreat && q.PurposeOfUse != PurposeEmergencyTreat:
		return []string{fmt.Sprintf("purpose of use %q is not direct care: TREAT required", q.PurposeOfUse)}
	case !slices.Contains(g.PurposesOfUse, q.PurposeOfUse):
		return []string{fmt.Sprintf("purpose of use %s is not granted by policy %s", q.PurposeOfUse, g.Policy)}
	default:
		return []string{"purpose of use TREAT required (ETREAT only via break-glass)", q.breakGlassReason(g)}
	}
}

func (q *query) roleReason() string {
	switch q.Role {
	case "":
		return "role is missing"
	case RoleAdmin:
		return "role R8008 is not granted: admin roles get no clinical data"
	default:
		return "role " + q.Role + " is not granted"
	}
}

func (q *query) categoryReason() string {
	if q.Category == "" {
		return "resource has no data category, so it is never shared"
	}
	return "category " + q.Category + " not granted"
}

func (q *query) sensitiveReasons(g *Grant) []string {
	if g.Sensitive == SensitiveBreakGlassOnly {
		return q.withBreakGlassReason(g, "sensitive record shared only via break-glass")
	}
	return []string{"sensitive record excluded"}
}

// withBreakGlassReason adds why an override that was asked for did not help.
func (q *query) withBreakGlassReason(g *Grant, reason string) []string {
	if q.BreakGlassReason == "" {
		return []string{reason}
	}
	return []string{reason, q.breakGlassReason(g)}
}

func (q *query) breakGlassReason(g *Grant) string {
	switch q.breakGlass(g) {
	case breakGlassNotConfigured:
		return "break-glass is not configured for policy " + g.Policy
	case breakGlassRoleNotAllowed:
		return "break-glass not allowed for role " + q.Role
	case breakGlassNoReason:
		return "break-glass requires a reason"
	case breakGlassNoStart:
		return "break-glass start time is missing"
	case breakGlassFutureStart:
		return "break-glass start time " + stamp(q.BreakGlassStarted) + " is in the future"
	case breakGlassExpired:
		return "break-glass expired at " + stamp(q.breakGlassEnd(g.BreakGlass))
	default:
		return "break-glass is valid"
	}
}

func stamp(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}
