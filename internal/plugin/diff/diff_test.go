/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package diff_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/plugin/diff"
	"github.com/shcr-io/shcr-operator/test/plugintest"
)

func TestMain(m *testing.M) { plugintest.Main(m) }

// write writes objects as one multi-document YAML file in dir.
func write(t *testing.T, dir, name string, objs ...client.Object) string {
	t.Helper()
	var docs []string
	for _, o := range objs {
		out, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(out))
	}
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Join(docs, "---\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func result(t *testing.T, wantErr error, args ...string) diff.Result {
	t.Helper()
	out, err := plugintest.Run(diff.NewCommand, append(args, "-o", "json")...)
	if !errors.Is(err, wantErr) {
		t.Fatalf("error %v, want %v\n%s", err, wantErr, out)
	}
	var r diff.Result
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return r
}

func changed(r diff.Result, kind, org, role string) []string {
	var categories []string
	for _, c := range r.Changes {
		if c.Change == kind && c.Organisation == org && c.Role == role {
			categories = append(categories, c.Category)
		}
	}
	return categories
}

func TestAPolicyAddingACategoryWidensAccessAndExitsWithWidened(t *testing.T) {
	s := plugintest.SharedScenario(t)
	wider := s.Policy(s.CareWorkers, []string{"R8003"}, []string{s.Council}, append(plugintest.CareCategories, "TestResults")...)
	file := write(t, t.TempDir(), "care-workers.yaml", wider)

	r := result(t, diff.ErrWidened, "--region", s.Region, "-f", file)
	if !r.Widens || r.Gained != 3 || r.Lost != 0 || !slices.Equal(changed(r, diff.Gains, s.Council, "R8003"), []string{"TestResults"}) {
		t.Fatalf("%+v, want the council's care workers to gain TestResults from the three providers and nothing else", r)
	}
	if c := r.Changes[0]; c.Agreement != s.AgreementID || c.AgreementVersion != 1 || c.Policy != s.Namespace+"/"+s.CareWorkers || len(c.Sources) != 3 {
		t.Errorf("gained under %s v%d %s from %v, want %s v1 and the care workers' policy", c.Agreement, c.AgreementVersion, c.Policy, c.Sources, s.AgreementID)
	}

	text, err := plugintest.Run(diff.NewCommand, "--region", s.Region, "-f", file)
	if !errors.Is(err, diff.ErrWidened) || !strings.Contains(text, "ACCESS WIDENS: 3 gained, 0 lost") || !strings.Contains(text, "gains") {
		t.Errorf("error %v, want ErrWidened and a summary line saying access widens:\n%s", err, text)
	}
}

func TestAPolicyRemovingACategoryDoesNotWiden(t *testing.T) {
	s := plugintest.SharedScenario(t)
	narrower := s.Policy(s.Clinicians, []string{"R8000"}, nil, slices.DeleteFunc(slices.Clone(plugintest.AllButPreferences),
		func(c shcrv1alpha1.DataCategory) bool { return c == shcrv1alpha1.CategoryMedications })...)
	dir := t.TempDir()
	write(t, dir, "policies/clinicians.yaml", narrower)
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	r := result(t, nil, "--region", s.Region, "-f", dir)
	if r.Widens || r.Gained != 0 || r.Lost != 9 || r.Objects != 1 || r.Ignored != 1 {
		t.Fatalf("%+v, want 9 losses (three organisations' clinicians, three sources), one object read and the kustomization ignored", r)
	}
	for _, org := range []string{s.GP, s.Trust, s.Council} {
		if got := changed(r, diff.Loses, org, "R8000"); !slices.Equal(got, []string{"Medications"}) {
			t.Errorf("%s's clinicians lose %v, want Medications", org, got)
		}
	}
	text := plugintest.MustRun(t, diff.NewCommand, "--region", s.Region, "-f", dir)
	if !strings.Contains(text, "access does not widen: 0 gained, 9 lost") {
		t.Errorf("the summary line does not say access does not widen:\n%s", text)
	}
}

