package main

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/vsmartcard/card"
	"github.com/notation-piv/notation-piv/vsmartcard/vcardtest"
)

// The virtual card as the tests set it up and read it: keys and
// certificates put there with piv-go, and its state and log read from the
// card itself.

// signerSubject is the subject of the test signing certificates; the trust
// policy names it.
var signerSubject = pkix.Name{
	Country: []string{"US"}, Province: []string{"WA"}, Locality: []string{"Seattle"},
	Organization: []string{"Notation E2E"}, CommonName: "piv signer",
}

const trustedIdentity = "x509.subject: C=US, ST=WA, L=Seattle, O=Notation E2E, CN=piv signer"

// openPIV opens the virtual card with piv-go.
func openPIV(t testing.TB) *piv.YubiKey {
	t.Helper()
	return vcardtest.OpenPIV(t)
}

// provision generates a key in slot 9c of the virtual card, with PIN
// policy "always", and stores a Notation-compliant certificate for it (see
// certify).
func provision(t testing.TB, alg piv.Algorithm, ca *fixtures.CA) (leaf *x509.Certificate) {
	t.Helper()
	yk := openPIV(t)
	defer yk.Close()
	return provisionCard(t, yk, alg, ca)
}

// provisionCard is provision for the card yk.
func provisionCard(t testing.TB, yk *piv.YubiKey, alg piv.Algorithm, ca *fixtures.CA) (leaf *x509.Certificate) {
	t.Helper()
	return certify(t, yk, piv.SlotSignature, generateKey(t, yk, piv.SlotSignature, alg, piv.PINPolicyAlways), ca)
}

// generateKey generates a key of alg in slot of the card, with pinPolicy
// and touch policy "never", and returns its public key.
func generateKey(t testing.TB, yk *piv.YubiKey, slot piv.Slot, alg piv.Algorithm, pinPolicy piv.PINPolicy) crypto.PublicKey {
	t.Helper()
	pub, err := yk.GenerateKey(piv.DefaultManagementKey, slot, piv.Key{Algorithm: alg, PINPolicy: pinPolicy, TouchPolicy: piv.TouchPolicyNever})
	if err != nil {
		t.Fatalf("generate key in slot %x: %v", slot.Key, err)
	}
	return pub
}

// certify stores a Notation-compliant certificate with signerSubject for
// the key in slot, valid for a day, changed by opts. With a CA, the CA
// issues it; without, the card key signs it itself, with the factory PIN,
// which leaves the PIN verified.
func certify(t testing.TB, yk *piv.YubiKey, slot piv.Slot, pub crypto.PublicKey, ca *fixtures.CA, opts ...fixtures.Option) *x509.Certificate {
	t.Helper()
	opts = append([]fixtures.Option{fixtures.Subject(signerSubject)}, opts...)
	var leaf *x509.Certificate
	if ca != nil {
		leaf = ca.Issue(pub, opts...)
	} else {
		priv, err := yk.PrivateKey(slot, pub, piv.KeyAuth{PIN: piv.DefaultPIN, PINPolicy: piv.PINPolicyAlways})
		must(t, err)
		if leaf, err = fixtures.Issue(fixtures.LeafTemplate(opts...), pub, nil, priv.(crypto.Signer)); err != nil {
			t.Fatal(err)
		}
	}
	if err := yk.SetCertificate(piv.DefaultManagementKey, slot, leaf); err != nil {
		t.Fatalf("store certificate: %v", err)
	}
	return leaf
}

// validUntil makes a certificate valid from an hour ago to notAfter.
func validUntil(notAfter time.Time) fixtures.Option {
	return fixtures.ValidBetween(time.Now().Add(-time.Hour), notAfter)
}

// impostorCA returns a CA of the names of fixtures.Intermediate, issued by
// a root of the name of fixtures.Root: the same names, other keys.
func impostorCA() *fixtures.CA {
	root := fixtures.NewRoot(fixtures.Root().Cert.Subject.CommonName)
	return root.NewIntermediate(fixtures.Intermediate().Cert.Subject.CommonName, fixtures.PathLen(0))
}

