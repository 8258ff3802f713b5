/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package bench

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// Rego is the decision of policy.Decide written in Rego (authz.rego).
//
//go:embed authz.rego
var Rego string

// OPA decides requests with Open Policy Agent: Rego over a bundle turned
// into OPA data by Data. Its queries are prepared once.
type OPA struct {
	allow, decision rego.PreparedEvalQuery
}

// NewOPA loads a bundle as OPA data into an in-memory store that holds AST
// values (so that reads are not converted on every evaluation) and
// prepares the allow and decision queries.
func NewOPA(ctx context.Context, b policy.Bundle) (*OPA, error) {
	value, err := ast.InterfaceToValue(Data(b))
	if err != nil {
		return nil, fmt.Errorf("converting the bundle to OPA data: %w", err)
	}
	data, ok := value.(ast.Object)
	if !ok {
		return nil, errors.New("the OPA data is not an object")
	}
	store := inmem.NewFromASTObject(data)
	prepare := func(query string) (rego.PreparedEvalQuery, error) {
		return rego.New(
			rego.Query(query),
			rego.Module("authz.rego", Rego),
			rego.Store(store),
		).PrepareForEval(ctx)
	}
	o := &OPA{}
	if o.allow, err = prepare("data.shcr.authz.allow"); err != nil {
		return nil, fmt.Errorf("preparing the allow query: %w", err)
	}
	if o.decision, err = prepare("data.shcr.authz.decision"); err != nil {
		return nil, fmt.Errorf("preparing the decision query: %w", err)
	}
	return o, nil
}

// Allow evaluates the prepared allow query for one input (see Input).
func (o *OPA) Allow(ctx context.Context, input ast.Value) (bool, error) {
	rs, err := o.allow.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return false, err
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return false, fmt.Errorf("the allow query gave %d results", len(rs))
	}
	allow, ok := rs[0].Expressions[0].Value.(bool)
	if !ok {
		return false, fmt.Errorf("allow is %T, not a boolean", rs[0].Expressions[0].Value)
	}
	return allow, nil
}

// Decision is what OPA decides that policy.Decision also says.
type Decision struct {
	Allow, BreakGlass bool
}

// Decide evaluates the prepared decision query for one input: allow, and
// whether it needed a break-glass override.
func (o *OPA) Decide(ctx context.Context, input ast.Value) (Decision, error) {
	rs, err := o.decision.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return Decision{}, err
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return Decision{}, fmt.Errorf("the decision query gave %d results", len(rs))
	}
	obj, ok := rs[0].Expressions[0].Value.(map[string]any)
	if !ok {
		return Decision{}, fmt.Errorf("the decision is %T, not an object", rs[0].Expressions[0].Value)
	}
	allow, ok1 := obj["allow"].(bool)
	breakGlass, ok2 := obj["breakGlass"].(bool)
	if !ok1 || !ok2 {
		return Decision{}, fmt.Errorf("the decision %v is not two booleans", obj)
	}
	return Decision{Allow: allow, BreakGlass: breakGlass}, nil
}

// Data is a bundle as OPA data, in a JSON-compatible shape: the grants
// indexed by consumer (data.grants_by_consumer[ods], in bundle order, as
// policy.Decider indexes them), each list as an object {value: true} so
// that membership is one lookup, and each time as Unix nanoseconds so that
// it compares as a number. A grant shared by several consumers is the same
// value in each of their lists.
func Data(b policy.Bundle) map[string]any {
	byConsumer := map[string]any{}
	for _, g := range b.Grants {
		value := grantData(g)
		for _, consumer := range g.Consumers {
			listed, _ := byConsumer[consumer].([]any)
			byConsumer[consumer] = append(listed, value)
		}
	}
	return map[string]any{
		"version":            b.Version,
		"sensitive_labels":   set(policy.SensitiveLabels),
		"grants_by_consumer": byConsumer,
	}
}

func grantData(g policy.Grant) map[string]any {
	out := map[string]any{
		"agreement":                     g.Agreement,
		"agreementVersion":              int64(g.AgreementVersion),
		"policy":                        g.Policy,
		"providers":                     set(g.Providers),
		"roles":                         set(g.Roles),
		"categories":                    set(g.Categories),
		"actions":                       set(g.Actions),
		"purposesOfUse":                 set(g.PurposesOfUse),
		"requireLegitimateRelationship": g.RequireLegitimateRelationship,
		"sensitive":                     g.Sensitive,
		"validFrom":                     g.ValidFrom.UnixNano(),
		"validUntil":                    g.ValidUntil.UnixNano(),
	}
	if bg := g.BreakGlass; bg != nil {
		out["breakGlass"] = map[string]any{
			"roles":              set(bg.Roles),
			"maxDurationSeconds": bg.MaxDurationSeconds,
			"maxDurationNs":      bg.MaxDurationSeconds * 1e9,
		}
	}
	return out
}

func set(values []string) map[string]any {
	out := make(map[string]any, len(values))
	for _, v := range values {
		out[v] = true
	}
	return out
}

// Input is a request at now as OPA input, built directly as an AST value.
// A zero BreakGlassStarted is left out, as Decide treats it as not set.
func Input(req policy.Request, now time.Time) ast.Value {
	labels := make([]*ast.Term, len(req.SecurityLabels))
	for i, label := range req.SecurityLabels {
		labels[i] = ast.StringTerm(label)
	}
	fields := [][2]*ast.Term{
		ast.Item(ast.StringTerm("callerOds"), ast.StringTerm(req.CallerODS)),
		ast.Item(ast.StringTerm("role"), ast.StringTerm(req.Role)),
		ast.Item(ast.StringTerm("purposeOfUse"), ast.StringTerm(req.PurposeOfUse)),
		ast.Item(ast.StringTerm("legitimateRelationship"), ast.BooleanTerm(req.LegitimateRelationship)),
		ast.Item(ast.StringTerm("breakGlassReason"), ast.StringTerm(req.BreakGlassReason)),
		ast.Item(ast.StringTerm("action"), ast.StringTerm(req.Action)),
		ast.Item(ast.StringTerm("category"), ast.StringTerm(req.Category)),
		ast.Item(ast.StringTerm("sourceOds"), ast.StringTerm(req.SourceODS)),
		ast.Item(ast.StringTerm("securityLabels"), ast.ArrayTerm(labels...)),
		ast.Item(ast.StringTerm("now"), ast.NumberTerm(json.Number(strconv.FormatInt(now.UnixNano(), 10)))),
	}
	if !req.BreakGlassStarted.IsZero() {
		fields = append(fields, ast.Item(ast.StringTerm("breakGlassStarted"),
			ast.NumberTerm(json.Number(strconv.FormatInt(req.BreakGlassStarted.UnixNano(), 10)))))
	}
	return ast.NewObject(fields...)
}
