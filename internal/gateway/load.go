/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"context"
	"net/http"
	"path/filepath"
	"time"

	"github.com/shcr-io/shcr-operator/internal/gateway/identity"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

// jwksFetchTimeout bounds one fetch of a JWKS URL.
const jwksFetchTimeout = 10 * time.Second

// bundlePaths are the files a bundle directory may hold.
func bundlePaths(dir string) []string {
	return []string{filepath.Join(dir, policy.FileJSON), filepath.Join(dir, policy.FileGzip)}
}

// loadBundle swaps in the bundle from the bundle directory, or nothing when
// it is missing or invalid, so that every request is denied.
func (g *Gateway) loadBundle() error {
	p, err := loadPolicy(g.cfg.BundleDir, g.cfg.Region)
	g.policy.Store(p)
	g.metrics.setBundle(p)
	if err != nil {
		return err
	}
	g.log.Info("Policy bundle loaded", "region", p.region, "revision", p.revision)
	return nil
}

// loadJWKSFile swaps in the keys from the JWKS file, or none when it is
// missing or holds no usable key, so that every token is refused.
func (g *Gateway) loadJWKSFile() error {
	data, err := identity.ReadJWKSFile(g.cfg.Identity.JWKSFile)
	if err != nil {
		g.verifier.SetKeys(nil)
		return err
	}
	return g.useKeys(data, true)
}

// fetchJWKS swaps in the keys from the JWKS URL. A failed fetch keeps the
// keys fetched last, so that a provider outage does not lock every user out.
func (g *Gateway) fetchJWKS(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, jwksFetchTimeout)
	defer cancel()
	data, err := identity.FetchJWKS(ctx, http.DefaultClient, g.cfg.Identity.JWKSURL)
	if err != nil {
		return err
	}
	return g.useKeys(data, false)
}

// useKeys swaps in the keys of a JWKS document. An unusable document
// removes the keys in use only when dropOnError is set.
func (g *Gateway) useKeys(data []byte, dropOnError bool) error {
	keys, skipped, err := identity.ParseKeySet(data)
	if len(skipped) > 0 {
		g.log.Warn("JWKS keys ignored", "keys", skipped)
	}
	if err != nil {
		if dropOnError {
			g.verifier.SetKeys(nil)
		}
		return err
	}
	g.verifier.SetKeys(keys)
	g.log.Info("Identity provider keys loaded", "keys", keys.Len())
	return nil
}

// loadObjections swaps in the objection register, or none when it cannot be
// read, so that every request is denied. Lines not understood are counted
// and logged by line number, never with the NHS number.
func (g *Gateway) loadObjections() error {
	o, problems, err := readObjections(g.cfg.ObjectionsFile)
	g.objections.Store(o)
	g.metrics.registerProblems.Reset()
	if err != nil {
		g.metrics.objectingPatients.Set(0)
		return err
	}
	widened, ignored := 0, 0
	if len(problems) > 0 {
		lines := make([]string, len(problems))
		for i, p := range problems {
			lines[i] = p.String()
			if p.widened {
				widened++
			} else {
				ignored++
			}
		}
		g.log.Warn("Objection register lines need fixing", "file", g.cfg.ObjectionsFile, "problems", lines)
	}
	g.metrics.registerProblems.WithLabelValues("every-organisation").Set(float64(widened))
	g.metrics.registerProblems.WithLabelValues("ignored").Set(float64(ignored))
	g.metrics.objectingPatients.Set(float64(o.patients()))
	g.log.Info("Objection register loaded", "patients", o.patients())
	return nil
}
