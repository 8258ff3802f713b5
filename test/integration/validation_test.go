/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package integration

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// Every invalid input is refused — by the CRD schema, its CEL rules, the
// region-namespace admission policy or the webhooks — with a message naming
// the field and the rule, and nothing is stored.
func TestInvalidInputsAreRejectedNamingFieldAndRule(t *testing.T) {
	s := newScenario(t, "valid", "H")
	outside := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "not-a-region"}}
	create(t, outside)
	createRegion(t, "valid-other")
	otherRegion := shcrv1alpha1.NamespaceFor("valid-other")
	// A namespace made by hand with the region's labels.
	regionLabels := map[string]string{shcrv1alpha1.LabelRegion: s.region, specs.LabelManagedBy: specs.ManagedBy}
	lookalike := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "lookalike", Labels: regionLabels}}
	create(t, lookalike)
	// Namespaces the region-namespace policy admits (shcr-<region>, with
	// that region's labels) but that no region owns: one with no controller
	// reference, one whose controller reference names a region that does
	// not exist.
	forgedLabels := func(region string) map[string]string {
		return map[string]string{shcrv1alpha1.LabelRegion: region, specs.LabelManagedBy: specs.ManagedBy}
	}
	forged := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: shcrv1alpha1.NamespaceFor("forged"), Labels: forgedLabels("forged")}}
	create(t, forged)
	forgedOwner := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: shcrv1alpha1.NamespaceFor("forgedowner"), Labels: forgedLabels("forgedowner"),
		OwnerReferences: []metav1.OwnerReference{{APIVersion: shcrv1alpha1.GroupVersion.String(), Kind: "ShCRRegion", Name: "forgedowner",
			UID: "0b0e0c0d-0000-4000-8000-000000000003", Controller: new(true)}}}}
	create(t, forgedOwner)
	// A sha256 digest of 40 hex digits and a 300-character repository pass
	// the CRD's pattern but not the registry grammar the webhooks parse with.
	shortDigest := "registry.example/gateway@sha256:" + strings.Repeat("a", 40)
	longRepository := "registry.example/" + strings.Repeat("a", 300) + ":v1"
	newRegion := func(name string, mod func(*shcrv1alpha1.ShCRRegion)) client.Object {
		r := &shcrv1alpha1.ShCRRegion{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: shcrv1alpha1.ShCRRegionSpec{DisplayName: "Refused"}}
		mod(r)
		return r
	}

	newMember := func(mod func(*shcrv1alpha1.MemberOrganisation)) client.Object {
		m := member(s.ns, "newcomer", "H99001", "GPPractice")
		mod(m)
		return m
	}
	newAgreement := func(mod func(*shcrv1alpha1.DataSharingAgreement)) client.Object {
		a := agreement(s.ns, "draft", "DRAFT-001", 1, allButPreferences, time.Now(), time.Now().AddDate(1, 0, 0), s.gp, s.trust)
		mod(a)
		return a
	}
	newPolicy := func(mod func(*shcrv1alpha1.AccessPolicy)) client.Object {
		p := accessPolicy(s.ns, "newpolicy", s.agreementID, []string{"R8000"}, nil, shcrv1alpha1.CategoryMedications)
		mod(p)
		return p
	}
	past := metav1.NewTime(time.Now().Add(-time.Hour).Truncate(time.Second))

	creates := []struct {
		name string
		obj  client.Object
		want []string
	}{
		// MemberOrganisation
		{"ODS code lower case", newMember(func(m *shcrv1alpha1.MemberOrganisation) { m.Spec.ODSCode = "h99001" }), []string{"spec.odsCode", "should match"}},
		{"ODS code too long", newMember(func(m *shcrv1alpha1.MemberOrganisation) { m.Spec.ODSCode = "H990011" }), []string{"spec.odsCode", "should match"}},
		{"name empty", newMember(func(m *shcrv1alpha1.MemberOrganisation) { m.Spec.Name = "" }), []string{"spec.name", "at least 1 chars"}},
		{"unknown organisation type", newMember(func(m *shcrv1alpha1.MemberOrganisation) { m.Spec.Type = "Dentist" }), []string{"spec.type", "Unsupported value"}},
		{"no roles", newMember(func(m *shcrv1alpha1.MemberOrganisation) { m.Spec.Roles = nil }), []string{"spec.roles", "Required"}},
		{"unknown role", newMember(func(m *shcrv1alpha1.MemberOrganisation) { m.Spec.Roles = []shcrv1alpha1.OrganisationRole{"Viewer"} }), []string{"spec.roles[0]", "Unsupported value"}},
		{"provider without connector", newMember(func(m *shcrv1alpha1.MemberOrganisation) { m.Spec.Connector = nil }), []string{"spec.connector: required for a Provider"}},
		{"unknown DSPT status", newMember(func(m *shcrv1alpha1.MemberOrganisation) { m.Spec.Governance.DSPT.Status = "Good" }), []string{"spec.governance.dspt.status", "Unsupported value"}},
		{"DSPT date not a date", newMember(func(m *shcrv1alpha1.MemberOrganisation) { m.Spec.Governance.DSPT.AssessedOn = "31/03/2026" }), []string{"spec.governance.dspt.assessedOn", "date"}},
		{"DPO email malformed", newMember(func(m *shcrv1alpha1.MemberOrganisation) {
			m.Spec.Governance.DataProtectionOfficer.Email = "dpo at trust"
		}), []string{"spec.governance.dataProtectionOfficer.email", "should match"}},
		{"ICO registration malformed", newMember(func(m *shcrv1alpha1.MemberOrganisation) { m.Spec.Governance.ICORegistration = "12345" }), []string{"spec.governance.icoRegistration", "should match"}},
		{"connector endpoint not https", newMember(func(m *shcrv1alpha1.MemberOrganisation) { m.Spec.Connector.Endpoint = "http://fhir.example.nhs.uk" }), []string{"spec.connector.endpoint", "must be an https URL"}},
		{"connector endpoint with user and password", newMember(func(m *shcrv1alpha1.MemberOrganisation) {
			m.Spec.Connector.Endpoint = "https://svc:s3cret@fhir.example.nhs.uk/R4"
		}), []string{"spec.connector.endpoint", "userinfo"}},
		{"connector endpoint with a user only", newMember(func(m *shcrv1alpha1.MemberOrganisation) {
			m.Spec.Connector.Endpoint = "https://svc@fhir.example.nhs.uk/R4"
		}), []string{"spec.connector.endpoint", "userinfo"}},
		{"connector endpoint with an empty userinfo", newMember(func(m *shcrv1alpha1.MemberOrganisation) {
			m.Spec.Connector.Endpoint = "https://@fhir.example.nhs.uk/R4"
		}), []string{"spec.connector.endpoint", "userinfo"}},
		{"connector endpoint with userinfo and a port", newMember(func(m *shcrv1alpha1.MemberOrganisation) {
			m.Spec.Connector.Endpoint = "https://a:b@fhir.example.nhs.uk:8443"
		}), []string{"spec.connector.endpoint", "userinfo"}},
		{"connector endpoint with a token in the query", newMember(func(m *shcrv1alpha1.MemberOrganisation) {
			m.Spec.Connector.Endpoint = "https://fhir.example.nhs.uk/R4?access_token=abc"
		}), []string{"spec.connector.endpoint", "must not carry a query"}},
		{"connector endpoint with an empty query", newMember(func(m *shcrv1alpha1.MemberOrganisation) {
			m.Spec.Connector.Endpoint = "https://fhir.example.nhs.uk/R4?"
		}), []string{"spec.connector.endpoint", "must not carry a query"}},
		{"connector endpoint with a query and no path", newMember(func(m *shcrv1alpha1.MemberOrganisation) {
			m.Spec.Connector.Endpoint = "https://fhir.example.nhs.uk?key=abc"
		}), []string{"spec.connector.endpoint", "must not carry a query"}},
		{"connector endpoint with a fragment", newMember(func(m *shcrv1alpha1.MemberOrganisation) {
			m.Spec.Connector.Endpoint = "https://fhir.example.nhs.uk/R4#token=abc"
		}), []string{"spec.connector.endpoint", "must not carry a fragment"}},
		{"connector endpoint with an empty fragment", newMember(func(m *shcrv1alpha1.MemberOrganisation) {
			m.Spec.Connector.Endpoint = "https://fhir.example.nhs.uk/R4#"
		}), []string{"spec.connector.endpoint", "must not carry a fragment"}},
		{"connector endpoint without a host", newMember(func(m *shcrv1alpha1.MemberOrganisation) { m.Spec.Connector.Endpoint = "https:///R4" }), []string{"spec.connector.endpoint", "must name a host"}},
		{"connector image with a space", newMember(func(m *shcrv1alpha1.MemberOrganisation) { m.Spec.Connector.Image = "registry.example/connector :v1" }), []string{"spec.connector.image", "must be an image reference"}},
		{"connector image upper case", newMember(func(m *shcrv1alpha1.MemberOrganisation) { m.Spec.Connector.Image = "registry.example/Connector:v1" }), []string{"spec.connector.image", "must be an image reference"}},
		{"connector image digest too short", newMember(func(m *shcrv1alpha1.MemberOrganisation) {
			m.Spec.Connector.Image = "registry.example/connector@sha256:abc"
		}), []string{"spec.connector.image", "must be an image reference"}},
		{"connector image digest not hex", newMember(func(m *shcrv1alpha1.MemberOrganisation) {
			m.Spec.Connector.Image = "registry.example/connector@sha256:" + strings.Repeat("z", 64)
		}), []string{"spec.connector.image", "must be an image reference"}},
		{"connector image empty tag", newMember(func(m *shcrv1alpha1.MemberOrganisation) { m.Spec.Connector.Image = "registry.example/connector:" }), []string{"spec.connector.image", "must be an image reference"}},
		{"connector image tag too long", newMember(func(m *shcrv1alpha1.MemberOrganisation) {
			m.Spec.Connector.Image = "registry.example/connector:" + strings.Repeat("t", 129)
		}), []string{"spec.connector.image", "must be an image reference"}},
		{"connector range not a CIDR", newMember(func(m *shcrv1alpha1.MemberOrganisation) { m.Spec.Connector.NetworkRanges = []string{"10.0.0.1"} }), []string{"spec.connector.networkRanges[0]", "must be a CIDR range"}},
		{"pull connector without schedule", newMember(func(m *shcrv1alpha1.MemberOrganisation) { m.Spec.Connector.Schedule = "" }), []string{"spec.connector.schedule: required when mode is Pull"}},
		{"schedule not a duration", newMember(func(m *shcrv1alpha1.MemberOrganisation) { m.Spec.Connector.Schedule = "often" }), []string{"spec.connector.schedule", "should match"}},
		{"ODS code already a member", newMember(func(m *shcrv1alpha1.MemberOrganisation) { m.Spec.ODSCode = s.gp }),
			[]string{"spec.odsCode", "Duplicate value", "already a member of this region, as MemberOrganisation gp", "unique across the cluster"}},
		{"ODS code already a member of another region", newMember(func(m *shcrv1alpha1.MemberOrganisation) { m.Namespace, m.Spec.ODSCode = otherRegion, s.gp }),
			[]string{"spec.odsCode", "Duplicate value", "already a member in another region: ODS codes are unique across the cluster"}},
		{"member in a hand-made namespace with the region's labels", newMember(func(m *shcrv1alpha1.MemberOrganisation) { m.Namespace = lookalike.Name }), []string{"metadata.namespace: lookalike is not a region namespace"}},
		{"policy in a hand-made namespace with the region's labels", newPolicy(func(p *shcrv1alpha1.AccessPolicy) { p.Namespace = lookalike.Name }), []string{"is not a region namespace"}},
		{"member outside a region namespace", newMember(func(m *shcrv1alpha1.MemberOrganisation) { m.Namespace = outside.Name }), []string{"metadata.namespace: not-a-region is not a region namespace"}},
		{"member in a shcr- namespace no region owns", newMember(func(m *shcrv1alpha1.MemberOrganisation) { m.Namespace = forged.Name }),
			[]string{"metadata.namespace", "is not owned by any region"}},
		{"member in a namespace owned by a region that does not exist", newMember(func(m *shcrv1alpha1.MemberOrganisation) { m.Namespace = forgedOwner.Name }),
			[]string{"metadata.namespace", "is not owned by any region"}},
		{"policy in a shcr- namespace no region owns", newPolicy(func(p *shcrv1alpha1.AccessPolicy) { p.Namespace = forgedOwner.Name }),
			[]string{"metadata.namespace", "is not owned by any region"}},
		{"connector image digest of the wrong length", newMember(func(m *shcrv1alpha1.MemberOrganisation) { m.Spec.Connector.Image = shortDigest }),
			[]string{"spec.connector.image", "must be an image reference", "digest length"}},
		{"connector image repository too long", newMember(func(m *shcrv1alpha1.MemberOrganisation) { m.Spec.Connector.Image = longRepository }),
			[]string{"spec.connector.image", "must be an image reference", "255 characters"}},
		{"gateway image digest of the wrong length", newRegion("badgatewayimage", func(r *shcrv1alpha1.ShCRRegion) { r.Spec.Gateway.Image = shortDigest }),
			[]string{"spec.gateway.image", "must be an image reference", "digest length"}},
		{"record service image repository too long", newRegion("badrecordimage", func(r *shcrv1alpha1.ShCRRegion) { r.Spec.RecordService.Image = longRepository }),
			[]string{"spec.recordService.image", "must be an image reference", "255 characters"}},
		// DataSharingAgreement
		{"agreement id malformed", newAgreement(func(a *shcrv1alpha1.DataSharingAgreement) { a.Spec.AgreementID = "has space" }), []string{"spec.agreementId", "should match"}},
		{"version zero", newAgreement(func(a *shcrv1alpha1.DataSharingAgreement) { a.Spec.Version = 0 }), []string{"spec.version", "greater than or equal to 1"}},
		{"supersedes a later version", newAgreement(func(a *shcrv1alpha1.DataSharingAgreement) { a.Spec.Supersedes = new(int32(3)) }), []string{"spec.supersedes: must be an earlier version"}},
		{"one party", newAgreement(func(a *shcrv1alpha1.DataSharingAgreement) { a.Spec.Terms.Parties = a.Spec.Terms.Parties[:1] }), []string{"spec.terms.parties", "at least 2 items"}},
		{"no controller party", newAgreement(func(a *shcrv1alpha1.DataSharingAgreement) {
			for i := range a.Spec.Terms.Parties {
				a.Spec.Terms.Parties[i].Role = shcrv1alpha1.PartyProcessor
			}
		}), []string{"spec.terms.parties: at least one party must be a Controller"}},
		{"ends before it starts", newAgreement(func(a *shcrv1alpha1.DataSharingAgreement) { a.Spec.Terms.EndsOn = past }), []string{"spec.terms.endsOn: must be after effectiveFrom"}},
		{"other purpose without lawful basis", newAgreement(func(a *shcrv1alpha1.DataSharingAgreement) { a.Spec.Terms.Purpose = shcrv1alpha1.PurposeOther }), []string{"spec.terms.lawfulBasis.otherPurpose: required"}},
		{"no Article 9 condition", newAgreement(func(a *shcrv1alpha1.DataSharingAgreement) { a.Spec.Terms.LawfulBasis.Article9 = "" }),
			[]string{"spec.terms.lawfulBasis.article9", "Required value"}},
		{"no Article 6 condition", newAgreement(func(a *shcrv1alpha1.DataSharingAgreement) { a.Spec.Terms.LawfulBasis.Article6 = "" }),
			[]string{"spec.terms.lawfulBasis.article6", "Required value"}},
		{"version a string", withField(t, newAgreement(func(*shcrv1alpha1.DataSharingAgreement) {}), "v2", "spec", "version"),
			[]string{"spec.version: must be an integer (such as 2), not a JSON string"}},
		{"version a fraction", withField(t, newAgreement(func(*shcrv1alpha1.DataSharingAgreement) {}), 2.5, "spec", "version"),
			[]string{"spec.version: must be an integer (such as 2), not a JSON number"}},
		{"unknown Article 6 condition", newAgreement(func(a *shcrv1alpha1.DataSharingAgreement) { a.Spec.Terms.LawfulBasis.Article6 = "6(1)(z)" }), []string{"spec.terms.lawfulBasis.article6", "Unsupported value"}},
		{"unknown data category", newAgreement(func(a *shcrv1alpha1.DataSharingAgreement) {
			a.Spec.Terms.DataCategories = []shcrv1alpha1.DataCategory{"Genome"}
		}), []string{"spec.terms.dataCategories[0]", "Unsupported value"}},
		{"cross-region without peer", newAgreement(func(a *shcrv1alpha1.DataSharingAgreement) { a.Spec.Terms.Journey = shcrv1alpha1.JourneyCrossRegion }), []string{"spec.terms.peerRegion: required for a CrossRegion journey"}},
		{"review after the end", newAgreement(func(a *shcrv1alpha1.DataSharingAgreement) {
			a.Spec.Terms.ReviewDate = &metav1.Time{Time: a.Spec.Terms.EndsOn.AddDate(0, 1, 0)}
		}), []string{"spec.terms.reviewDate: must fall between effectiveFrom and endsOn"}},
		{"approval from a processor", newAgreement(func(a *shcrv1alpha1.DataSharingAgreement) {
			a.Spec.Terms.Parties = append(a.Spec.Terms.Parties, shcrv1alpha1.Party{ODSCode: s.council, Role: shcrv1alpha1.PartyProcessor})
			a.Spec.Approvals = []shcrv1alpha1.Approval{{Organisation: s.council, Signatory: "X", Role: "DPO", Date: past}}
		}), []string{"spec.approvals: each approval must come from a Controller or JointController party"}},
		{"party not a member", newAgreement(func(a *shcrv1alpha1.DataSharingAgreement) {
			a.Spec.Terms.Parties = append(a.Spec.Terms.Parties, shcrv1alpha1.Party{ODSCode: "ZZ999", Role: shcrv1alpha1.PartyController})
		}), []string{"spec.terms.parties[2].odsCode", "is not a MemberOrganisation of this region"}},
		{"agreement outside a region namespace", newAgreement(func(a *shcrv1alpha1.DataSharingAgreement) { a.Namespace = outside.Name }), []string{"is not a region namespace"}},
		// AccessPolicy
		{"admin role granted", newPolicy(func(p *shcrv1alpha1.AccessPolicy) { p.Spec.Subjects.Roles = []string{"R8008"} }), []string{"spec.subjects.roles[0]", "R8008 (admin access role) may not be granted clinical data"}},
		{"role code malformed", newPolicy(func(p *shcrv1alpha1.AccessPolicy) { p.Spec.Subjects.Roles = []string{"8000"} }), []string{"spec.subjects.roles[0]", "should match"}},
		{"no roles", newPolicy(func(p *shcrv1alpha1.AccessPolicy) { p.Spec.Subjects.Roles = nil }), []string{"spec.subjects.roles", "Required"}},
		{"no grants", newPolicy(func(p *shcrv1alpha1.AccessPolicy) { p.Spec.Grants = nil }), []string{"spec.grants", "Required"}},
		{"unknown purpose of use", newPolicy(func(p *shcrv1alpha1.AccessPolicy) { p.Spec.PurposesOfUse = []shcrv1alpha1.PurposeOfUse{"HRESCH"} }), []string{"spec.purposesOfUse[0]", "Unsupported value"}},
		{"break-glass too long", newPolicy(func(p *shcrv1alpha1.AccessPolicy) {
			p.Spec.BreakGlass = &shcrv1alpha1.BreakGlass{AllowedRoles: []string{"R8000"}, MaxDuration: "48h"}
		}), []string{"spec.breakGlass.maxDuration", "between 0s and 24h"}},
		{"break-glass duration unparseable", newPolicy(func(p *shcrv1alpha1.AccessPolicy) {
			p.Spec.BreakGlass = &shcrv1alpha1.BreakGlass{AllowedRoles: []string{"R8000"}, MaxDuration: "an hour"}
		}), []string{"spec.breakGlass.maxDuration", "must be a duration between 0s and 24h written like 1h"}},
		{"break-glass duration without a unit", newPolicy(func(p *shcrv1alpha1.AccessPolicy) {
			p.Spec.BreakGlass = &shcrv1alpha1.BreakGlass{AllowedRoles: []string{"R8000"}, MaxDuration: "3600"}
		}), []string{"spec.breakGlass.maxDuration", "must be a duration between 0s and 24h written like 1h"}},
		{"category outside the agreement", newPolicy(func(p *shcrv1alpha1.AccessPolicy) {
			p.Spec.Grants[0].Categories = append(p.Spec.Grants[0].Categories, shcrv1alpha1.CategoryPreferences)
		}), []string{"spec.grants[0].categories[1]", "is not a data category of agreement " + s.agreementID}},
		{"organisation not a party", newPolicy(func(p *shcrv1alpha1.AccessPolicy) { p.Spec.Subjects.Organisations = []string{"ZZ999"} }), []string{"spec.subjects.organisations[0]", "is not a party"}},
		{"policy outside a region namespace", newPolicy(func(p *shcrv1alpha1.AccessPolicy) { p.Namespace = outside.Name }), []string{"is not a region namespace"}},
		// ShCRRegion
		{"region name not a DNS label", &shcrv1alpha1.ShCRRegion{ObjectMeta: metav1.ObjectMeta{Name: "north.east"}, Spec: shcrv1alpha1.ShCRRegionSpec{DisplayName: "NE"}},
			[]string{"metadata.name: Invalid value", "should match"}},
		{"region name too long", &shcrv1alpha1.ShCRRegion{ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("a", 59)}, Spec: shcrv1alpha1.ShCRRegionSpec{DisplayName: "Long"}},
			[]string{"metadata.name: Too long"}},
	}
	// What a platform engineer should never have to decode.
	goSpeak := []string{"<nil>", "google.protobuf", "Go struct", "json: cannot unmarshal", "Unsupported value: \"\""}
	for _, tc := range creates {
		t.Run("create/"+tc.name, func(t *testing.T) {
			err := k8s.Create(ctx, tc.obj)
			if err == nil {
				t.Fatalf("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			// The API server's own note that CEL rules were skipped has no
			// path; that one is not ours to word.
			words := strings.ReplaceAll(err.Error(), "<nil>: Invalid value: null: some validation rules were not checked", "")
			for _, g := range goSpeak {
				if strings.Contains(words, g) {
					t.Errorf("error %q speaks Go: %q", err, g)
				}
			}
			if strings.Contains(err.Error(), s.ns) && tc.obj.GetNamespace() != s.ns {
				t.Errorf("error %q names another region's namespace %s", err, s.ns)
			}
		})
	}

	updates := []struct {
		name   string
		obj    client.Object
		mutate func(client.Object)
		want   []string
	}{
		{"change an ODS code", &shcrv1alpha1.MemberOrganisation{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "gp"}},
			func(o client.Object) { o.(*shcrv1alpha1.MemberOrganisation).Spec.ODSCode = "H12345" }, []string{"spec.odsCode is immutable"}},
		{"edit approved terms", &shcrv1alpha1.DataSharingAgreement{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "dsa-v1"}},
			func(o client.Object) {
				a := o.(*shcrv1alpha1.DataSharingAgreement)
				a.Spec.Terms.DataCategories = append(a.Spec.Terms.DataCategories, shcrv1alpha1.CategoryPreferences)
			}, []string{"spec.terms: immutable once any approval exists"}},
		{"extend approved terms' end", &shcrv1alpha1.DataSharingAgreement{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "dsa-v1"}},
			func(o client.Object) {
				a := o.(*shcrv1alpha1.DataSharingAgreement)
				a.Spec.Terms.EndsOn = metav1.NewTime(a.Spec.Terms.EndsOn.AddDate(5, 0, 0))
			}, []string{"spec.terms: immutable once any approval exists"}},
		{"remove an approval", &shcrv1alpha1.DataSharingAgreement{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "dsa-v1"}},
			func(o client.Object) {
				a := o.(*shcrv1alpha1.DataSharingAgreement)
				a.Spec.Approvals = a.Spec.Approvals[1:]
			}, []string{"spec.approvals: append-only"}},
		{"rewrite who recorded an approval", &shcrv1alpha1.DataSharingAgreement{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "dsa-v1"}},
			func(o client.Object) {
				a := o.(*shcrv1alpha1.DataSharingAgreement)
				a.Spec.Approvals[0].Signatory = "Someone Else"
			}, []string{"spec.approvals: append-only"}},
		{"change the version", &shcrv1alpha1.DataSharingAgreement{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "dsa-v1"}},
			func(o client.Object) { o.(*shcrv1alpha1.DataSharingAgreement).Spec.Version = 7 }, []string{"spec.version is immutable"}},
		{"widen a policy beyond the agreement", &shcrv1alpha1.AccessPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: s.careWorkers}},
			func(o client.Object) {
				p := o.(*shcrv1alpha1.AccessPolicy)
				p.Spec.Grants[0].Categories = append(p.Spec.Grants[0].Categories, shcrv1alpha1.CategoryPreferences)
			}, []string{"spec.grants[0].categories[4]", "a policy cannot grant more than was agreed"}},
		{"grant the admin role", &shcrv1alpha1.AccessPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: s.careWorkers}},
			func(o client.Object) {
				p := o.(*shcrv1alpha1.AccessPolicy)
				p.Spec.Subjects.Roles = append(p.Spec.Subjects.Roles, "R8008")
			}, []string{"spec.subjects.roles[1]", "R8008"}},
	}
	for _, tc := range updates {
		t.Run("update/"+tc.name, func(t *testing.T) {
			// The operator writing status in between is a conflict, not
			// the refusal under test: read again. The generation, which
			// only a change of spec moves, tells whether the spec changed.
			var before int64
			err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
				if err := k8s.Get(ctx, client.ObjectKeyFromObject(tc.obj), tc.obj); err != nil {
					return err
				}
				before = tc.obj.GetGeneration()
				tc.mutate(tc.obj)
				return k8s.Update(ctx, tc.obj)
			})
			if err == nil {
				t.Fatalf("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			fresh := tc.obj.DeepCopyObject().(client.Object)
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(tc.obj), fresh); err != nil || fresh.GetGeneration() != before {
				t.Errorf("a refused update changed the object (err %v)", err)
			}
		})
	}
	if n := len(creates) + len(updates); n < 30 {
		t.Errorf("only %d cases", n)
	}
}

