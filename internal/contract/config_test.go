package contract

import (
	"errors"
	"strings"
	"testing"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/internal/signing"
	"github.com/notation-piv/notation-piv/piv"
)

// TestConfigGUID checks pluginConfig guid: the GUID of a card without a
// serial number, given as notation-piv list shows it or as a UUID, in
// either case, picks the card by its 32 lowercase hex digits; anything
// else is a VALIDATION_ERROR that names the key and the format, before
// the card.
func TestConfigGUID(t *testing.T) {
	const want = "0123456789abcdef0123456789abcdef"
	for _, v := range []string{want, strings.ToUpper(want), "01234567-89AB-cdef-0123-456789abcdef"} {
		c, err := parseConfig(map[string]string{"guid": v})
		if err != nil {
			t.Errorf("guid=%s: %v", v, err)
			continue
		}
		plan, err := signing.NewPlan(withSlot(c.settings))
		if err != nil {
			t.Errorf("guid=%s: plan: %v", v, err)
			continue
		}
		plan.Close()
		if c.settings.GUID != want {
			t.Errorf("guid=%s: settings hold %q, want %q", v, c.settings.GUID, want)
		}
		if sel, err := signing.CardSelector(c.settings.Serial, c.settings.GUID, c.settings.Reader); err != nil || sel != (piv.Selector{GUID: want}) {
			t.Errorf("guid=%s: selector %+v, %v", v, sel, err)
		}
	}
	both, err := parseConfig(map[string]string{"guid": want, "serial": "12345678", "reader": "Nitrokey"})
	if err != nil {
		t.Fatal(err)
	}
	if sel, err := signing.CardSelector(both.settings.Serial, both.settings.GUID, both.settings.Reader); err != nil || sel != (piv.Selector{Serial: 12345678, GUID: want, Reader: "Nitrokey"}) {
		t.Errorf("serial, guid and reader: selector %+v, %v", sel, err)
	}

	for _, v := range []string{
		"0123456789abcdef0123456789abcde",   // 31 digits
		"0123456789abcdef0123456789abcdef0", // 33
		"0123456789abcdef0123456789abcdeg",  // not hex
		"01234567-89ab-cdef-0123-456789abcdef0",
		"0123456789-abcdef-0123-456789abcdef",
		"{01234567-89ab-cdef-0123-456789abcdef}",
		"24680246",
	} {
		_, err := parseConfig(map[string]string{"guid": v})
		var perr *plugin.Error
		if !errors.As(err, &perr) || perr.ErrCode != plugin.ErrorCodeValidation {
			t.Errorf("guid=%s: %v, want a VALIDATION_ERROR", v, err)
			continue
		}
		for _, want := range []string{"pluginConfig guid", quote(v), "is not a card GUID", "32 hex digits", "8-4-4-4-12", `"notation-piv list"`} {
			if !strings.Contains(perr.Message, want) {
				t.Errorf("guid=%s: %q lacks %q", v, perr.Message, want)
			}
		}
	}
	// A GUID that does not come through pluginConfig is checked all the
	// same, and named by the setting.
	_, err = signing.NewPlan(withSlot(signing.Settings{GUID: "not a GUID"}))
	if perr := toPluginError(err); perr.ErrCode != plugin.ErrorCodeValidation || !strings.HasPrefix(perr.Message, "pluginConfig guid: ") ||
		!strings.Contains(perr.Message, "32 hex digits") {
		t.Errorf("settings with a bad GUID: %s %q", perr.ErrCode, perr.Message)
	}
}

// withSlot gives settings the slot a request's keyId sets.
func withSlot(s signing.Settings) signing.Settings {
	s.Slot = "9c"
	return s
}
