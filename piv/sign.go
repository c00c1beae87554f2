package piv

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	cryptorand "crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/notation-piv/notation-piv/piv/internal/apdu"
)

// DefaultTimeout is the SignerOptions.Timeout used when none is set. It
// leaves time for a touch: a YubiKey waits 15 s for one.
const DefaultTimeout = 30 * time.Second

// touchNoticeDelay is how long a signature may take before
// SignerOptions.TouchNotice is called.
const touchNoticeDelay = 2 * time.Second

// swSecurityStatusNotSatisfied is the card's answer to a signature that
// needs the PIN.
const swSecurityStatusNotSatisfied = 0x6982

// SignerOptions tunes the Signer of a Card.
type SignerOptions struct {
	// Timeout bounds each exchange with the card: the signature itself
	// (including a wait for a touch), the PIN status query, and the PIN
	// verification with the signature that follows it. Time spent in the
	// PINSource does not count. 0 means DefaultTimeout. A signature that
	// times out returns a *TimeoutError.
	Timeout time.Duration
	// TouchNotice, if not nil, is called when the card has not answered a
	// signature after about two seconds, typically because it waits for a
	// touch. It is called at most once per signature, from another
	// goroutine, and should write to /dev/tty, never to stdout or stderr.
	TouchNotice func()
	// AllowLastPINTry lets a signature try the PIN when the card has only
	// one try left. Without it the signer refuses with a *CredentialError
	// whose LastTry is set, before the PIN source is asked: a wrong PIN would
	// block the card, so a misconfigured pipeline must not be the one to
	// try it.
	AllowLastPINTry bool
}

