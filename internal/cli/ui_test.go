package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/notation-piv/notation-piv/internal/advice"
	"github.com/notation-piv/notation-piv/internal/inputfile"
	"github.com/notation-piv/notation-piv/piv"
)

// TestExplain checks what the commands for people add to the errors of
// the libraries, which say only what happened: the PIN, PUK and
// management key errors in their own words with the flags and variables
// they take; the others with the common advice as a hint.
func TestExplain(t *testing.T) {
	for _, tc := range []struct {
		err  error
		msg  string
		hint string
	}{
		{fmt.Errorf("sign with slot 9c: %w", &piv.CredentialError{Secret: piv.SecretPIN, RetriesLeft: 2}),
			"wrong PIN: 2 tries left before the PIN is blocked", `"notation-piv pin unblock"`},
		{fmt.Errorf("change PIN: %w", &piv.CredentialError{Secret: piv.SecretPIN, RetriesLeft: 1, LastTry: true}),
			"no PIN was sent", "--allow-last-pin-try"},
		{&piv.CredentialError{Secret: piv.SecretPUK, RetriesLeft: 1, LastTry: true}, "no PUK was sent", "--allow-last-pin-try"},
		{&piv.CredentialError{Secret: piv.SecretManagementKey}, "", "--management-key-file"},
		{fmt.Errorf("sign with slot 9c: %w", piv.ErrNoPIN), "", "--pin-file"},
		{fmt.Errorf("%w (no smart card reader found)", piv.ErrNoCard), "no PIV card found", "--serial, --guid (cards without a serial number) or --reader"},
		{&piv.SelectionError{Cards: []piv.CardInfo{{Reader: "A", Serial: 1}, {Reader: "B", GUID: strings.Repeat("ab", 16)}}},
			"serial 1 (SP 800-73-4) in reader \"A\", GUID " + strings.Repeat("ab", 16), "--guid"},
		{&piv.UnsupportedError{Op: "reset the card", Card: piv.CardInfo{Reader: "R", Kind: piv.KindTrussed, GUID: strings.Repeat("ab", 16), Version: "6.6.6"}},
			"reset the card: the card GUID " + strings.Repeat("ab", 16) + " (trussed (Nitrokey 3, Solo 2) 6.6.6) in reader \"R\" cannot do this",
			"setup, cert import, management-key set and reset need a YubiKey"},
		{fmt.Errorf("sign: %w", &piv.UnsupportedError{Op: "attest the key in slot 9c", Card: piv.CardInfo{Kind: piv.KindPlain}, Err: piv.ErrNoAttestation}),
			"attest the key in slot 9c", "such as a YubiKey 5; this card signs, but cannot prove that its key was generated on it, or sign without --attest"},
	} {
		msg, hints := explain(tc.err)
		if !strings.Contains(msg, tc.msg) || !strings.Contains(strings.Join(hints, "\n"), tc.hint) {
			t.Errorf("%v: explained as %q with hints %q; want %q and a hint with %q", tc.err, msg, hints, tc.msg, tc.hint)
		}
	}
	for _, err := range []error{
		&piv.TimeoutError{Op: "sign with slot 9c", After: 5 * time.Second},
		&piv.TimeoutError{Op: `open card in reader "R"`, Busy: true, After: time.Second},
		&piv.CardError{Op: "sign with slot 9c", Err: errors.New("scard: the smart card has been removed")},
		fmt.Errorf("slot 9d: %w", piv.ErrSlotEmpty),
		fmt.Errorf("PIN file: %w", &inputfile.NotPrivateError{Path: "/p", Mode: 0o644, Owner: 1, User: 1}),
		fmt.Errorf("CA bundle: %w", &inputfile.NotRegularError{Path: "/d", Mode: fs.ModeDir}),
	} {
		msg, hints := explain(err)
		if a := advice.For(err); a == "" || msg != err.Error() || !slices.Contains(hints, a) {
			t.Errorf("%v: explained as %q with hints %q, want the message and the hint %q", err, msg, hints, a)
		}
	}
}
