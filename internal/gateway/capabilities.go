/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"net/http"
	"time"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// capabilityStatement is the FHIR R4 CapabilityStatement the gateway
// writes about itself. It is not the record service's: that one would
// advertise writes, operations and the record service's own URL.
type capabilityStatement struct {
	ResourceType   string                 `json:"resourceType"`
	Status         string                 `json:"status"`
	Date           string                 `json:"date"`
	Kind           string                 `json:"kind"`
	Software       capabilitySoftware     `json:"software"`
	Implementation capabilityImplement    `json:"implementation"`
	FHIRVersion    string                 `json:"fhirVersion"`
	Format         []string               `json:"format"`
	Rest           []capabilityRestServer `json:"rest"`
}

type capabilitySoftware struct {
	Name string `json:"name"`
}

type capabilityImplement struct {
	Description string `json:"description"`
	URL         string `json:"url"`
}

type capabilityRestServer struct {
	Mode          string               `json:"mode"`
	Documentation string               `json:"documentation"`
	Security      capabilitySecurity   `json:"security"`
	Resource      []capabilityResource `json:"resource"`
}

type capabilitySecurity struct {
	Description string `json:"description"`
}

type capabilityResource struct {
	Type              string                `json:"type"`
	Interaction       []capabilityCode      `json:"interaction"`
	Versioning        string                `json:"versioning"`
	ReadHistory       bool                  `json:"readHistory"`
	UpdateCreate      bool                  `json:"updateCreate"`
	ConditionalCreate bool                  `json:"conditionalCreate"`
	ConditionalRead   string                `json:"conditionalRead"`
	ConditionalUpdate bool                  `json:"conditionalUpdate"`
	ConditionalDelete string                `json:"conditionalDelete"`
	SearchParam       []capabilitySearchPar `json:"searchParam"`
}

type capabilityCode struct {
	Code string `json:"code"`
}

type capabilitySearchPar struct {
	Name          string `json:"name"`
	Type          string `json:"type"`
	Documentation string `json:"documentation,omitempty"`
}

// servedInteractions are the type-level interactions the gateway serves.
var servedInteractions = []capabilityCode{{"read"}, {"vread"}, {"history-instance"}, {"search-type"}}

// capabilities states exactly what the gateway serves: the shared types,
// read, vread, instance history and type search, the search parameters it
// checks, no writes and no operations, at its external URL.
func (g *Gateway) capabilities() capabilityStatement {
	var resources []capabilityResource
	for _, t := range policy.SharedTypes() {
		resources = append(resources, capabilityResource{
			Type:              t,
			Interaction:       servedInteractions,
			Versioning:        "versioned",
			ReadHistory:       true,
			ConditionalRead:   "not-supported",
			ConditionalDelete: "not-supported",
			SearchParam:       searchParamsOf(t),
		})
	}
	return capabilityStatement{
		ResourceType: "CapabilityStatement",
		Status:       "active",
		Date:         g.started.Format(time.DateOnly),
		Kind:         "instance",
		Software:     capabilitySoftware{Name: "shcr-operator record gateway"},
		Implementation: capabilityImplement{
			Description: "Record gateway of ShCRRegion " + g.cfg.Region + ": read-only access under the region's data sharing agreements",
			URL:         g.cfg.ExternalURL.String(),
		},
		FHIRVersion: "4.0.1",
		Format:      []string{"json"},
		Rest: []capabilityRestServer{{
			Mode: "server",
			Documentation: "Read-only. A search of a type that holds patient data must name exactly one patient by NHS number. " +
				"Other search parameters of the type are passed to the record service, except chains, _include, _revinclude, " +
				"_has and every _ parameter not listed. No writes, no batches, no operations, no system-level search.",
			Security: capabilitySecurity{Description: "OAuth 2.0 bearer tokens (NHS CIS2 by default); every access is decided " +
				"by the region's data sharing policy and audited."},
			Resource: resources,
		}},
	}
}

// searchParamsOf lists the parameters the gateway itself reads for a type:
// the patient forms it accepts and the control parameters.
func searchParamsOf(resourceType string) []capabilitySearchPar {
	var params []capabilitySearchPar
	if holdsPatientData(resourceType) {
		scope := newPatientScope(resourceType)
		for _, form := range scope.forms {
			params = append(params, capabilitySearchPar{Name: form, Type: "token",
				Documentation: "Required, exactly once, as " + SystemNHSNumber + "|<NHS number>."})
		}
	}
	return append(params,
		capabilitySearchPar{Name: "_count", Type: "number", Documentation: "Lowered to the region's page size limit."},
		capabilitySearchPar{Name: "_sort", Type: "string"},
		capabilitySearchPar{Name: "_lastUpdated", Type: "date"},
	)
}

// serveCapabilities answers with the gateway's own CapabilityStatement.
func (g *Gateway) serveCapabilities(w http.ResponseWriter, _ *http.Request) {
	writeFHIR(w, http.StatusOK, g.capabilities())
}