// withField is obj as unstructured JSON with the field at path set to value,
// which may be of a type the Go type does not allow: what kubectl sends for
// a hand-written manifest.
func withField(t *testing.T, obj client.Object, value any, path ...string) client.Object {
	t.Helper()
	u := toUnstructured(t, obj)
	gvk, err := apiutil.GVKForObject(obj, k8s.Scheme())
	if err != nil {
		t.Fatal(err)
	}
	u.SetGroupVersionKind(gvk)
	if err := unstructured.SetNestedField(u.Object, value, path...); err != nil {
		t.Fatal(err)
	}
	return u
}

// A policy naming an agreement the region does not hold says "not found";
// one whose agreement exists with no Active version says so instead.
func TestPolicyForAMissingAgreementSaysNotFound(t *testing.T) {
	s := newScenario(t, "nosuch", "Y")
	create(t, accessPolicy(s.ns, "orphan", "NO-SUCH-DSA", []string{"R8000"}, nil, shcrv1alpha1.CategoryMedications))
	create(t, agreement(s.ns, "unsigned", "UNSIGNED-DSA", 1, allButPreferences, time.Now(), time.Now().AddDate(1, 0, 0), s.gp, s.trust))
	create(t, accessPolicy(s.ns, "waiting", "UNSIGNED-DSA", []string{"R8000"}, nil, shcrv1alpha1.CategoryMedications))
	for _, tc := range []struct{ name, reason, message string }{
		{"orphan", shcrv1alpha1.ReasonAgreementNotFound, "spec.agreementId: no DataSharingAgreement with agreementId NO-SUCH-DSA exists in this region"},
		{"waiting", shcrv1alpha1.ReasonAgreementNotActive, "agreement UNSIGNED-DSA exists, but none of its 1 version(s) is Active"},
	} {
		// The policy may be reconciled before the operator's cache holds
		// the agreement created after it, so wait for the reason, not for
		// the first InForce=False.
		waitFor(t, tc.name+" InForce "+tc.reason, func() (bool, string) {
			p := &shcrv1alpha1.AccessPolicy{}
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: tc.name}, p); err != nil {
				return false, err.Error()
			}
			c := meta.FindStatusCondition(p.Status.Conditions, shcrv1alpha1.ConditionInForce)
			if c == nil {
				return false, "no InForce condition"
			}
			got := fmt.Sprintf("InForce %s %s %q", c.Status, c.Reason, c.Message)
			return c.Status == metav1.ConditionFalse && c.Reason == tc.reason && strings.HasPrefix(c.Message, tc.message), got
		})
	}
}

