/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/plugin/regionstate"
	"github.com/shcr-io/shcr-operator/internal/samples"
)

// exemplarRegions are the IG Framework's five exemplar ShCRs, as
// config/samples/exemplars describes them.
var exemplarRegions = []string{"onelondon", "yorkshire-humber", "thames-valley-surrey", "greater-manchester", "wessex"}

// journey2 is the agreementId of the exemplars' cross-region agreement,
// between thames-valley-surrey and its peer wessex.
const journey2 = "TVS-WX-J2-001"

// applyExemplar applies one exemplar file, its dates moved to today as make
// demo moves them, with kubectl's extra arguments (an identity to act as).
func applyExemplar(name string, args ...string) error {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	data, err := os.ReadFile(filepath.Join(root, "config", "samples", "exemplars", name+".yaml"))
	if err != nil {
		return err
	}
	return kubectlApply(name, samples.CurrentSample(data, time.Now()), args...)
}

func kubectlApply(name string, data []byte, args ...string) error {
	cmd := exec.Command(os.Getenv("KUBECTL"), append([]string{"apply", "--server-side", "--field-manager=shcr-e2e", "-f", "-"}, args...)...)
	cmd.Stdin = bytes.NewReader(data)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kubectl apply %s: %v: %s", name, err, out)
	}
	return nil
}

// asPanelChair are kubectl's arguments to act as the chair of a region's
// assurance panel, as the exemplars' README says.
func asPanelChair(region string) []string {
	return []string{"--field-manager=" + region + "-ig-assurance-panel",
		"--as=panel-chair@" + region + ".example", "--as-group=" + region + "-ig-assurance-panel"}
}

// The five exemplar regions, applied as make demo applies them (each
// region's assurances by its own panel's chair), become Ready, Assured and
// sharing. One requirement withdrawn by Wessex's panel stops Wessex's
// sharing, and Thames Valley and Surrey's Journey 2 grants with it (both
// regions must be assured), while every other grant goes on.
func TestExemplarRegionsShareOnlyWhileAssured(t *testing.T) {
	t.Cleanup(func() {
		for _, name := range exemplarRegions {
			_ = k8s.Delete(ctx, &shcrv1alpha1.ShCRRegion{ObjectMeta: metav1.ObjectMeta{Name: name}})
		}
	})
	for _, name := range exemplarRegions {
		// The region first: the rest of the file waits for its namespace
		// and the webhooks' caches.
		waitFor(t, "applying exemplar "+name, 2*time.Minute, func() (bool, string) {
			err := applyExemplar(name)
			return err == nil, fmt.Sprint(err)
		})
		if err := applyExemplar(name + "-assurance-panel-rbac"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the "+name+" panel's assurance", time.Minute, func() (bool, string) {
			err := applyExemplar(name+"-assurance", asPanelChair(name)...)
			return err == nil, fmt.Sprint(err)
		})
	}
	waitFor(t, "applying the Journey 2 agreement", time.Minute, func() (bool, string) {
		err := applyExemplar("journey2-thames-valley-surrey-wessex")
		return err == nil, fmt.Sprint(err)
	})

	for _, name := range exemplarRegions {
		waitSharing(t, name, func(r *shcrv1alpha1.ShCRRegion) (bool, string) {
			return r.Status.PolicyBundle.Grants > 0, fmt.Sprintf("%d grants", r.Status.PolicyBundle.Grants)
		})
	}
	waitFor(t, "the Journey 2 agreement granting in both regions", 2*time.Minute, func() (bool, string) {
		tvs, wx := grantsUnder(t, "thames-valley-surrey", journey2), grantsUnder(t, "wessex", journey2)
		return tvs > 0 && wx > 0, fmt.Sprintf("%d grants under %s in thames-valley-surrey, %d in wessex", tvs, journey2, wx)
	})
	// Every region's bundle settled: what it stores is what it reports.
	grants := map[string]int32{}
	for _, name := range exemplarRegions {
		grants[name] = waitSharing(t, name, func(r *shcrv1alpha1.ShCRRegion) (bool, string) {
			stored := storedGrants(t, name, "")
			return r.Status.PolicyBundle.Grants > 0 && int(r.Status.PolicyBundle.Grants) == stored,
				fmt.Sprintf("%d grants reported, %d stored", r.Status.PolicyBundle.Grants, stored)
		})
	}
	tvsJourney2 := grantsUnder(t, "thames-valley-surrey", journey2)

	// Wessex's panel withdraws its assurance of CyberSecurity.
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", "exemplars", "wessex-assurance.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	current := string(samples.CurrentSample(data, time.Now()))
	at := strings.Index(current, "requirement: CyberSecurity")
	if at < 0 {
		t.Fatal("wessex-assurance.yaml has no CyberSecurity record")
	}
	withdrawn := current[:at] + strings.Replace(current[at:], "status: Assured", "status: NotAssured", 1)
	if err := kubectlApply("wessex-assurance (CyberSecurity withdrawn)", []byte(withdrawn), asPanelChair("wessex")...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "wessex not assured and sharing nothing", time.Minute, func() (bool, string) {
		r := &shcrv1alpha1.ShCRRegion{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: "wessex"}, r); err != nil {
			return false, err.Error()
		}
		c := meta.FindStatusCondition(r.Status.Conditions, shcrv1alpha1.ConditionAssured)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == shcrv1alpha1.ReasonNotAssured && r.Status.PolicyBundle.Grants == 0,
			fmt.Sprintf("%d grants, %v", r.Status.PolicyBundle.Grants, c)
	})
	waitFor(t, "thames-valley-surrey's Journey 2 grants gone", time.Minute, func() (bool, string) {
		n := grantsUnder(t, "thames-valley-surrey", journey2)
		return n == 0, fmt.Sprintf("%d grants under %s", n, journey2)
	})
	for _, name := range exemplarRegions {
		if name == "wessex" {
			continue
		}
		want := grants[name]
		if name == "thames-valley-surrey" {
			want -= int32(tvsJourney2)
		}
		waitSharing(t, name, func(r *shcrv1alpha1.ShCRRegion) (bool, string) {
			return r.Status.PolicyBundle.Grants == want && want > 0, fmt.Sprintf("%d grants, want %d", r.Status.PolicyBundle.Grants, want)
		})
	}
}

