// Package attestation checks PIV key attestations: the proof, signed by a
// card vendor's PKI, that a signing key was generated on a card and cannot be
// exported.
//
// A YubiKey attests a key with a certificate for the key's slot, signed by
// the card's own attestation key (slot F9), whose certificate in turn chains
// to a Yubico root. An envelope carries both certificates, and the vendor
// intermediates needed, in the protected-header attribute [HeaderKey] as a
// [Bundle]. A verifier
//
//  1. parses the bundle ([ParseBundle]),
//  2. verifies its chain against trusted roots ([Bundle.Verify] with
//     [YubicoRoots] or [NewRoots]), which yields the attested facts,
//  3. checks that the attested key is the signing certificate's key
//     ([Attestation.CheckKey]),
//  4. applies the trust policy's trustedIdentities ([ParsePolicy],
//     [Policy.Evaluate]).
//
// [Check] does all four, the same way for the plugin's verify-signature and
// for envelope verify.
//
// The attested facts live in extensions of the slot certificate under
// Yubico's arc 1.3.6.1.4.1.41482.3
// (https://docs.yubico.com/hardware/oid/oid-piv-arc.html).
package attestation

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// HeaderKey is the envelope's protected-header attribute that holds the
// attestation bundle.
const HeaderKey = "io.github.notation-piv.attestation"

// VerificationPlugin is the verification plugin an attested envelope
// names (io.cncf.notary.verificationPlugin): notation-piv, which notation
// knows as "piv".
const VerificationPlugin = "piv"

// Attestation is what a verified bundle proves about the signing key.
type Attestation struct {
	// Slot is the slot the key is in, in hexadecimal ("9c"), taken from the
	// subject "YubiKey PIV Attestation 9c"; "" if the subject has another
	// form.
	Slot string
	// Serial is the card's serial number.
	Serial uint32
	// Firmware is the card's firmware version.
	Firmware Version
	// PINPolicy and TouchPolicy are the slot's policies.
	PINPolicy   PINPolicy
	TouchPolicy TouchPolicy
	// FormFactor is the card's form factor; 0 when the card does not say
	// (YubiKey 4).
	FormFactor FormFactor
	// FIPS reports that the card is a FIPS model: its form factor has the
	// FIPS bit, or the slot or device certificate has the "FIPS certified"
	// extension.
	FIPS bool
	// PublicKey is the attested key.
	PublicKey crypto.PublicKey
	// Chain is the verified chain: the slot certificate, the device (F9)
	// certificate, the intermediates, and the root last.
	Chain []*x509.Certificate
}

// CheckKey checks that the attested key is the key of the signing
// certificate.
func (a *Attestation) CheckKey(signing *x509.Certificate) error {
	pub, ok := a.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(signing.PublicKey) {
		return errors.New("the attested key is not the signing certificate's key")
	}
	return nil
}

// Yubico's PIV attestation extensions.
var (
	oidFirmware      = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 3}  // 3 bytes: major, minor, patch
	oidSerial        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7}  // INTEGER
	oidPolicy        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 8}  // 2 bytes: PIN policy, touch policy
	oidFormFactor    = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 9}  // 1 byte, bit 7 = FIPS
	oidFIPSCertified = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 10} // present on FIPS models
)

// slotSubjectPrefix begins the subject common name of every slot
// attestation certificate.
const slotSubjectPrefix = "YubiKey PIV Attestation "

// readFacts reads the attested facts from the slot certificate and the
// device certificate. Firmware, serial and policies are required: every
// YubiKey that attests (firmware 4.3 and later) writes them.
func readFacts(slot, device *x509.Certificate) (*Attestation, error) {
	a := &Attestation{PublicKey: slot.PublicKey}
	if s, ok := strings.CutPrefix(slot.Subject.CommonName, slotSubjectPrefix); ok {
		if _, err := strconv.ParseUint(s, 16, 8); err == nil {
			a.Slot = strings.ToLower(s)
		}
	}
	var seen [3]bool // firmware, serial, policy
	for _, ext := range slot.Extensions {
		var err error
		switch {
		case ext.Id.Equal(oidFirmware):
			seen[0] = true
			if len(ext.Value) != 3 {
				err = fmt.Errorf("firmware version is %d bytes, want 3", len(ext.Value))
			}
			if err == nil {
				a.Firmware = Version{ext.Value[0], ext.Value[1], ext.Value[2]}
			}
		case ext.Id.Equal(oidSerial):
			seen[1] = true
			a.Serial, err = parseSerial(ext.Value)
		case ext.Id.Equal(oidPolicy):
			seen[2] = true
			a.PINPolicy, a.TouchPolicy, err = parsePolicies(ext.Value)
		case ext.Id.Equal(oidFormFactor):
			if len(ext.Value) != 1 {
				err = fmt.Errorf("form factor is %d bytes, want 1", len(ext.Value))
			} else {
				a.FormFactor = FormFactor(ext.Value[0])
			}
		case ext.Id.Equal(oidFIPSCertified):
			a.FIPS = true
		}
		if err != nil {
			return nil, fmt.Errorf("attestation certificate: %w", err)
		}
	}
	for i, name := range []string{"firmware version", "serial number", "PIN and touch policy"} {
		if !seen[i] {
			return nil, fmt.Errorf("attestation certificate has no %s", name)
		}
	}
	for _, ext := range device.Extensions {
		if ext.Id.Equal(oidFIPSCertified) {
			a.FIPS = true
		}
	}
	a.FIPS = a.FIPS || a.FormFactor.FIPS()
	return a, nil
}

