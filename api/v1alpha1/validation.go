/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package v1alpha1

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateRegion checks the rules of a ShCRRegion that the CRD's OpenAPI and
// CEL rules cannot express, and again those whose breach would otherwise
// only surface when a child object is written (an object stored before a
// CEL rule existed is not checked by it). The reconciler runs it before
// changing anything, so the operator stays correct even where admission was
// bypassed.
func ValidateRegion(region *ShCRRegion) field.ErrorList {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	errs = append(errs, validateResources(region.Spec.RecordService.Resources, spec.Child("recordService", "resources"))...)
	errs = append(errs, validateResources(region.Spec.Gateway.Resources, spec.Child("gateway", "resources"))...)
	errs = append(errs, ValidateImage(region.Spec.RecordService.Image, spec.Child("recordService", "image"))...)
	if rs := region.Spec.RecordService; rs.Replicas > 1 && rs.Database == nil {
		errs = append(errs, field.Invalid(spec.Child("recordService", "replicas"), rs.Replicas,
			"spec.recordService.replicas above 1 needs spec.recordService.database: with the embedded store each replica keeps its own data"))
	}
	if region.Spec.Gateway.Image != "" {
		errs = append(errs, ValidateImage(region.Spec.Gateway.Image, spec.Child("gateway", "image"))...)
	}
	errs = append(errs, validatePositive(region.Spec.RecordService.Storage.Size, spec.Child("recordService", "storage", "size"))...)
	if s := region.Spec.Audit.Storage; s != nil && !s.Size.IsZero() {
		errs = append(errs, validatePositive(s.Size, spec.Child("audit", "storage", "size"))...)
	}
	quota := spec.Child("quota")
	errs = append(errs, validatePositive(region.Spec.Quota.CPU, quota.Child("cpu"))...)
	errs = append(errs, validatePositive(region.Spec.Quota.Memory, quota.Child("memory"))...)
	errs = append(errs, validatePositive(region.Spec.Quota.Storage, quota.Child("storage"))...)
	if region.Spec.Quota.Pods < 1 {
		errs = append(errs, field.Invalid(quota.Child("pods"), region.Spec.Quota.Pods, "must be at least 1"))
	}
	for i, s := range region.Spec.Admins {
		errs = append(errs, validateSubject(s, spec.Child("admins").Index(i))...)
	}
	return errs
}

// ValidateMember checks the rules of a MemberOrganisation that keep
// credentials out of its connector's ConfigMap and keep its connector image
// parseable. The reconciler runs it before admitting the organisation.
func ValidateMember(org *MemberOrganisation) field.ErrorList {
	c := org.Spec.Connector
	if c == nil {
		return nil
	}
	path := field.NewPath("spec", "connector")
	errs := ValidateEndpoint(c.Endpoint, path.Child("endpoint"))
	errs = append(errs, ValidateServed(c, path.Child("kind"))...)
	if c.Kind == ConnectorGPConnect && !asidPattern.MatchString(c.ASID) {
		errs = append(errs, field.Invalid(path.Child("asid"), c.ASID,
			"required for kind GPConnect (the practice system's ASID, sent as Ssp-To): 1 to 20 digits"))
	}
	if c.Image != "" {
		errs = append(errs, ValidateImage(c.Image, path.Child("image"))...)
	}
	return errs
}

// asidPattern is an accredited system id (Spine): 1 to 20 digits.
var asidPattern = regexp.MustCompile(`^[0-9]{1,20}$`)

// ValidateServed refuses a kind and mode pair the connector is not built
// for (ServedConnectors), as the CRD's rule on ConnectorSpec does.
func ValidateServed(c *ConnectorSpec, path *field.Path) field.ErrorList {
	mode := c.Mode
	if mode == "" {
		mode = ConnectorPull
	}
	if slices.Contains(ServedConnectors, string(c.Kind)+"/"+string(mode)) {
		return nil
	}
	if c.Kind == ConnectorGPConnect {
		return field.ErrorList{field.Invalid(path, string(c.Kind), fmt.Sprintf(
			"kind GPConnect with mode %s is not offered: GP practices are read by the record gateway at the moment of care (mode Pull); GP Connect has no push", mode))}
	}
	return field.ErrorList{field.Invalid(path, string(c.Kind), fmt.Sprintf(
		"kind %s with mode %s is not built yet: the connector serves %s", c.Kind, mode, ServedConnectorsText()))}
}

