package piv

import (
	"crypto"
	"crypto/x509"
)

// Counter is the state of the PIN or the PUK.
type Counter struct {
	// RetriesLeft is how many wrong values the card still accepts; -1 if
	// the card does not tell.
	RetriesLeft int
	// MaxRetries is the number of retries after a correct value; -1 if the
	// card does not tell.
	MaxRetries int
	// Default reports that the factory value (PIN 123456, PUK 12345678) is
	// still set. Only cards that answer GET METADATA tell.
	Default bool
}

// ManagementKeyStatus describes a card's management key.
type ManagementKeyStatus struct {
	// Algorithm is "3DES", "AES-128", "AES-192" or "AES-256"; "" if the
	// card does not tell.
	Algorithm string
	// Default reports that the factory key is still set.
	Default bool
	// Touch reports that the key needs a touch.
	Touch bool
}

// PIN and touch policies of a key, as GET METADATA reports them and as
// GenerateKey sets them.
const (
	PolicyNever       = "never"
	PolicyOnce        = "once"
	PolicyAlways      = "always"
	PolicyCached      = "cached"
	PolicyMatchOnce   = "match-once"
	PolicyMatchAlways = "match-always"
)

// The policies by the bytes GET METADATA reports them with.
var (
	pinPolicyNames   = map[byte]string{0x01: PolicyNever, 0x02: PolicyOnce, 0x03: PolicyAlways, 0x04: PolicyMatchOnce, 0x05: PolicyMatchAlways}
	touchPolicyNames = map[byte]string{0x01: PolicyNever, 0x02: PolicyAlways, 0x03: PolicyCached}
)

// KeyStatus describes the key in a slot, as GET METADATA reports it.
type KeyStatus struct {
	// Algorithm is the key type, such as "EC-256", "RSA-2048" or
	// "Ed25519": a KeySpec for the keys that can sign Notary Project
	// signatures.
	Algorithm string
	// PINPolicy is PolicyNever, PolicyOnce, PolicyAlways, PolicyMatchOnce
	// or PolicyMatchAlways; "" if unknown.
	PINPolicy string
	// TouchPolicy is PolicyNever, PolicyAlways or PolicyCached; "" if
	// unknown.
	TouchPolicy string
	// Generated reports that the key was generated on the card rather than
	// imported.
	Generated bool
	// PublicKey is the key's public key.
	PublicKey crypto.PublicKey
}

// SlotStatus describes a slot that holds a key or a certificate.
type SlotStatus struct {
	// Slot is the slot.
	Slot Slot
	// Key describes the key; nil if the slot holds none or the card does
	// not tell (see Status.Metadata).
	Key *KeyStatus
	// Certificate is the slot's certificate; nil if there is none.
	Certificate *x509.Certificate
	// CertificateError says why the slot's certificate object could not be
	// read as a certificate; nil if it could, or if there is none.
	CertificateError error
}

// Status is what a card tells without its PIN.
type Status struct {
	// Card identifies the card.
	Card CardInfo
	// Metadata reports that the card answers the YubiKey GET METADATA
	// command (firmware 5.3 and later). Without it the PUK retries, the
	// factory-default flags, the management key and the slots' keys are
	// unknown, and slots show only their certificates.
	Metadata bool
	// PIN and PUK are the retry counters.
	PIN, PUK Counter
	// ManagementKey describes the management key.
	ManagementKey ManagementKeyStatus
	// Slots lists the slots that hold a key or a certificate, in the order
	// 9a, 9c, 9d, 9e, 82 to 95.
	Slots []SlotStatus
}

// Slot returns the status of slot, or nil if the slot holds neither a key
// nor a certificate (as far as the card tells).
func (s *Status) Slot(slot Slot) *SlotStatus {
	for i := range s.Slots {
		if s.Slots[i].Slot == slot {
			return &s.Slots[i]
		}
	}
	return nil
}

// allSlots are the slots Inspect looks at, in order.
var allSlots = func() []Slot {
	slots := []Slot{{0x9a}, {0x9c}, {0x9d}, {0x9e}}
	for k := byte(0x82); k <= 0x95; k++ {
		slots = append(slots, Slot{k})
	}
	return slots
}()