// Signer returns a crypto.Signer for the key in slot, whose certificate is
// cert (from Certificate). The key spec comes from the certificate's
// public key: keys of other than KeySpecs get a
// *keyspec.UnsupportedKeyError. pin is asked for the PIN only if the card needs it
// (nil means ErrNoPIN in that case).
//
// Signer sends nothing to the card. Each signature is verified with the
// certificate's public key, so a certificate that belongs to another key
// gives an error wrapping ErrKeyMismatch rather than a bad signature.
func (c *Card) Signer(slot Slot, cert *x509.Certificate, pin PINSource, opts SignerOptions) (crypto.Signer, error) {
	if err := slot.check(); err != nil {
		return nil, err
	}
	if cert == nil {
		return nil, fmt.Errorf("signer for slot %s: no certificate given: read it with Card.Certificate", slot)
	}
	if _, err := KeySpecOf(cert.PublicKey); err != nil {
		return nil, fmt.Errorf("certificate %q in slot %s: %w", cert.Subject, slot, err)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	return &signer{card: c, slot: slot, pub: cert.PublicKey, pin: pin, opts: opts}, nil
}

// signer is a crypto.Signer backed by a key on a card.
type signer struct {
	card *Card
	slot Slot
	pub  crypto.PublicKey // *ecdsa.PublicKey or *rsa.PublicKey
	pin  PINSource
	opts SignerOptions
}

// Public returns the public key of the slot's certificate.
func (s *signer) Public() crypto.PublicKey { return s.pub }

// Sign signs digest on the card. For ECDSA keys it returns an ASN.1 DER
// signature, as crypto/ecdsa does, and opts may be nil or name the hash
// that made digest. RSA keys need *rsa.PSSOptions (RSASSA-PSS, with the
// salt drawn from rand, or crypto/rand if rand is nil); PKCS #1 v1.5 is
// refused.
//
// A signature sends these APDUs:
//
//  1. GENERAL AUTHENTICATE `00 87 <alg> <slot> L 7C L {82 00, 81 L <digest
//     or PSS-encoded block>}` (an RSA block is sent as a command chain,
//     CLA 10), answered `7C L {82 L <signature>}` 9000. A key with PIN
//     policy "never", or "once" with the PIN already verified in this
//     session, stops here: the PIN is not asked.
//  2. If the card answers 6982 (security status not satisfied), VERIFY
//     `00 20 00 80 00` reads the PIN status: 63Cx gives the retries left
//     for the prompt; 6983 or 63C0 means blocked (a *CredentialError, no
//     prompt);
//     9000 means verified, yet the key has PIN policy "always" and needs
//     a VERIFY right before each use.
//  3. With one try left and SignerOptions.AllowLastPINTry unset, the
//     signature stops with a *CredentialError whose LastTry is set. Otherwise
//     the PINSource is called, once.
//  4. VERIFY `00 20 00 80 08 <PIN padded with FF>`. A wrong PIN stops here
//     with a *CredentialError; it is never retried.
//  5. GENERAL AUTHENTICATE as in 1, straight after the VERIFY as policy
//     "always" requires.
//
// So an EC-256 signature takes 1 APDU without a PIN and 4 with one; with
// Open (SELECT and GET VERSION), Certificate (GET DATA and GET RESPONSE)
// and ReadSerial a whole signature takes 9. Trying the signature first
// costs one APDU when a PIN is needed but learns the PIN policy without
// the YubiKey-only metadata (F7) or attestation (F9) commands, which other
// cards lack, and never asks for a PIN the key does not need.
func (s *signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	op := "sign with slot " + s.slot.String()
	if err := s.checkInput(digest, opts); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if rand == nil {
		rand = cryptorand.Reader
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
	l, err := s.card.lease(ctx, op)
	cancel()
	if err != nil {
		return nil, err
	}
	defer l.release()

	var notice func()
	if s.opts.TouchNotice != nil {
		var once sync.Once
		notice = func() { once.Do(s.opts.TouchNotice) }
	}
	var sig []byte
	err = s.exchange(l, op, func(conn conn) error {
		var err error
		sig, err = s.sign(conn, op, rand, digest, opts, notice)
		return err
	})
	var ce *CardError
	if errors.As(err, &ce) && ce.SW == swSecurityStatusNotSatisfied {
		sig, err = s.signWithPIN(l, op, rand, digest, opts, notice)
	}
	if err != nil {
		return nil, err
	}
	if !s.verify(digest, sig, opts) {
		return nil, fmt.Errorf("%s: %w", op, ErrKeyMismatch)
	}
	return sig, nil
}

// signWithPIN runs steps 2 to 5 of a signature (see Sign).
func (s *signer) signWithPIN(l *lease, op string, rand io.Reader, digest []byte, opts crypto.SignerOpts, notice func()) ([]byte, error) {
	retries := -1
	err := s.exchange(l, "read PIN retries", func(conn conn) error {
		st, err := pinStatus(conn)
		switch {
		case err != nil:
			return cardError("read PIN retries", err)
		case st.blocked():
			return fmt.Errorf("%s: %w", op, &CredentialError{Secret: SecretPIN, Blocked: true})
		}
		// A verified PIN (9000) means that the key wants a fresh VERIFY
		// (PIN policy always); the retries are then unknown.
		retries = st.retries
		return nil
	})
	if err != nil {
		return nil, err
	}
	if retries == 1 && !s.opts.AllowLastPINTry {
		return nil, fmt.Errorf("%s: %w", op, &CredentialError{Secret: SecretPIN, RetriesLeft: 1, LastTry: true})
	}
	if s.pin == nil {
		return nil, fmt.Errorf("%s: %w", op, ErrNoPIN)
	}
	pin, err := s.pin(PINRequest{Serial: s.card.info.Serial, GUID: s.card.info.GUID, Slot: s.slot, RetriesLeft: retries})
	defer clear(pin)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := CheckPIN(pin); err != nil {
		var ce *CredentialError
		if errors.As(err, &ce) {
			ce.RetriesLeft = retries
		}
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	var sig []byte
	s.card.verified |= verifiedPIN
	err = s.exchange(l, op, func(conn conn) error {
		if err := verifyPIN(conn, pin); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		var err error
		sig, err = s.sign(conn, op, rand, digest, opts, notice)
		return err
	})
	return sig, err
}

// exchange runs f on the card within the signer's timeout.
func (s *signer) exchange(l *lease, op string, f func(conn conn) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
	defer cancel()
	return l.run(ctx, op, f)
}

// sign sends one GENERAL AUTHENTICATE and calls notice if the card takes
// longer than touchNoticeDelay.
func (s *signer) sign(conn conn, op string, rand io.Reader, digest []byte, opts crypto.SignerOpts, notice func()) ([]byte, error) {
	alg, block, err := s.block(rand, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	data := apdu.AppendTLV(nil, 0x7C, apdu.AppendTLV(apdu.AppendTLV(nil, 0x82, nil), 0x81, block))
	if notice != nil {
		t := time.AfterFunc(touchNoticeDelay, notice)
		defer t.Stop()
	}
	resp, err := apdu.Exchange(conn, apdu.Command{Name: op, Ins: 0x87, P1: alg, P2: s.slot.key, Data: data, WantsData: true})
	if err != nil {
		return nil, cardError(op, err)
	}
	objs, err := apdu.Unwrap(resp, 0x7C)
	if err != nil {
		return nil, fmt.Errorf("%s: the card's answer holds no signature: %v", op, err)
	}
	sig, ok := apdu.Find(objs, 0x82)
	if !ok || len(sig) == 0 {
		return nil, fmt.Errorf("%s: the card's answer holds no signature", op)
	}
	return sig, nil
}

// block returns the card's algorithm identifier for the signer's key and
// what the card signs: for ECDSA the digest, cut or padded to the size of
// the curve; for RSA the RSASSA-PSS block (see pssBlock).
func (s *signer) block(rand io.Reader, digest []byte, opts crypto.SignerOpts) (byte, []byte, error) {
	switch pub := s.pub.(type) {
	case *ecdsa.PublicKey:
		// ECDSA takes the leftmost bits of a longer digest and reads a
		// shorter one as a smaller number: cut or left-pad it to the
		// curve's size, which some cards insist on.
		size := (pub.Curve.Params().BitSize + 7) / 8
		if len(digest) >= size {
			digest = digest[:size]
		} else {
			digest = append(make([]byte, size-len(digest)), digest...)
		}
		switch size {
		case 32:
			return algEC256, digest, nil
		case 48:
			return algEC384, digest, nil
		}
	case *rsa.PublicKey:
		alg, ok := rsaAlgorithms[pub.N.BitLen()]
		if !ok {
			break
		}
		block, err := pssBlock(rand, pub, digest, opts.(*rsa.PSSOptions))
		return alg, block, err
	}
	return 0, nil, errors.New("the card cannot sign with this kind of key")
}

// Algorithm identifiers of SP 800-78-4 and YubiKey's RSA-3072 and
// RSA-4096, for GENERAL AUTHENTICATE.
const (
	algEC256 = 0x11
	algEC384 = 0x14
)

// rsaAlgorithms are the algorithm identifiers of RSA keys by modulus size.
var rsaAlgorithms = map[int]byte{1024: 0x06, 2048: 0x07, 3072: 0x05, 4096: 0x16}

// checkInput refuses what the key cannot sign before the card is asked.
func (s *signer) checkInput(digest []byte, opts crypto.SignerOpts) error {
	if _, ok := s.pub.(*rsa.PublicKey); ok {
		if _, ok := opts.(*rsa.PSSOptions); !ok {
			return errors.New("RSA keys sign only with RSASSA-PSS (*rsa.PSSOptions): Notary Project signatures do not allow PKCS #1 v1.5")
		}
		if !opts.HashFunc().Available() {
			return errors.New("RSASSA-PSS needs a hash function: set PSSOptions.Hash")
		}
	}
	if len(digest) == 0 {
		return errors.New("empty digest: pass the hash of the payload")
	}
	if opts != nil && opts.HashFunc() != 0 && len(digest) != opts.HashFunc().Size() {
		return fmt.Errorf("digest is %d bytes, but %v makes %d: pass the hash of the payload", len(digest), opts.HashFunc(), opts.HashFunc().Size())
	}
	return nil
}

// verify checks sig with the certificate's public key.
func (s *signer) verify(digest, sig []byte, opts crypto.SignerOpts) bool {
	switch pub := s.pub.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(pub, digest, sig)
	case *rsa.PublicKey:
		return rsa.VerifyPSS(pub, opts.HashFunc(), digest, sig, opts.(*rsa.PSSOptions)) == nil
	}
	return false
}
