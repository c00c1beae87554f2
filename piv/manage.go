package piv

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync/atomic"

	"github.com/go-piv/piv-go/v2/piv"
)

var (
	// ErrManagementKey means that the card refused the management key.
	ErrManagementKey = errors.New("the card refused the management key")

	// ErrNoProtectedKey means that the card keeps no PIN-protected copy of
	// its management key.
	ErrNoProtectedKey = errors.New("the card keeps no PIN-protected management key")
)

// PUKError reports a PUK the card did not accept, or a PUK that was not
// sent to the card at all (Malformed, LastTry). Each wrong PUK costs
// exactly one of the card's PUK retries.
type PUKError struct {
	// RetriesLeft is the number of PUK retries the card has left; -1 if
	// unknown.
	RetriesLeft int
	// Blocked means that no retries are left: the PIN can no longer be
	// unblocked, only the whole card reset.
	Blocked bool
	// Malformed means that the PUK was refused before it reached the card
	// (see CheckPUK); no retry was spent.
	Malformed bool
	// Problem says why a Malformed PUK was refused, as words that follow
	// "the PUK"; "" means "must be 6 to 8 characters long".
	Problem string
	// LastTry means that the card has one PUK try left and the PUK was not
	// sent; no retry was spent. Callers that guard the last try set it.
	LastTry bool
}

// Error says what happened, without the PUK.
func (e *PUKError) Error() string {
	switch {
	case e.Blocked:
		return "the PUK is blocked"
	case e.LastTry:
		return "no PUK was sent to the card: it has 1 PUK try left, and a wrong PUK would block the PUK for good"
	case e.Malformed:
		problem := e.Problem
		if problem == "" {
			problem = "must be 6 to 8 characters long"
		}
		return "the PUK " + problem + "; it was not sent to the card"
	case e.RetriesLeft < 0:
		return "wrong PUK"
	}
	return fmt.Sprintf("wrong PUK, %d %s left before the PUK is blocked", e.RetriesLeft, plural(e.RetriesLeft, "try", "tries"))
}

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

