/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import "errors"

// The kinds errors are counted by (metric label kind).
const (
	kindConfig        = "config"
	kindCredentials   = "credentials"
	kindState         = "state"
	kindSource        = "source"
	kindRecordService = "record_service"
	kindMalformedPage = "malformed_page"
	kindCircuitOpen   = "circuit_open"
)

// kindError carries the kind an error is counted under.
type kindError struct {
	kind string
	err  error
}

func (e *kindError) Error() string { return e.err.Error() }
func (e *kindError) Unwrap() error { return e.err }

func withKind(kind string, err error) error {
	return &kindError{kind: kind, err: err}
}

// errorKind is the kind of the outermost kindError in err's chain, or
// "other".
func errorKind(err error) string {
	var k *kindError
	if errors.As(err, &k) {
		return k.kind
	}
	return "other"
}

// withKindIfErr is withKind, or nil when err is nil.
func withKindIfErr(kind string, err error) error {
	if err == nil {
		return nil
	}
	return withKind(kind, err)
}
