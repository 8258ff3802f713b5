/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// The values of Config.Kind and Config.Mode this connector serves.
const (
	KindFHIR  = "FHIR"
	KindHL7v2 = "HL7v2"
	ModePull  = "Pull"
	ModePush  = "Push"
)

// defaultTokenPath is where the token endpoint is when the configuration
// does not name one: below the organisation's FHIR endpoint.
const defaultTokenPath = "oauth2/token"

// odsCodePattern is the form of an ODS code (DOMAIN.md).
var odsCodePattern = regexp.MustCompile(`^[A-Z0-9]{3,6}$`)

// Config is the connector's configuration file. It is the one wire type of
// the contract: the operator marshals this same type into the connector's
// ConfigMap (specs.ConnectorConfig is an alias of it), so the two cannot
// drift. TokenURL is not written by the operator yet. Unknown fields are
// ignored so that a newer operator does not stop an older connector.
type Config struct {
	// ODSCode is the organisation whose records this connector carries; it
	// is stamped on every resource as its provenance.
	ODSCode string `json:"odsCode"`
	// Region is the ShCRRegion the organisation belongs to.
	Region string `json:"region"`
	// Kind is the protocol of the organisation's system: FHIR (pulled) or
	// HL7v2 (pushed over MLLP).
	Kind string `json:"kind"`
	// Endpoint is the HTTPS FHIR R4 base URL of the organisation's system;
	// for HL7v2, the system's address, recorded as every record's
	// meta.source.
	Endpoint string `json:"endpoint"`
	// Mode is Pull (the default, FHIR) or Push (HL7v2).
	Mode string `json:"mode"`
	// Schedule is the wait between the end of one pull and the start of the
	// next, such as "15m"; empty for a Push connector.
	Schedule string `json:"schedule,omitempty"`
	// RecordService is the FHIR base URL of the region's record service.
	RecordService string `json:"recordService"`
	// Categories are the data categories the organisation may provide right
	// now. Empty means nothing is forwarded.
	Categories []string `json:"categories"`
	// TokenURL is the OAuth2 token endpoint; empty means
	// <endpoint>/oauth2/token.
	TokenURL string `json:"tokenURL,omitempty"`
	// Push says how a pushed FHIR connector verifies the bearer tokens of
	// the organisation's OAuth2 client; absent for the other kinds and
	// modes, and when the organisation pushes with mutual TLS only.
	Push *PushAuth `json:"push,omitempty"`
}

// LoadConfig reads and checks the configuration file.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading the configuration: %w", err)
	}
	var cfg Config
	if err := json.Unmarshal(data, &cfg); err != nil {
		return Config{}, fmt.Errorf("configuration %s is not valid JSON: %w", path, err)
	}
	if err := cfg.validate(); err != nil {
		return Config{}, fmt.Errorf("configuration %s: %w", path, err)
	}
	return cfg, nil
}

// validate says what is wrong with the configuration, all at once.
func (c Config) validate() error {
	var errs []error
	if !odsCodePattern.MatchString(c.ODSCode) {
		errs = append(errs, fmt.Errorf("odsCode %q must be 3 to 6 upper-case letters and digits", c.ODSCode))
	}
	switch {
	case c.Kind == KindHL7v2 && c.Mode == ModePush:
	case c.Kind == KindFHIR && c.Mode == ModePush:
	case c.Kind == KindHL7v2:
		errs = append(errs, fmt.Errorf("mode %q is not served for kind %s, which is pushed over MLLP (mode %s)", c.Mode, KindHL7v2, ModePush))
	case c.Kind != KindFHIR:
		errs = append(errs, fmt.Errorf("kind %q is not served by this connector, which speaks %s (Pull) and %s (Push)", c.Kind, KindFHIR, KindHL7v2))
	case c.Mode != "" && c.Mode != ModePull:
		errs = append(errs, fmt.Errorf("mode %q is not served for kind %s, which is pulled (mode %s) or pushed (mode %s)", c.Mode, KindFHIR, ModePull, ModePush))
	}
	if c.Mode != ModePush {
		if _, err := c.Interval(); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, checkURL("endpoint", c.Endpoint, "https"))
	errs = append(errs, checkURL("recordService", c.RecordService, "http", "https"))
	if c.TokenURL != "" {
		errs = append(errs, checkURL("tokenURL", c.TokenURL, "https"))
	}
	switch {
	case c.Push != nil && (c.Kind != KindFHIR || c.Mode != ModePush):
		errs = append(errs, fmt.Errorf("push is only for kind %s with mode %s", KindFHIR, ModePush))
	case c.Push != nil:
		errs = append(errs, c.Push.validate())
	}
	return errors.Join(errs...)
}

// Interval is the parsed schedule.
func (c Config) Interval() (time.Duration, error) {
	d, err := time.ParseDuration(c.Schedule)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("schedule %q must be a positive duration such as 15m or 1h", c.Schedule)
	}
	return d, nil
}

// TokenEndpoint is the OAuth2 token URL: tokenURL, or <endpoint>/oauth2/token.
func (c Config) TokenEndpoint() string {
	if c.TokenURL != "" {
		return c.TokenURL
	}
	u, err := url.JoinPath(c.Endpoint, defaultTokenPath)
	if err != nil { // validate has already parsed the endpoint
		return c.Endpoint
	}
	return u
}

// KnownCategories are the configured categories this connector knows,
// sorted, without repeats. An unknown category (from a newer operator) is
// never forwarded: a misunderstanding can only narrow the scope.
func (c Config) KnownCategories() []string {
	var known []string
	for _, category := range c.Categories {
		if slices.Contains(policy.Categories, category) && !slices.Contains(known, category) {
			known = append(known, category)
		}
	}
	slices.Sort(known)
	return known
}

// UnknownCategories are the configured categories this connector does not
// know and therefore does not forward.
func (c Config) UnknownCategories() []string {
	var unknown []string
	for _, category := range c.Categories {
		if !slices.Contains(policy.Categories, category) {
			unknown = append(unknown, category)
		}
	}
	return unknown
}

func checkURL(field, value string, schemes ...string) error {
	u, err := url.Parse(value)
	if err != nil || u.Host == "" || !slices.Contains(schemes, u.Scheme) {
		return fmt.Errorf("%s %q must be an absolute %s URL", field, value, strings.Join(schemes, " or "))
	}
	return nil
}
