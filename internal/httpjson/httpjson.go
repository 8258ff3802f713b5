/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package httpjson reads the small JSON documents the operator polls from
// the workloads it runs (a connector's /status, a gateway's break-glass
// count).
package httpjson

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// MaxBytes is the most of an answer that is read.
const MaxBytes = 1 << 20

// Get fetches url with c and decodes its JSON answer into into. what names
// the document in errors ("connector status").
func Get(ctx context.Context, c *http.Client, url, what string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close() //nolint:errcheck // read-only body
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", what, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, MaxBytes)).Decode(into); err != nil {
		return fmt.Errorf("%s is not valid JSON: %w", what, err)
	}
	return nil
}
