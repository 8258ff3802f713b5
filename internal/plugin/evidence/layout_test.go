/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package evidence_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/plugin/evidence"
	"github.com/shcr-io/shcr-operator/test/plugintest"
)

// chromium finds a headless Chromium: $SHCR_CHROMIUM, or Debian's chromium
// on the PATH. Without one the layout test is skipped, unless
// SHCR_REQUIRE_CHROMIUM is set (the e2e path installs it and sets it).
func chromium(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("SHCR_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if path, err := exec.LookPath(c); err == nil {
			return path
		}
	}
	if os.Getenv("SHCR_REQUIRE_CHROMIUM") != "" {
		t.Fatal("SHCR_REQUIRE_CHROMIUM is set but no chromium is on the PATH: apt-get install -y chromium")
	}
	t.Skip("no chromium on the PATH: the evidence pack's rendered layout is not measured " +
		"(apt-get install -y chromium, or make test-e2e, which installs it)")
	return ""
}

// mediaBox matches a PDF page's size in points.
var mediaBox = regexp.MustCompile(`/MediaBox \[0 0 ([0-9.]+) ([0-9.]+)\]`)

// tableBox is one rendered table, measured in CSS pixels.
type tableBox struct {
	Section string  `json:"section"`
	Caption string  `json:"caption"`
	Right   float64 `json:"right"`
	Scroll  float64 `json:"scroll"`
	Client  float64 `json:"client"`
	// Narrowest is the narrowest column's width.
	Narrowest float64 `json:"narrowest"`
}

// layout is what measureScript reports.
type layout struct {
	Width        float64    `json:"width"`
	ScrollWidth  float64    `json:"scrollWidth"`
	Tables       []tableBox `json:"tables"`
	BreakBefore  []string   `json:"breakBefore"`
	TOCLinks     int        `json:"tocLinks"`
	SectionCount int        `json:"sectionCount"`
}

const measureScript = `(() => {
  const root = document.documentElement;
  const tables = [...document.querySelectorAll('table')].map(t => {
    const s = t.closest('section');
    const ths = [...t.querySelectorAll('thead th')];
    return {
      section: s ? s.querySelector('h2').textContent : '',
      caption: t.caption ? t.caption.textContent : '',
      right: t.getBoundingClientRect().right,
      scroll: t.scrollWidth, client: t.clientWidth,
      narrowest: Math.min(...ths.map(th => th.getBoundingClientRect().width)),
    };
  });
  return {
    width: root.clientWidth, scrollWidth: root.scrollWidth, tables,
    breakBefore: [...document.querySelectorAll('section')].map(s => getComputedStyle(s).breakBefore),
    tocLinks: document.querySelectorAll('nav.toc a[href^="#section-"]').length,
    sectionCount: document.querySelectorAll('section[id^="section-"]').length,
  };
})()`

// A4 is 210 mm wide; the pack's @page margins are 12 mm each side, so the
// printed content is 186 mm wide: 703 CSS pixels at 96 per inch.
const a4ContentWidth = 186 * 96 * 10 / 254

func TestEvidencePackFitsA1280PixelScreenAndA4Paper(t *testing.T) {
	browser := chromium(t)
	s := supersedingScenario(t)
	html := plugintest.MustRun(t, evidence.NewCommand, "--region", s.Region, "-o", "html")
	screen, print, pdf := renderAndMeasure(t, browser, html)

	checkFits(t, "at 1280 px on screen", screen, 10)
	checkFits(t, "printed on A4 portrait", print, 10)
	if screen.SectionCount != 12 || screen.TOCLinks != screen.SectionCount {
		t.Errorf("the table of contents links %d sections, the pack has %d, want 12 (register, record of processing, assurance, decision log, eight requirements)",
			screen.TOCLinks, screen.SectionCount)
	}
	for i, b := range print.BreakBefore {
		if b != "page" {
			t.Errorf("printed, section %d starts with break-before %q, want a new page", i, b)
		}
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("PrintToPDF returned no PDF (%d bytes)", len(pdf))
	}
	// A4 is 595.3 × 841.9 points; Chromium writes each page's MediaBox plainly.
	boxes := mediaBox.FindAllSubmatch(pdf, -1)
	if len(boxes) < 13 {
		t.Errorf("the PDF has %d pages, want at least 13: the cover and a page from each of the twelve sections", len(boxes))
	}
	for _, box := range boxes {
		if w, h := string(box[1]), string(box[2]); !strings.HasPrefix(w, "59") || !strings.HasPrefix(h, "841.") {
			t.Errorf("a PDF page is %s × %s points, want A4 portrait (595 × 842)", w, h)
			break
		}
	}
	t.Logf("screen %0.f px: %d tables; A4 %0.f px; PDF %d bytes", screen.Width, len(screen.Tables), print.Width, len(pdf))
}

// checkFits fails when any table, or the page, is wider than the page, or
// when a column is crushed narrower than a short word.
func checkFits(t *testing.T, where string, l layout, minTables int) {
	t.Helper()
	if len(l.Tables) < minTables {
		t.Fatalf("%s: measured %d tables, want %d at least", where, len(l.Tables), minTables)
	}
	const tolerance = 1 // sub-pixel rounding
	if l.ScrollWidth > l.Width+tolerance {
		t.Errorf("%s: the page scrolls sideways: %.0f px of content in %.0f px", where, l.ScrollWidth, l.Width)
	}
	for _, tb := range l.Tables {
		name := strings.TrimSpace(tb.Section + " " + tb.Caption)
		if tb.Right > l.Width+tolerance || tb.Scroll > tb.Client+tolerance {
			t.Errorf("%s: table %q is wider than the page: right edge %.0f px, content %.0f px in %.0f px, page %.0f px",
				where, name, tb.Right, tb.Scroll, tb.Client, l.Width)
		}
		if tb.Narrowest < 36 {
			t.Errorf("%s: table %q has a column %.0f px wide: crushed", where, name, tb.Narrowest)
		}
	}
}

