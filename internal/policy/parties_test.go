/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package policy

import (
	"reflect"
	"testing"
)

func TestEffectiveParties(t *testing.T) {
	members := fixture().Members
	members = append(members, Member{ODSCode: "DUP1", Region: "tvs", Admitted: true}, Member{ODSCode: "DUP1", Region: "tvs", Admitted: true})
	a := agreementV1()
	a.Parties = append(a.Parties,
		Party{ODSCode: "PEER1", Role: "JointController"},
		Party{ODSCode: "NEW1", Role: "Processor"},
		Party{ODSCode: "DUP1", Role: "Processor"},
		Party{ODSCode: "RR8", Role: "Controller"},
	)
	within := []PartyState{
		{ODSCode: "B86001", Role: "JointController", Effective: true},
		{ODSCode: "DUP1", Role: "Processor", Reason: ReasonDuplicateMember},
		{ODSCode: "NEW1", Role: "Processor", Reason: ReasonNotMember},
		{ODSCode: "PEER1", Role: "JointController", Reason: ReasonNotMember},
		{ODSCode: "RR8", Role: "Controller", Effective: true},
		{ODSCode: "RX1", Role: "Controller", Reason: ReasonNotAdmitted},
	}
	if got := EffectiveParties(a, members, "tvs"); !reflect.DeepEqual(got, within) {
		t.Errorf("within region:\n got %+v\nwant %+v", got, within)
	}
	crossRegion(true)(&a)
	across := append([]PartyState(nil), within...)
	across[3] = PartyState{ODSCode: "PEER1", Role: "JointController", Effective: true}
	if got := EffectiveParties(a, members, "tvs"); !reflect.DeepEqual(got, across) {
		t.Errorf("cross region:\n got %+v\nwant %+v", got, across)
	}
}
