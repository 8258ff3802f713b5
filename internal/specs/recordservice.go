/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package specs

import (
	corev1 "k8s.io/api/core/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// HAPI FHIR's JPA server (hapiproject/hapi) is a Spring Boot application:
// every property of its application.yaml can be set by an environment
// variable with the property's name upper-cased, dots and dashes dropped or
// turned into underscores (Spring's relaxed binding). The settings below are
// how this product uses it; docs/record-service.md gives the fact behind each.
const (
	// HAPIPostgresDialect is HAPI's Hibernate dialect for PostgreSQL; HAPI's
	// schema migrator needs its own dialects, not Hibernate's.
	HAPIPostgresDialect = "ca.uhn.fhir.jpa.model.dialect.HapiFhirPostgresDialect"
	// HAPIH2Dialect is HAPI's Hibernate dialect for its embedded H2 store.
	HAPIH2Dialect = "ca.uhn.fhir.jpa.model.dialect.HapiFhirH2Dialect"
	// RecordServiceLivenessPath and RecordServiceReadinessPath are Spring
	// Boot's liveness and readiness health groups, served on the main port
	// (management.endpoint.health.probes.add-additional-paths).
	RecordServiceLivenessPath  = "/livez"
	RecordServiceReadinessPath = "/readyz"
)

// recordServiceEnv configures the FHIR server: R4 only; ids as connectors
// assign them; writes that may name resources not (yet) copied; links under
// its in-cluster base URL; its store on the data volume, or the external
// PostgreSQL database whose Secret is referenced (never read); health groups
// for the kubelet's probes; a heap that follows the container's memory limit.
func recordServiceEnv(region *shcrv1alpha1.ShCRRegion) []corev1.EnvVar {
	spec := region.Spec.RecordService
	env := []corev1.EnvVar{
		{Name: "HAPI_FHIR_FHIR_VERSION", Value: "R4"},
		// Links and Bundle fullUrls HAPI writes start with this; without it
		// HAPI derives them from each request's Host header.
		{Name: "HAPI_FHIR_SERVER_ADDRESS", Value: RecordServiceURL(region) + "/"},
		// Connectors PUT records at <ODS code>-<source id> (or <ODS code>.<hash>):
		// never purely numeric, which is what ALPHANUMERIC allows clients to assign.
		{Name: "HAPI_FHIR_CLIENT_ID_STRATEGY", Value: "ALPHANUMERIC"},
		// A connector copies only the categories its organisation may
		// provide, page by page: a record may name a resource that is not,
		// or not yet, in the record service. Enforcing integrity on write
		// would refuse those pages.
		{Name: "HAPI_FHIR_ENFORCE_REFERENTIAL_INTEGRITY_ON_WRITE", Value: "false"},
		// Connectors keep references to other servers as they are (absolute URLs).
		{Name: "HAPI_FHIR_ALLOW_EXTERNAL_REFERENCES", Value: "true"},
		// Connectors' deletions and the operator's purge Jobs delete records
		// and then $expunge them, so that no earlier version stays readable
		// through history.
		{Name: "HAPI_FHIR_EXPUNGE_ENABLED", Value: "true"},
		{Name: "MANAGEMENT_ENDPOINT_HEALTH_PROBES_ENABLED", Value: "true"},
		{Name: "MANAGEMENT_ENDPOINT_HEALTH_PROBES_ADDADDITIONALPATHS", Value: "true"},
		// The JVM sizes its heap from the container's memory limit.
		{Name: "JAVA_TOOL_OPTIONS", Value: "-XX:MaxRAMPercentage=75.0"},
	}
	if spec.Database == nil {
		return append(env,
			corev1.EnvVar{Name: "SPRING_DATASOURCE_URL", Value: "jdbc:h2:file:/data/fhir"},
			corev1.EnvVar{Name: "SPRING_DATASOURCE_DRIVERCLASSNAME", Value: "org.h2.Driver"},
			corev1.EnvVar{Name: "SPRING_JPA_PROPERTIES_HIBERNATE_DIALECT", Value: HAPIH2Dialect},
		)
	}
	env = append(env,
		corev1.EnvVar{Name: "SPRING_DATASOURCE_DRIVERCLASSNAME", Value: "org.postgresql.Driver"},
		corev1.EnvVar{Name: "SPRING_JPA_PROPERTIES_HIBERNATE_DIALECT", Value: HAPIPostgresDialect},
	)
	secret := spec.Database.CredentialsSecretRef
	for _, kv := range [][2]string{
		{"SPRING_DATASOURCE_URL", "url"},
		{"SPRING_DATASOURCE_USERNAME", "username"},
		{"SPRING_DATASOURCE_PASSWORD", "password"},
	} {
		env = append(env, corev1.EnvVar{Name: kv[0], ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: secret, Key: kv[1]},
		}})
	}
	return env
}
