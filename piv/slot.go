package piv

import (
	"fmt"

	"github.com/go-piv/piv-go/v2/piv"
)

// Slot is a PIV key slot that can hold a signing key and its certificate:
// 9a, 9c, 9d, 9e or one of the retired key management slots 82 to 95. The
// zero Slot is invalid; get one from ParseSlot.
type Slot struct {
	key byte
}

// ParseSlot parses a slot written as two hex digits, in either case, such
// as "9c" or "8A". Nothing else is accepted: no "0x" prefix, no
// whitespace.
func ParseSlot(keyID string) (Slot, error) {
	if len(keyID) == 2 {
		hi, ok1 := unhex(keyID[0])
		lo, ok2 := unhex(keyID[1])
		s := Slot{key: hi<<4 | lo}
		if ok1 && ok2 && s.valid() {
			return s, nil
		}
	}
	if len(keyID) > 20 {
		keyID = keyID[:20] + "..."
	}
	return Slot{}, fmt.Errorf("invalid PIV slot %q: use one of 9a, 9c, 9d, 9e or 82 to 95 (two hex digits)", keyID)
}

// String returns the slot in lowercase hex, such as "9c".
func (s Slot) String() string {
	return fmt.Sprintf("%02x", s.key)
}

func (s Slot) valid() bool {
	switch {
	case s.key == 0x9a, s.key == 0x9c, s.key == 0x9d, s.key == 0x9e:
		return true
	case s.key >= 0x82 && s.key <= 0x95:
		return true
	}
	return false
}

// check returns an error for the zero Slot, which only a caller that
// ignored ParseSlot's error can have.
func (s Slot) check() error {
	if !s.valid() {
		return fmt.Errorf("invalid PIV slot %s: get slots from ParseSlot", s)
	}
	return nil
}

// object returns the data object that holds the slot's certificate (SP
// 800-73-4 part 1, table 3); s must be valid.
func (s Slot) object() uint32 {
	switch s.key {
	case 0x9a:
		return 0x5FC105
	case 0x9c:
		return 0x5FC10A
	case 0x9d:
		return 0x5FC10B
	case 0x9e:
		return 0x5FC101
	}
	// Retired key management slots 82 to 95: objects 5FC10D to 5FC120.
	return 0x5FC10D + uint32(s.key-0x82)
}

// piv returns the piv-go slot; s must be valid.
func (s Slot) piv() piv.Slot {
	switch s.key {
	case 0x9a:
		return piv.SlotAuthentication
	case 0x9c:
		return piv.SlotSignature
	case 0x9d:
		return piv.SlotKeyManagement
	case 0x9e:
		return piv.SlotCardAuthentication
	}
	slot, _ := piv.RetiredKeyManagementSlot(uint32(s.key))
	return slot
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
