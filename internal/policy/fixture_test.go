/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package policy

import (
	"testing"
	"time"
)

// The fixture: region tvs, agreement dsa-1 version 1 in force during 2026
// between RR8, B86001 and RX1 (not admitted), and policy tvs/gp-read
// granting R8000 and R8001 Medications and Allergies under it.
var (
	jan2026   = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	jul2026   = time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	jan2027   = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	midApril  = time.Date(2026, 4, 15, 12, 0, 0, 0, time.UTC)
	oneSecond = time.Second
)

func fixture() Input {
	return Input{
		Region: "tvs",
		Members: []Member{
			{ODSCode: "RR8", Region: "tvs", Admitted: true, Provider: true, Consumer: true},
			{ODSCode: "B86001", Region: "tvs", Admitted: true, Provider: true, Consumer: true},
			{ODSCode: "RX1", Region: "tvs", Admitted: false, Provider: true, Consumer: true},
			{ODSCode: "PEER1", Region: "wessex", Admitted: true, Provider: true, Consumer: true},
			{ODSCode: "FAR1", Region: "elsewhere", Admitted: true, Provider: true, Consumer: true},
		},
		Agreements: []Agreement{agreementV1()},
		Policies:   []Policy{gpRead()},
		Assurance:  assuredThroughout(),
	}
}

// assuredThroughout is an assurance of every IG Framework requirement that
// covers every time the tests decide at.
func assuredThroughout() Assurance {
	return Assurance{Assured: true, From: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func agreementV1() Agreement {
	return Agreement{
		ID:            "dsa-1",
		Version:       1,
		Approved:      true,
		EffectiveFrom: jan2026,
		EndsOn:        jan2027,
		Parties: []Party{
			{ODSCode: "RR8", Role: "Controller"},
			{ODSCode: "B86001", Role: "JointController"},
			{ODSCode: "RX1", Role: "Controller"},
		},
		Categories: []string{CategoryMedications, CategoryAllergies, CategoryTestResults},
		Purpose:    PurposeDirectCare,
		Sensitive:  SensitiveAllow,
	}
}

// agreementV2 takes over from version 1 in July 2026 without Medications.
func agreementV2() Agreement {
	a := agreementV1()
	a.Version = 2
	a.EffectiveFrom = jul2026
	a.Categories = []string{CategoryAllergies, CategoryTestResults}
	return a
}

func gpRead() Policy {
	return Policy{
		Name:                          "tvs/gp-read",
		AgreementID:                   "dsa-1",
		Roles:                         []string{"R8000", "R8001"},
		Grants:                        []PolicyGrant{{Categories: []string{CategoryMedications, CategoryAllergies}}},
		PurposesOfUse:                 []string{PurposeTreat, PurposeEmergencyTreat},
		RequireLegitimateRelationship: true,
		BreakGlass:                    &BreakGlass{AllowedRoles: []string{"R8000"}, MaxDuration: time.Hour},
		Sensitive:                     SensitiveBreakGlassOnly,
	}
}

// request is a clinician at RR8 reading B86001's medications for direct care.
func request() Request {
	return Request{
		CallerODS:              "RR8",
		Role:                   "R8000",
		PurposeOfUse:           PurposeTreat,
		LegitimateRelationship: true,
		Action:                 ActionRead,
		Category:               CategoryMedications,
		SourceODS:              "B86001",
	}
}

// breakGlass makes a request an emergency override started ago before now.
func breakGlass(r *Request, now time.Time, ago time.Duration) {
	r.BreakGlassReason = "unconscious patient in ED"
	r.BreakGlassStarted = now.Add(-ago)
}

func member(in *Input, ods string) *Member {
	for i := range in.Members {
		if in.Members[i].ODSCode == ods {
			return &in.Members[i]
		}
	}
	panic("no member " + ods)
}

func compileEncoded(t *testing.T, in Input) []byte {
	t.Helper()
	data, err := Compile(in).Encode()
	if err != nil {
		t.Fatal(err)
	}
	return data
}
