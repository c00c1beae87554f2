package contract

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/envelope/certchain"
	"github.com/notation-piv/notation-piv/internal/inputfile"
	"github.com/notation-piv/notation-piv/internal/signing"
	"github.com/notation-piv/notation-piv/piv"
)

// TestAdvice checks what the contract adds to the errors of the
// libraries, which say only what happened: it appends what to do to the
// message, with the pluginConfig keys and commands it takes, under the
// error code of the failure.
func TestAdvice(t *testing.T) {
	wrongPIN := fmt.Errorf("sign with slot 9c: %w", &piv.CredentialError{Secret: piv.SecretPIN, RetriesLeft: 2})
	slot9c, err := piv.ParseSlot("9c")
	if err != nil {
		t.Fatal(err)
	}
	plain := piv.CardInfo{Reader: "R", Kind: piv.KindPlain, GUID: "0123456789abcdef0123456789abcdef"}
	for _, tc := range []struct {
		err     error
		code    plugin.ErrorCode
		message string
	}{
		{&piv.UnsupportedError{Op: "attest the key in slot 9c", Card: plain, Err: piv.ErrNoAttestation}, plugin.ErrorCodeValidation,
			`attest the key in slot 9c: the card GUID 0123456789abcdef0123456789abcdef (SP 800-73-4) in reader "R" cannot do this: it needs YubiKey's extensions to SP 800-73-4, which this card, a plain PIV card, does not offer: ` +
				"sign with a card that attests its keys, such as a YubiKey 5; this card signs, but cannot prove that its key was generated on it, or sign without pluginConfig attest=true"},
		{&piv.UnsupportedError{Op: "reset the card", Card: plain}, plugin.ErrorCodeValidation,
			`reset the card: the card GUID 0123456789abcdef0123456789abcdef (SP 800-73-4) in reader "R" cannot do this: it needs YubiKey's extensions to SP 800-73-4, which this card, a plain PIV card, does not offer: ` +
				"this card signs with the keys its issuer put on it: have the issuer provision or renew them with its own tools; notation-piv setup, cert import, management-key set and reset need a YubiKey"},
		{&piv.SelectionError{Cards: []piv.CardInfo{{Reader: "A", Kind: piv.KindYubiKey, Serial: 1, Version: "5.7.1"}, plain}}, plugin.ErrorCodeValidation,
			`found 2 PIV cards: serial 1 (YubiKey 5.7.1) in reader "A", GUID 0123456789abcdef0123456789abcdef (SP 800-73-4) in reader "R"; choose one by serial number, GUID or reader name: ` +
				`name the card in the key's pluginConfig with serial=N (YubiKeys), guid=GUID (cards without a serial number) or reader=TEXT, as "notation-piv list" shows them`},
		{wrongPIN, plugin.ErrorCodeAccessDenied,
			"sign with slot 9c: wrong PIN, 2 tries left before the PIN is blocked: check the PIN source and sign again"},
		{fmt.Errorf("sign with slot 9c: %w", &piv.CredentialError{Secret: piv.SecretPIN, RetriesLeft: 1, LastTry: true}), plugin.ErrorCodeAccessDenied,
			"sign with slot 9c: no PIN was sent to the card: it has 1 PIN try left, and a wrong PIN would block it: check the PIN source, then allow the last try for one signature (pluginConfig allow_last_pin_try=true); a correct PIN restores all the tries"},
		{fmt.Errorf("sign with slot 9c: %w", &piv.CredentialError{Secret: piv.SecretPIN, Blocked: true}), plugin.ErrorCodeAccessDenied,
			`sign with slot 9c: the PIN is blocked: only the PUK can unblock it: set a new PIN with the PUK ("notation-piv pin unblock") and sign again`},
		{fmt.Errorf("sign with slot 9c: %w", piv.ErrNoPIN), plugin.ErrorCodeAccessDenied,
			"sign with slot 9c: the card needs its PIN but no PIN source is available: set NOTATION_PIV_PIN, configure a pin_file or a pinentry program, or run from a terminal"},
		{&piv.TimeoutError{Op: "sign with slot 9c", After: 5 * time.Second}, plugin.ErrorCodeTimeout,
			"sign with slot 9c: the card did not answer within 5s: if it is waiting for a touch, touch it; otherwise remove and reinsert it and try again"},
		{&piv.TimeoutError{Op: `open card in reader "R"`, Busy: true, After: time.Second}, plugin.ErrorCodeTimeout,
			`open card in reader "R": the card is in use by another program, which did not let it go within 1s: close that program or wait for it to finish, then try again`},
		{&piv.CardError{Op: "sign with slot 9c", Err: errors.New("scard: the smart card has been removed")}, plugin.ErrorCodeGeneric,
			"sign with slot 9c: the card was removed, or lost contact with the reader, in the middle of the command (scard: the smart card has been removed): reinsert the card and try again"},
		{fmt.Errorf("%w (no smart card reader found)", piv.ErrNoCard), plugin.ErrorCodeValidation,
			`no PIV card found (no smart card reader found): insert a card and run "notation-piv list"`},
		{fmt.Errorf("slot 9d: %w", piv.ErrSlotEmpty), plugin.ErrorCodeValidation,
			"slot 9d: no certificate in the slot: generate a key in it and store the key's certificate there"},
		{&signing.CertificateError{Slot: slot9c, Err: &certchain.ExtKeyUsageError{Subject: "CN=Gov", Refused: []string{"emailProtection"}}}, plugin.ErrorCodeValidation,
			`the certificate in slot 9c cannot sign Notary Project signatures: certificate "CN=Gov" has the extended key usage emailProtection, which notation refuses in a signing certificate; ` +
				`the Notary Project signature specification says of its extendedKeyUsage: "If present, the value MAY contain id-kp-codeSigning and MUST NOT contain anyExtendedKeyUsage, serverAuth, clientAuth, emailProtection and timeStamping": ` +
				`sign with a card whose certificate allows code signing (extended key usage codeSigning, or none), such as one you set up with "notation-piv setup"`},
		{fmt.Errorf("PIN file: %w", &inputfile.NotPrivateError{Path: "/p", Mode: 0o644, Owner: 1, User: 1}), plugin.ErrorCodeGeneric,
			`PIN file: /p is accessible to group or others (mode 0644): run "chmod 600 /p"`},
		{fmt.Errorf("CA bundle: %w", &inputfile.NotRegularError{Path: "/d", Mode: fs.ModeDir}), plugin.ErrorCodeGeneric,
			"CA bundle: /d is a directory, not a file: give the path of the file itself"},
	} {
		perr := toPluginError(tc.err)
		if perr.ErrCode != tc.code || perr.Message != tc.message {
			t.Errorf("%v:\ngot  %s %q\nwant %s %q", tc.err, perr.ErrCode, perr.Message, tc.code, tc.message)
		}
	}
	if perr := toPluginError(wrongPIN); strings.Count(perr.Message, "sign") != 2 || perr.Metadata["retriesLeft"] != "2" {
		t.Errorf("wrong PIN: %q, metadata %v; want the signing step named once", perr.Message, perr.Metadata)
	}
}

