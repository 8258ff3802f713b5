/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// The files of the mounted credentials Secret.
const (
	fileClientID     = "client-id"
	fileClientSecret = "client-secret"
	fileTLSCert      = "tls.crt"
	fileTLSKey       = "tls.key"
	fileCA           = "ca.crt"
)

// credentials are what the organisation's endpoint knows the connector by:
// OAuth2 client credentials, a TLS client certificate, or both.
type credentials struct {
	clientID     string
	clientSecret string
	certificate  *tls.Certificate
	// roots verify the endpoint's certificate; nil means the system's.
	roots *x509.CertPool
}

// loadCredentials reads the credentials directory. Each set must be
// complete, and at least one set must be there. Errors name files, never
// their content.
func loadCredentials(dir string) (credentials, error) {
	files := map[string][]byte{}
	for _, name := range []string{fileClientID, fileClientSecret, fileTLSCert, fileTLSKey, fileCA} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return credentials{}, fmt.Errorf("reading credentials file %s: %w", name, err)
		}
		files[name] = data
	}
	var c credentials
	oauth, err := pair(dir, files, fileClientID, fileClientSecret)
	if err != nil {
		return credentials{}, err
	}
	if oauth {
		c.clientID = strings.TrimSpace(string(files[fileClientID]))
		c.clientSecret = strings.TrimSpace(string(files[fileClientSecret]))
	}
	mtls, err := pair(dir, files, fileTLSCert, fileTLSKey)
	if err != nil {
		return credentials{}, err
	}
	if mtls {
		cert, err := tls.X509KeyPair(files[fileTLSCert], files[fileTLSKey])
		if err != nil {
			return credentials{}, fmt.Errorf("credentials %s and %s in %s are not a matching PEM certificate and key: %w", fileTLSCert, fileTLSKey, dir, err)
		}
		c.certificate = &cert
	}
	if !oauth && !mtls {
		return credentials{}, fmt.Errorf("credentials directory %s holds neither %s and %s nor %s and %s; the Secret needs one complete set",
			dir, fileClientID, fileClientSecret, fileTLSCert, fileTLSKey)
	}
	if ca, ok := files[fileCA]; ok {
		c.roots = x509.NewCertPool()
		if !c.roots.AppendCertsFromPEM(ca) {
			return credentials{}, fmt.Errorf("credentials file %s in %s holds no PEM certificate", fileCA, dir)
		}
	}
	return c, nil
}

// pair reports whether both files of a set are there, and fails when only
// one is.
func pair(dir string, files map[string][]byte, first, second string) (bool, error) {
	_, hasFirst := files[first]
	_, hasSecond := files[second]
	switch {
	case hasFirst && !hasSecond:
		return false, fmt.Errorf("credentials directory %s has %s but no %s", dir, first, second)
	case hasSecond && !hasFirst:
		return false, fmt.Errorf("credentials directory %s has %s but no %s", dir, second, first)
	}
	return hasFirst, nil
}

// sourceClient is the HTTP client for the organisation's endpoint: TLS 1.2
// or later, the client certificate when there is one, and a bearer token
// from the token endpoint when there are client credentials. The token
// never leaves the transport. Closing the returned transport's idle
// connections releases it.
func sourceClient(c credentials, tokenURL string, timeout time.Duration) (*http.Client, *http.Transport) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: c.roots}
	if c.certificate != nil {
		base.TLSClientConfig.Certificates = []tls.Certificate{*c.certificate}
	}
	var transport http.RoundTripper = base
	if c.clientID != "" {
		cc := clientcredentials.Config{ClientID: c.clientID, ClientSecret: c.clientSecret, TokenURL: tokenURL}
		tokenClient := &http.Client{Transport: base, Timeout: timeout, CheckRedirect: noRedirects}
		ctx := context.WithValue(context.Background(), oauth2.HTTPClient, tokenClient)
		transport = &oauth2.Transport{Source: cc.TokenSource(ctx), Base: base}
	}
	return &http.Client{Transport: transport, Timeout: timeout, CheckRedirect: noRedirects}, base
}

// recordServiceClient is the HTTP client for the record service, inside
// the region's network.
func recordServiceClient(timeout time.Duration) (*http.Client, *http.Transport) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	return &http.Client{Transport: base, Timeout: timeout, CheckRedirect: noRedirects}, base
}

// credentialsRejected is a clear error when err is the token endpoint
// refusing the client credentials, which no retry can fix; nil otherwise.
func credentialsRejected(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil {
		return nil
	}
	code := re.Response.StatusCode
	if code < 400 || code >= 500 || code == http.StatusTooManyRequests {
		return nil
	}
	return fmt.Errorf("the token endpoint refused the client credentials (%d %s %s); check %s and %s in the credentials Secret and the token URL",
		code, http.StatusText(code), re.ErrorCode, fileClientID, fileClientSecret)
}
