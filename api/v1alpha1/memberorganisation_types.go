/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// OrganisationType is the kind of health or care organisation a member is.
// +kubebuilder:validation:Enum=GPPractice;NHSTrust;LocalAuthority;Community;Hospice;Pharmacy;Ambulance;Other
type OrganisationType string

// OrganisationRole is what an organisation does in the region.
// +kubebuilder:validation:Enum=Provider;Consumer
type OrganisationRole string

const (
	// RoleProvider organisations contribute records.
	RoleProvider OrganisationRole = "Provider"
	// RoleConsumer organisations' staff view records.
	RoleConsumer OrganisationRole = "Consumer"
)

// DSPTStatus is an organisation's Data Security and Protection Toolkit result.
// +kubebuilder:validation:Enum=StandardsExceeded;StandardsMet;ApproachingStandards;StandardsNotMet
type DSPTStatus string

const (
	DSPTStandardsExceeded    DSPTStatus = "StandardsExceeded"
	DSPTStandardsMet         DSPTStatus = "StandardsMet"
	DSPTApproachingStandards DSPTStatus = "ApproachingStandards"
	DSPTStandardsNotMet      DSPTStatus = "StandardsNotMet"
)

// ConnectorKind is the protocol of an organisation's own system.
// +kubebuilder:validation:Enum=FHIR;HL7v2;GPConnect
type ConnectorKind string

// ConnectorMode says who starts a transfer.
// +kubebuilder:validation:Enum=Pull;Push
type ConnectorMode string

// The connector kinds the API names.
const (
	// ConnectorFHIR is a FHIR R4 server.
	ConnectorFHIR ConnectorKind = "FHIR"
	// ConnectorHL7v2 is a system sending HL7 version 2 messages over MLLP.
	ConnectorHL7v2 ConnectorKind = "HL7v2"
	// ConnectorGPConnect is a GP system answering GP Connect requests.
	ConnectorGPConnect ConnectorKind = "GPConnect"
)

// ServedConnectors are the kind/mode pairs the connector is built for. Any
// other pair is refused at admission (the CEL rule on ConnectorSpec, which
// must list the same pairs) and, if stored anyway, Stalled by the
// reconciler with reason InvalidSpec.
var ServedConnectors = []string{
	string(ConnectorFHIR) + "/" + string(ConnectorPull),
	string(ConnectorHL7v2) + "/" + string(ConnectorPush),
	string(ConnectorFHIR) + "/" + string(ConnectorPush),
	string(ConnectorGPConnect) + "/" + string(ConnectorPull),
}

const (
	// ConnectorPull fetches changes from the organisation's endpoint on a schedule.
	ConnectorPull ConnectorMode = "Pull"
	// ConnectorPush receives changes the organisation's system sends.
	ConnectorPush ConnectorMode = "Push"
)

// MemberOrganisationSpec is a health or care organisation taking part in a region.
// +kubebuilder:validation:XValidation:rule="!('Provider' in self.roles) || has(self.connector)",message="spec.connector: required for a Provider organisation, whose records reach the region only through it"
type MemberOrganisationSpec struct {
	// ODSCode identifies the organisation (Organisation Data Service code,
	// 3 to 6 upper-case letters and digits, for example "B86001"). Unique
	// across the cluster.
	// +kubebuilder:validation:Pattern=`^[A-Z0-9]{3,6}$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.odsCode is immutable: an ODS code is never reused, so a different code is a different organisation"
	// +required
	ODSCode string `json:"odsCode"`

	// Name is the organisation's registered name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	// +required
	Name string `json:"name"`

	// Type is the kind of organisation.
	// +required
	Type OrganisationType `json:"type"`

	// Roles say whether the organisation provides records, consumes them, or both.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=2
	// +listType=set
	// +required
	Roles []OrganisationRole `json:"roles"`

	// Governance is the due diligence that admits the organisation to sharing.
	// +required
	Governance Governance `json:"governance"`

	// Connector brings the organisation's records into the region. Required
	// for a Provider.
	// +optional
	Connector *ConnectorSpec `json:"connector,omitempty"`

	// Suspended withdraws the organisation from sharing: it provides and
	// receives nothing, and its connector is removed, until cleared.
	// +optional
	Suspended bool `json:"suspended,omitempty"`

	// Signatories are the Kubernetes identities entitled to record this
	// organisation's approval of a DataSharingAgreement. An approval for
	// the organisation is admitted only from one of them (a
	// ValidatingAdmissionPolicy in the API server), and counts only while
	// the identity that recorded it is still one of them. With none, no
	// approval for the organisation is admitted or counted. Broad built-in
	// groups (system:authenticated, system:serviceaccounts, ...) are refused.
	// +kubebuilder:validation:MaxItems=32
	// +listType=map
	// +listMapKey=kind
	// +listMapKey=name
	// +optional
	Signatories []Signatory `json:"signatories,omitempty"`
}

