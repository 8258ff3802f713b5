# Copyright The shcr-operator Authors.
# SPDX-License-Identifier: Apache-2.0
#
# The decision of policy.Decide (internal/policy/decide.go), in Rego, over
# the same compiled bundle as data (see opa.go for its shape):
#
#   data.version             the bundle's format version
#   data.sensitive_labels    {label: true}, from policy.SensitiveLabels
#   data.grants_by_consumer  {ods: [grant, ...]}, the grants naming ods as a
#                            consumer, in bundle order. Each grant's lists
#                            are objects {value: true}, its times Unix
#                            nanoseconds, and its breakGlass has
#                            maxDurationNs as well as maxDurationSeconds.
#
# input: callerOds, role, purposeOfUse, legitimateRelationship,
# breakGlassReason, breakGlassStarted (Unix ns; absent when not set), action,
# category, sourceOds, securityLabels and now (Unix ns).
package shcr.authz

# Deny by default, and deny everything under an unknown bundle version.
default allow := false

# allow holds when a grant naming the caller's organisation (the index)
# passes every check of Decide. The checks are a conjunction, so their order
# does not change the result; the plain lookups come first.
allow if {
	data.version == "shcr.io/policy-bundle/v1"
	some g in data.grants_by_consumer[input.callerOds]
	g.providers[input.sourceOds]
	g.validFrom <= input.now
	input.now < g.validUntil
	input.role != "R8008"
	g.roles[input.role]
	g.categories[input.category]
	g.actions[input.action]
	purpose_ok(g, true)
	relationship_ok(g, true)
	sensitive_ok(g, true)
}

# break_glass is Decision.BreakGlass: allowed, but only by an override.
default break_glass := false

break_glass if {
	allow
	not allow_without_override
}

# allow_without_override is allow with no use of a break-glass override.
allow_without_override if {
	data.version == "shcr.io/policy-bundle/v1"
	some g in data.grants_by_consumer[input.callerOds]
	g.providers[input.sourceOds]
	g.validFrom <= input.now
	input.now < g.validUntil
	input.role != "R8008"
	g.roles[input.role]
	g.categories[input.category]
	g.actions[input.action]
	purpose_ok(g, false)
	relationship_ok(g, false)
	sensitive_ok(g, false)
}

decision := {"allow": allow, "breakGlass": break_glass}

# The checks below take may_override: whether a valid break-glass override
# may be used to pass them.

# TREAT when granted; ETREAT only when granted and glass is validly broken.
purpose_ok(g, _) if {
	input.purposeOfUse == "TREAT"
	g.purposesOfUse.TREAT
}

purpose_ok(g, true) if {
	input.purposeOfUse == "ETREAT"
	g.purposesOfUse.ETREAT
	break_glass_valid(g)
}

relationship_ok(g, _) if not g.requireLegitimateRelationship

relationship_ok(_, _) if input.legitimateRelationship == true

relationship_ok(g, true) if break_glass_valid(g)

sensitive if {
	some label in input.securityLabels
	data.sensitive_labels[label]
}

sensitive_ok(_, _) if not sensitive

sensitive_ok(g, _) if g.sensitive == "Allow"

sensitive_ok(g, true) if {
	g.sensitive == "BreakGlassOnly"
	break_glass_valid(g)
}

# An override is valid when the grant has break-glass for 1 s to 24 h, the
# role may use it, the reason is not blank, and it started no later than
# now and less than the grant's duration ago.
break_glass_valid(g) if {
	bg := g.breakGlass
	bg.maxDurationSeconds >= 1
	bg.maxDurationSeconds <= 86400
	input.role != "R8008"
	bg.roles[input.role]
	trim_space(input.breakGlassReason) != ""
	started := input.breakGlassStarted
	started <= input.now
	input.now - started < bg.maxDurationNs
}