// cardState is the part of the virtual card's state the tests read.
type cardState struct {
	PIN        []byte                     `json:"pin"`
	PINRetries int                        `json:"pinRetries"`
	PUK        []byte                     `json:"puk"`
	PUKRetries int                        `json:"pukRetries"`
	MgmtKey    []byte                     `json:"mgmtKey"`
	Keys       map[string]json.RawMessage `json:"keys"`
}

// snapshot returns the card's persistent state: keys, certificates, PIN,
// PUK, management key and retry counters.
func snapshot(t testing.TB, env *vcardtest.Env) []byte {
	t.Helper()
	b, err := env.Card.Snapshot()
	must(t, err)
	return b
}

func readCardState(t testing.TB, env *vcardtest.Env) cardState {
	t.Helper()
	var st cardState
	must(t, json.Unmarshal(snapshot(t, env), &st))
	return st
}

// pinRetries reads the PIN retry counter from the virtual card's state.
// (piv-go's Retries cannot: it fails while the PIN is verified.)
func pinRetries(t testing.TB, env *vcardtest.Env) int {
	t.Helper()
	return readCardState(t, env).PINRetries
}

// setRetries sets the retries left of the virtual card's PIN and PUK, as
// after wrong values; a negative count leaves that counter as it is.
func setRetries(t *testing.T, env *vcardtest.Env, pin, puk int) {
	t.Helper()
	var st map[string]any
	must(t, json.Unmarshal(snapshot(t, env), &st))
	if pin >= 0 {
		st["pinRetries"] = pin
	}
	if puk >= 0 {
		st["pukRetries"] = puk
	}
	b, err := json.Marshal(st)
	must(t, err)
	must(t, env.Card.Restore(b))
}

// hasSecret reports whether a PIN or PUK the card stores is value.
func hasSecret(stored []byte, value string) bool {
	padded := bytes.Repeat([]byte{0xFF}, 8)
	copy(padded, value)
	return bytes.Equal(stored, padded)
}

// count counts the commands the card got since its stats were reset that
// match.
func count(env *vcardtest.Env, match func(card.LogEntry) bool) int {
	n := 0
	for _, e := range env.Card.Stats().Log {
		if match(e) {
			n++
		}
	}
	return n
}

// sent counts the commands with the given name the card got since its
// stats were reset.
func sent(env *vcardtest.Env, name string) int {
	return count(env, func(e card.LogEntry) bool { return e.Name == name })
}

// pinsChecked counts the VERIFY commands carrying a PIN that reached the
// card's PIN check since its stats were reset. A VERIFY that a fault
// answered is logged without its data, so it does not count.
func pinsChecked(env *vcardtest.Env) int {
	return count(env, func(e card.LogEntry) bool { return e.Name == "VERIFY" && e.DataLen > 0 })
}

// secretsSent counts the commands carrying a PIN or PUK that reached the
// card since its stats were reset: VERIFY with data, CHANGE REFERENCE DATA
// and RESET RETRY COUNTER.
func secretsSent(env *vcardtest.Env) int {
	return count(env, func(e card.LogEntry) bool {
		return e.Name == "VERIFY" && e.DataLen > 0 || e.Name == "CHANGE REFERENCE DATA" || e.Name == "RESET RETRY COUNTER"
	})
}

// holdCard opens the card with piv-go, which holds it exclusively as
// another program would, and lets it go after d if d > 0. The returned
// function lets the card go, if it has not been already, and returns once
// it has.
func holdCard(t *testing.T, env *vcardtest.Env, d time.Duration) (letGo func()) {
	t.Helper()
	yk, err := piv.Open(env.Reader)
	if err != nil {
		t.Fatalf("hold the card: %v", err)
	}
	var once sync.Once
	letGo = func() { once.Do(func() { yk.Close() }) }
	if d > 0 {
		time.AfterFunc(d, letGo)
	}
	t.Cleanup(letGo)
	return letGo
}