// SignatoryKind is the kind of a signatory subject.
// +kubebuilder:validation:Enum=User;Group
type SignatoryKind string

const (
	// SignatoryUser is one Kubernetes user, matched against the request's
	// user name.
	SignatoryUser SignatoryKind = "User"
	// SignatoryGroup is a Kubernetes group, matched against the request's
	// groups.
	SignatoryGroup SignatoryKind = "Group"
)

// Signatory is a Kubernetes identity (an RBAC subject) that may record the
// organisation's approvals.
// +kubebuilder:validation:XValidation:rule="self.kind != 'Group' || self.name == 'system:masters' || !self.name.startsWith('system:')",message="spec.signatories: a Group signatory cannot be a built-in system: group other than system:masters (system:authenticated would let anyone sign)"
// +kubebuilder:validation:XValidation:rule="self.kind != 'User' || !(self.name in ['system:anonymous', 'system:unauthenticated'])",message="spec.signatories: system:anonymous cannot sign"
type Signatory struct {
	// Kind is User or Group.
	// +required
	Kind SignatoryKind `json:"kind"`

	// Name is the user name or group name exactly as the API server
	// authenticates it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +required
	Name string `json:"name"`
}

// Governance records the information governance checks on an organisation.
type Governance struct {
	// DSPT is the organisation's latest Data Security and Protection Toolkit
	// assessment. Only StandardsMet or StandardsExceeded, assessed within the
	// last 12 months, admits the organisation.
	// +required
	DSPT DSPTAssessment `json:"dspt"`

	// DataProtectionOfficer of the organisation.
	// +required
	DataProtectionOfficer Contact `json:"dataProtectionOfficer"`

	// CaldicottGuardian of the organisation.
	// +required
	CaldicottGuardian Contact `json:"caldicottGuardian"`

	// ICORegistration is the organisation's registration number with the
	// Information Commissioner's Office, for example "Z1234567".
	// +kubebuilder:validation:Pattern=`^[A-Z]{1,2}[0-9]{6,8}$`
	// +optional
	ICORegistration string `json:"icoRegistration,omitempty"`
}

// DSPTAssessment is one Data Security and Protection Toolkit result.
type DSPTAssessment struct {
	// Status of the assessment.
	// +required
	Status DSPTStatus `json:"status"`

	// AssessedOn is the date the assessment was published (YYYY-MM-DD).
	// +kubebuilder:validation:Format=date
	// +required
	AssessedOn string `json:"assessedOn"`
}

