/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import "net/url"

// patientQuery is the query that scopes a search of resourceType to the
// patient with NHS number nhs.
func patientQuery(resourceType, nhs string) string {
	name := "patient.identifier"
	if resourceType == "Patient" {
		name = "identifier"
	}
	return url.Values{name: {SystemNHSNumber + "|" + nhs}}.Encode()
}

// aliceQuery scopes a search of any type but Patient to alice.
func aliceQuery() string { return patientQuery("Observation", alice) }
