/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package apply

import (
	"context"
	"fmt"
	"net/http"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
)

// Creator creates objects and asks the API server to answer with the
// created object's metadata only, as the metadata client asks for its
// patches. The client's Create cannot: its answer is the whole object (a
// Deployment's spec, status and managed fields), which the API server
// encodes and the operator decodes, only for the resourceVersion, uid and
// managedFields the Applier keeps of it. Answered with the metadata only,
// a Deployment create took the API server about a third less time at
// 5,000 organisations (docs/benchmarks.md).
type Creator struct {
	rest   rest.Interface
	mapper meta.RESTMapper
}

// metadataAnswer asks for an answer of PartialObjectMetadata, in protobuf
// or JSON, as client-go's metadata client does.
const metadataAnswer = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1," +
	"application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"

// NewCreator makes a Creator that reaches the API server of cfg through
// httpClient (a manager's, so that it shares its connections) and finds
// each kind's resource with mapper.
func NewCreator(cfg *rest.Config, httpClient *http.Client, mapper meta.RESTMapper) (*Creator, error) {
	config := metadata.ConfigFor(cfg)
	// Every request names its whole path (AbsPath); these only satisfy
	// the REST client's checks.
	config.GroupVersion = &schema.GroupVersion{}
	config.APIPath = "/"
	rc, err := rest.RESTClientForConfigAndClient(config, httpClient)
	if err != nil {
		return nil, fmt.Errorf("making the REST client for creates: %w", err)
	}
	return &Creator{rest: rc, mapper: mapper}, nil
}

// Create creates the object of kind gvk whose JSON is body, in namespace
// when the kind is namespaced, with the operator as its field manager, and
// returns the metadata the API server answered with (managedFields
// included). Errors are the API server's (apierrors.IsAlreadyExists and
// the others work on them).
func (c *Creator) Create(ctx context.Context, gvk schema.GroupVersionKind, namespace string, body []byte) (*metav1.PartialObjectMetadata, error) {
	mapping, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, err
	}
	path := []string{"/apis", gvk.Group, gvk.Version}
	if gvk.Group == "" {
		path = []string{"/api", gvk.Version}
	}
	req := c.rest.Post().AbsPath(path...)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		req = req.Namespace(namespace)
	}
	obj, err := req.Resource(mapping.Resource.Resource).
		Param("fieldManager", FieldOwner).
		SetHeader("Content-Type", runtime.ContentTypeJSON).
		SetHeader("Accept", metadataAnswer).
		Body(body).
		Do(ctx).Get()
	if err != nil {
		return nil, err
	}
	answer, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return nil, fmt.Errorf("the API server answered the create of %s with %T, not the object's metadata", gvk.Kind, obj)
	}
	return answer, nil
}
