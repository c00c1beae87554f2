package card

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Key references (SP 800-73-4 part 1, table 4) and YubiKey algorithm
// identifiers (SP 800-78-4 table 6-2 plus Yubico's additions).
const (
	slotCardAuth    = 0x9E
	slotSignature   = 0x9C
	slotAttestation = 0xF9 // YubiKey attestation key
	refPIN          = 0x80
	refPUK          = 0x81
	refManagement   = 0x9B

	alg3DES    = 0x03
	algAES128  = 0x08
	algAES192  = 0x0A
	algAES256  = 0x0C
	algRSA1024 = 0x06
	algRSA2048 = 0x07
	algRSA3072 = 0x05
	algRSA4096 = 0x16
	algECP256  = 0x11
	algECP384  = 0x14
	algEd25519 = 0xE0
	algX25519  = 0xE1
)

// PIN and touch policies (YubiKey tags AA and AB), and key origins.
const (
	pinPolicyDefault = 0x00
	pinPolicyNever   = 0x01
	pinPolicyOnce    = 0x02
	pinPolicyAlways  = 0x03

	touchPolicyDefault = 0x00
	touchPolicyNever   = 0x01
	touchPolicyAlways  = 0x02
	touchPolicyCached  = 0x03

	originGenerated = 0x01
	originImported  = 0x02
)

// touchCacheTime is how long a cached touch lasts on a YubiKey.
const touchCacheTime = 15 * time.Second

// slotKey is a private key held in a slot.
type slotKey struct {
	Algorithm   byte   `json:"algorithm"`
	PINPolicy   byte   `json:"pinPolicy"`
	TouchPolicy byte   `json:"touchPolicy"`
	Origin      byte   `json:"origin"`
	PKCS8       []byte `json:"pkcs8"`

	private crypto.PrivateKey // parsed PKCS8, filled in on first use
}

// privateKey returns the parsed private key.
func (k *slotKey) privateKey() (crypto.PrivateKey, error) {
	if k.private == nil {
		p, err := x509.ParsePKCS8PrivateKey(k.PKCS8)
		if err != nil {
			return nil, err
		}
		k.private = p
	}
	return k.private, nil
}

// state is what a card keeps across power cycles. Snapshots hold it as JSON;
// they contain the PIN, PUK and keys, so they are test fixtures only.
type state struct {
	Serial   uint32 `json:"serial"`
	Firmware string `json:"firmware"`
	// Profile is "" for a YubiKey, so that YubiKey snapshots stay as
	// they were before cards had profiles.
	Profile Profile `json:"profile,omitempty"`

	PIN           []byte `json:"pin"` // FF-padded to 8 bytes
	PINRetries    int    `json:"pinRetries"`
	PINMaxRetries int    `json:"pinMaxRetries"`
	PUK           []byte `json:"puk"`
	PUKRetries    int    `json:"pukRetries"`
	PUKMaxRetries int    `json:"pukMaxRetries"`

	MgmtAlgorithm byte   `json:"mgmtAlgorithm"`
	MgmtKey       []byte `json:"mgmtKey"`
	MgmtTouch     bool   `json:"mgmtTouch"`

	Keys    map[byte]*slotKey `json:"keys"`
	Objects map[uint32][]byte `json:"objects"` // data object tag → content of tag 53

	// AttestationCA is the root certificate that issued the card's
	// attestation certificate (object 5FFF01, key in slot F9). RESET keeps
	// all three.
	AttestationCA []byte `json:"attestationCA"`
}

// profile returns the card's profile, "" being a YubiKey.
func (st *state) profile() Profile {
	if st.Profile == "" {
		return ProfileYubiKey
	}
	return st.Profile
}

// factoryState returns a card as shipped: default PIN and PUK, the
// profile's management key and data objects, and no keys. A YubiKey also
// has an attestation key and its certificate, issued by ca (nil: by a
// root of the card's own).
func factoryState(r io.Reader, serial uint32, profile Profile, version [3]byte, ca *AttestationCA) (*state, error) {
	st := &state{Serial: serial}
	if profile != ProfileYubiKey {
		st.Profile = profile
	} else {
		st.Firmware = fmt.Sprintf("%d.%d.%d", version[0], version[1], version[2])
	}
	if err := st.resetCredentials(r); err != nil {
		return nil, err
	}
	if profile == ProfileYubiKey {
		if err := st.issueAttestationIdentity(r, ca); err != nil {
			return nil, fmt.Errorf("create attestation identity: %w", err)
		}
	}
	return st, nil
}

// resetCredentials restores factory PIN, PUK, management key, retry
// counters, keys and objects, keeping the attestation identity. A generic
// card's management key is random: the issuer diversifies it and tells no
// one.
func (st *state) resetCredentials(r io.Reader) error {
	st.PIN = padPIN(DefaultPIN)
	st.PUK = padPIN(DefaultPUK)
	st.PINRetries, st.PINMaxRetries = defaultRetries, defaultRetries
	st.PUKRetries, st.PUKMaxRetries = defaultRetries, defaultRetries
	st.MgmtAlgorithm = alg3DES
	st.MgmtKey = append([]byte(nil), DefaultManagementKey...)
	if st.profile() == ProfileGeneric {
		if _, err := io.ReadFull(r, st.MgmtKey); err != nil {
			return fmt.Errorf("create management key: %w", err)
		}
	}
	st.MgmtTouch = false
	attKey, attCert := st.Keys[slotAttestation], st.Objects[objAttestation]
	st.Keys = map[byte]*slotKey{}
	st.Objects = profileObjects(st.profile(), st.Serial)
	if st.Objects == nil {
		st.Objects = map[uint32][]byte{}
	}
	if attKey != nil {
		st.Keys[slotAttestation] = attKey
		st.Objects[objAttestation] = attCert
	}
	return nil
}

func (st *state) encode() ([]byte, error) {
	return json.MarshalIndent(st, "", "  ")
}

func decodeState(b []byte) (*state, error) {
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("decode card state: %w", err)
	}
	if _, err := ParseProfile(string(st.Profile)); err != nil {
		return nil, fmt.Errorf("decode card state: %w", err)
	}
	if len(st.PIN) != 8 || len(st.PUK) != 8 || len(st.MgmtKey) == 0 || st.profile() == ProfileYubiKey && st.Keys[slotAttestation] == nil {
		return nil, fmt.Errorf("decode card state: incomplete state (PIN, PUK, management key or attestation key missing)")
	}
	if st.Keys == nil {
		st.Keys = map[byte]*slotKey{}
	}
	if st.Objects == nil {
		st.Objects = map[uint32][]byte{}
	}
	return &st, nil
}

// session is the card's volatile state, lost at every power event.
type session struct {
	pinVerified bool
	// pinVerifiedForAlways is set by a successful VERIFY and consumed by the next use
	// of a key whose PIN policy is "always".
	pinVerifiedForAlways bool
	mgmtAuthenticated    bool
	mgmtWitness          []byte // expected decrypted witness (mutual auth)
	mgmtChallenge        []byte // challenge sent by the card (external auth)
	chain                *command
	pending              []byte // response data left for GET RESPONSE
	// otpSelected: a YubiKey before firmware 5 has its OTP application
	// selected, which answers only its serial number.
	otpSelected bool
	lastTouch   map[byte]time.Time
}

func newSession() session {
	return session{lastTouch: map[byte]time.Time{}}
}

// padPIN encodes a PIN or PUK as the card stores it: ASCII padded with FF to
// 8 bytes.
func padPIN(pin string) []byte {
	b := make([]byte, 8)
	for i := range b {
		b[i] = 0xFF
	}
	copy(b, pin)
	return b
}