func TestDeletingAPolicyNarrows(t *testing.T) {
	s := plugintest.SharedScenario(t)
	empty := write(t, t.TempDir(), "empty.yaml")
	r := result(t, nil, "--region", s.Region, "-f", empty, "--delete", "accesspolicy/"+s.CareWorkers)
	if r.Widens || len(changed(r, diff.Loses, s.Council, "R8003")) != len(plugintest.CareCategories) {
		t.Errorf("%+v, want the care workers to lose their four categories", r)
	}
	// Only deleting needs no file.
	if only := result(t, nil, "--region", s.Region, "--delete", "accesspolicy/"+s.CareWorkers); only.Files != 0 ||
		len(changed(only, diff.Loses, s.Council, "R8003")) != len(plugintest.CareCategories) {
		t.Errorf("--delete without -f: %+v, want the same loss as with an empty file", only)
	}
	if _, err := plugintest.Run(diff.NewCommand, "--region", s.Region); err == nil || !strings.Contains(err.Error(), "filename delete") {
		t.Errorf("neither -f nor --delete: %v, want an error naming both flags", err)
	}
	if _, err := plugintest.Run(diff.NewCommand, "--region", s.Region, "-f", empty, "--delete", "ap/no-such-policy"); err == nil ||
		!strings.Contains(err.Error(), "no such object") {
		t.Errorf("deleting a policy that does not exist: %v, want an error", err)
	}
}

// A new member and a new agreement signed by every controller, neither
// with status yet, widen access for the role a new policy names.
func TestANewMemberUnderANewSignedAgreementWidens(t *testing.T) {
	s := plugintest.SharedScenario(t)
	pharmacy := s.Member("pharmacy", "FP123", "Pharmacy")
	agreement := s.Agreement("pharmacy-dsa-v1", 1, []shcrv1alpha1.DataCategory{"Medications"}, time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0))
	agreement.Spec.AgreementID = "PHARMACY-DSA"
	agreement.Spec.Terms.Parties = append(agreement.Spec.Terms.Parties, shcrv1alpha1.Party{ODSCode: "FP123", Role: shcrv1alpha1.PartyController})
	for _, p := range agreement.Spec.Terms.Parties {
		agreement.Spec.Approvals = append(agreement.Spec.Approvals, shcrv1alpha1.Approval{
			Organisation: p.ODSCode, Signatory: "CG " + p.ODSCode, Role: "CaldicottGuardian", Date: metav1.Now(),
		})
	}
	pharmacists := s.Policy("pharmacists", []string{"R8002"}, []string{"FP123"}, "Medications")
	pharmacists.Spec.AgreementID = "PHARMACY-DSA"
	file := write(t, t.TempDir(), "pharmacy.yaml", pharmacy, agreement, pharmacists)

	r := result(t, diff.ErrWidened, "--region", s.Region, "-f", file)
	if got := changed(r, diff.Gains, "FP123", "R8002"); !slices.Equal(got, []string{"Medications"}) || r.Gained != 4 {
		t.Errorf("%+v, want the pharmacy's R8002 staff to gain Medications from the four providers", r)
	}

	unsigned := agreement.DeepCopy()
	unsigned.Spec.Approvals = unsigned.Spec.Approvals[:3]
	write(t, filepath.Dir(file), "pharmacy.yaml", pharmacy, unsigned, pharmacists)
	if r := result(t, nil, "--region", s.Region, "-f", file); r.Widens {
		t.Errorf("an agreement the pharmacy has not signed must grant nothing: %+v", r)
	}
}