// ConnectorSpec configures how an organisation's records reach the region.
// +kubebuilder:validation:XValidation:rule="self.mode != 'Pull' || self.kind == 'GPConnect' || has(self.schedule)",message="spec.connector.schedule: required when mode is Pull"
// +kubebuilder:validation:XValidation:rule="self.kind != 'GPConnect' || !has(self.schedule)",message="spec.connector.schedule: not for kind GPConnect, which the record gateway reads at the moment of care, never on a schedule"
// +kubebuilder:validation:XValidation:rule="self.kind == 'GPConnect' ? has(self.asid) : !has(self.asid)",message="spec.connector.asid: required for kind GPConnect (the practice system's ASID, sent as Ssp-To) and only for it"
// +kubebuilder:validation:XValidation:rule="self.kind == 'GPConnect' || has(self.credentialsSecretRef)",message="spec.connector.credentialsSecretRef: required for kinds FHIR and HL7v2"
// +kubebuilder:validation:XValidation:rule="self.kind != 'GPConnect' || !has(self.image)",message="spec.connector.image: not for kind GPConnect, which runs no connector"
// +kubebuilder:validation:XValidation:rule="self.kind != 'GPConnect' || !has(self.credentialsSecretRef)",message="spec.connector.credentialsSecretRef: not used for kind GPConnect: the gateway calls GP practices with the region's credentials (ShCRRegion spec.gateway.gpConnect.credentialsSecretRef)"
// A kind and mode the connector cannot serve is refused here, rather than
// deployed to crash-loop: the list is ServedConnectors.
// +kubebuilder:validation:XValidation:rule="(self.kind + '/' + (has(self.mode) ? self.mode : 'Pull')) in ['FHIR/Pull', 'HL7v2/Push', 'FHIR/Push', 'GPConnect/Pull']",messageExpression="self.kind == 'GPConnect' ? 'kind GPConnect with mode ' + (has(self.mode) ? self.mode : 'Pull') + ' is not offered: GP practices are read by the record gateway at the moment of care (mode Pull); GP Connect has no push' : 'kind ' + self.kind + ' with mode ' + (has(self.mode) ? self.mode : 'Pull') + ' is not built yet: the connector serves kind FHIR with mode Pull or kind HL7v2 with mode Push or kind FHIR with mode Push or kind GPConnect with mode Pull'",fieldPath=".kind"
// +kubebuilder:validation:XValidation:rule="self.mode != 'Push' || !has(self.schedule)",message="spec.connector.schedule: only for mode Pull; a pushed connector has no schedule"
// The endpoint's rules are checked here, on the object, so that the API
// server's refusal names spec.connector.endpoint without repeating its value,
// which may hold a password or token.
// +kubebuilder:validation:XValidation:rule="isURL(self.endpoint) && url(self.endpoint).getScheme() == 'https'",message="must be an https URL",fieldPath=".endpoint"
// +kubebuilder:validation:XValidation:rule="!isURL(self.endpoint) || size(url(self.endpoint).getHost()) > 0",message="an https URL must name a host",fieldPath=".endpoint"
// +kubebuilder:validation:XValidation:rule="!self.endpoint.matches('^[^/?#]*//[^/?#]*@')",message="must not carry a user name or password (userinfo): put credentials in credentialsSecretRef",fieldPath=".endpoint"
// +kubebuilder:validation:XValidation:rule="!self.endpoint.contains('?')",message="must not carry a query: tokens and parameters belong in credentialsSecretRef, not the URL",fieldPath=".endpoint"
// +kubebuilder:validation:XValidation:rule="!self.endpoint.contains('#')",message="must not carry a fragment",fieldPath=".endpoint"
type ConnectorSpec struct {
	// Kind is the protocol of the organisation's system.
	// +required
	Kind ConnectorKind `json:"kind"`

	// Endpoint is the HTTPS base URL of the organisation's system: the
	// FHIR base a Pull connector reads from; for a pushed connector (HL7v2,
	// or FHIR with mode Push), the system's address, recorded as the
	// meta.source of every record; for GPConnect, the practice's GP Connect
	// FHIR service root URL, which the record gateway calls at the moment of
	// care (the JWT's aud).
	// +kubebuilder:validation:MaxLength=2048
	// It carries no credentials: a user name or password (userinfo), a
	// query or a fragment is refused, because the endpoint is copied into
	// the connector's ConfigMap in plain text. Credentials belong in
	// credentialsSecretRef.
	// The rules are on ConnectorSpec, so that a refusal never repeats the
	// value.
	// +required
	Endpoint string `json:"endpoint"`

	// NetworkRanges are the CIDR ranges the endpoint lives in. A Pull
	// connector may open connections to them, DNS and the record service,
	// and nowhere else; an HL7v2 connector accepts MLLP connections from
	// them only, and a FHIR Push connector HTTPS connections, and neither
	// opens any to them. For GPConnect, the record gateway may open
	// connections to them, on the endpoint's port.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self)",message="must be a CIDR range such as 10.20.0.0/16"
	// +listType=set
	// +required
	NetworkRanges []string `json:"networkRanges"`

	// CredentialsSecretRef names a Secret in the region namespace with the
	// connector's credentials: "client-id" and "client-secret" (OAuth2
	// client credentials) or "tls.crt" and "tls.key" (mutual TLS). An
	// HL7v2 connector needs "tls.crt" and "tls.key" (its MLLP listener's
	// certificate) and, to require the sender's client certificate,
	// "ca.crt". A FHIR Push connector needs "tls.crt" and "tls.key" (its
	// HTTPS endpoint's certificate) and "ca.crt" (the sender's client
	// certificate is required: mutual TLS) or "client-id" (the OAuth2
	// client whose bearer tokens, from the region's identity provider
	// spec.gateway.identity, are accepted), or both. It is mounted into the
	// connector, never copied.
	// Required for kinds FHIR and HL7v2; refused for GPConnect, which the
	// gateway calls with the region's credentials
	// (spec.gateway.gpConnect.credentialsSecretRef of the ShCRRegion).
	// +optional
	CredentialsSecretRef LocalSecretReference `json:"credentialsSecretRef,omitzero"`

	// ASID is, for kind GPConnect only, the accredited system id (Spine)
	// of the practice's GP system, sent as Ssp-To. Required for GPConnect,
	// refused for other kinds.
	// +kubebuilder:validation:Pattern=`^[0-9]{1,20}$`
	// +optional
	ASID string `json:"asid,omitempty"`

	// Mode says whether the connector pulls on a schedule or receives pushes.
	// +kubebuilder:default=Pull
	// +optional
	Mode ConnectorMode `json:"mode,omitempty"`

	// Schedule is how often a Pull connector fetches changes, as a duration
	// such as "15m" or "1h".
	// +kubebuilder:validation:Pattern=`^([0-9]+(s|m|h))+$`
	// +optional
	Schedule string `json:"schedule,omitempty"`

	// Image overrides the connector image. It must be an image reference
	// as registries and the kubelet parse it (lower-case repository, valid
	// tag or digest).
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="self.matches('^((?:(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:[.](?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|[[](?:[a-fA-F0-9:]+)[]])(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*)*)(?::([a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}))?(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}))?$')",message="must be an image reference such as registry.example/name:tag or name@sha256:<64 hex digits> (lower-case repository, no spaces)"
	// +optional
	Image string `json:"image,omitempty"`
}

