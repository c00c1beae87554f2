package cli

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/notation-piv/notation-piv/piv"
)

// TestListKinds checks what list shows of each kind of card: a YubiKey by
// its serial number, other cards by their GUID, each with what
// notation-piv can do with it.
func TestListKinds(t *testing.T) {
	guid := "0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		info         piv.CardInfo
		kind         string
		capabilities []string
		guid         string
		text         []string
	}{
		{piv.CardInfo{Reader: "Yubico YubiKey", Kind: piv.KindYubiKey, Serial: 12345678, GUID: guid, Version: "5.7.1"}, "yubikey", []string{"sign", "setup", "reset", "attest"}, "",
			[]string{`PIV card 12345678, firmware 5.7.1, in reader "Yubico YubiKey"`, "kind            YubiKey: signs, sets up keys", `run "notation-piv setup" to make one`}},
		{piv.CardInfo{Reader: "Gemalto", Kind: piv.KindPlain, GUID: guid}, "plain", []string{"sign"}, guid,
			[]string{`PIV card with GUID ` + guid + `, in reader "Gemalto"`, "kind            SP 800-73-4 card: signs with the keys its issuer put on it; setup, reset and attestation need a YubiKey",
				"have the card's issuer provision it"}},
		{piv.CardInfo{Reader: "Nitrokey", Kind: piv.KindTrussed, GUID: guid, Version: "6.6.6"}, "trussed", []string{"sign"}, guid,
			[]string{`PIV card with GUID ` + guid + `, firmware 6.6.6, in reader "Nitrokey"`, "kind            trussed (Nitrokey 3, Solo 2): signs", "setup, reset and attestation need a YubiKey"}},
	} {
		st := &piv.Status{Card: tc.info, PIN: piv.Counter{RetriesLeft: 3, MaxRetries: -1}, PUK: piv.Counter{RetriesLeft: -1, MaxRetries: -1}}
		c := describeCard(tc.info, st, nil, time.Now())
		if c.Kind != tc.kind || !slices.Equal(c.Capabilities, tc.capabilities) || c.GUID != tc.guid || c.Serial != tc.info.Serial {
			t.Errorf("%s: kind %q, capabilities %q, GUID %q, serial %d", tc.info, c.Kind, c.Capabilities, c.GUID, c.Serial)
		}
		var out bytes.Buffer
		printCard(&out, c)
		for _, want := range tc.text {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s: list lacks %q:\n%s", tc.info, want, out.String())
			}
		}
		if tc.info.Kind != piv.KindYubiKey && strings.Contains(out.String(), "notation-piv setup") {
			t.Errorf("%s: list proposes setup:\n%s", tc.info, out.String())
		}
	}
}
