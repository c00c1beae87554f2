package cli

import (
	"strings"
	"testing"

	"github.com/notation-piv/notation-piv/internal/signing"
)

// TestSettingFlags checks that every setting of a signature has the flag
// of envelope sign that settingFlag names it by.
func TestSettingFlags(t *testing.T) {
	f := newFlagSet(signCommand.name)
	signCommand.flags(f)
	for _, s := range []signing.Setting{
		signing.SettingSlot, signing.SettingSerial, signing.SettingGUID, signing.SettingCardTimeout, signing.SettingCACerts, signing.SettingPINFile,
		signing.SettingPinentry, signing.SettingTSAURL, signing.SettingTSARoot, signing.SettingTSATimeout, signing.SettingFormat, signing.SettingExpiry,
	} {
		if f.set.Lookup(strings.TrimPrefix(settingFlag(s), "--")) == nil {
			t.Errorf("envelope sign has no flag %s for the setting %s", settingFlag(s), s)
		}
	}
}
