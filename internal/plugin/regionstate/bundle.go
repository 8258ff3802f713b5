/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package regionstate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/shcr-io/shcr-operator/internal/policy"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// StoredBundle reads the policy bundle the operator stored for the gateway
// in the region namespace (ConfigMap policy-bundle). It is loaded with the
// gateway's own loader, policy.LoadDir, from the ConfigMap's keys written to
// a temporary directory, so that it is read exactly as the gateway reads
// its mounted copy: bundle.json.gz in binaryData first, else bundle.json.
func StoredBundle(ctx context.Context, c client.Reader, namespace string) (policy.Bundle, error) {
	cm := &corev1.ConfigMap{}
	key := client.ObjectKey{Namespace: namespace, Name: specs.PolicyBundleName}
	if err := c.Get(ctx, key, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return policy.Bundle{}, fmt.Errorf("no ConfigMap %s in %s: the operator has not stored the region's policy bundle yet "+
				"(see the PolicyCompiled condition of the ShCRRegion), or recompile from the objects with --from-objects", key.Name, namespace)
		}
		return policy.Bundle{}, fmt.Errorf("reading the policy bundle %s/%s: %w", namespace, key.Name, err)
	}
	dir, err := os.MkdirTemp("", "shcr-policy-bundle-")
	if err != nil {
		return policy.Bundle{}, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	if err := writeKeys(dir, cm); err != nil {
		return policy.Bundle{}, err
	}
	b, err := policy.LoadDir(dir)
	if err != nil {
		return policy.Bundle{}, fmt.Errorf("ConfigMap %s/%s: %w", namespace, key.Name, err)
	}
	return b, nil
}

// writeKeys writes the bundle keys of a ConfigMap as the files a volume
// mount would show.
func writeKeys(dir string, cm *corev1.ConfigMap) error {
	files := map[string][]byte{}
	if data, ok := cm.Data[policy.FileJSON]; ok {
		files[policy.FileJSON] = []byte(data)
	}
	if data, ok := cm.BinaryData[policy.FileGzip]; ok {
		files[policy.FileGzip] = data
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// Revision is the revision of a bundle, as the ShCRRegion's
// status.policyBundle.revision shows it.
func Revision(b policy.Bundle) (string, error) {
	encoded, err := b.Encode()
	if err != nil {
		return "", err
	}
	return policy.Revision(encoded), nil
}