// ServedConnectorsText says in words which kinds and modes are served, as
// the CRD rule's message does ("kind FHIR with mode Pull").
func ServedConnectorsText() string {
	var pairs []string
	for _, served := range ServedConnectors {
		kind, mode, _ := strings.Cut(served, "/")
		pairs = append(pairs, "kind "+kind+" with mode "+mode)
	}
	return strings.Join(pairs, " or ")
}

// ValidateEndpoint refuses a connector endpoint that is not an https URL
// naming a host, or that carries credentials (userinfo), a query or a
// fragment. The value is never echoed: it may hold a password or token.
func ValidateEndpoint(endpoint string, path *field.Path) field.ErrorList {
	invalid := func(detail string) field.ErrorList {
		return field.ErrorList{field.Invalid(path, field.OmitValueType{}, detail)}
	}
	u, err := url.Parse(endpoint)
	switch {
	case err != nil || u.Scheme != "https" || u.Opaque != "":
		return invalid("must be an https URL")
	case u.User != nil || strings.Contains(u.Host, "@"):
		return invalid("must not carry a user name or password (userinfo): put credentials in credentialsSecretRef")
	case u.RawQuery != "" || u.ForceQuery || strings.Contains(endpoint, "?"):
		return invalid("must not carry a query: tokens and parameters belong in credentialsSecretRef, not the URL")
	case u.Fragment != "" || strings.Contains(endpoint, "#"):
		return invalid("must not carry a fragment")
	case u.Host == "" || u.Hostname() == "":
		return invalid("an https URL must name a host")
	}
	return nil
}

// ValidateImage refuses an image reference that registries and the kubelet
// could not parse (spaces, upper case in the repository, a malformed tag or
// digest), using the reference grammar of the distribution project.
func ValidateImage(image string, path *field.Path) field.ErrorList {
	if _, err := reference.ParseNormalizedNamed(image); err != nil {
		return field.ErrorList{field.Invalid(path, image,
			"must be an image reference such as registry.example/name:tag or name@sha256:<64 hex digits> ("+err.Error()+")")}
	}
	return nil
}

// validatePositive refuses a quantity of zero or less, which the API server
// would only refuse (or which would only stop workloads) in a child object.
func validatePositive(q resource.Quantity, path *field.Path) field.ErrorList {
	if q.Sign() <= 0 {
		return field.ErrorList{field.Invalid(path, q.String(), "must be greater than zero")}
	}
	return nil
}

// validateSubject refuses an admin subject the RoleBinding could not hold.
func validateSubject(s rbacv1.Subject, path *field.Path) field.ErrorList {
	switch s.Kind {
	case rbacv1.UserKind, rbacv1.GroupKind:
		if s.APIGroup != "" && s.APIGroup != rbacv1.GroupName {
			return field.ErrorList{field.Invalid(path.Child("apiGroup"), s.APIGroup, "must be "+rbacv1.GroupName+" for a "+s.Kind)}
		}
	case rbacv1.ServiceAccountKind:
		if s.Namespace == "" {
			return field.ErrorList{field.Required(path.Child("namespace"), "a ServiceAccount needs its namespace")}
		}
		if s.APIGroup != "" {
			return field.ErrorList{field.Invalid(path.Child("apiGroup"), s.APIGroup, "must be empty for a ServiceAccount")}
		}
	default:
		return field.ErrorList{field.NotSupported(path.Child("kind"), s.Kind, []string{rbacv1.UserKind, rbacv1.GroupKind, rbacv1.ServiceAccountKind})}
	}
	if s.Name == "" {
		return field.ErrorList{field.Required(path.Child("name"), "")}
	}
	return nil
}

// validateResources refuses a request above its limit, which the API server
// would only refuse later, pod by pod.
func validateResources(res *corev1.ResourceRequirements, path *field.Path) field.ErrorList {
	if res == nil {
		return nil
	}
	var errs field.ErrorList
	for name, request := range res.Requests {
		if limit, ok := res.Limits[name]; ok && request.Cmp(limit) > 0 {
			errs = append(errs, field.Invalid(path.Child("requests").Key(string(name)), request.String(),
				"must not exceed limits."+string(name)+" ("+limit.String()+")"))
		}
	}
	return errs
}