// TestAdviceThroughSocket checks the advice when PCSCLITE_CSOCK_NAME
// names pcscd's socket, the runner's end of a tunnel to a signing
// station: the tunnel is what to check, not the local pcscd or card.
func TestAdviceThroughSocket(t *testing.T) {
	const sock = "/run/user/1000/station.sock"
	t.Setenv(piv.EnvSocket, sock)
	if piv.Socket() == "" {
		t.Skip("PC/SC on this platform is not pcsc-lite, which alone reads " + piv.EnvSocket)
	}
	missing := &piv.CardError{Op: "list smart card readers", Err: &piv.SocketError{Path: sock, Problem: piv.SocketMissing, Err: errors.New("connecting to pcsc: the Smart card resource manager is not running")}}
	dropped := &piv.CardError{Op: "sign with slot 9c", Err: &piv.SocketError{Path: sock, Problem: piv.SocketDropped, Err: errors.New("command failed: an internal communications error has been detected")}}
	for _, tc := range []struct {
		err     error
		code    plugin.ErrorCode
		message string
	}{
		{missing, plugin.ErrorCodeGeneric,
			"list smart card readers: the pcscd socket " + sock + " (PCSCLITE_CSOCK_NAME) does not exist (connecting to pcsc: the Smart card resource manager is not running): " +
				"check the tunnel to the signing station: start it again (ssh -N -o StreamLocalBindUnlink=yes -L " + sock + ":/run/pcscd/pcscd.comm <station>), or unset PCSCLITE_CSOCK_NAME to use this machine's pcscd"},
		{dropped, plugin.ErrorCodeGeneric,
			"sign with slot 9c: the connection to pcscd through the pcscd socket " + sock + " (PCSCLITE_CSOCK_NAME) was closed from the other end (command failed: an internal communications error has been detected): " +
				"check the tunnel to the signing station (ssh -N -o StreamLocalBindUnlink=yes -L " + sock + ":/run/pcscd/pcscd.comm) and that pcscd runs on the station, then try again"},
		{&piv.TimeoutError{Op: "sign with slot 9c", After: 5 * time.Second}, plugin.ErrorCodeTimeout,
			"sign with slot 9c: the card did not answer within 5s: if it is waiting for a touch, touch it; otherwise check the tunnel to the signing station, whose end is the pcscd socket " + sock + " (PCSCLITE_CSOCK_NAME), and try again"},
		{fmt.Errorf("%w (no smart card reader found)", piv.ErrNoCard), plugin.ErrorCodeValidation,
			`no PIV card found (no smart card reader found): insert a card into the signing station, whose pcscd this machine reaches through the socket ` + sock + ` (PCSCLITE_CSOCK_NAME), and run "notation-piv list"`},
	} {
		perr := toPluginError(tc.err)
		if perr.ErrCode != tc.code || perr.Message != tc.message {
			t.Errorf("%v:\ngot  %s %q\nwant %s %q", tc.err, perr.ErrCode, perr.Message, tc.code, tc.message)
		}
	}
}