// A policy that says more than it will do is admitted with a warning naming
// each field, and its status says the same: break-glass for a role it does
// not grant, an emergency-only policy without break-glass, and more
// sensitive access than its agreement allows.
func TestPolicyWarningsAtAdmissionAndInStatus(t *testing.T) {
	s := newScenario(t, "warned", "X")
	for _, tc := range []struct {
		name string
		mod  func(*shcrv1alpha1.AccessPolicy)
		want string
	}{
		{"glass-for-another-role", func(p *shcrv1alpha1.AccessPolicy) {
			p.Spec.BreakGlass = &shcrv1alpha1.BreakGlass{AllowedRoles: []string{"R8000", "R8001"}, MaxDuration: "1h"}
		}, "spec.breakGlass.allowedRoles[1]: R8001 is not in spec.subjects.roles"},
		{"emergency-only", func(p *shcrv1alpha1.AccessPolicy) {
			p.Spec.PurposesOfUse = []shcrv1alpha1.PurposeOfUse{shcrv1alpha1.PurposeEmergencyTreat}
		}, "spec.purposesOfUse: ETREAT works only through break-glass and spec.breakGlass is not set"},
		{"too-sensitive", func(p *shcrv1alpha1.AccessPolicy) { p.Spec.SensitiveData = shcrv1alpha1.SensitiveAllow },
			"spec.sensitiveData: Allow is more than agreement " + s.agreementID + " version 1 allows (Exclude)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := accessPolicy(s.ns, tc.name, s.agreementID, []string{"R8000"}, nil, shcrv1alpha1.CategoryMedications)
			tc.mod(p)
			warnings := createWithWarnings(t, p)
			if !slices.ContainsFunc(warnings, func(w string) bool { return strings.HasPrefix(w, tc.want) }) {
				t.Errorf("admission warnings %q, want %q", warnings, tc.want)
			}
			got := &shcrv1alpha1.AccessPolicy{}
			waitCondition(t, got, s.ns, tc.name, shcrv1alpha1.ConditionWarnings, metav1.ConditionTrue)
			if c := meta.FindStatusCondition(got.Status.Conditions, shcrv1alpha1.ConditionWarnings); !strings.Contains(c.Message, tc.want) {
				t.Errorf("Warnings %q, want %q", c.Message, tc.want)
			}
		})
	}
	waitCondition(t, &shcrv1alpha1.AccessPolicy{}, s.ns, s.clinicians, shcrv1alpha1.ConditionWarnings, metav1.ConditionFalse)
}

