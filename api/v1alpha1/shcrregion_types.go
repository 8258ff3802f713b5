/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DeletionPolicy says what happens to a region's patient data when the
// ShCRRegion is deleted.
// +kubebuilder:validation:Enum=Retain;Delete
type DeletionPolicy string

const (
	// DeletionPolicyRetain keeps the region namespace and the record service's
	// volumes; only the workloads are removed. Re-creating a region of the same
	// name adopts them again.
	DeletionPolicyRetain DeletionPolicy = "Retain"
	// DeletionPolicyDelete removes the namespace and everything in it,
	// patient data included.
	DeletionPolicyDelete DeletionPolicy = "Delete"
)

// AuditSink names where the region's gateway writes its audit events.
// +kubebuilder:validation:Enum=Stdout;File
type AuditSink string

const (
	// AuditSinkStdout writes one JSON AuditEvent per line to the gateway's
	// standard output, for the cluster's log pipeline to ship.
	AuditSinkStdout AuditSink = "Stdout"
	// AuditSinkFile writes audit events to hash-chained, rotated files on a
	// volume per gateway replica.
	AuditSinkFile AuditSink = "File"
)

// ShCRRegionSpec is the desired state of a Shared Care Record region: one
// tenant, with its own namespace, record service, gateway and policy.
type ShCRRegionSpec struct {
	// DisplayName is the human name of the region, for example
	// "Thames Valley and Surrey Care Records".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +required
	DisplayName string `json:"displayName"`

	// ICBCode is the ODS code of the Integrated Care Board that runs the
	// region (3 to 6 upper-case letters and digits, for example "QU9").
	// +kubebuilder:validation:Pattern=`^[A-Z0-9]{3,6}$`
	// +optional
	ICBCode string `json:"icbCode,omitempty"`

	// ODSCodes lists further ODS codes that identify the region itself (for
	// example the hosting organisation of the shared record), each 3 to 6
	// upper-case letters and digits.
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:Pattern=`^[A-Z0-9]{3,6}$`
	// +listType=set
	// +optional
	ODSCodes []string `json:"odsCodes,omitempty"`

	// RecordService configures the region's FHIR R4 record store.
	// +kubebuilder:default={}
	// +optional
	RecordService RecordServiceSpec `json:"recordService,omitzero"`

	// Gateway configures the record gateway, the policy enforcement point
	// that every record request passes through.
	// +kubebuilder:default={}
	// +optional
	Gateway GatewaySpec `json:"gateway,omitzero"`

	// Admins are the users, groups or service accounts that administer the
	// region. They are bound to a Role in the region namespace that can edit
	// MemberOrganisations, DataSharingAgreements and AccessPolicies and read
	// the region's workloads, and nothing more.
	// Each is an RBAC subject of kind User or Group (apiGroup
	// rbac.authorization.k8s.io) or ServiceAccount (with its namespace).
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:XValidation:rule="self.kind in ['User', 'Group', 'ServiceAccount']",message="kind must be User, Group or ServiceAccount"
	// +kubebuilder:validation:items:XValidation:rule="self.kind != 'ServiceAccount' || (has(self.__namespace__) && self.__namespace__ != '')",message="namespace is required for a ServiceAccount"
	// +listType=atomic
	// +optional
	Admins []rbacv1.Subject `json:"admins,omitempty"`

	// Quota bounds the compute and storage the region namespace may use.
	// Unset values take the defaults documented on each field.
	// +kubebuilder:default={}
	// +optional
	Quota QuotaSpec `json:"quota,omitzero"`

	// Peers are the names of other ShCRRegions this region may share records
	// with under a cross-region (Journey 2) agreement. Sharing happens only
	// when both regions list each other and hold the same agreement.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:items:MaxLength=58
	// +listType=set
	// +optional
	Peers []string `json:"peers,omitempty"`

	// Audit configures how long and where access audit events are kept.
	// +kubebuilder:default={}
	// +optional
	Audit AuditSpec `json:"audit,omitzero"`

	// DeletionPolicy says what deleting this ShCRRegion does to patient data.
	// Retain (the default) keeps the namespace and the record service's
	// volumes; Delete removes them.
	// +kubebuilder:default=Retain
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// Paused stops the operator from changing anything the region owns. Status
	// still reports what it sees.
	// +optional
	Paused bool `json:"paused,omitempty"`

	// Assurance is the region's IG Framework gate: its independent
	// assurance panel and the panel's assurance of each of the Framework's
	// eight requirements. The region shares nothing until every requirement
	// is Assured and within its review date (see docs/assurance.md).
	// +optional
	Assurance RegionAssurance `json:"assurance,omitzero"`
}

