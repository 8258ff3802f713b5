/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package specs

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// Each HAPI setting the product relies on is in the StatefulSet the
// operator writes, for the embedded store and for an external PostgreSQL.
func TestRecordServiceStatefulSetConfiguresHAPI(t *testing.T) {
	embedded := region()
	external := region(func(r *shcrv1alpha1.ShCRRegion) {
		r.Spec.RecordService.Database = &shcrv1alpha1.DatabaseSpec{
			CredentialsSecretRef: corev1.LocalObjectReference{Name: "fhir-db"}, NetworkRanges: []string{"10.0.0.0/8"}, Port: 5432,
		}
	})
	base := "http://record-service." + shcrv1alpha1.NamespaceFor(embedded.Name) + ".svc:8080/fhir/"
	cases := []struct {
		name   string
		region *shcrv1alpha1.ShCRRegion
		env    string
		want   string // "" with secret: from the Secret's key
		secret string
	}{
		{"FHIR R4", embedded, "HAPI_FHIR_FHIR_VERSION", "R4", ""},
		{"server address is the full in-cluster base URL", embedded, "HAPI_FHIR_SERVER_ADDRESS", base, ""},
		{"server address with a database too", external, "HAPI_FHIR_SERVER_ADDRESS", base, ""},
		{"client ids as connectors write them", embedded, "HAPI_FHIR_CLIENT_ID_STRATEGY", "ALPHANUMERIC", ""},
		{"no referential integrity on write", embedded, "HAPI_FHIR_ENFORCE_REFERENTIAL_INTEGRITY_ON_WRITE", "false", ""},
		{"references to other servers kept", embedded, "HAPI_FHIR_ALLOW_EXTERNAL_REFERENCES", "true", ""},
		{"deleted records expunged", embedded, "HAPI_FHIR_EXPUNGE_ENABLED", "true", ""},
		{"health groups on", embedded, "MANAGEMENT_ENDPOINT_HEALTH_PROBES_ENABLED", "true", ""},
		{"health groups on the main port", embedded, "MANAGEMENT_ENDPOINT_HEALTH_PROBES_ADDADDITIONALPATHS", "true", ""},
		{"heap from the memory limit", embedded, "JAVA_TOOL_OPTIONS", "-XX:MaxRAMPercentage=75.0", ""},
		{"embedded store on the data volume", embedded, "SPRING_DATASOURCE_URL", "jdbc:h2:file:/data/fhir", ""},
		{"embedded store dialect", embedded, "SPRING_JPA_PROPERTIES_HIBERNATE_DIALECT", HAPIH2Dialect, ""},
		{"PostgreSQL dialect", external, "SPRING_JPA_PROPERTIES_HIBERNATE_DIALECT", HAPIPostgresDialect, ""},
		{"PostgreSQL driver", external, "SPRING_DATASOURCE_DRIVERCLASSNAME", "org.postgresql.Driver", ""},
		{"database URL from the Secret", external, "SPRING_DATASOURCE_URL", "", "url"},
		{"database user from the Secret", external, "SPRING_DATASOURCE_USERNAME", "", "username"},
		{"database password from the Secret", external, "SPRING_DATASOURCE_PASSWORD", "", "password"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var found []corev1.EnvVar
			for _, e := range RecordServiceStatefulSet(tc.region).Spec.Template.Spec.Containers[0].Env {
				if e.Name == tc.env {
					found = append(found, e)
				}
			}
			if len(found) != 1 {
				t.Fatalf("%s set %d times, want once", tc.env, len(found))
			}
			e := found[0]
			if tc.secret != "" {
				if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil ||
					e.ValueFrom.SecretKeyRef.Name != "fhir-db" || e.ValueFrom.SecretKeyRef.Key != tc.secret {
					t.Errorf("%s = %+v, want key %q of Secret fhir-db", tc.env, e, tc.secret)
				}
				return
			}
			if e.Value != tc.want {
				t.Errorf("%s = %q, want %q", tc.env, e.Value, tc.want)
			}
		})
	}
}

// The kubelet probes HAPI's own health groups, and a JVM that migrates its
// schema on start gets minutes before liveness counts.
func TestRecordServiceProbesAreHAPIHealthGroups(t *testing.T) {
	c := RecordServiceStatefulSet(region()).Spec.Template.Spec.Containers[0]
	for name, tc := range map[string]struct {
		probe *corev1.Probe
		path  string
	}{
		"readiness": {c.ReadinessProbe, RecordServiceReadinessPath},
		"liveness":  {c.LivenessProbe, RecordServiceLivenessPath},
		"startup":   {c.StartupProbe, RecordServiceLivenessPath},
	} {
		if tc.probe == nil || tc.probe.HTTPGet == nil || tc.probe.HTTPGet.Path != tc.path || tc.probe.HTTPGet.Port.IntValue() != RecordServicePort {
			t.Errorf("%s probe %+v, want GET %s on %d", name, tc.probe, tc.path, RecordServicePort)
		}
	}
	if budget := c.StartupProbe.PeriodSeconds * c.StartupProbe.FailureThreshold; budget < 300 {
		t.Errorf("the startup probe allows %ds, want at least 300s for a JVM", budget)
	}
	mem := c.Resources.Limits.Memory()
	if mem.Cmp(*c.Resources.Requests.Memory()) < 0 || mem.Value() < 2<<30 {
		t.Errorf("memory limit %s: want at least 2Gi and not below the request", mem)
	}
}