var (
	pinPolicyNames   = map[byte]string{0x01: PolicyNever, 0x02: PolicyOnce, 0x03: PolicyAlways, 0x04: PolicyMatchOnce, 0x05: PolicyMatchAlways}
	touchPolicyNames = map[byte]string{0x01: PolicyNever, 0x02: PolicyAlways, 0x03: PolicyCached}
	pinPolicies      = map[string]piv.PINPolicy{PolicyNever: piv.PINPolicyNever, PolicyOnce: piv.PINPolicyOnce, PolicyAlways: piv.PINPolicyAlways}
	touchPolicies    = map[string]piv.TouchPolicy{PolicyNever: piv.TouchPolicyNever, PolicyAlways: piv.TouchPolicyAlways, PolicyCached: piv.TouchPolicyCached}
	keyAlgorithms    = map[KeySpec]piv.Algorithm{
		KeySpecEC256: piv.AlgorithmEC256, KeySpecEC384: piv.AlgorithmEC384,
		KeySpecRSA2048: piv.AlgorithmRSA2048, KeySpecRSA3072: piv.AlgorithmRSA3072, KeySpecRSA4096: piv.AlgorithmRSA4096,
	}
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

// Inspect reads the status of the card that info describes (from List)
// without a PIN, over a PC/SC connection of its own. It must not be called
// while the card is open in this process; see Card.Status for an open
// card.
//
// APDUs, on a card that answers GET METADATA: SELECT, GET METADATA
// `00 F7 00 <ref> 00` for the PIN (80), the PUK (81), the management key
// (9B) and each of the 24 slots, and GET DATA `00 CB 3F FF 05 5C 03
// <object>` (plus GET RESPONSE for long certificates) for the slots 9a, 9c,
// 9d and 9e and every other slot that holds a key: 32 APDUs for a card
// whose keys are all in 9a, 9c, 9d and 9e. On other cards: SELECT, VERIFY
// `00 20 00 80 00` for the PIN retries (which spends none, and tells
// nothing while the PIN is verified), and GET DATA for all 24 slots.
func Inspect(ctx context.Context, info CardInfo) (*Status, error) {
	op := fmt.Sprintf("read the status of card %s", info)
	var st *Status
	_, err := await(ctx, op, func() error {
		s, err := openRaw(info.Reader)
		if err != nil {
			return cardError(op, err)
		}
		defer s.close()
		st, err = inspect(s, info)
		if err != nil {
			return cardError(op, err)
		}
		return nil
	}, nil)
	return st, err
}

// inspect reads a card's status over a raw session.
func inspect(s *rawSession, info CardInfo) (*Status, error) {
	st := &Status{Card: info, PIN: Counter{-1, -1, false}, PUK: Counter{-1, -1, false}}
	b, err := s.command("get PIN metadata", 0xF7, 0x00, 0x80, nil)
	switch sw := statusWord(err); {
	case err == nil:
		st.Metadata = true
		if st.PIN, err = parseCounter(b); err != nil {
			return nil, fmt.Errorf("PIN metadata: %w", err)
		}
		if b, err = s.command("get PUK metadata", 0xF7, 0x00, 0x81, nil); err != nil {
			return nil, err
		}
		if st.PUK, err = parseCounter(b); err != nil {
			return nil, fmt.Errorf("PUK metadata: %w", err)
		}
		if b, err = s.command("get management key metadata", 0xF7, 0x00, 0x9B, nil); err != nil {
			return nil, err
		}
		if st.ManagementKey, err = parseManagementKey(b); err != nil {
			return nil, fmt.Errorf("management key metadata: %w", err)
		}
	case sw == 0x6D00 || sw == 0x6A86 || sw == 0x6A81:
		// No GET METADATA: an older YubiKey or another PIV card. VERIFY
		// without data tells the PIN retries and spends none.
		_, err := s.command("read PIN retries", 0x20, 0x00, 0x80, nil)
		switch sw := statusWord(err); {
		case sw&0xFFF0 == 0x63C0:
			st.PIN.RetriesLeft = int(sw & 0xF)
		case sw == 0x6983:
			st.PIN.RetriesLeft = 0
		case err != nil && sw == 0:
			return nil, err
		}
	default:
		return nil, err
	}
	for _, slot := range allSlots {
		ss := SlotStatus{Slot: slot}
		if st.Metadata {
			b, err := s.command("get metadata of slot "+slot.String(), 0xF7, 0x00, slot.key, nil)
			switch {
			case err == nil:
				if ss.Key, err = parseKeyStatus(b); err != nil {
					return nil, fmt.Errorf("metadata of slot %s: %w", slot, err)
				}
			case statusWord(err) != 0x6A88 && statusWord(err) != 0x6A82:
				return nil, err
			}
		}
		primary := slot.key >= 0x9a
		if ss.Key != nil || primary || !st.Metadata {
			ss.Certificate, ss.CertificateError, err = readCertificate(s, slot)
			if err != nil {
				return nil, err
			}
		}
		if ss.Key != nil || ss.Certificate != nil || ss.CertificateError != nil {
			st.Slots = append(st.Slots, ss)
		}
	}
	return st, nil
}

// parseCounter parses GET METADATA of the PIN or the PUK: `05 01 default`,
// `06 02 max left`.
func parseCounter(b []byte) (Counter, error) {
	objs, err := parseTLVs(b)
	if err != nil {
		return Counter{}, err
	}
	def, ok1 := findTLV(objs, 0x05)
	tries, ok2 := findTLV(objs, 0x06)
	if !ok1 || !ok2 || len(def) != 1 || len(tries) != 2 {
		return Counter{}, errors.New("default flag or retries missing")
	}
	return Counter{RetriesLeft: int(tries[1]), MaxRetries: int(tries[0]), Default: def[0] == 1}, nil
}

// parseManagementKey parses GET METADATA of the management key: `01 01
// alg`, `02 02 00 touch`, `05 01 default`.
func parseManagementKey(b []byte) (ManagementKeyStatus, error) {
	objs, err := parseTLVs(b)
	if err != nil {
		return ManagementKeyStatus{}, err
	}
	alg, ok1 := findTLV(objs, 0x01)
	def, ok2 := findTLV(objs, 0x05)
	if !ok1 || !ok2 || len(alg) != 1 || len(def) != 1 {
		return ManagementKeyStatus{}, errors.New("algorithm or default flag missing")
	}
	m := ManagementKeyStatus{Algorithm: algorithmNames[alg[0]], Default: def[0] == 1}
	if m.Algorithm == "" {
		m.Algorithm = fmt.Sprintf("algorithm %02x", alg[0])
	}
	if pol, ok := findTLV(objs, 0x02); ok && len(pol) == 2 {
		m.Touch = pol[1] == 0x02 || pol[1] == 0x03
	}
	return m, nil
}

// parseKeyStatus parses GET METADATA of a slot: `01 01 alg`, `02 02 pin
// touch`, `03 01 origin`, `04 L public key`.
func parseKeyStatus(b []byte) (*KeyStatus, error) {
	objs, err := parseTLVs(b)
	if err != nil {
		return nil, err
	}
	alg, ok1 := findTLV(objs, 0x01)
	pub, ok2 := findTLV(objs, 0x04)
	if !ok1 || !ok2 || len(alg) != 1 {
		return nil, errors.New("algorithm or public key missing")
	}
	k := &KeyStatus{Algorithm: algorithmNames[alg[0]]}
	if k.Algorithm == "" {
		return nil, fmt.Errorf("unknown algorithm %02x", alg[0])
	}
	if k.PublicKey, err = decodePublicKey(alg[0], pub); err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	if pol, ok := findTLV(objs, 0x02); ok && len(pol) == 2 {
		k.PINPolicy, k.TouchPolicy = pinPolicyNames[pol[0]], touchPolicyNames[pol[1]]
	}
	if origin, ok := findTLV(objs, 0x03); ok && len(origin) == 1 {
		k.Generated = origin[0] == 0x01
	}
	return k, nil
}

// readCertificate reads a slot's certificate object: `53 L {70 L DER, 71
// 01 info, FE 00}`. A missing object gives three nils; an object that holds
// no usable certificate gives its problem as certErr.
func readCertificate(s *rawSession, slot Slot) (cert *x509.Certificate, certErr, err error) {
	obj := slot.piv().Object
	b, err := s.command("read certificate of slot "+slot.String(), 0xCB, 0x3F, 0xFF, []byte{0x5C, 0x03, byte(obj >> 16), byte(obj >> 8), byte(obj)})
	if sw := statusWord(err); sw == 0x6A82 || sw == 0x6A88 {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	outer, err := parseTLVs(b)
	if err != nil {
		return nil, fmt.Errorf("malformed certificate object: %v", err), nil
	}
	content, ok := findTLV(outer, 0x53)
	if !ok {
		return nil, errors.New("malformed certificate object: no tag 53"), nil
	}
	inner, err := parseTLVs(content)
	if err != nil {
		return nil, fmt.Errorf("malformed certificate object: %v", err), nil
	}
	der, ok := findTLV(inner, 0x70)
	if !ok || len(der) == 0 {
		return nil, nil, nil
	}
	if info, ok := findTLV(inner, 0x71); ok && len(info) == 1 && info[0]&0x01 != 0 {
		return nil, errors.New("the certificate is stored compressed, which notation-piv cannot read"), nil
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("not a valid X.509 certificate: %v", err), nil
	}
	return cert, nil, nil
}

// Status reads the card's status without a PIN (see Inspect). piv-go
// cannot send GET METADATA for the PIN, PUK and management key, so Status
// closes the card's piv-go connection (locking the card first if this
// session authenticated, see disconnect), reads over its own, and opens
// the card again. If the card cannot be opened again, the Card is closed.
func (c *Card) Status(ctx context.Context) (*Status, error) {
	const op = "read card status"
	l, err := c.lease(ctx, op)
	if err != nil {
		return nil, err
	}
	defer l.release()
	var st *Status
	err = l.run(ctx, op, func(*piv.YubiKey) error {
		if err := c.disconnect(); err != nil {
			return err
		}
		s, err := openRaw(c.info.Reader)
		if err == nil {
			st, err = inspect(s, c.info)
			s.close()
		}
		if err != nil {
			err = cardError(op, err)
		}
		// Another program may take the card while this one does not
		// hold it: wait for it, as Open does.
		var busy atomic.Bool
		reopened, rerr := openWhenFree(ctx, c.info.Reader, true, &busy)
		if rerr != nil {
			return errors.Join(err, cardError("open the card again", rerr))
		}
		if serial, serr := reopened.Serial(); c.info.Serial != 0 && (serr != nil || serial != c.info.Serial) {
			reopened.Close()
			return errors.Join(err, fmt.Errorf("another card is now in reader %q: insert card %d again", c.info.Reader, c.info.Serial))
		}
		handle, herr := pcscHandleOf(reopened)
		if herr != nil {
			reopened.Close()
			return errors.Join(err, herr)
		}
		c.yk, c.handle = reopened, handle
		return err
	})
	return st, err
}

// ParseManagementKey parses a management key written in hex (48 digits for
// a 3DES or AES-192 key, 32 for AES-128, 64 for AES-256). The error never
// contains the key.
func ParseManagementKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	key, err := hex.DecodeString(s)
	if err != nil {
		return nil, errors.New("the management key must be written in hex digits")
	}
	switch len(key) {
	case 16, 24, 32:
		return key, nil
	}
	wipe(key)
	return nil, fmt.Errorf("the management key is %d bytes; a PIV management key is 16, 24 or 32 bytes (32, 48 or 64 hex digits)", len(key))
}

// ReadManagementKeyFile reads a management key in hex (see
// ParseManagementKey) from a regular file of at most 1 KiB that neither
// group nor others may access (chmod 600).
func ReadManagementKeyFile(path string) ([]byte, error) {
	b, err := readSmallFile(path, 1024, func(fi fs.FileInfo) error {
		return checkPrivate("management key file", path, fi)
	})
	if err != nil {
		return nil, fmt.Errorf("management key file: %w", err)
	}
	defer wipe(b)
	key, err := ParseManagementKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("management key file %s: %w", path, err)
	}
	return key, nil
}

