/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package manager registers the operator's controllers with a manager.
package manager

import (
	"context"
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/controllers/accesspolicy"
	"github.com/shcr-io/shcr-operator/controllers/datasharingagreement"
	"github.com/shcr-io/shcr-operator/controllers/memberorganisation"
	"github.com/shcr-io/shcr-operator/controllers/shcrregion"
	"github.com/shcr-io/shcr-operator/internal/index"
	"github.com/shcr-io/shcr-operator/internal/webhook"
)

// Options change how Setup wires the controllers.
type Options struct {
	// WrapClient, when set, wraps the client every controller writes
	// through (the tests count writes with it).
	WrapClient func(client.Client) client.Client
	// Webhooks registers the admission webhooks with the manager's webhook server.
	Webhooks bool
	// OperatorNamespace is the namespace the operator runs in, if in a cluster.
	OperatorNamespace string
	// GatewayImage and ConnectorImage are the images of regions' gateways and
	// organisations' connectors that name none (the release's own images);
	// the specs package's defaults when empty.
	GatewayImage, ConnectorImage string
	// ConnectorStatusURL, when set, overrides where connectors' status is read.
	ConnectorStatusURL func(*shcrv1alpha1.MemberOrganisation) string
	// BreakGlassCountURL, when set, overrides where each region gateway's
	// break-glass count is read; BreakGlassInterval, when not zero, is how
	// often (shcrregion.DefaultBreakGlassInterval otherwise).
	BreakGlassCountURL func(*shcrv1alpha1.ShCRRegion) string
	BreakGlassInterval time.Duration
	// PurgeBound is how long after a narrowing an organisation's records
	// outside its new scope must be gone; memberorganisation.DefaultPurgeBound
	// when zero.
	PurgeBound time.Duration
}

// Setup registers the field indexes, every controller and, if asked, the
// webhooks with the manager.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	if err := index.Setup(ctx, mgr); err != nil {
		return fmt.Errorf("registering field indexes: %w", err)
	}
	c := mgr.GetClient()
	if opts.WrapClient != nil {
		c = opts.WrapClient(c)
	}
	recorder, err := newEventRecorder(ctx, mgr)
	if err != nil {
		return err
	}
	if err := (&shcrregion.Reconciler{
		Client: c, APIReader: mgr.GetAPIReader(), Recorder: recorder, GatewayImage: opts.GatewayImage,
		OperatorNamespace: opts.OperatorNamespace, ConnectorImage: opts.ConnectorImage, PurgeBound: opts.PurgeBound,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the ShCRRegion controller: %w", err)
	}
	if err := mgr.Add(&shcrregion.BreakGlassWatcher{
		Client: mgr.GetClient(), Recorder: recorder, URL: opts.BreakGlassCountURL, Interval: opts.BreakGlassInterval,
	}); err != nil {
		return fmt.Errorf("setting up the break-glass watcher: %w", err)
	}
	if err := (&memberorganisation.Reconciler{
		Client: c, APIReader: mgr.GetAPIReader(), Recorder: recorder,
		OperatorNamespace: opts.OperatorNamespace, ConnectorStatusURL: opts.ConnectorStatusURL,
		ConnectorImage: opts.ConnectorImage, PurgeBound: opts.PurgeBound,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the MemberOrganisation controller: %w", err)
	}
	if err := (&datasharingagreement.Reconciler{Client: c, Recorder: recorder}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the DataSharingAgreement controller: %w", err)
	}
	if err := (&accesspolicy.Reconciler{Client: c, Recorder: recorder}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the AccessPolicy controller: %w", err)
	}
	if opts.Webhooks {
		if err := webhook.Setup(mgr); err != nil {
			return fmt.Errorf("setting up the webhooks: %w", err)
		}
	}
	return nil
}