func TestProposalErrorsNameTheFileAndWhatToFix(t *testing.T) {
	s := plugintest.SharedScenario(t)
	dir := t.TempDir()
	misspelt := filepath.Join(dir, "misspelt.yaml")
	if err := os.WriteFile(misspelt, []byte("apiVersion: shcr.io/v1alpha1\nkind: AccessPolicy\nmetadata: {name: x}\nspec: {agreementID: X}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	elsewhere := s.Policy("elsewhere", []string{"R8000"}, nil, "Allergies")
	elsewhere.Namespace = "shcr-other"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-f", misspelt}, "misspelt.yaml, document 1: "},
		{[]string{"-f", write(t, dir, "elsewhere.yaml", elsewhere)}, "diff each region on its own"},
		{[]string{"-f", filepath.Join(dir, "missing.yaml")}, "no such file"},
		{[]string{"-f", misspelt, "--delete", "secret/x"}, "want kind/name"},
	} {
		if _, err := plugintest.Run(diff.NewCommand, append(tc.args, "--region", s.Region)...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one saying %q", tc.args, err, tc.want)
		}
	}
}

// A new version that adds a category from next week changes nothing now;
// the diff still reports the gain, from the instant it takes effect. A
// version that ends later than the one it supersedes widens access too.
func TestAWideningThatTakesEffectLaterIsReportedFromThatInstant(t *testing.T) {
	s := plugintest.SharedScenario(t)
	v1 := &shcrv1alpha1.DataSharingAgreement{}
	if err := plugintest.Client().Get(context.Background(), client.ObjectKey{Namespace: s.Namespace, Name: "dsa-v1"}, v1); err != nil {
		t.Fatal(err)
	}
	from, v1Ends := time.Now().AddDate(0, 0, 7).Truncate(time.Second), v1.Spec.Terms.EndsOn.Time
	clinicians := s.Policy(s.Clinicians, []string{"R8000"}, nil, append(slices.Clone(plugintest.AllButPreferences), "Preferences")...)

	for _, tc := range []struct {
		name   string
		endsOn time.Time
		gained int
	}{
		{"same end", v1Ends, 9}, // Preferences: three organisations' clinicians, three sources
		{"a month later", v1Ends.AddDate(0, 1, 0), 9 + 3*3*9 + 1*3*4}, // and, after v1 ends, all the clinicians and care workers had
	} {
		t.Run(tc.name, func(t *testing.T) {
			v2 := s.Agreement("later-dsa-v2", 2, append(slices.Clone(plugintest.AllButPreferences), "Preferences"), from, tc.endsOn)
			for _, p := range v2.Spec.Terms.Parties {
				v2.Spec.Approvals = append(v2.Spec.Approvals, shcrv1alpha1.Approval{
					Organisation: p.ODSCode, Signatory: "CG " + p.ODSCode, Role: "CaldicottGuardian", Date: metav1.Now(),
				})
			}
			r := result(t, diff.ErrWidened, "--region", s.Region, "-f", write(t, t.TempDir(), "v2.yaml", v2, clinicians))
			if r.Gained != tc.gained || r.Lost != 0 {
				t.Errorf("gained %d lost %d, want %d gained and none lost", r.Gained, r.Lost, tc.gained)
			}
			for _, c := range r.Changes {
				preferences := c.Category == "Preferences" && c.From.Equal(from)
				extended := c.From.Equal(v1Ends) && c.Category != "Preferences"
				if c.AgreementVersion != 2 || !(preferences || extended) {
					t.Errorf("%+v, want Preferences gained under version 2 from %s, and nothing else before v1 ends at %s", c, from, v1Ends)
				}
			}
		})
	}
}

// The kubectl-shcr binary is the CI gate: exit code 3 when access widens,
// 0 when it does not, 1 on an error.
func TestKubectlShcrDiffExitCodes(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is needed to build kubectl-shcr")
	}
	s := plugintest.SharedScenario(t)
	dir := t.TempDir()
	binary := filepath.Join(dir, "kubectl-shcr")
	if out, err := exec.Command(goTool, "build", "-o", binary, "github.com/shcr-io/shcr-operator/cmd/kubectl-shcr").CombinedOutput(); err != nil {
		t.Fatalf("building kubectl-shcr: %v\n%s", err, out)
	}
	wider := write(t, dir, "wider.yaml", s.Policy(s.CareWorkers, []string{"R8003"}, []string{s.Council}, append(plugintest.CareCategories, "TestResults")...))
	narrower := write(t, dir, "narrower.yaml", s.Policy(s.CareWorkers, []string{"R8003"}, []string{s.Council}, "Demographics"))
	for _, tc := range []struct {
		file string
		code int
		last string
	}{
		{wider, diff.ExitWidened, "ACCESS WIDENS"},
		{narrower, 0, "access does not widen"},
		{filepath.Join(dir, "missing.yaml"), 1, "Error: -f "},
	} {
		cmd := exec.Command(binary, "diff", "--kubeconfig", plugintest.Kubeconfig(), "--region", s.Region, "-f", tc.file)
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != tc.code || !strings.Contains(string(out), tc.last) {
			t.Errorf("%s: exit code %d, want %d, and output saying %q:\n%s", filepath.Base(tc.file), code, tc.code, tc.last, out)
		}
	}
}
