/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package webhook

import (
	"context"
	"errors"
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/shcr-io/shcr-operator/internal/kube"
)

// ownedNamespace refuses a MemberOrganisation, DataSharingAgreement or
// AccessPolicy in a namespace that no region owns. The region-namespace
// admission policy can only read the namespace's name and labels, which
// anyone allowed to create namespaces can copy; this webhook asks the same
// question the reconcilers ask (kube.RegionOf: a controller reference with
// the live region's UID, and the namespace recorded in that region's
// status), so that a hand-made look-alike admits nothing at the door as
// well as in the reconciler.
//
// oldSpec and newSpec are nil on create. An update that leaves the spec as
// it was (a label, an annotation, a finalizer removed by a GitOps tool in a
// retained namespace) is let through: the object grants nothing there
// either way, and refusing it could leave the object impossible to clean up.
func ownedNamespace(ctx context.Context, c client.Reader, namespace string, oldSpec, newSpec any) (field.ErrorList, error) {
	if oldSpec != nil && apiequality.Semantic.DeepEqual(oldSpec, newSpec) {
		return nil, nil
	}
	_, err := kube.RegionOf(ctx, c, namespace)
	switch {
	case err == nil:
		return nil, nil
	case errors.Is(err, kube.ErrNotRegionNamespace):
		return namespaceForbidden(fmt.Sprintf(
			"namespace %s is not owned by any region: a region's namespace is the shcr-<region> namespace its ShCRRegion created "+
				"(controller reference and status.namespace), not one made by hand with the same name and labels", namespace))
	case errors.Is(err, kube.ErrNamespaceNotRecorded):
		return namespaceForbidden(fmt.Sprintf(
			"namespace %s is not yet recorded in its region's status.namespace: retry once the region reports NamespaceReady", namespace))
	default:
		return nil, apierrors.NewInternalError(fmt.Errorf("reading the region that owns namespace %s: %w", namespace, err))
	}
}

func namespaceForbidden(detail string) (field.ErrorList, error) {
	return field.ErrorList{field.Forbidden(field.NewPath("metadata", "namespace"), detail)}, nil
}
