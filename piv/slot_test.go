package piv

import (
	"strings"
	"testing"
)

func TestParseSlot(t *testing.T) {
	valid := map[string]string{
		"9a": "9a", "9c": "9c", "9d": "9d", "9e": "9e",
		"9A": "9a", "9C": "9c", "9D": "9d", "9E": "9e",
		"82": "82", "8a": "8a", "8F": "8f", "90": "90", "95": "95",
	}
	for in, want := range valid {
		s, err := ParseSlot(in)
		if err != nil {
			t.Errorf("ParseSlot(%q): %v", in, err)
			continue
		}
		if s.String() != want {
			t.Errorf("ParseSlot(%q) = %s, want %s", in, s, want)
		}
		if got := s.piv().Key; got != uint32(s.key) {
			t.Errorf("ParseSlot(%q): piv-go slot key %x, want %x", in, got, s.key)
		}
	}
	invalid := []string{
		"", "9", "9b", "9f", "81", "96", "f9", "00", "0x9c", " 9c", "9c ", "9c\n",
		"\t9a", "9 c", "9cc", "slot9c", "+9c", "９c", strings.Repeat("9", 100),
	}
	for _, in := range invalid {
		s, err := ParseSlot(in)
		if err == nil {
			t.Errorf("ParseSlot(%q) = %s, want an error", in, s)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "9a, 9c, 9d, 9e or 82 to 95") {
			t.Errorf("ParseSlot(%q) error %q does not list the valid slots", in, msg)
		}
		if len(err.Error()) > 200 {
			t.Errorf("ParseSlot(%q) error is %d bytes long", in, len(err.Error()))
		}
	}
	// Every retired slot maps to piv-go's slot with the same key.
	for k := 0x82; k <= 0x95; k++ {
		s := Slot{key: byte(k)}
		if s.check() != nil || s.piv().Key != uint32(k) {
			t.Errorf("slot %x: check %v, piv-go key %x", k, s.check(), s.piv().Key)
		}
	}
	if err := (Slot{}).check(); err == nil {
		t.Error("the zero Slot passes check")
	}
}
