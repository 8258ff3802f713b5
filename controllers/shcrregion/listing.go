/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package shcrregion

import (
	"context"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// listing holds one reconcile's lists of a namespace's members and
// agreements, read from the cache once whichever phases need them: the
// policy bundle, the assurance gate, the counts, the GP Connect practices
// and the departed providers each read the whole region, and each list of
// a 5,000-organisation region copies 5,000 objects' structs
// (docs/benchmarks.md). The objects are the cache's own (readOnly): no
// phase may change them.
type listing struct {
	mu         sync.Mutex
	members    map[string][]shcrv1alpha1.MemberOrganisation
	agreements map[string][]shcrv1alpha1.DataSharingAgreement
}

type listingKey struct{}

// withListing gives a reconcile its own listing.
func withListing(ctx context.Context) context.Context {
	return context.WithValue(ctx, listingKey{}, &listing{
		members:    map[string][]shcrv1alpha1.MemberOrganisation{},
		agreements: map[string][]shcrv1alpha1.DataSharingAgreement{},
	})
}

// membersIn lists the MemberOrganisations of a namespace from the cache,
// once per reconcile. The caller must not change them.
func (r *Reconciler) membersIn(ctx context.Context, namespace string) ([]shcrv1alpha1.MemberOrganisation, error) {
	return listOnce(ctx, r.Client, namespace, func(l *listing) map[string][]shcrv1alpha1.MemberOrganisation { return l.members },
		func(list *shcrv1alpha1.MemberOrganisationList) []shcrv1alpha1.MemberOrganisation { return list.Items })
}

// agreementsIn lists the DataSharingAgreements of a namespace from the
// cache, once per reconcile. The caller must not change them.
func (r *Reconciler) agreementsIn(ctx context.Context, namespace string) ([]shcrv1alpha1.DataSharingAgreement, error) {
	return listOnce(ctx, r.Client, namespace, func(l *listing) map[string][]shcrv1alpha1.DataSharingAgreement { return l.agreements },
		func(list *shcrv1alpha1.DataSharingAgreementList) []shcrv1alpha1.DataSharingAgreement {
			return list.Items
		})
}

func listOnce[T any, L any, PL interface {
	*L
	client.ObjectList
}](ctx context.Context, c client.Reader, namespace string, of func(*listing) map[string][]T, items func(PL) []T) ([]T, error) {
	l, _ := ctx.Value(listingKey{}).(*listing)
	if l != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
		if got, ok := of(l)[namespace]; ok {
			return got, nil
		}
	}
	list := PL(new(L))
	if err := c.List(ctx, list, readOnly(namespace)); err != nil {
		return nil, err
	}
	if l != nil {
		of(l)[namespace] = items(list)
	}
	return items(list), nil
}
