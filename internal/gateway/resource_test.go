/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

// fhirResource is the part of a resource the tests read from the
// gateway's answers.
type fhirResource struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
}
