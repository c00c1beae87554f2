package piv

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"

	"github.com/ebfe/scard"
)

// rawSession is a PC/SC connection of its own to one card, for the YubiKey
// commands that piv-go sends but cannot parse: GET METADATA of the PIN, the
// PUK and the management key, whose algorithm byte piv-go's KeyInfo
// refuses. Like piv-go it holds the card exclusively, so it never overlaps
// a piv-go handle on the same card.
type rawSession struct {
	ctx  *scard.Context
	card *scard.Card
}

// rawStatusError is a status word other than 9000 from a raw command.
type rawStatusError struct {
	cmd string
	sw  uint16
}

func (e *rawStatusError) Error() string {
	return fmt.Sprintf("%s: the card answered %04x", e.cmd, e.sw)
}

// Status returns the status word, as piv-go's errors do, for cardError.
func (e *rawStatusError) Status() uint16 { return e.sw }

// pivAID is the PIV application's identifier, truncated as piv-go sends it.
var pivAID = []byte{0xA0, 0x00, 0x00, 0x03, 0x08}

// openRaw connects to the card in reader and selects the PIV application.
// With wait set, while another program holds the card it tries again
// until ctx ends, as Open does (see whileBusy).
//
// APDUs: SELECT `00 A4 04 00 05 A0 00 00 03 08`.
func openRaw(ctx context.Context, reader string, wait bool) (*rawSession, error) {
	var sc *scard.Context
	err := retryConnect(ctx, func() (err error) { sc, err = scard.EstablishContext(); return err })
	if err != nil {
		return nil, fmt.Errorf("connect to pcscd: %w", withSocket(err))
	}
	var card *scard.Card
	err = whileBusy(ctx, wait, func() (bool, error) {
		var err error
		card, err = sc.Connect(reader, scard.ShareExclusive, scard.ProtocolT1)
		return errors.Is(err, scard.ErrSharingViolation), err
	})
	if err != nil {
		sc.Release()
		return nil, fmt.Errorf("connect to the card in reader %q: %w", reader, err)
	}
	s := &rawSession{ctx: sc, card: card}
	if _, err := s.command("select PIV application", 0xA4, 0x04, 0x00, pivAID); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// close disconnects, leaving the card powered and its state as it is.
func (s *rawSession) close() {
	s.card.Disconnect(scard.LeaveCard)
	s.ctx.Release()
}

// command sends a short APDU with CLA 00 and returns the response data. As
// piv-go does, a command with data has no Le and one without has Le 00; a
// 61xx answer is followed by GET RESPONSE `00 C0 00 00 00` until 9000. A
// status word other than 9000 gives a *rawStatusError; a PC/SC failure
// another error.
func (s *rawSession) command(name string, ins, p1, p2 byte, data []byte) ([]byte, error) {
	apdu := []byte{0x00, ins, p1, p2}
	if len(data) > 0 {
		apdu = append(append(apdu, byte(len(data))), data...)
	} else {
		apdu = append(apdu, 0x00)
	}
	var out []byte
	for {
		resp, err := s.card.Transmit(apdu)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(resp) < 2 {
			return nil, fmt.Errorf("%s: the card answered %d bytes, too short for a status word", name, len(resp))
		}
		n := len(resp) - 2
		out = append(out, resp[:n]...)
		sw := uint16(resp[n])<<8 | uint16(resp[n+1])
		switch {
		case sw == 0x9000:
			return out, nil
		case sw>>8 == 0x61:
			apdu = []byte{0x00, 0xC0, 0x00, 0x00, 0x00}
		default:
			return nil, &rawStatusError{cmd: name, sw: sw}
		}
	}
}

// statusWord returns the status word of a *rawStatusError, or 0.
func statusWord(err error) uint16 {
	var se *rawStatusError
	if errors.As(err, &se) {
		return se.sw
	}
	return 0
}

// tlv is one BER-TLV data object with a one-byte tag.
type tlv struct {
	tag   byte
	value []byte
}

// parseTLVs splits b into data objects with one-byte tags and lengths in
// short or long form (81 xx, 82 xx xx), as GET METADATA and GET DATA
// answer.
func parseTLVs(b []byte) ([]tlv, error) {
	var out []tlv
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, errors.New("truncated data object")
		}
		tag, n, rest := b[0], int(b[1]), b[2:]
		switch b[1] {
		case 0x81:
			if len(rest) < 1 {
				return nil, errors.New("truncated length")
			}
			n, rest = int(rest[0]), rest[1:]
		case 0x82:
			if len(rest) < 2 {
				return nil, errors.New("truncated length")
			}
			n, rest = int(rest[0])<<8|int(rest[1]), rest[2:]
		default:
			if n > 0x7F {
				return nil, fmt.Errorf("unsupported length form %02x", b[1])
			}
		}
		if len(rest) < n {
			return nil, fmt.Errorf("data object %02x is %d bytes, only %d present", tag, n, len(rest))
		}
		out = append(out, tlv{tag: tag, value: rest[:n]})
		b = rest[n:]
	}
	return out, nil
}

// findTLV returns the value of the first object with tag.
func findTLV(objs []tlv, tag byte) ([]byte, bool) {
	for _, o := range objs {
		if o.tag == tag {
			return o.value, true
		}
	}
	return nil, false
}

// Algorithm identifiers of SP 800-78-4 and Yubico's extensions, in GET
// METADATA and GENERATE.
var algorithmNames = map[byte]string{
	0x06: "RSA-1024",
	0x07: "RSA-2048",
	0x05: "RSA-3072",
	0x16: "RSA-4096",
	0x11: "EC-256",
	0x14: "EC-384",
	0xE0: "Ed25519",
	0xE1: "X25519",
	0x03: "3DES",
	0x08: "AES-128",
	0x0A: "AES-192",
	0x0C: "AES-256",
}

// decodePublicKey decodes the public key of GET METADATA tag 04: `86 point`
// for EC, Ed25519 and X25519 keys, `81 n 82 e` for RSA keys.
func decodePublicKey(alg byte, b []byte) (crypto.PublicKey, error) {
	objs, err := parseTLVs(b)
	if err != nil {
		return nil, err
	}
	switch alg {
	case 0x06, 0x07, 0x05, 0x16:
		n, ok1 := findTLV(objs, 0x81)
		e, ok2 := findTLV(objs, 0x82)
		if !ok1 || !ok2 || len(e) == 0 || len(e) > 4 {
			return nil, errors.New("RSA public key without modulus or exponent")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, nil
	}
	point, ok := findTLV(objs, 0x86)
	if !ok {
		return nil, errors.New("public key without point")
	}
	switch alg {
	case 0x11:
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	case 0x14:
		return ecdsa.ParseUncompressedPublicKey(elliptic.P384(), point)
	case 0xE0:
		if len(point) != ed25519.PublicKeySize {
			return nil, errors.New("Ed25519 public key of the wrong size")
		}
		return ed25519.PublicKey(point), nil
	case 0xE1:
		return ecdh.X25519().NewPublicKey(point)
	}
	return nil, fmt.Errorf("unknown algorithm %02x", alg)
}
