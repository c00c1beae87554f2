package card

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// Profile is the kind of card the virtual card imitates.
type Profile string

// The profiles a card can have.
const (
	// ProfileYubiKey is a YubiKey 5 with its PIV extensions, the default.
	ProfileYubiKey Profile = "yubikey"
	// ProfileGeneric is a card that follows NIST SP 800-73-4 and nothing
	// else, as issued PIV and PIV-I cards do: it refuses every YubiKey
	// extension with 6D00, its management key is diversified and unknown,
	// its PIN policies are fixed by slot, and it carries a CHUID, a CCC and
	// a Discovery Object.
	ProfileGeneric Profile = "generic"
	// ProfileTrussed is trussed's piv-authenticator, the PIV application of
	// the Nitrokey 3 and the Solo 2: it answers some YubiKey extensions in
	// its own way (version 6.6.6, a fixed serial number, empty metadata,
	// no attestation).
	ProfileTrussed Profile = "trussed"
)

// Profiles lists every profile, the default first.
var Profiles = []Profile{ProfileYubiKey, ProfileGeneric, ProfileTrussed}

// ParseProfile returns the profile named s; "" is ProfileYubiKey.
func ParseProfile(s string) (Profile, error) {
	if s == "" {
		return ProfileYubiKey, nil
	}
	for _, p := range Profiles {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown card profile %q; want yubikey, generic or trussed", s)
}

// trussedVersion and trussedSerial are what piv-authenticator answers to
// GET VERSION and GET SERIAL on every device.
var (
	trussedVersion = [3]byte{6, 6, 6}
	trussedSerial  = []byte{0x00, 0x52, 0xF7, 0x43}
)

// Historical bytes of the profiles' ATRs (ISO 7816-3 §8.2.4). The YubiKey
// profile keeps the ATR the virtual card always had; the trussed profile
// has a Nitrokey 3's, whose CCID layer answers with this ATR on every
// device.
var (
	yubikeyHistory = []byte("vPIVcard")
	genericHistory = []byte("vGENERIC")
	trussedHistory = append([]byte{0x80, 0x5D}, "Nitrokey\x00\x00\x00\x00\x00"...)
)

// history returns the historical bytes of the card's ATR, 8 bytes but on
// trussed cards.
func (c *Card) history() []byte {
	switch c.profile {
	case ProfileGeneric:
		return genericHistory
	case ProfileTrussed:
		if c.cfg.T0Only {
			return []byte("Nitrokey")
		}
		return trussedHistory
	}
	return yubikeyHistory
}

// yubikeyExtension reports whether ins is a YubiKey PIV extension, which
// a plain SP 800-73-4 card does not know.
func yubikeyExtension(ins byte) bool {
	switch ins {
	case insGetMetadata, insGetSerial, insAttest, insSetPINRetries, insReset, insGetVersion, insImportKey, insSetMgmtKey:
		return true
	}
	return false
}

// GUIDOf returns the GUID in the CHUID of a generic or trussed card with
// this serial number: a UUID of version 8 (RFC 9562, custom) made from
// the SHA-256 of the serial, so that tests know every card's GUID in
// advance.
func GUIDOf(serial uint32) [16]byte {
	var in [4]byte
	binary.BigEndian.PutUint32(in[:], serial)
	sum := sha256.Sum256(append([]byte("notation-piv virtual card GUID "), in[:]...))
	var guid [16]byte
	copy(guid[:], sum[:])
	guid[6] = guid[6]&0x0F | 0x80 // version 8
	guid[8] = guid[8]&0x3F | 0x80 // RFC 9562 variant
	return guid
}

// Data of the generic and trussed profiles' CHUIDs.
const (
	genericExpiry = "20401231"
	trussedExpiry = "99991231"
)

// chuid returns the content of the CHUID (object 5FC102, SP 800-73-4 part
// 1, §3.1.2): FASC-N, GUID, expiration date, an empty issuer signature and
// an empty error detection code.
func chuid(fascn []byte, guid [16]byte, expiry string) []byte {
	return concat(
		encodeTLV(0x30, fascn),
		encodeTLV(0x34, guid[:]),
		encodeTLV(0x35, []byte(expiry)),
		encodeTLV(0x3E, nil),
		encodeTLV(0xFE, nil),
	)
}

// fascnFields are the fields of a FASC-N (TIG SCEPACS §6.1), as decimal
// digits.
type fascnFields struct {
	agency, system, credential, series, issue, person, orgCategory, org, association string
}

// encodeFASCN encodes a FASC-N in its 25-byte BCD form (TIG SCEPACS
// §6.2): each character is 4 bits, least significant first, and an odd
// parity bit, 40 characters from the start sentinel to the longitudinal
// redundancy character. It panics if a field has the wrong length or a
// character that is not a digit; the fields are constants of this package.
func encodeFASCN(f fascnFields) []byte {
	const (
		start = 0xB // SS
		sep   = 0xD // FS
		end   = 0xF // ES
	)
	var chars []byte
	digits := func(s string, n int) {
		if len(s) != n {
			panic(fmt.Sprintf("FASC-N field %q: want %d digits", s, n))
		}
		for _, d := range []byte(s) {
			if d < '0' || d > '9' {
				panic(fmt.Sprintf("FASC-N field %q: not a digit", s))
			}
			chars = append(chars, d-'0')
		}
	}
	chars = append(chars, start)
	digits(f.agency, 4)
	chars = append(chars, sep)
	digits(f.system, 4)
	chars = append(chars, sep)
	digits(f.credential, 6)
	chars = append(chars, sep)
	digits(f.series, 1)
	chars = append(chars, sep)
	digits(f.issue, 1)
	chars = append(chars, sep)
	digits(f.person, 10)
	digits(f.orgCategory, 1)
	digits(f.org, 4)
	digits(f.association, 1)
	chars = append(chars, end)
	var lrc byte
	for _, c := range chars {
		lrc ^= c
	}
	chars = append(chars, lrc)

	out := make([]byte, 25)
	bit := 0
	for _, c := range chars {
		five := c&1<<4 | c&2<<2 | c&4 | c&8>>2 // b1 b2 b3 b4, first bit most significant
		ones := c&1 + c>>1&1 + c>>2&1 + c>>3&1
		if ones%2 == 0 {
			five |= 1 // parity bit: odd number of ones
		}
		for i := 4; i >= 0; i-- {
			if five>>i&1 == 1 {
				out[bit/8] |= 0x80 >> (bit % 8)
			}
			bit++
		}
	}
	return out
}

// genericFASCN is the FASC-N of a generic card: agency code 9999 (not a
// federal agency), the serial number as person identifier and, modulo a
// million, as credential number.
func genericFASCN(serial uint32) []byte {
	return encodeFASCN(fascnFields{
		agency: "9999", system: "0000", credential: fmt.Sprintf("%06d", serial%1000000),
		series: "0", issue: "1", person: fmt.Sprintf("%010d", serial),
		orgCategory: "1", org: "0000", association: "1",
	})
}

// trussedFASCN is the FASC-N every trussed card has: agency code 9999 and
// zeros elsewhere.
var trussedFASCN = encodeFASCN(fascnFields{
	agency: "9999", system: "0000", credential: "000000", series: "0", issue: "0",
	person: "0000000000", orgCategory: "1", org: "0000", association: "1",
})

// genericCCC is a generic card's Card Capability Container (object 5FC107,
// SP 800-73-4 part 1, §3.1.1): a card identifier made of the GSC-RID
// A000000116, manufacturer FF (test), card type 02 (Java Card) and the
// serial number, then container version 21 and grammar 21, PKCS #15 00,
// data model 10 and empty optional tags.
func genericCCC(serial uint32) []byte {
	id := make([]byte, 0, 21)
	id = append(id, 0xA0, 0x00, 0x00, 0x01, 0x16, 0xFF, 0x02)
	id = binary.BigEndian.AppendUint32(id, serial)
	id = append(id, make([]byte, 21-len(id))...)
	return concat(
		encodeTLV(0xF0, id),
		encodeTLV(0xF1, []byte{0x21}),
		encodeTLV(0xF2, []byte{0x21}),
		encodeTLV(0xF3, nil),
		encodeTLV(0xF4, []byte{0x00}),
		encodeTLV(0xF5, []byte{0x10}),
		encodeTLV(0xF6, nil),
		encodeTLV(0xF7, nil),
		encodeTLV(0xFA, nil),
		encodeTLV(0xFB, nil),
		encodeTLV(0xFC, nil),
		encodeTLV(0xFD, nil),
		encodeTLV(0xFE, nil),
	)
}

// trussedCCC is the CCC every trussed card answers: empty tags but data
// model 10.
var trussedCCC = concat(
	encodeTLV(0xF0, nil), encodeTLV(0xF1, nil), encodeTLV(0xF2, nil), encodeTLV(0xF3, nil),
	encodeTLV(0xF4, nil), encodeTLV(0xF5, []byte{0x10}), encodeTLV(0xF6, nil), encodeTLV(0xF7, nil),
	encodeTLV(0xFA, nil), encodeTLV(0xFB, nil), encodeTLV(0xFC, nil), encodeTLV(0xFD, nil),
	encodeTLV(0xFE, nil),
)

// profileObjects returns the data objects a card of profile p carries from
// the factory.
func profileObjects(p Profile, serial uint32) map[uint32][]byte {
	switch p {
	case ProfileGeneric:
		return map[uint32][]byte{
			objCHUID: chuid(genericFASCN(serial), GUIDOf(serial), genericExpiry),
			objCCC:   genericCCC(serial),
		}
	case ProfileTrussed:
		return map[uint32][]byte{
			objCHUID: chuid(trussedFASCN, GUIDOf(serial), trussedExpiry),
			objCCC:   trussedCCC,
		}
	}
	return nil
}

// discovery returns the Discovery Object (SP 800-73-4 part 1, §3.3.2): the
// PIV AID and the PIN usage policy, "PIV application PIN only" except on
// trussed cards, which also claim a pairing code.
func (c *Card) discovery() []byte {
	policy := []byte{0x40, 0x00}
	if c.profile == ProfileTrussed {
		policy = []byte{0x40, 0x10}
	}
	return encodeTLV(objDiscovery, encodeTLV(0x4F, pivAID), encodeTLV(0x5F2F, policy))
}

// trussedLabel and trussedURL are what piv-authenticator names itself in
// its application property template.
const (
	trussedLabel = "Nitrokey PIV"
	trussedURL   = "https://github.com/Nitrokey/piv-authenticator"
)

// applicationProperties returns the answer to SELECT PIV: the application
// property template (SP 800-73-4 part 2, §3.1.1).
func (c *Card) applicationProperties() []byte {
	authority := encodeTLV(0x79, encodeTLV(0x4F, pivAID[:5]))
	if c.profile != ProfileTrussed {
		return encodeTLV(0x61, encodeTLV(0x4F, pivAID[5:]), authority)
	}
	var algs []byte
	for _, a := range []byte{alg3DES, algAES256, algECP256, algEd25519, algX25519, algRSA2048} {
		algs = append(algs, encodeTLV(0x80, []byte{a})...)
	}
	algs = append(algs, encodeTLV(0x06, []byte{0x00})...)
	return encodeTLV(0x61,
		encodeTLV(0x4F, pivAID[5:]),
		encodeTLV(0x50, []byte(trussedLabel)),
		encodeTLV(0x5F50, []byte(trussedURL)),
		encodeTLV(0xAC, algs),
		authority,
	)
}