// waitSharing waits until a region is Ready and Assured, its status
// observed, and sharing as ok says; it returns its grants.
func waitSharing(t *testing.T, name string, ok func(*shcrv1alpha1.ShCRRegion) (bool, string)) int32 {
	t.Helper()
	r := &shcrv1alpha1.ShCRRegion{}
	waitFor(t, "exemplar "+name+" Ready, Assured and sharing", 3*time.Minute, func() (bool, string) {
		if err := k8s.Get(ctx, client.ObjectKey{Name: name}, r); err != nil {
			return false, err.Error()
		}
		sharing, why := ok(r)
		ready := meta.IsStatusConditionTrue(r.Status.Conditions, shcrv1alpha1.ConditionReady)
		assured := meta.IsStatusConditionTrue(r.Status.Conditions, shcrv1alpha1.ConditionAssured)
		return ready && assured && sharing && r.Status.ObservedGeneration == r.Generation,
			fmt.Sprintf("ready %v, assured %v, %s: %v", ready, assured, why, r.Status.Conditions)
	})
	return r.Status.PolicyBundle.Grants
}

// grantsUnder counts the grants under an agreement in a region's stored
// bundle.
func grantsUnder(t *testing.T, region, agreementID string) int {
	t.Helper()
	return storedGrants(t, region, agreementID)
}

// storedGrants counts the grants in a region's stored bundle, under
// agreementID or, when it is empty, all of them.
func storedGrants(t *testing.T, region, agreementID string) int {
	t.Helper()
	b, err := regionstate.StoredBundle(ctx, k8s, shcrv1alpha1.NamespaceFor(region))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range b.Grants {
		if agreementID == "" || g.Agreement == agreementID {
			n++
		}
	}
	return n
}