// warningCollector keeps the API server's warnings to a request.
type warningCollector struct{ texts []string }

func (w *warningCollector) HandleWarningHeader(_ int, _ string, text string) {
	w.texts = append(w.texts, text)
}

// createWithWarnings creates obj and returns the warnings the API server (and
// so the webhooks) answered with.
func createWithWarnings(t *testing.T, obj client.Object) []string {
	t.Helper()
	cfg := rest.CopyConfig(op.Config)
	collector := &warningCollector{}
	cfg.WarningHandler = collector
	c, err := client.New(cfg, client.Options{Scheme: k8s.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, obj); err != nil {
		t.Fatal(err)
	}
	return collector.texts
}

// A namespace that passes the admission policy (the region's name and
// labels, perhaps a controller reference naming a ShCRRegion) but that no existing
// region owns by UID and records in status.namespace admits nobody: the
// webhook refuses the organisation at the door, and with the webhooks down
// the reconciler refuses it and writes no connector.
func TestOrganisationInANamespaceNoRegionOwnsIsNotAdmitted(t *testing.T) {
	s := newScenario(t, "owner", "Q")
	live := &shcrv1alpha1.ShCRRegion{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: s.region}, live); err != nil {
		t.Fatal(err)
	}
	create(t, &shcrv1alpha1.ShCRRegion{ObjectMeta: metav1.ObjectMeta{Name: "pausedowner"},
		Spec: shcrv1alpha1.ShCRRegionSpec{DisplayName: "Paused", Paused: true}})
	forged := func(name, region string, uid types.UID) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name,
			Labels:          map[string]string{shcrv1alpha1.LabelRegion: region, specs.LabelManagedBy: specs.ManagedBy},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: shcrv1alpha1.GroupVersion.String(), Kind: "ShCRRegion", Name: region, UID: uid, Controller: new(true)}}}}
	}
	cases := []struct {
		name string
		ns   *corev1.Namespace
	}{
		{"labels and name but no owner", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: shcrv1alpha1.NamespaceFor("unowned"),
			Labels: map[string]string{shcrv1alpha1.LabelRegion: "unowned", specs.LabelManagedBy: specs.ManagedBy}}}},
		{"a region that does not exist", forged(shcrv1alpha1.NamespaceFor("phantom"), "phantom", "0b0e0c0d-0000-4000-8000-000000000002")},
		// A paused region has not made its namespace; this one names the
		// region but with another region's UID.
		{"an existing region's name with another UID", forged(shcrv1alpha1.NamespaceFor("pausedowner"), "pausedowner", live.UID)},
	}
	for i, tc := range cases {
		t.Run("webhook/"+tc.name, func(t *testing.T) {
			create(t, tc.ns)
			err := k8s.Create(ctx, member(tc.ns.Name, "stray", fmt.Sprintf("Q9900%d", i), "GPPractice"))
			if err == nil || !strings.Contains(err.Error(), "metadata.namespace") || !strings.Contains(err.Error(), "is not owned by any region") {
				t.Fatalf("a member in %s was not refused at admission naming metadata.namespace: %v", tc.ns.Name, err)
			}
		})
	}
	withoutWebhooks(t, s.ns)
	for i, tc := range cases {
		t.Run("reconciler/"+tc.name, func(t *testing.T) {
			m := member(tc.ns.Name, "stray", fmt.Sprintf("Q9900%d", i), "GPPractice")
			create(t, m)
			waitFor(t, "the stray member refused", func() (bool, string) {
				got := &shcrv1alpha1.MemberOrganisation{}
				if err := k8s.Get(ctx, client.ObjectKeyFromObject(m), got); err != nil {
					return false, err.Error()
				}
				c := meta.FindStatusCondition(got.Status.Conditions, shcrv1alpha1.ConditionAdmitted)
				if c == nil || c.Status != metav1.ConditionFalse || c.Reason != shcrv1alpha1.ReasonNotInRegion {
					return false, fmt.Sprintf("%v", c)
				}
				return true, ""
			})
			cm := &corev1.ConfigMap{}
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: tc.ns.Name, Name: specs.ConnectorName(m)}, cm); !apierrors.IsNotFound(err) {
				t.Errorf("a connector was configured outside every region (err %v)", err)
			}
		})
	}
}