func parseSerial(der []byte) (uint32, error) {
	var n int64
	rest, err := asn1.Unmarshal(der, &n)
	if err != nil || len(rest) > 0 {
		return 0, errors.New("serial number is not a DER INTEGER")
	}
	if n < 0 || n > math.MaxUint32 {
		return 0, fmt.Errorf("serial number %d is out of range", n)
	}
	return uint32(n), nil
}

func parsePolicies(b []byte) (PINPolicy, TouchPolicy, error) {
	if len(b) != 2 {
		return 0, 0, fmt.Errorf("PIN and touch policy is %d bytes, want 2", len(b))
	}
	pin, touch := PINPolicy(b[0]), TouchPolicy(b[1])
	if _, ok := pinPolicyNames[pin]; !ok {
		return 0, 0, fmt.Errorf("unknown PIN policy 0x%02x", b[0])
	}
	if _, ok := touchPolicyNames[touch]; !ok {
		return 0, 0, fmt.Errorf("unknown touch policy 0x%02x", b[1])
	}
	return pin, touch, nil
}

// Version is a firmware version.
type Version struct {
	Major, Minor, Patch uint8
}

// String returns the version as "5.7.1".
func (v Version) String() string {
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// Less reports whether v is older than w.
func (v Version) Less(w Version) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	if v.Minor != w.Minor {
		return v.Minor < w.Minor
	}
	return v.Patch < w.Patch
}

// parseVersion reads "X.Y.Z", each part 0-255.
func parseVersion(s string) (Version, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("%q is not a version X.Y.Z", s)
	}
	var v [3]uint8
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 8)
		if err != nil {
			return Version{}, fmt.Errorf("%q is not a version X.Y.Z with each part 0-255", s)
		}
		v[i] = uint8(n)
	}
	return Version{v[0], v[1], v[2]}, nil
}

// PINPolicy is when a slot's key asks for the PIN, as the attestation
// encodes it.
type PINPolicy uint8

// PIN policies.
const (
	PINPolicyNever       PINPolicy = 1
	PINPolicyOnce        PINPolicy = 2
	PINPolicyAlways      PINPolicy = 3
	PINPolicyMatchOnce   PINPolicy = 4 // YubiKey Bio: fingerprint once
	PINPolicyMatchAlways PINPolicy = 5 // YubiKey Bio: fingerprint every time
)

var pinPolicyNames = map[PINPolicy]string{
	PINPolicyNever:       "never",
	PINPolicyOnce:        "once",
	PINPolicyAlways:      "always",
	PINPolicyMatchOnce:   "match-once",
	PINPolicyMatchAlways: "match-always",
}

// String returns the policy's name in the policy grammar: "never", "once",
// "always", "match-once" or "match-always".
func (p PINPolicy) String() string { return policyName(pinPolicyNames, p) }

// TouchPolicy is when a slot's key asks for a touch, as the attestation
// encodes it.
type TouchPolicy uint8

// Touch policies.
const (
	TouchPolicyNever  TouchPolicy = 1
	TouchPolicyAlways TouchPolicy = 2
	TouchPolicyCached TouchPolicy = 3 // a touch counts for 15 seconds
)

var touchPolicyNames = map[TouchPolicy]string{
	TouchPolicyNever:  "never",
	TouchPolicyAlways: "always",
	TouchPolicyCached: "cached",
}

// String returns the policy's name in the policy grammar: "never",
// "always" or "cached".
func (p TouchPolicy) String() string { return policyName(touchPolicyNames, p) }

// policyName returns the name of p in names, or "unknown(0x..)" for a
// value the attestation format does not define.
func policyName[P ~uint8](names map[P]string, p P) string {
	if s, ok := names[p]; ok {
		return s
	}
	return fmt.Sprintf("unknown(0x%02x)", uint8(p))
}

// FormFactor is a card's form factor as the attestation encodes it: the
// model in the low bits, and bit 7 set on FIPS models.
type FormFactor uint8

// fipsBit marks a FIPS model in a FormFactor.
const fipsBit = 0x80

var formFactorNames = map[FormFactor]string{
	0x01: "USB-A Keychain",
	0x02: "USB-A Nano",
	0x03: "USB-C Keychain",
	0x04: "USB-C Nano",
	0x05: "USB-C/Lightning Keychain",
}

// FIPS reports whether the FIPS bit is set.
func (f FormFactor) FIPS() bool { return f&fipsBit != 0 }

// String names the form factor ("USB-C Keychain FIPS"); "unspecified" for
// 0.
func (f FormFactor) String() string {
	if f == 0 {
		return "unspecified"
	}
	name, ok := formFactorNames[f&^fipsBit]
	if !ok {
		return fmt.Sprintf("unknown(0x%02x)", uint8(f))
	}
	if f.FIPS() {
		name += " FIPS"
	}
	return name
}