// ManagementKey resolves the key that authenticates changes to the card:
// given (from a file the user named) if not nil; else the factory key if
// st says the card still has it, or cannot tell; else the copy the card
// keeps PIN-protected (as yubikey-agent and "ykman piv access
// change-management-key --protect" store it), read with the PIN that pin
// returns. protected reports the last case. A wrong PIN gives a *PINError
// and costs one retry; a card without a protected copy gives an error
// wrapping ErrNoProtectedKey.
//
// APDUs for the protected copy: VERIFY `00 20 00 80 08 <PIN>` and GET DATA
// `00 CB 3F FF 05 5C 03 5F C1 09`.
func (c *Card) ManagementKey(ctx context.Context, st *Status, given []byte, pin func() ([]byte, error)) (key []byte, protected bool, err error) {
	switch {
	case given != nil:
		if n, ok := managementKeyLengths[st.ManagementKey.Algorithm]; ok && n != len(given) {
			return nil, false, fmt.Errorf("the management key given is %d bytes, but the card's management key is %s, %d bytes: give the card's management key", len(given), st.ManagementKey.Algorithm, n)
		}
		return bytes.Clone(given), false, nil
	case !st.Metadata || st.ManagementKey.Default:
		return bytes.Clone(piv.DefaultManagementKey), false, nil
	}
	p, err := pin()
	if err != nil {
		return nil, false, err
	}
	defer wipe(p)
	if err := CheckPIN(p); err != nil {
		return nil, false, err
	}
	const op = "read the PIN-protected management key"
	l, err := c.lease(ctx, op)
	if err != nil {
		return nil, false, err
	}
	defer l.release()
	err = l.run(ctx, op, func(yk *piv.YubiKey) error {
		m, err := yk.Metadata(string(p))
		switch {
		case err != nil:
			return authError(op, err, pinError)
		case m.ManagementKey == nil:
			return fmt.Errorf("card %d: %w", c.info.Serial, ErrNoProtectedKey)
		}
		key = bytes.Clone(*m.ManagementKey)
		wipe(*m.ManagementKey)
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return key, true, nil
}

// managementKeyLengths are the key lengths of the management key
// algorithms.
var managementKeyLengths = map[string]int{"3DES": 24, "AES-128": 16, "AES-192": 24, "AES-256": 32}

// authError maps a failed PIN, PUK or management key operation: an
// authentication failure (63Cx, 6983) to toAuth's error, a refused
// management key (6982) to ErrManagementKey, anything else to a
// *CardError.
func authError(op string, err error, toAuth func(error) error) error {
	var auth piv.AuthErr
	if errors.As(err, &auth) {
		return toAuth(err)
	}
	ce := cardError(op, err)
	if ce.SW == 0x6982 {
		return fmt.Errorf("%s: %w", op, ErrManagementKey)
	}
	return ce
}

// pukError turns a failed PUK check into a *PUKError.
func pukError(err error) error {
	var auth piv.AuthErr
	errors.As(err, &auth)
	return &PUKError{RetriesLeft: auth.Retries, Blocked: auth.Retries == 0}
}

// CheckNewSecret returns an error if secret cannot become a PIN or PUK: it
// must pass the checks of CheckPIN (6 to 8 bytes, no control character,
// no whitespace at either end), and hold no byte FF (the padding byte).
// what names it in the error, such as "the new PIN".
func CheckNewSecret(what string, secret []byte) error {
	if p := secretProblem(secret); p != "" {
		return fmt.Errorf("%s %s", what, p)
	}
	if bytes.IndexByte(secret, 0xFF) >= 0 {
		return fmt.Errorf("%s must not contain the byte FF", what)
	}
	return nil
}

// exec runs one piv-go call on the card under op.
func (c *Card) exec(ctx context.Context, op string, f func(yk *piv.YubiKey) error) error {
	l, err := c.lease(ctx, op)
	if err != nil {
		return err
	}
	defer l.release()
	// Card management verifies the PIN or the management key.
	c.resetOnClose = true
	return l.run(ctx, op, f)
}

// VerifyPIN checks the PIN on the card, which then counts as verified for
// keys with PIN policy "once" until the card is closed. A wrong PIN gives a
// *PINError and costs exactly one retry; a PIN that CheckPIN refuses
// (wrong length, whitespace at either end, a control character) never
// reaches the card.
//
// APDU: VERIFY `00 20 00 80 08 <PIN padded with FF>`.
func (c *Card) VerifyPIN(ctx context.Context, pin []byte) error {
	if err := CheckPIN(pin); err != nil {
		return err
	}
	return c.exec(ctx, "verify PIN", func(yk *piv.YubiKey) error {
		if err := yk.VerifyPIN(string(pin)); err != nil {
			return pinError(err)
		}
		return nil
	})
}

// ChangePIN sets a new PIN (checked with CheckNewSecret). A wrong old PIN
// gives a *PINError and costs exactly one retry.
//
// APDU: CHANGE REFERENCE DATA `00 24 00 80 10 <old> <new>`.
func (c *Card) ChangePIN(ctx context.Context, old, new []byte) error {
	if err := CheckPIN(old); err != nil {
		return err
	}
	if err := CheckNewSecret("the new PIN", new); err != nil {
		return err
	}
	const op = "change PIN"
	return c.exec(ctx, op, func(yk *piv.YubiKey) error {
		if err := yk.SetPIN(string(old), string(new)); err != nil {
			return authError(op, err, pinError)
		}
		return nil
	})
}

// ChangePUK sets a new PUK (checked with CheckNewSecret). A wrong old PUK
// gives a *PUKError and costs exactly one PUK retry.
//
// APDU: CHANGE REFERENCE DATA `00 24 00 81 10 <old> <new>`.
func (c *Card) ChangePUK(ctx context.Context, old, new []byte) error {
	if err := CheckPUK(old); err != nil {
		return err
	}
	if err := CheckNewSecret("the new PUK", new); err != nil {
		return err
	}
	const op = "change PUK"
	return c.exec(ctx, op, func(yk *piv.YubiKey) error {
		if err := yk.SetPUK(string(old), string(new)); err != nil {
			return authError(op, err, pukError)
		}
		return nil
	})
}

// UnblockPIN sets a new PIN with the PUK and restores the PIN's retries,
// whether or not the PIN is blocked. A wrong PUK gives a *PUKError and
// costs exactly one PUK retry.
//
// APDU: RESET RETRY COUNTER `00 2C 00 80 10 <PUK> <new PIN>`.
func (c *Card) UnblockPIN(ctx context.Context, puk, newPIN []byte) error {
	if err := CheckPUK(puk); err != nil {
		return err
	}
	if err := CheckNewSecret("the new PIN", newPIN); err != nil {
		return err
	}
	const op = "unblock PIN"
	return c.exec(ctx, op, func(yk *piv.YubiKey) error {
		if err := yk.Unblock(string(puk), string(newPIN)); err != nil {
			return authError(op, err, pukError)
		}
		return nil
	})
}

// KeyOptions says what key GenerateKey makes.
type KeyOptions struct {
	// Spec is the key type.
	Spec KeySpec
	// PINPolicy is PolicyNever, PolicyOnce or PolicyAlways.
	PINPolicy string
	// TouchPolicy is PolicyNever, PolicyAlways or PolicyCached.
	TouchPolicy string
}

// Check returns an error naming the valid values if o asks for something
// GenerateKey cannot make.
func (o KeyOptions) Check() error {
	if _, ok := keyAlgorithms[o.Spec]; !ok {
		specs := make([]string, len(supportedKeySpecs))
		for i, s := range supportedKeySpecs {
			specs[i] = string(s)
		}
		return fmt.Errorf("unknown key algorithm %q: use one of %s", o.Spec, strings.Join(specs, ", "))
	}
	if _, ok := pinPolicies[o.PINPolicy]; !ok {
		return fmt.Errorf("unknown PIN policy %q: use never, once or always", o.PINPolicy)
	}
	if _, ok := touchPolicies[o.TouchPolicy]; !ok {
		return fmt.Errorf("unknown touch policy %q: use never, always or cached", o.TouchPolicy)
	}
	return nil
}

// GenerateKey generates a new key in slot, replacing any key there, and
// returns its public key. The certificate in the slot, if any, is left as
// it is: store the new key's certificate with StoreCertificate.
//
// APDUs: management key authentication (GET METADATA `00 F7 00 9B 00` and
// two GENERAL AUTHENTICATE), then GENERATE ASYMMETRIC KEY PAIR `00 47 00
// <slot> 0B AC 09 80 01 <alg> AA 01 <pin> AB 01 <touch>`.
func (c *Card) GenerateKey(ctx context.Context, mgmtKey []byte, slot Slot, opts KeyOptions) (crypto.PublicKey, error) {
	if err := slot.check(); err != nil {
		return nil, err
	}
	if err := opts.Check(); err != nil {
		return nil, err
	}
	op := fmt.Sprintf("generate an %s key in slot %s", opts.Spec, slot)
	var pub crypto.PublicKey
	err := c.exec(ctx, op, func(yk *piv.YubiKey) error {
		var err error
		pub, err = yk.GenerateKey(mgmtKey, slot.piv(), piv.Key{
			Algorithm:   keyAlgorithms[opts.Spec],
			PINPolicy:   pinPolicies[opts.PINPolicy],
			TouchPolicy: touchPolicies[opts.TouchPolicy],
		})
		if err != nil {
			return authError(op, err, pinError)
		}
		return nil
	})
	return pub, err
}

// StoreCertificate stores cert in slot, replacing the certificate there.
// It does not check that cert belongs to the slot's key.
//
// APDUs: management key authentication, then PUT DATA `00 DB 3F FF L 5C 03
// <object> 53 L {70 L <DER> 71 01 00 FE 00}`, sent as a command chain.
func (c *Card) StoreCertificate(ctx context.Context, mgmtKey []byte, slot Slot, cert *x509.Certificate) error {
	if err := slot.check(); err != nil {
		return err
	}
	op := "store the certificate in slot " + slot.String()
	return c.exec(ctx, op, func(yk *piv.YubiKey) error {
		if err := yk.SetCertificate(mgmtKey, slot.piv(), cert); err != nil {
			return authError(op, err, pinError)
		}
		return nil
	})
}

// SetManagementKey replaces the management key old with a new one: newKey
// if protect is false (16, 24 or 32 bytes; 24 for a 3DES key on
// firmware before 5.4), or a random 24-byte key that the card keeps in its
// PIN-protected data object if protect is true, as yubikey-agent does; it
// then never leaves the card but through the PIN. Without protect a
// protected copy left from before is deleted.
//
// With protect the copy is stored before the key changes, with the old
// key, so that a failure in between leaves the old key working.
//
// APDUs: management key authentication, PUT DATA of object 5FC109 (for
// protect), authentication and SET MANAGEMENT KEY `00 FF FF FF 1B <alg> 9B
// 18 <key>`, and without protect authentication and PUT DATA of 5FC109.
func (c *Card) SetManagementKey(ctx context.Context, old, newKey []byte, protect bool) error {
	if protect {
		newKey = make([]byte, 24)
		if _, err := rand.Read(newKey); err != nil {
			return err
		}
		defer wipe(newKey)
	} else if _, err := ParseManagementKey(hex.EncodeToString(newKey)); err != nil {
		return err
	}
	const op = "set the management key"
	return c.exec(ctx, op, func(yk *piv.YubiKey) error {
		if protect {
			if err := yk.SetMetadata(old, &piv.Metadata{ManagementKey: &newKey}); err != nil {
				return authError("store the PIN-protected management key", err, pinError)
			}
		}
		if err := yk.SetManagementKey(old, newKey); err != nil {
			return authError(op, err, pinError)
		}
		if !protect {
			if err := yk.SetMetadata(newKey, &piv.Metadata{}); err != nil {
				return authError("delete the PIN-protected management key", err, pinError)
			}
		}
		return nil
	})
}

// Reset erases every key and certificate on the card and restores the
// factory PIN (123456), PUK (12345678) and management key. A YubiKey resets
// only once the PIN and the PUK are blocked, so Reset first blocks both
// with random wrong values.
//
// APDUs: VERIFY and CHANGE REFERENCE DATA (PUK) with random values until
// each is blocked, then RESET `00 FB 00 00`.
func (c *Card) Reset(ctx context.Context) error {
	const op = "reset the card"
	return c.exec(ctx, op, func(yk *piv.YubiKey) error {
		if err := yk.Reset(); err != nil {
			return cardError(op, err)
		}
		return nil
	})
}

// KeySigner returns a crypto.Signer for the key in slot whose public key is
// pub, such as one just made by GenerateKey, for signing its certificate or
// a certificate request. It behaves as the Signer of Card.Signer.
func (c *Card) KeySigner(slot Slot, pub crypto.PublicKey, pin PINSource, opts SignerOptions) (crypto.Signer, error) {
	if err := slot.check(); err != nil {
		return nil, err
	}
	if _, err := KeySpecOf(pub); err != nil {
		return nil, fmt.Errorf("key in slot %s: %w", slot, err)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	return &signer{card: c, slot: slot, pub: pub, pin: pin, opts: opts}, nil
}
