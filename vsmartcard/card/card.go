// Package card is a virtual PIV smart card: a pure APDU engine that follows
// NIST SP 800-73-4 and the YubiKey PIV extensions that piv-go, ykman,
// yubico-piv-tool and OpenSC rely on.
//
// A card has a [Profile]: a YubiKey (the default), a generic SP 800-73-4
// card without YubiKey's extensions, or trussed's piv-authenticator
// (Nitrokey 3, Solo 2). Cards whose management key no one knows are
// provisioned with Config.Imports.
//
// The engine has no I/O of its own. A transport (see package vpcd) feeds it
// command APDUs with [Card.Process] and power events with [Card.PowerOn],
// [Card.PowerOff] and [Card.Reset]. Persistent state (keys, data objects,
// PIN, PUK, retry counters, management key) survives power events, exactly
// as on a real card; volatile state (PIN and management-key authentication,
// pending challenges, command chains, pending response data) does not.
//
// References:
//   - NIST SP 800-73-4 part 2: https://nvlpubs.nist.gov/nistpubs/SpecialPublications/NIST.SP.800-73-4.pdf
//   - Yubico PIV extensions: https://developers.yubico.com/PIV/Introduction/Yubico_extensions.html
package card

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"sync"
	"time"
)

// Factory defaults, as on a YubiKey.
const (
	DefaultPIN      = "123456"
	DefaultPUK      = "12345678"
	DefaultFirmware = "5.7.1"
	defaultRetries  = 3
)

// DefaultManagementKey is the YubiKey factory 3DES management key.
var DefaultManagementKey = []byte{
	1, 2, 3, 4, 5, 6, 7, 8,
	1, 2, 3, 4, 5, 6, 7, 8,
	1, 2, 3, 4, 5, 6, 7, 8,
}

// Config sets up a new card.
type Config struct {
	// Serial is the card serial number returned by GET SERIAL.
	Serial uint32
	// Firmware is the version returned by GET VERSION; "" means DefaultFirmware.
	Firmware string
	// Rand is the source of randomness; nil means crypto/rand.
	Rand io.Reader
	// Persist, when set, is called with a snapshot of the persistent state
	// after every command that changed it (a new key, a spent PIN retry, …).
	// A Persist error turns the command's answer into 6581 (memory failure).
	Persist func(snapshot []byte) error
	// TouchDelay is how long a touch-protected key waits for its "touch".
	TouchDelay time.Duration
	// AttestationCA, when set, issues the card's attestation certificate
	// (slot F9), as a vendor's root issues every card's; nil gives the card
	// a root of its own. A card loaded from a snapshot whose attestation
	// certificate another root issued gets a new one from this root, for
	// the same key. Only YubiKeys attest; other profiles ignore it.
	AttestationCA *AttestationCA
	// Profile is the kind of card to imitate; "" means ProfileYubiKey. A
	// card loaded from a snapshot keeps the snapshot's.
	Profile Profile
	// Imports are keys and certificates the card holds from the factory,
	// as an issuer provisions a card whose management key no one else
	// knows. They work with every profile; a card loaded from a snapshot
	// ignores them (see [Card.CheckImports]).
	Imports []Import
	// T0Only makes the ATR offer T=0 alone, as many issued CAC and PIV
	// cards do; piv-go, which connects with T=1 only, then cannot open
	// the card. Like a T=0 card, it refuses extended APDUs (6700) and
	// answers every command that carries data and gets data back with
	// 61xx, for GET RESPONSE to fetch. pcscd and vpcd negotiate T=0.
	T0Only bool
	// CompressCerts stores the certificates of Imports gzip-compressed,
	// with CertInfo 01 (SP 800-73-4 part 1, table 10), as many issued
	// cards do. Certificates written later with PUT DATA are stored as
	// written, compressed or not, as on any card.
	CompressCerts bool
}

// Card is one virtual PIV card. It is safe for concurrent use; commands are
// processed one at a time, as on a real card.
type Card struct {
	mu      sync.Mutex
	cfg     Config
	profile Profile
	version [3]byte
	rand    io.Reader

	state         *state         // persistent
	session       session        // volatile, cleared by power events
	faults        []*activeFault // injected faults, see fault.go
	keepPIN       bool           // VERIFY P1=FF is ignored, see KeepPINOnReset
	releaseDelays chan struct{}  // closed by ClearFaults to cut delays short
	stats         Stats          // APDU counter and log, see stats.go
}

// New returns a card in factory state, holding Config.Imports. A YubiKey
// also gets a fresh attestation key and a certificate for it issued by
// Config.AttestationCA, or by a freshly generated root of the card's own.
func New(cfg Config) (*Card, error) {
	c, err := newCard(cfg)
	if err != nil {
		return nil, err
	}
	st, err := factoryState(c.rand, cfg.Serial, c.profile, c.version, cfg.AttestationCA)
	if err != nil {
		return nil, err
	}
	c.state = st
	for _, imp := range cfg.Imports {
		if err := c.importAtFactory(imp); err != nil {
			return nil, err
		}
	}
	if err := c.persistLocked(); err != nil {
		return nil, err
	}
	return c, nil
}

