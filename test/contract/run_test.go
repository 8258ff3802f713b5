/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package contract

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"
)

// The env the runner gives a process is the kubelet's: image env, then the
// API server's Service variables, then the container's, with valueFrom
// resolved from the pod and its world; what it cannot resolve it refuses,
// naming the variable.
func TestEnvironmentResolvesAsTheKubelet(t *testing.T) {
	w := World{
		Namespace: "shcr-system", PodName: "manager-0", APIServer: "127.0.0.1:6443",
		Secrets:    map[string]*corev1.Secret{"db": {Data: map[string][]byte{"password": []byte("pw")}}},
		ConfigMaps: map[string]*corev1.ConfigMap{"cfg": {Data: map[string]string{"mode": "pull"}}},
	}
	from := func(src corev1.EnvVarSource) *corev1.EnvVarSource { return &src }
	ok := corev1.Container{Env: []corev1.EnvVar{
		{Name: "A", Value: "container"},
		{Name: "NS", ValueFrom: from(corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}})},
		{Name: "POD", ValueFrom: from(corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}})},
		{Name: "PW", ValueFrom: from(corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}})},
		{Name: "MODE", ValueFrom: from(corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "mode"}})},
	}}
	got, err := environment(ok, v1.Config{Env: []string{"A=image", "PATH=/"}}, w)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"A=image", "PATH=/", "KUBERNETES_SERVICE_HOST=127.0.0.1", "KUBERNETES_SERVICE_PORT=6443",
		"KUBERNETES_SERVICE_PORT_HTTPS=6443", "A=container", "NS=shcr-system", "POD=manager-0", "PW=pw", "MODE=pull"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("env\n got %v\nwant %v", got, want)
	}

	refused := []struct {
		name string
		src  corev1.EnvVarSource
		want string
	}{
		{"a field the kubelet knows but the runner does not lay out", corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}, "status.podIP"},
		{"a Secret that does not exist", corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "k"}}, "Secret nope does not exist"},
		{"a Secret key that does not exist", corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "user"}}, "no key user"},
		{"a ConfigMap that does not exist", corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "k"}}, "ConfigMap nope does not exist"},
		{"a resource field", corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}, "not laid out"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			c := corev1.Container{Env: []corev1.EnvVar{{Name: "X", ValueFrom: from(tc.src)}}}
			_, err := environment(c, v1.Config{}, w)
			if err == nil || !strings.Contains(err.Error(), "env X") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("want an error naming env X and %q, got %v", tc.want, err)
			}
		})
	}
}

// Mount paths are ordered parents first, whatever order the pod lists them
// in, so a volume at /tmp does not hide one beneath it.
func TestMountDepthOrdersParentsFirst(t *testing.T) {
	for _, tc := range []struct {
		path string
		want int
	}{{"/tmp", 1}, {"/tmp/", 1}, {"/tmp/k8s-webhook-server/serving-certs", 3}, {"/var/run/secrets/kubernetes.io/serviceaccount", 5}, {"tmp//a/../b", 2}} {
		if got := depth(tc.path); got != tc.want {
			t.Errorf("depth(%q) = %d, want %d", tc.path, got, tc.want)
		}
	}
}
