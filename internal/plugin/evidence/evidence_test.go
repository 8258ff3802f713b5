/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package evidence_test

import (
	"fmt"
	"html"
	"strings"
	"testing"
	"time"

	"github.com/shcr-io/shcr-operator/internal/plugin/evidence"
	"github.com/shcr-io/shcr-operator/test/plugintest"
)

func TestMain(m *testing.M) { plugintest.Main(m) }

// requirements are the eight requirements of the IG Framework for Shared
// Care Records (DOMAIN.md).
var requirements = []string{
	"Consistent IG policies",
	"Known data flows with controller/processor at each step",
	"Lawful basis and transparency",
	"Access controls and records management",
	"Patient objections considered",
	"Cyber security guidance (DSPT)",
	"Due diligence on processors",
	"Documented decisions",
}

const script = `<script>alert('pwned')</script>`

func TestEvidencePackCoversEveryRequirementAndEscapesWhatTheClusterHolds(t *testing.T) {
	s := plugintest.SharedScenario(t)
	draft := s.Agreement("hostile-v1", 1, plugintest.CareCategories, time.Now(), time.Now().AddDate(1, 0, 0))
	draft.Spec.AgreementID = "HOSTILE-DSA"
	draft.Spec.Title = script + " sharing"
	plugintest.Create(t, draft)

	md := plugintest.MustRun(t, evidence.NewCommand, "--region", s.Region)
	for i, title := range requirements {
		if want := fmt.Sprintf("## IG requirement %d: %s\n", i+1, title); !strings.Contains(md, want) {
			t.Errorf("the Markdown pack has no section %q", want)
		}
	}
	for _, want := range []string{
		"## Agreement register", "## Record of processing", "Generated ",
		s.AgreementID, "6(1)(e)", "9(2)(h)", "DPIA-" + s.AgreementID, "365 days", // record of processing
		"StandardsMet", "True (Admitted)", // DSPT
		plugintest.Signer(s.Trust), // who recorded the approval
		"spec.audit.retentionDays, 2922 days, is not enforced with this sink", // Stdout: the pipeline keeps audit
		"is exactly what the objects compile to",                              // enforced = signed
		"| " + s.Trust + " | R8000 | Allergies, Appointments, CarePlans",      // effective access
		"HOSTILE-DSA v1 awaits the approval of",
		"1 awaits approvals and none is suspended.",
		`shcr\_gateway\_break\_glass\_total`,
		"No objection register is configured",
		"&lt;script&gt;alert('pwned')&lt;/script&gt; sharing",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the Markdown pack does not show %q", want)
		}
	}
	if strings.Contains(md, "<script>") {
		t.Errorf("the Markdown pack holds raw HTML from an agreement title")
	}

	page := plugintest.MustRun(t, evidence.NewCommand, "--region", s.Region, "-o", "html")
	for i, title := range requirements {
		if want := fmt.Sprintf("<h2>IG requirement %d: %s</h2>", i+1, html.EscapeString(title)); !strings.Contains(page, want) {
			t.Errorf("the HTML pack has no section %q", want)
		}
	}
	if strings.Contains(page, script) || !strings.Contains(page, "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt; sharing") {
		t.Errorf("the HTML pack does not escape the agreement title")
	}
	if !strings.HasPrefix(page, "<!DOCTYPE html>") || !strings.Contains(page, "</html>") {
		t.Errorf("the HTML pack is not a whole document")
	}
}
