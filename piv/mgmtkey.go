package piv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/notation-piv/notation-piv/internal/inputfile"
	"github.com/notation-piv/notation-piv/piv/internal/apdu"
)

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
	clear(key)
	return nil, fmt.Errorf("the management key is %d bytes; a PIV management key is 16, 24 or 32 bytes (32, 48 or 64 hex digits)", len(key))
}

// maxManagementKeyFile bounds a management key file: 64 hex digits at
// most, and some white space.
const maxManagementKeyFile = 1024

// ReadManagementKeyFile reads a management key in hex (see
// ParseManagementKey) from a regular file of at most 1 KiB that only the
// current user can read (see inputfile.ReadPrivate).
func ReadManagementKeyFile(path string) ([]byte, error) {
	b, err := inputfile.ReadPrivate(path, maxManagementKeyFile)
	if err != nil {
		return nil, fmt.Errorf("management key file: %w", err)
	}
	defer clear(b)
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
// returns. protected reports the last case. A wrong PIN gives a
// *CredentialError and costs one retry; a card without a protected copy
// gives an error wrapping ErrNoProtectedKey.
//
// APDUs for the protected copy: VERIFY `00 20 00 80 08 <PIN>` and GET DATA
// `00 CB 3F FF 05 5C 03 5F C1 09`.
func (c *Card) ManagementKey(ctx context.Context, st *Status, given []byte, pin func() ([]byte, error)) (key []byte, protected bool, err error) {
	const op = "read the PIN-protected management key"
	if err := c.CheckManagement("authenticate with the management key"); err != nil {
		return nil, false, err
	}
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
	defer clear(p)
	if err := CheckPIN(p); err != nil {
		return nil, false, err
	}
	err = c.do(ctx, op, func(conn conn) error {
		// The PIN is verified before the copy is read: Close must make
		// the card forget it, even if no copy is found.
		c.verified |= verifiedPIN
		if err := verifyPIN(conn, p); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		b, err := apdu.Exchange(conn, getData(op, objectProtected))
		if sw := apdu.SW(err); sw == 0x6A82 || sw == 0x6A88 {
			return fmt.Errorf("card %d: %w", c.info.Serial, ErrNoProtectedKey)
		} else if err != nil {
			return cardError(op, err)
		}
		defer clear(b)
		if key, err = protectedManagementKey(b); err != nil {
			return fmt.Errorf("card %d: %w", c.info.Serial, err)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return key, true, nil
}

// objectProtected is YubiKey's PIN-protected data object, where
// yubikey-agent and ykman keep the management key.
const objectProtected = 0x5FC109

// protectedManagementKey returns a copy of the management key in the
// answer to GET DATA of objectProtected: `53 L {88 L {89 L key}}`. An
// object without a key gives an error wrapping ErrNoProtectedKey.
func protectedManagementKey(b []byte) ([]byte, error) {
	objs, err := apdu.Unwrap(b, 0x53)
	if err != nil {
		return nil, fmt.Errorf("malformed PIN-protected data object: %w", err)
	}
	inner, ok := apdu.Find(objs, 0x88)
	if !ok {
		return nil, ErrNoProtectedKey
	}
	fields, err := apdu.ParseTLVs(inner)
	if err != nil {
		return nil, fmt.Errorf("malformed PIN-protected data object: %w", err)
	}
	key, ok := apdu.Find(fields, 0x89)
	if !ok {
		return nil, ErrNoProtectedKey
	}
	if _, err := ParseManagementKey(hex.EncodeToString(key)); err != nil {
		return nil, fmt.Errorf("the PIN-protected management key: %w", err)
	}
	return bytes.Clone(key), nil
}

// managementKeyLengths are the key lengths of the management key
// algorithms.
var managementKeyLengths = map[string]int{"3DES": 24, "AES-128": 16, "AES-192": 24, "AES-256": 32}

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
		defer clear(newKey)
	} else if _, err := ParseManagementKey(hex.EncodeToString(newKey)); err != nil {
		return err
	}
	const op = "set the management key"
	return c.manage(ctx, op, func(yk *piv.YubiKey) error {
		if protect {
			if err := yk.SetMetadata(old, &piv.Metadata{ManagementKey: &newKey}); err != nil {
				return credentialError("store the PIN-protected management key", SecretPIN, err)
			}
		}
		if err := yk.SetManagementKey(old, newKey); err != nil {
			return credentialError(op, SecretPIN, err)
		}
		if !protect {
			if err := yk.SetMetadata(newKey, &piv.Metadata{}); err != nil {
				return credentialError("delete the PIN-protected management key", SecretPIN, err)
			}
		}
		return nil
	})
}
