package main

import (
	"crypto"
	"crypto/x509"
	"testing"

	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/vsmartcard/card"
	"github.com/notation-piv/notation-piv/vsmartcard/vcardtest"
)

// Cards other than YubiKeys, as the tests put them into the first reader
// in place of the YubiKey that the other tests share: a plain SP 800-73-4
// card (profile generic), the same with gzip-compressed certificates and
// offering T=0 alone, and trussed's PIV applet (Nitrokey 3, Solo 2). Their
// management key is unknown, so their keys and certificates come from the
// factory (card.Config.Imports), as an issuer provisions a card.

// anyCardSerial is the serial number the cards of other profiles are made
// with. Only their CHUID's GUID shows it: they answer no GET SERIAL.
const anyCardSerial = 13572468

// anyCard is a kind of card the tests run on.
type anyCard struct {
	name string
	cfg  card.Config
}

var (
	genericCard           = anyCard{"generic", card.Config{Serial: anyCardSerial, Profile: card.ProfileGeneric}}
	genericCompressedCard = anyCard{"generic, compressed certificates", card.Config{Serial: anyCardSerial, Profile: card.ProfileGeneric, CompressCerts: true}}
	genericT0Card         = anyCard{"generic, T=0 only", card.Config{Serial: anyCardSerial, Profile: card.ProfileGeneric, T0Only: true}}
	trussedCard           = anyCard{"trussed", card.Config{Serial: anyCardSerial, Profile: card.ProfileTrussed}}
)

// otherCards are the cards other than YubiKeys that the end-to-end matrix
// runs on.
var otherCards = []anyCard{genericCard, genericCompressedCard, genericT0Card, trussedCard}

// importedKey is a key an issuer put on a card, and its slot.
type importedKey struct {
	spec string // the Notary key spec
	slot byte
	id   string // the slot as notation's key id
}

// importedKeys are the keys every card of another profile holds: EC-256
// in slot 9c (PIN policy "always" on every card that is no YubiKey) and
// RSA-2048 in slot 9d (PIN policy "once").
var importedKeys = []importedKey{
	{"EC-256", 0x9C, "9c"},
	{"RSA-2048", 0x9D, "9d"},
}

// provisionedCard is a card made for a test, holding importedKeys with leaves
// that fixtures.Intermediate issued for signerSubject.
type provisionedCard struct {
	card   *card.Card
	leaves map[string]*x509.Certificate // by slot id
}

// newIssuedCard makes a card of kind k holding importedKeys, each with a
// code-signing leaf for signerSubject issued by fixtures.Intermediate.
func newIssuedCard(t testing.TB, k anyCard) provisionedCard {
	t.Helper()
	cfg := k.cfg
	cfg.Imports = nil
	ic := provisionedCard{leaves: map[string]*x509.Certificate{}}
	for _, key := range importedKeys {
		priv := fixtures.Key(key.spec + " imported into " + key.id)
		leaf := fixtures.Intermediate().Issue(priv.Public(), fixtures.Subject(signerSubject))
		cfg.Imports = append(cfg.Imports, card.Import{Slot: key.slot, Key: crypto.PrivateKey(priv), Certificate: leaf.Raw})
		ic.leaves[key.id] = leaf
	}
	c, err := card.New(cfg)
	if err != nil {
		t.Fatalf("make a %s card: %v", k.name, err)
	}
	ic.card = c
	return ic
}

// insertCard puts c into the reader of env in place of the card there,
// which goes back when the test ends.
func insertCard(t testing.TB, env *vcardtest.Env, c *card.Card) {
	t.Helper()
	shared := env.Card
	if err := env.Swap(c); err != nil {
		t.Fatalf("insert the card: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Swap(shared); err != nil {
			t.Errorf("put the shared card back: %v", err)
		}
	})
}

// insertIssuedCard makes a card of kind k (see newIssuedCard) and puts it
// into the reader until the test ends.
func insertIssuedCard(t testing.TB, k anyCard) provisionedCard {
	t.Helper()
	env := needCard(t)
	ic := newIssuedCard(t, k)
	insertCard(t, env, ic.card)
	return ic
}