// ConnectorStatus is what a connector reports about its synchronisation.
type ConnectorStatus struct {
	// Kind is the protocol of the connector the operator runs for the
	// organisation (spec.connector.kind as deployed).
	// +optional
	Kind ConnectorKind `json:"kind,omitempty"`

	// Mode is the mode of the connector the operator runs (Pull or Push).
	// +optional
	Mode ConnectorMode `json:"mode,omitempty"`

	// LastSuccessfulSync is when the connector last completed a cycle for
	// every category it may provide.
	// +optional
	LastSuccessfulSync *metav1.Time `json:"lastSuccessfulSync,omitempty"`

	// LagSeconds is how far behind the organisation's system the connector
	// is: the age of its oldest watermark, in whole seconds.
	// +optional
	LagSeconds *int64 `json:"lagSeconds,omitempty"`

	// Circuit is "closed" while the organisation's endpoint answers, "open"
	// while the connector has stopped calling it after repeated failures.
	// +optional
	Circuit string `json:"circuit,omitempty"`
}

// MemberOrganisationStatus is the observed state of a MemberOrganisation.
type MemberOrganisationStatus struct {
	// Conditions: Admitted (the governance gate), CredentialsFound,
	// ConnectorAvailable and Ready, their summary.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ObservedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Agreements are the DataSharingAgreements (agreementId/vVersion) that
	// name this organisation as a party.
	// +listType=set
	// +optional
	Agreements []string `json:"agreements,omitempty"`

	// ProvidesCategories are the categories the organisation may contribute
	// right now: those of its Active agreements, while it is Admitted.
	// +listType=set
	// +optional
	ProvidesCategories []DataCategory `json:"providesCategories,omitempty"`

	// ConsumesCategories are the categories the organisation's staff may be
	// granted right now.
	// +listType=set
	// +optional
	ConsumesCategories []DataCategory `json:"consumesCategories,omitempty"`

	// Connector is what the organisation's connector last reported on its
	// status endpoint: when it last synchronised, and how far behind it is.
	// +optional
	Connector *ConnectorStatus `json:"connector,omitempty"`

	// Purge is the removal from the record service of the records the
	// organisation provided outside the categories it may provide now.
	// +optional
	Purge *PurgeStatus `json:"purge,omitempty"`

	// AdmissionExpiresAt is when the DSPT assessment turns 12 months old
	// and the organisation stops being Admitted unless it is renewed.
	// +optional
	AdmissionExpiresAt *metav1.Time `json:"admissionExpiresAt,omitempty"`
}

// MemberOrganisation is an organisation onboarded into the region whose
// namespace it lives in.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=member;members;org,categories=shcr
// +kubebuilder:printcolumn:name="ODS",type=string,JSONPath=`.spec.odsCode`
// +kubebuilder:printcolumn:name="Organisation",type=string,JSONPath=`.spec.name`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Admitted",type=string,JSONPath=`.status.conditions[?(@.type=="Admitted")].status`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type MemberOrganisation struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is a standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the organisation as onboarded.
	// +required
	Spec MemberOrganisationSpec `json:"spec"`

	// status is the observed state of the organisation.
	// +optional
	Status MemberOrganisationStatus `json:"status,omitzero"`
}

// MemberOrganisationList is a list of MemberOrganisations.
// +kubebuilder:object:root=true
type MemberOrganisationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []MemberOrganisation `json:"items"`
}

func init() {
	register(&MemberOrganisation{}, &MemberOrganisationList{})
}