// RecordServiceSpec configures the region's FHIR R4 record store, run as a
// StatefulSet with one volume per replica. More than one replica needs an
// external database: with the embedded store each replica would keep its own
// data, so a write would land in one replica and a read in another.
// +kubebuilder:validation:XValidation:rule="!has(self.replicas) || self.replicas <= 1 || has(self.database)",message="spec.recordService.replicas above 1 needs spec.recordService.database: with the embedded store each replica keeps its own data"
type RecordServiceSpec struct {
	// Image is the record service container image: a FHIR R4 server such as
	// HAPI FHIR. It must be an image reference as
	// registries and the kubelet parse it.
	// +kubebuilder:validation:XValidation:rule="self.matches('^((?:(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:[.](?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|[[](?:[a-fA-F0-9:]+)[]])(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*)*)(?::([a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}))?(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}))?$')",message="must be an image reference such as registry.example/name:tag or name@sha256:<64 hex digits> (lower-case repository, no spaces)"
	// +kubebuilder:default="hapiproject/hapi:v8.0.0"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Image string `json:"image,omitempty"`

	// Replicas is the number of record service pods. Above 1 only with
	// database set (refused at admission otherwise).
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=9
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// Storage sizes each replica's data volume.
	// +kubebuilder:default={}
	// +optional
	Storage StorageSpec `json:"storage,omitzero"`

	// Resources are the record service container's requests and limits.
	// When unset, requests of 500m CPU / 1Gi memory and limits of 2 CPU / 2Gi
	// memory are used.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// Database points the record service at an external database instead of
	// its embedded store.
	// +optional
	Database *DatabaseSpec `json:"database,omitempty"`
}

// StorageSpec sizes a persistent volume.
type StorageSpec struct {
	// Size of each volume; greater than zero.
	// +kubebuilder:default="10Gi"
	// +kubebuilder:validation:XValidation:rule="!isQuantity(string(self)) || quantity(string(self)).isGreaterThan(quantity('0'))",message="must be greater than zero"
	// +optional
	Size resource.Quantity `json:"size,omitzero"`

	// StorageClassName of the volumes; the cluster default when unset.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`
}

// DatabaseSpec references an external database for the record service.
type DatabaseSpec struct {
	// CredentialsSecretRef names a Secret in the region namespace holding the
	// keys "url", "username" and "password". The operator passes the
	// reference to the pod; it never reads or copies the values.
	// +required
	CredentialsSecretRef corev1.LocalObjectReference `json:"credentialsSecretRef"`

	// NetworkRanges are the CIDR ranges the database lives in; the record
	// service may open connections to them and nowhere else.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self)",message="must be a CIDR range such as 10.20.0.0/16"
	// +listType=set
	// +required
	NetworkRanges []string `json:"networkRanges"`

	// Port is the database's TCP port.
	// +kubebuilder:default=5432
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	Port int32 `json:"port,omitempty"`
}