// Load returns a card whose persistent state comes from a snapshot made by
// [Card.Snapshot] or passed to Config.Persist. The serial number, firmware,
// profile and keys come from the snapshot; those in cfg are ignored. If
// cfg.AttestationCA did not issue the snapshot's attestation certificate,
// it issues a new one, which is persisted.
func Load(cfg Config, snapshot []byte) (*Card, error) {
	st, err := decodeState(snapshot)
	if err != nil {
		return nil, err
	}
	cfg.Serial = st.Serial
	cfg.Firmware = st.Firmware
	cfg.Profile = st.profile()
	c, err := newCard(cfg)
	if err != nil {
		return nil, err
	}
	c.state = st
	if ca := cfg.AttestationCA; ca != nil && c.profile == ProfileYubiKey && !bytes.Equal(st.AttestationCA, ca.Certificate.Raw) {
		if err := st.certifyAttestationKey(c.rand, ca); err != nil {
			return nil, fmt.Errorf("certify attestation key: %w", err)
		}
		if err := c.persistLocked(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// newCard checks cfg and returns a card without state.
func newCard(cfg Config) (*Card, error) {
	profile, err := ParseProfile(string(cfg.Profile))
	if err != nil {
		return nil, err
	}
	var v [3]byte
	switch {
	case profile == ProfileTrussed && cfg.Firmware == "":
		v = trussedVersion
	case profile != ProfileYubiKey:
		// Only YubiKeys have a firmware version to configure; trussed
		// cards answer 6.6.6 whatever their firmware.
		if cfg.Firmware != "" {
			return nil, fmt.Errorf("firmware version %q: only the yubikey profile has a configurable firmware version, not %s", cfg.Firmware, profile)
		}
	default:
		if cfg.Firmware == "" {
			cfg.Firmware = DefaultFirmware
		}
		var major, minor, patch uint
		if _, err := fmt.Sscanf(cfg.Firmware, "%d.%d.%d", &major, &minor, &patch); err != nil || major > 255 || minor > 255 || patch > 255 {
			return nil, fmt.Errorf("firmware version %q: want X.Y.Z with each part 0-255", cfg.Firmware)
		}
		v = [3]byte{byte(major), byte(minor), byte(patch)}
	}
	r := cfg.Rand
	if r == nil {
		r = rand.Reader
	}
	return &Card{cfg: cfg, profile: profile, version: v, rand: r, session: newSession()}, nil
}

// Serial returns the card serial number.
func (c *Card) Serial() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state.Serial
}

// Profile returns the kind of card this card imitates.
func (c *Card) Profile() Profile { return c.profile }

// Firmware returns the firmware version of a YubiKey, "" for other
// profiles.
func (c *Card) Firmware() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state.Firmware
}

// ATR returns the card's Answer To Reset. It offers T=1, which piv-go
// requires, unless Config.T0Only has it offer T=0 alone. Its historical
// bytes depend on the profile: a trussed card has a Nitrokey 3's ATR.
func (c *Card) ATR() []byte {
	var atr []byte
	switch {
	case c.cfg.T0Only:
		// 08: no interface bytes, so T=0 only (ISO 7816-3 §8.2.3), and
		// no TCK; 8 historical bytes.
		return append([]byte{0x3B, 0x08}, c.history()...)
	case c.profile == ProfileTrussed:
		// 8F: TD1 present, 15 historical bytes; 01: T=1.
		atr = append([]byte{0x3B, 0x8F, 0x01}, trussedHistory...)
	default:
		// 3B: direct convention; 88: TD1 present, 8 historical bytes;
		// 80: TD2 present, T=0 (no interface bytes); 01: T=1.
		atr = append([]byte{0x3B, 0x88, 0x80, 0x01}, c.history()...)
	}
	var tck byte
	for _, b := range atr[1:] {
		tck ^= b
	}
	return append(atr, tck)
}

// PowerOn handles a power-on from the reader: volatile state is cleared and
// the PIV application is selected.
func (c *Card) PowerOn() { c.clearSession() }

// PowerOff handles a power-off from the reader: volatile state is cleared.
func (c *Card) PowerOff() { c.clearSession() }

// Reset handles a warm reset from the reader: volatile state is cleared.
func (c *Card) Reset() { c.clearSession() }

func (c *Card) clearSession() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.session = newSession()
}

// Snapshot returns the card's persistent state in the format Load reads.
func (c *Card) Snapshot() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state.encode()
}

// persistLocked hands the persistent state to Config.Persist, if set.
func (c *Card) persistLocked() error {
	if c.cfg.Persist == nil {
		return nil
	}
	b, err := c.state.encode()
	if err != nil {
		return err
	}
	return c.cfg.Persist(b)
}

// Restore replaces the card's persistent state with a snapshot and drops its
// volatile state, as if the card had been swapped for one in that state.
// Tests use it to start every case from a known card without re-inserting
// it.
func (c *Card) Restore(snapshot []byte) error {
	st, err := decodeState(snapshot)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.Serial != c.state.Serial || st.Firmware != c.state.Firmware || st.profile() != c.profile {
		return fmt.Errorf("restore card state: snapshot is of %s card %d (firmware %q), not %s card %d (firmware %q)",
			st.profile(), st.Serial, st.Firmware, c.profile, c.state.Serial, c.state.Firmware)
	}
	c.state = st
	c.session = newSession()
	return c.persistLocked()
}
