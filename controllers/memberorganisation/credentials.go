/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package memberorganisation

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// credentialsOKFor is how long a good credentials check stands for the
// reconciles that other events bring: an onboarding reconciles each
// organisation several times within a minute, and each read the Secret
// from the API server. The periodic re-check (credentialsRecheck) always
// reads it, so a Secret removed is found as soon as before; a missing or
// incomplete Secret is read again on every reconcile.
const credentialsOKFor = time.Minute

// credentialChecks remembers, per organisation object, the last check that
// found its Secret complete: no secret value, only the condition's message
// (which Secret, which key names), for the spec it was checked against.
type credentialChecks struct {
	mu   sync.Mutex
	last map[types.NamespacedName]credentialCheck
}

type credentialCheck struct {
	uid        types.UID
	generation int64
	message    string
	at         time.Time
}

// recent returns the message of a good check of member's current spec made
// less than credentialsOKFor before now.
func (c *credentialChecks) recent(member *shcrv1alpha1.MemberOrganisation, now time.Time) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.last[client.ObjectKeyFromObject(member)]
	if !ok || k.uid != member.UID || k.generation != member.Generation || now.Sub(k.at) >= credentialsOKFor || now.Before(k.at) {
		return "", false
	}
	return k.message, true
}

// found records a good check of member's current spec at now.
func (c *credentialChecks) found(member *shcrv1alpha1.MemberOrganisation, message string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		c.last = map[types.NamespacedName]credentialCheck{}
	}
	c.last[client.ObjectKeyFromObject(member)] = credentialCheck{uid: member.UID, generation: member.Generation, message: message, at: now}
}

// forget drops what is remembered of an organisation.
func (c *credentialChecks) forget(key types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.last, key)
}
