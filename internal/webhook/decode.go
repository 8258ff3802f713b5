/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// readableDecode refuses an object that does not decode into T with a
// message naming the field and the type it must have, before next (which
// would answer with Go's decoder error) sees it. Mutating webhooks run
// before the API server checks the schema, so they are the first to meet a
// mistyped field such as version: "v2".
type readableDecode[T any] struct{ next admission.Handler }

func (h readableDecode[T]) Handle(ctx context.Context, req admission.Request) admission.Response {
	if len(req.Object.Raw) > 0 {
		var probe T
		if err := json.Unmarshal(req.Object.Raw, &probe); err != nil {
			return admission.Errored(http.StatusUnprocessableEntity, errors.New(DecodeMessage(err)))
		}
	}
	return h.next.Handle(ctx, req)
}

// DecodeMessage says in words why a JSON object did not decode: the field
// path and the type the field needs.
func DecodeMessage(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return fmt.Sprintf("%s: must be %s, not a JSON %s", typeErr.Field, kindOf(typeErr.Type.Kind().String()), typeErr.Value)
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return "the object is not valid JSON"
	}
	return "the object does not match the schema of its kind: " + err.Error()
}

// kindOf names a Go kind the way the API's schema does.
func kindOf(kind string) string {
	switch kind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer (such as 2)"
	case "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "a list"
	case "map", "struct":
		return "an object"
	}
	return "of another type"
}