// GatewaySpec configures the region's record gateway.
type GatewaySpec struct {
	// Image overrides the gateway container image. When unset, the operator
	// uses its own default (the manager's --gateway-image flag, the chart's
	// regionImages.gateway value: the gateway of the operator's release). It
	// must be an image reference as registries and the kubelet parse it.
	// +kubebuilder:validation:XValidation:rule="self.matches('^((?:(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:[.](?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|[[](?:[a-fA-F0-9:]+)[]])(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*)*)(?::([a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}))?(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}))?$')",message="must be an image reference such as registry.example/name:tag or name@sha256:<64 hex digits> (lower-case repository, no spaces)"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Image string `json:"image,omitempty"`

	// Replicas is the number of gateway pods.
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=20
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// Resources are the gateway container's requests and limits. When unset,
	// requests of 100m CPU / 128Mi memory and limits of 1 CPU / 256Mi memory
	// are used.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// ClientNamespaces are the namespaces whose pods may call the gateway
	// (for example the namespace of a clinical portal). Nothing else may
	// reach it.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:items:MaxLength=63
	// +listType=set
	// +optional
	ClientNamespaces []string `json:"clientNamespaces,omitempty"`

	// Identity says how the gateway verifies callers' bearer tokens. Without
	// an issuer and keys, every request is refused (fail closed).
	// +optional
	Identity GatewayIdentity `json:"identity,omitzero"`

	// Objections names a ConfigMap in the region namespace holding the
	// register of patients' objections to sharing (UK GDPR Art 21): one NHS
	// number per line, optionally followed by the source organisations it
	// applies to. The gateway reloads it when it changes.
	// +optional
	Objections *ConfigMapKeyReference `json:"objections,omitempty"`

	// ExternalURL is the gateway's FHIR base URL as its clients reach it
	// (for example through an ingress). Every link and fullUrl the gateway
	// writes starts with it; the Host and X-Forwarded-* headers of a
	// request are never used. When unset, it is the in-cluster URL of the
	// gateway's Service, http://record-gateway.<namespace>.svc:8080/.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^/?#@\s]+(/[^?#\s]*)?$`
	// +optional
	ExternalURL string `json:"externalURL,omitempty"`

	// MaxPageSize is the most entries a search or history page holds. A
	// search asking for more (_count) gets this many; one asking for none
	// gets this many too. It bounds how much a single request can read.
	// +kubebuilder:default=50
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	MaxPageSize int32 `json:"maxPageSize,omitempty"`

	// DecisionAPI names the callers that may ask the gateway's decision API
	// (POST /v1/decisions) for access decisions, for example another
	// enforcement point. Unset, nobody may: the API is closed.
	// +optional
	DecisionAPI GatewayDecisionAPI `json:"decisionAPI,omitzero"`

	// GPConnect makes the gateway a GP Connect consumer, so that members
	// whose connector kind is GPConnect are read at the moment of care.
	// +optional
	GPConnect *GatewayGPConnect `json:"gpConnect,omitempty"`
}

// GatewayDecisionAPI names the callers that may use the gateway's decision
// API: a caller may when its national RBAC role is one of Roles, or when
// its token's aud holds Audience. Answers never tell a patient's
// objection; every question is audited.
type GatewayDecisionAPI struct {
	// Roles are national RBAC role codes (for example R8000) whose holders
	// may use the decision API.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:Pattern=`^R[0-9]{4,5}$`
	// +listType=set
	// +optional
	Roles []string `json:"roles,omitempty"`

	// Audience is a token aud value that grants use of the decision API,
	// for example the client ID of another enforcement point. The token must
	// also hold the gateway's own audience (identity.audience).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Audience string `json:"audience,omitempty"`
}

// GatewayIdentity configures bearer-token verification, following NHS CIS2
// Authentication unless the claim names are overridden.
// +kubebuilder:validation:XValidation:rule="!(has(self.jwksURL) && has(self.jwks))",message="spec.gateway.identity: set jwksURL or jwks, not both"
type GatewayIdentity struct {
	// Issuer is the required iss claim, e.g. the CIS2 issuer URL.
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	Issuer string `json:"issuer,omitempty"`

	// Audience is the required aud claim: the gateway's client ID.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Audience string `json:"audience,omitempty"`

	// JWKSURL is the issuer's HTTPS JWKS endpoint. The gateway may then open
	// HTTPS connections beyond the region.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() == 'https'",message="must be an https URL"
	// +optional
	JWKSURL string `json:"jwksURL,omitempty"`

	// JWKS names a ConfigMap in the region namespace holding the issuer's
	// public keys as a JWKS document.
	// +optional
	JWKS *ConfigMapKeyReference `json:"jwks,omitempty"`

	// Claims overrides the names of the claims the gateway reads.
	// +optional
	Claims ClaimNames `json:"claims,omitzero"`
}