// wideRegister makes the register as wide as it gets: a second version that
// supersedes the first, with every category, a long title, and a third
// version that stays a draft.
func wideRegister(t *testing.T, s *plugintest.Scenario) {
	t.Helper()
	now := time.Now()
	all := append([]shcrv1alpha1.DataCategory{}, plugintest.AllButPreferences...)
	all = append(all, shcrv1alpha1.CategoryPreferences)
	v2 := s.Agreement("dsa-v2", 2, all, now.Add(-time.Minute), now.AddDate(2, 0, 0))
	v2.Spec.Title = "Direct care sharing between the practice, the acute trust and the council's adult social care, with every category of record"
	plugintest.Create(t, v2)
	s.Approve(t, "dsa-v2")
	plugintest.WaitPhase(t, s.Namespace, "dsa-v2", shcrv1alpha1.PhaseActive)
	plugintest.WaitPhase(t, s.Namespace, "dsa-v1", shcrv1alpha1.PhaseSuperseded)
	v3 := s.Agreement("dsa-v3", 3, all, now.AddDate(1, 0, 0), now.AddDate(3, 0, 0))
	plugintest.Create(t, v3)
}

var superseding *plugintest.Scenario

// supersedingScenario is a region whose agreement's version 2 superseded
// version 1, with every category and a long title, and a version 3 that
// stays a draft: the register as wide as it gets. Onboarded on first use.
func supersedingScenario(t *testing.T) *plugintest.Scenario {
	t.Helper()
	if superseding == nil {
		s := plugintest.NewScenario(t, "layout", "R")
		wideRegister(t, s)
		superseding = s
	}
	return superseding
}

func TestEvidencePackSaysWhenASupersededVersionStoppedAndThatItSharesNothing(t *testing.T) {
	s := supersedingScenario(t)
	md := plugintest.MustRun(t, evidence.NewCommand, "--region", s.Region)
	for _, want := range []string{
		"| " + s.AgreementID + " v1 | " + s.GP + " | Controller | no: the version is Superseded |",
		"| " + s.AgreementID + " v2 | " + s.GP + " | Controller | yes |",
		"| " + s.AgreementID + " v3 | " + s.GP + " | Controller | no: the version is Draft |",
		"stopped when v2 took effect",
		"| never |",
		"Of 3 agreement versions, 1 awaits approvals and none is suspended.",
		s.GP + ", " + s.Trust, // lists wrap
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the pack does not say %q", want)
		}
	}
	if strings.Contains(md, "Superseded | yes") || strings.Contains(md, "Draft | yes") {
		t.Errorf("the pack says a version that is not Active shares now")
	}
}

// renderAndMeasure opens html in Chromium at 1280 px and measures it, then
// as printed on A4 portrait, and prints it to PDF.
func renderAndMeasure(t *testing.T, browser, html string) (layout, layout, []byte) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "evidence.html")
	if err := os.WriteFile(file, []byte(html), 0o600); err != nil {
		t.Fatal(err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	browserCtx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	browserCtx, cancelTimeout := context.WithTimeout(browserCtx, 2*time.Minute)
	defer cancelTimeout()

	if err := chromedp.Do(browserCtx,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate("file://"+file),
		chromedp.WaitReady("body"),
	); err != nil {
		t.Fatalf("opening the page in %s: %v", browser, err)
	}
	screen, err := chromedp.Run(browserCtx, chromedp.Evaluate[layout](measureScript))
	if err != nil {
		t.Fatalf("measuring the pack on screen: %v", err)
	}
	if _, err := chromedp.Call(browserCtx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(browserCtx, chromedp.EmulateViewport(a4ContentWidth, 1000)); err != nil {
		t.Fatal(err)
	}
	print, err := chromedp.Run(browserCtx, chromedp.Evaluate[layout](measureScript))
	if err != nil {
		t.Fatalf("measuring the pack as printed: %v", err)
	}
	pdf, err := chromedp.Run(browserCtx, chromedp.PrintToPDF(func(p *page.PrintToPDFParams) { prefer := true; p.PreferCSSPageSize = &prefer }))
	if err != nil {
		t.Fatalf("printing the pack to PDF: %v", err)
	}

	return screen, print, pdf
}

// The public transparency page is read by the public on any screen and
// printed for notice boards: it fits 1280 px and A4 portrait like the pack,
// and prints on A4.
func TestPublicPageFitsA1280PixelScreenAndA4Paper(t *testing.T) {
	browser := chromium(t)
	s := supersedingScenario(t)
	html := plugintest.MustRun(t, evidence.NewCommand, "--region", s.Region, "--public", "-o", "html")
	screen, print, pdf := renderAndMeasure(t, browser, html)
	checkFits(t, "the public page at 1280 px on screen", screen, 2)
	checkFits(t, "the public page printed on A4 portrait", print, 2)
	boxes := mediaBox.FindAllSubmatch(pdf, -1)
	if len(boxes) == 0 {
		t.Fatalf("the public page printed no PDF pages (%d bytes)", len(pdf))
	}
	for _, box := range boxes {
		if w, h := string(box[1]), string(box[2]); !strings.HasPrefix(w, "59") || !strings.HasPrefix(h, "841.") {
			t.Errorf("a PDF page is %s × %s points, want A4 portrait (595 × 842)", w, h)
			break
		}
	}
}
