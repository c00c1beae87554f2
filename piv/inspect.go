package piv

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/go-piv/piv-go/v2/piv"
)

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
		s, err := openRaw(ctx, info.Reader, false)
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
	_, v, err := parseMetadata(b, "default flag or retries missing", metadataField{0x05, 1}, metadataField{0x06, 2})
	if err != nil {
		return Counter{}, err
	}
	def, tries := v[0], v[1]
	return Counter{RetriesLeft: int(tries[1]), MaxRetries: int(tries[0]), Default: def[0] == 1}, nil
}

// parseManagementKey parses GET METADATA of the management key: `01 01
// alg`, `02 02 00 touch`, `05 01 default`.
func parseManagementKey(b []byte) (ManagementKeyStatus, error) {
	objs, v, err := parseMetadata(b, "algorithm or default flag missing", metadataField{0x01, 1}, metadataField{0x05, 1})
	if err != nil {
		return ManagementKeyStatus{}, err
	}
	alg, def := v[0], v[1]
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
	objs, v, err := parseMetadata(b, "algorithm or public key missing", metadataField{0x01, 1}, metadataField{0x04, anySize})
	if err != nil {
		return nil, err
	}
	alg, pub := v[0], v[1]
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

// metadataField is a data object that an answer to GET METADATA must
// hold: its tag and the size of its value, or anySize.
type metadataField struct {
	tag  byte
	size int
}

// anySize is the size of a field whose value may have any size.
const anySize = -1

// parseMetadata parses b, an answer to GET METADATA, and returns its
// objects and the values of the required fields, in their order. If one
// is missing or has another size, the error is missing, which names them.
func parseMetadata(b []byte, missing string, required ...metadataField) ([]tlv, [][]byte, error) {
	objs, err := parseTLVs(b)
	if err != nil {
		return nil, nil, err
	}
	values := make([][]byte, len(required))
	for i, f := range required {
		v, ok := findTLV(objs, f.tag)
		if !ok || f.size != anySize && len(v) != f.size {
			return nil, nil, errors.New(missing)
		}
		values[i] = v
	}
	return objs, values, nil
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
		// Another program may take the card while this one does not
		// hold it: wait for it, as Open does, here and to open it again.
		s, err := openRaw(ctx, c.info.Reader, true)
		if err == nil {
			st, err = inspect(s, c.info)
			s.close()
		}
		if err != nil {
			err = cardError(op, err)
		}
		var busy atomic.Bool
		reopened, rerr := openWhenFree(ctx, c.info.Reader, true, &busy)
		if rerr != nil {
			return errors.Join(err, cardError("open the card again", rerr))
		}
		if c.info.Serial != 0 {
			if serial, serr := reopened.Serial(); serr != nil || serial != c.info.Serial {
				reopened.Close()
				return errors.Join(err, fmt.Errorf("another card is now in reader %q: insert card %d again", c.info.Reader, c.info.Serial))
			}
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
