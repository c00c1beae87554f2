package piv

import (
	"context"
	"errors"
	"fmt"

	"github.com/ebfe/scard"
	"github.com/notation-piv/notation-piv/piv/internal/apdu"
)

// Inspect reads the status of the card that info describes (from List)
// without a PIN, over a PC/SC connection of its own. It must not be called
// while the card is open in this process; see Card.Status for an open
// card. The card's serial number and GUID are those List read: opening
// the reader again costs SELECT and GET VERSION only.
func Inspect(ctx context.Context, info CardInfo) (*Status, error) {
	c, err := inContext(ctx, func(sc *scard.Context) (*Card, error) { return openReader(ctx, sc, info.Reader, false, 0) })
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.info.Serial, c.info.GUID = info.Serial, info.GUID
	c.serialRead, c.guidRead = true, true
	return c.Status(ctx)
}

// Status reads the card's status without a PIN.
//
// APDUs, on a YubiKey: GET METADATA `00 F7 00 <ref> 00` for the PIN (80),
// the PUK (81), the management key (9B) and each of the 24 slots, and GET
// DATA `00 CB 3F FF 05 5C 03 <object> 00` (plus GET RESPONSE for long
// certificates) for the slots 9a, 9c, 9d and 9e and every other slot that
// holds a key: 31 APDUs for a card whose keys are all in 9a, 9c, 9d and
// 9e. On other cards, and YubiKeys before firmware 5.3: VERIFY `00 20 00
// 80 00` for the PIN retries (which spends none, and tells nothing while
// the PIN is verified), and GET DATA for all 24 slots.
func (c *Card) Status(ctx context.Context) (*Status, error) {
	const op = "read card status"
	var st *Status
	err := c.do(ctx, op, func(conn conn) error {
		var err error
		if st, err = inspect(conn, c.info); err != nil {
			return cardError(op, err)
		}
		return nil
	})
	return st, err
}

// inspect reads a card's status over conn.
func inspect(conn conn, info CardInfo) (*Status, error) {
	st := &Status{Card: info, PIN: Counter{-1, -1, false}, PUK: Counter{-1, -1, false}}
	// Only YubiKeys have GET METADATA; trussed's applet answers it with
	// nothing.
	if info.Kind == KindYubiKey {
		if err := readCredentialMetadata(conn, st); err != nil {
			return nil, err
		}
	}
	if !st.Metadata {
		// No GET METADATA: an older YubiKey or another PIV card. VERIFY
		// without data tells the PIN retries and spends none.
		pin, err := pinStatus(conn)
		if err != nil {
			return nil, err
		}
		if !pin.verified {
			st.PIN.RetriesLeft = pin.retries
		}
	}
	for _, slot := range allSlots {
		ss := SlotStatus{Slot: slot}
		if st.Metadata {
			b, err := apdu.Exchange(conn, metadata("get metadata of slot "+slot.String(), slot.key))
			switch sw := apdu.SW(err); {
			case err == nil:
				if ss.Key, err = parseKeyStatus(b); err != nil {
					return nil, fmt.Errorf("metadata of slot %s: %w", slot, err)
				}
			case sw != 0x6A88 && sw != 0x6A82:
				return nil, err
			}
		}
		primary := slot.key >= 0x9a
		if ss.Key != nil || primary || !st.Metadata {
			cert, certErr, err := readCertificate(conn, "read certificate of slot "+slot.String(), slot.object())
			if err != nil {
				return nil, err
			}
			ss.Certificate, ss.CertificateError = cert, certErr
		}
		if ss.Key != nil || ss.Certificate != nil || ss.CertificateError != nil {
			st.Slots = append(st.Slots, ss)
		}
	}
	return st, nil
}

// readCredentialMetadata reads the PIN, PUK and management key state with
// YubiKey's GET METADATA into st and sets st.Metadata; a YubiKey before
// firmware 5.3, which does not know the command, leaves st as it is.
func readCredentialMetadata(conn conn, st *Status) error {
	b, err := apdu.Exchange(conn, metadata("get PIN metadata", refPIN))
	switch {
	case notSupported(apdu.SW(err)):
		return nil
	case err != nil:
		return err
	}
	if st.PIN, err = parseCounter(b); err != nil {
		return fmt.Errorf("PIN metadata: %w", err)
	}
	if b, err = apdu.Exchange(conn, metadata("get PUK metadata", refPUK)); err != nil {
		return err
	}
	if st.PUK, err = parseCounter(b); err != nil {
		return fmt.Errorf("PUK metadata: %w", err)
	}
	if b, err = apdu.Exchange(conn, metadata("get management key metadata", 0x9B)); err != nil {
		return err
	}
	if st.ManagementKey, err = parseManagementKey(b); err != nil {
		return fmt.Errorf("management key metadata: %w", err)
	}
	st.Metadata = true
	return nil
}

// metadata is YubiKey's GET METADATA of a key reference: `00 F7 00 <ref>
// 00`.
func metadata(name string, ref byte) apdu.Command {
	return apdu.Command{Name: name, Ins: 0xF7, P2: ref, WantsData: true}
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
	if pol, ok := apdu.Find(objs, 0x02); ok && len(pol) == 2 {
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
	if pol, ok := apdu.Find(objs, 0x02); ok && len(pol) == 2 {
		k.PINPolicy, k.TouchPolicy = pinPolicyNames[pol[0]], touchPolicyNames[pol[1]]
	}
	if origin, ok := apdu.Find(objs, 0x03); ok && len(origin) == 1 {
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
func parseMetadata(b []byte, missing string, required ...metadataField) ([]apdu.TLV, [][]byte, error) {
	objs, err := apdu.ParseTLVs(b)
	if err != nil {
		return nil, nil, err
	}
	values := make([][]byte, len(required))
	for i, f := range required {
		v, ok := apdu.Find(objs, uint32(f.tag))
		if !ok || f.size != anySize && len(v) != f.size {
			return nil, nil, errors.New(missing)
		}
		values[i] = v
	}
	return objs, values, nil
}