// ClaimNames are the token claims the gateway reads. Empty fields keep the
// CIS2 defaults: the selected_roleid claim resolved through
// nhsid_nrbac_roles to its org_code and role_code.
type ClaimNames struct {
	// Organisation is a top-level claim with the user's ODS code.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	Organisation string `json:"organisation,omitempty"`
	// Role is a top-level claim with the user's national RBAC role code.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	Role string `json:"role,omitempty"`
	// PurposeOfUse is the claim with the purpose of use (TREAT, ETREAT).
	// +kubebuilder:validation:MaxLength=128
	// +optional
	PurposeOfUse string `json:"purposeOfUse,omitempty"`
	// LegitimateRelationship is the boolean claim asserting a care relationship.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	LegitimateRelationship string `json:"legitimateRelationship,omitempty"`
	// BreakGlassReason is the claim with a break-glass reason.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	BreakGlassReason string `json:"breakGlassReason,omitempty"`
}

// ConfigMapKeyReference names one key of a ConfigMap in the same namespace.
type ConfigMapKeyReference struct {
	// Name of the ConfigMap.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
	// Key in the ConfigMap.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Key string `json:"key"`
}

// QuotaSpec bounds the region namespace.
type QuotaSpec struct {
	// CPU is the total CPU the namespace's containers may request (and,
	// doubled, their limit).
	// +kubebuilder:default="8"
	// +optional
	// +kubebuilder:validation:XValidation:rule="!isQuantity(string(self)) || quantity(string(self)).isGreaterThan(quantity('0'))",message="must be greater than zero: a quota of zero or less stops every workload"
	CPU resource.Quantity `json:"cpu,omitzero"`

	// Memory is the total memory the namespace's containers may request and
	// be limited to.
	// +kubebuilder:default="16Gi"
	// +optional
	// +kubebuilder:validation:XValidation:rule="!isQuantity(string(self)) || quantity(string(self)).isGreaterThan(quantity('0'))",message="must be greater than zero: a quota of zero or less stops every workload"
	Memory resource.Quantity `json:"memory,omitzero"`

	// Storage is the total storage the namespace's volume claims may request.
	// +kubebuilder:default="200Gi"
	// +optional
	// +kubebuilder:validation:XValidation:rule="!isQuantity(string(self)) || quantity(string(self)).isGreaterThan(quantity('0'))",message="must be greater than zero: a quota of zero or less stops every workload"
	Storage resource.Quantity `json:"storage,omitzero"`

	// Pods is the most pods the namespace may run.
	// +kubebuilder:default=100
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +optional
	Pods int32 `json:"pods,omitempty"`
}

// AuditSpec configures the region's access audit trail.
// +kubebuilder:validation:XValidation:rule="!has(self.storage) || self.sink == 'File'",message="spec.audit.storage: only the File sink keeps audit on a volume; with Stdout, storage and retention are the log pipeline's job"
type AuditSpec struct {
	// RetentionDays is how long audit events are kept. The default of 2922
	// days (8 years) follows the NHS Records Management Code of Practice for
	// audit trails of records access. With the File sink the gateway deletes
	// an audit file once its newest event is older than this, and records the
	// deletion in the audit trail's hash chain. With the Stdout sink the
	// gateway keeps nothing and this field is display-only: retention is the
	// log pipeline's job.
	// +kubebuilder:default=2922
	// +kubebuilder:validation:Minimum=180
	// +kubebuilder:validation:Maximum=36500
	// +optional
	RetentionDays int32 `json:"retentionDays,omitempty"`

	// Sink is where the gateway writes audit events. Stdout writes one
	// AuditEvent per line to the container's output for the cluster's log
	// pipeline, which is then responsible for keeping it durable, retained
	// and tamper-evident. File runs the gateway as a StatefulSet with a
	// volume per replica, holding hash-chained, rotated audit files that
	// "kubectl shcr audit verify" checks. Switching sinks replaces the
	// gateway's workload; the audit volumes are kept.
	// +kubebuilder:default=Stdout
	// +optional
	Sink AuditSink `json:"sink,omitempty"`

	// Storage sizes each gateway replica's audit volume; only with the File
	// sink. When unset, volumes of 10Gi of the cluster's default storage
	// class are used; they count against spec.quota.storage. It cannot be
	// changed once set, because a StatefulSet's volume claims cannot: plan
	// the size for retentionDays of audit (an event is about 2.5 kB).
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.audit.storage is immutable: existing audit volumes cannot be resized by the operator"
	// +optional
	Storage *StorageSpec `json:"storage,omitempty"`
}

