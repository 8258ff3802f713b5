/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Command manager runs the shcr-operator controllers.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"os"

	_ "k8s.io/client-go/plugin/pkg/client/auth"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/shcr-io/shcr-operator/controllers/memberorganisation"
	"github.com/shcr-io/shcr-operator/internal/devwebhook"
	"github.com/shcr-io/shcr-operator/internal/kube"
	"github.com/shcr-io/shcr-operator/internal/manager"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

func main() {
	var (
		metricsAddr, probeAddr, webhookCertPath, pprofAddr      string
		localWebhookHost, localWebhookManifests                 string
		gatewayImage, connectorImage                            string
		secureMetrics, leaderElect, enableHTTP2, enableWebhooks bool
		webhookPort, concurrency                                int
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8443",
		"Address of the metrics endpoint; 0 disables it.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true,
		"Serve metrics over HTTPS, with Kubernetes authentication and authorization.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
	flag.StringVar(&pprofAddr, "pprof-bind-address", "0",
		"Address of Go's /debug/pprof endpoints, for profiling the manager's CPU and memory; 0 (the default) disables them.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader, so that only one replica reconciles at a time.")
	flag.StringVar(&webhookCertPath, "webhook-cert-path", "", "Directory holding the webhook server's tls.crt and tls.key.")
	flag.IntVar(&webhookPort, "webhook-port", 9443, "Port of the webhook server.")
	flag.IntVar(&concurrency, "max-concurrent-reconciles", kube.DefaultConcurrency,
		"How many objects of each kind are reconciled at once. Two changes to one object are never reconciled at once.")
	flag.BoolVar(&enableWebhooks, "enable-webhooks", true,
		"Serve the admission webhooks. The reconcilers apply the same rules, so the operator stays correct without them.")
	flag.BoolVar(&enableHTTP2, "enable-http2", false,
		"Serve HTTP/2 on the metrics and webhook servers (off by default: HTTP/2 rapid reset, CVE-2023-44487).")
	flag.StringVar(&localWebhookHost, "local-webhook-host", "",
		"Development only: serve the webhooks on this local address with a throwaway certificate, "+
			"and point the cluster's webhook configurations at it (make demo and the e2e suite run the operator this way).")
	flag.StringVar(&localWebhookManifests, "local-webhook-manifests", "config/webhook/manifests.yaml",
		"Development only: the webhook configurations to install with --local-webhook-host.")
	flag.StringVar(&gatewayImage, "gateway-image", specs.DefaultGatewayImage,
		"Image of the record gateway of regions whose spec.gateway.image is unset (the chart sets the release's own).")
	flag.StringVar(&connectorImage, "connector-image", specs.DefaultConnectorImage,
		"Image of the connector of organisations whose spec.connector.image is unset (the chart sets the release's own).")
	purgeBound := flag.Duration("purge-bound", memberorganisation.DefaultPurgeBound,
		"How long after an organisation's scope narrows its records outside the new scope must be gone from the record service (status.purge.deadline).")
	softMemoryLimit := flag.String("soft-memory-limit", manager.SoftMemoryLimitAuto,
		"The Go runtime's soft memory limit (GOMEMLIMIT): auto (90% of the container's memory limit, none without one; "+
			"a GOMEMLIMIT in the environment wins), off, or a quantity such as 230Mi. Near it the garbage collector runs more often, "+
			"so the peak memory stays under it while the heap in use allows.")
	gcPercent := flag.Int("gc-percent", manager.DefaultGCPercent,
		"The garbage collection target (GOGC): how far the heap may grow, in percent of what was live after the last collection, before the next. "+
			"Lower holds less memory for more collector CPU. A GOGC in the environment wins unless this flag is given.")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")
	limit, err := manager.SetSoftMemoryLimit(*softMemoryLimit)
	if err != nil {
		log.Error(err, "Invalid flag")
		os.Exit(2)
	}
	gcExplicit := false
	flag.Visit(func(f *flag.Flag) { gcExplicit = gcExplicit || f.Name == "gc-percent" })
	gc, err := manager.SetGCPercent(*gcPercent, gcExplicit)
	if err != nil {
		log.Error(err, "Invalid flag")
		os.Exit(2)
	}
	log.Info("Garbage collector set", "gcPercent", gc, "softMemoryLimitBytes", limit.Bytes,
		"softMemoryLimitSource", limit.Source, "reason", limit.Reason)

	var tlsOpts []func(*tls.Config)
	if !enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metrics := metricsserver.Options{BindAddress: metricsAddr, SecureServing: secureMetrics, TLSOpts: tlsOpts}
	if secureMetrics {
		metrics.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	cfg := ctrl.GetConfigOrDie()
	ctx := ctrl.SetupSignalHandler()
	webhookOpts := webhook.Options{Port: webhookPort, CertDir: webhookCertPath, TLSOpts: tlsOpts}
	if localWebhookHost != "" {
		if err := installLocalWebhooks(ctx, cfg, localWebhookHost, webhookPort, localWebhookManifests, &webhookOpts); err != nil {
			log.Error(err, "Failed to install the local webhooks")
			os.Exit(1)
		}
	}
	mgr, err := kube.NewManager(cfg, ctrl.Options{
		Metrics:                       metrics,
		WebhookServer:                 webhook.NewServer(webhookOpts),
		HealthProbeBindAddress:        probeAddr,
		PprofBindAddress:              pprofAddr,
		Controller:                    config.Controller{MaxConcurrentReconciles: concurrency},
		LeaderElection:                leaderElect,
		LeaderElectionID:              "shcr-operator.shcr.io",
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		log.Error(err, "Failed to create the manager")
		os.Exit(1)
	}
	if err := manager.Setup(ctx, mgr, manager.Options{
		Webhooks: enableWebhooks, OperatorNamespace: os.Getenv("POD_NAMESPACE"),
		GatewayImage: gatewayImage, ConnectorImage: connectorImage, PurgeBound: *purgeBound,
	}); err != nil {
		log.Error(err, "Failed to set up the controllers")
		os.Exit(1)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		log.Error(err, "Failed to add the health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		log.Error(err, "Failed to add the readiness check")
		os.Exit(1)
	}
	log.Info("Starting the manager")
	if err := mgr.Start(ctx); err != nil {
		log.Error(err, "The manager stopped with an error")
		os.Exit(1)
	}
}

// installLocalWebhooks makes a certificate for a webhook server on a local
// address and points the cluster's webhook configurations at it.
func installLocalWebhooks(ctx context.Context, cfg *rest.Config, host string, port int, manifestsPath string, opts *webhook.Options) error {
	manifests, err := os.ReadFile(manifestsPath)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "shcr-webhook-")
	if err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: kube.Scheme})
	if err != nil {
		return err
	}
	opts.Host, opts.CertDir = host, dir
	return devwebhook.Install(ctx, c, manifests, host, port, dir)
}
