package signing

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/jws"
)

// TestNewPlanRefusals checks that each bad setting is refused before the
// card, as a *SettingError or *MissingSettingError naming it.
func TestNewPlanRefusals(t *testing.T) {
	envelope.Register(jws.Format{})
	dir := t.TempDir()
	readable := filepath.Join(dir, "pin")
	if err := os.WriteFile(readable, []byte("123456\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ok := Settings{Slot: "9c"}
	with := func(change func(*Settings)) Settings {
		s := ok
		change(&s)
		return s
	}
	for _, tc := range []struct {
		name     string
		settings Settings
		setting  Setting   // the *SettingError's
		missing  []Setting // or the *MissingSettingError's settings
		needed   Setting
	}{
		{"slot", with(func(s *Settings) { s.Slot = "7f" }), SettingSlot, nil, ""},
		{"serial", with(func(s *Settings) { s.Serial = 1 << 32 }), SettingSerial, nil, ""},
		{"GUID", with(func(s *Settings) { s.GUID = "0123456789abcdef" }), SettingGUID, nil, ""},
		{"card timeout", with(func(s *Settings) { s.CardTimeout = 10 * time.Millisecond }), SettingCardTimeout, nil, ""},
		{"TSA timeout", with(func(s *Settings) { s.TSAURL, s.TSARoot, s.TSATimeout = "http://127.0.0.1/", readable, 6*time.Minute }), SettingTSATimeout, nil, ""},
		{"TSA URL without root", with(func(s *Settings) { s.TSAURL = "http://127.0.0.1/" }), "", []Setting{SettingTSAURL}, SettingTSARoot},
		{"TSA timeout without URL", with(func(s *Settings) { s.TSATimeout = time.Second }), "", []Setting{SettingTSARoot, SettingTSATimeout}, SettingTSAURL},
		{"format", with(func(s *Settings) { s.Format = "application/pkcs7" }), SettingFormat, nil, ""},
		{"negative expiry", with(func(s *Settings) { s.Expiry = -time.Hour }), SettingExpiry, nil, ""},
		{"expiry over 100 years", with(func(s *Settings) { s.Expiry = MaxExpiry + time.Second }), SettingExpiry, nil, ""},
		{"CA bundle", with(func(s *Settings) { s.CACerts = filepath.Join(dir, "missing.pem") }), SettingCACerts, nil, ""},
		{"PIN file others can read", with(func(s *Settings) { s.PINFile = readable }), SettingPINFile, nil, ""},
		{"pinentry", with(func(s *Settings) { s.Pinentry = filepath.Join(dir, "no-pinentry") }), SettingPinentry, nil, ""},
		{"TSA root", with(func(s *Settings) { s.TSAURL, s.TSARoot = "http://127.0.0.1/", readable }), SettingTSARoot, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := NewPlan(tc.settings)
			if plan != nil {
				plan.Close()
			}
			var setting *SettingError
			var missing *MissingSettingError
			switch {
			case tc.setting != "" && (!errors.As(err, &setting) || setting.Setting != tc.setting):
				t.Errorf("NewPlan: %v, want a *SettingError for %s", err, tc.setting)
			case tc.setting == "" && (!errors.As(err, &missing) || !slices.Equal(missing.Settings, tc.missing) || missing.Needed != tc.needed):
				t.Errorf("NewPlan: %v, want %v to need %s", err, tc.missing, tc.needed)
			}
		})
	}
	plan, err := NewPlan(with(func(s *Settings) { s.Format, s.Expiry = envelope.MediaTypeJWS, MaxExpiry }))
	if err != nil {
		t.Fatalf("NewPlan of good settings: %v", err)
	}
	plan.Close()
}