// PolicyBundleStatus describes the compiled policy bundle the gateway enforces.
type PolicyBundleStatus struct {
	// ConfigMapName is the ConfigMap, in the region namespace, that holds the bundle.
	// +optional
	ConfigMapName string `json:"configMapName,omitempty"`

	// Revision is the sha256 of the bundle's bytes: equal revisions mean
	// identical policy.
	// +optional
	Revision string `json:"revision,omitempty"`

	// SizeBytes is the bundle's size.
	// +optional
	SizeBytes int64 `json:"sizeBytes,omitempty"`

	// Grants is the number of effective grants in the bundle.
	// +optional
	Grants int32 `json:"grants,omitempty"`
}

// RegionEndpoints are the in-cluster addresses of the region's services.
type RegionEndpoints struct {
	// Gateway is the URL clients call for records.
	// +optional
	Gateway string `json:"gateway,omitempty"`

	// RecordService is the record service's URL, reachable only from the
	// gateway and the region's connectors.
	// +optional
	RecordService string `json:"recordService,omitempty"`
}

// ShCRRegionStatus is the observed state of a ShCRRegion.
type ShCRRegionStatus struct {
	// Conditions: Ready summarises NamespaceReady, RecordServiceAvailable,
	// GatewayAvailable, GatewayIdentity (spec.gateway.identity complete) and
	// PolicyCompiled; Reconciling and Stalled follow the kstatus convention.
	// PeersFound and DepartedRecordsPurged (the records of organisations
	// that left, status.purges) are not part of Ready.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ObservedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Namespace is the region's namespace.
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// MemberCount is the number of MemberOrganisations in the region.
	// +optional
	MemberCount int32 `json:"memberCount"`

	// ActiveAgreementCount is the number of DataSharingAgreements in the Active phase.
	// +optional
	ActiveAgreementCount int32 `json:"activeAgreementCount"`

	// PolicyBundle describes the compiled policy the gateway enforces.
	// +optional
	PolicyBundle PolicyBundleStatus `json:"policyBundle,omitzero"`

	// Endpoints are the in-cluster URLs of the region's services.
	// +optional
	Endpoints RegionEndpoints `json:"endpoints,omitzero"`

	// Assurance is the IG Framework gate as the operator counts it: each
	// requirement's assurance and the checkpoints it computes itself.
	// +optional
	Assurance *RegionAssuranceStatus `json:"assurance,omitempty"`

	// Purges are the removals under way of the records of organisations
	// that left the region; an entry goes when its Job has succeeded. What
	// each organisation provided is kept, while it is a member, in its
	// provider record: a ConfigMap shcr-provider-<member uid> labelled
	// shcr.io/provider-record, which only the operator writes.
	// +listType=map
	// +listMapKey=odsCode
	// +optional
	Purges []DepartedPurge `json:"purges,omitempty"`
}

// ShCRRegion is a Shared Care Record region: a tenant that owns the namespace
// shcr-<name> with its record service, gateway, policy and members.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=region;regions,categories=shcr
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Assured",type=string,JSONPath=`.status.conditions[?(@.type=="Assured")].status`
// +kubebuilder:printcolumn:name="Region Namespace",type=string,JSONPath=`.status.namespace`
// +kubebuilder:printcolumn:name="Members",type=integer,JSONPath=`.status.memberCount`
// +kubebuilder:printcolumn:name="Agreements",type=integer,JSONPath=`.status.activeAgreementCount`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="!has(self.spec.peers) || !(self.metadata.name in self.spec.peers)",message="spec.peers: a region cannot be its own peer"
type ShCRRegion struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is a standard object metadata. The name must be a DNS label of
	// at most 58 characters, so that the namespace shcr-<name> is valid: the
	// CRD's schema for metadata.name, which hack/crd-region-name.sh adds,
	// checks it (a CEL rule on the object would name no field).
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the desired state of the region.
	// +required
	Spec ShCRRegionSpec `json:"spec"`

	// status is the observed state of the region.
	// +optional
	Status ShCRRegionStatus `json:"status,omitzero"`
}

// ShCRRegionList is a list of ShCRRegions.
// +kubebuilder:object:root=true
type ShCRRegionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []ShCRRegion `json:"items"`
}

func init() {
	register(&ShCRRegion{}, &ShCRRegionList{})
}

// NamespaceFor returns the namespace a region owns.
func NamespaceFor(regionName string) string { return "shcr-" + regionName }
