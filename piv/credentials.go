package piv

import (
	"bytes"
	"context"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/go-piv/piv-go/v2/piv"
)

// VerifyPIN checks the PIN on the card, which then counts as verified for
// keys with PIN policy "once" until the card is closed. A wrong PIN gives a
// *CredentialError and costs exactly one retry; a PIN that CheckPIN refuses
// (wrong length, whitespace at either end, a control character) never
// reaches the card.
//
// APDU: VERIFY `00 20 00 80 08 <PIN padded with FF>`.
func (c *Card) VerifyPIN(ctx context.Context, pin []byte) error {
	if err := CheckPIN(pin); err != nil {
		return err
	}
	return c.exec(ctx, "verify PIN", func(yk *piv.YubiKey) error {
		if err := yk.VerifyPIN(string(pin)); err != nil {
			return pinError(err)
		}
		return nil
	})
}

// ChangePIN sets a new PIN (checked with CheckNewSecret). A wrong old PIN
// gives a *CredentialError and costs exactly one retry.
//
// APDU: CHANGE REFERENCE DATA `00 24 00 80 10 <old> <new>`.
func (c *Card) ChangePIN(ctx context.Context, old, new []byte) error {
	return c.changeSecret(ctx, "change PIN", SecretPIN, old, SecretPIN, new, (*piv.YubiKey).SetPIN)
}

// ChangePUK sets a new PUK (checked with CheckNewSecret). A wrong old PUK
// gives a *CredentialError and costs exactly one PUK retry.
//
// APDU: CHANGE REFERENCE DATA `00 24 00 81 10 <old> <new>`.
func (c *Card) ChangePUK(ctx context.Context, old, new []byte) error {
	return c.changeSecret(ctx, "change PUK", SecretPUK, old, SecretPUK, new, (*piv.YubiKey).SetPUK)
}

// UnblockPIN sets a new PIN with the PUK and restores the PIN's retries,
// whether or not the PIN is blocked. A wrong PUK gives a *CredentialError
// and costs exactly one PUK retry.
//
// APDU: RESET RETRY COUNTER `00 2C 00 80 10 <PUK> <new PIN>`.
func (c *Card) UnblockPIN(ctx context.Context, puk, newPIN []byte) error {
	return c.changeSecret(ctx, "unblock PIN", SecretPUK, puk, SecretPIN, newPIN, (*piv.YubiKey).Unblock)
}

// changeSecret runs op: call sets the secret set to value, proven with
// proof, the secret given. Both values are checked before the card sees
// them; a proof the card refuses gives a *CredentialError for given.
func (c *Card) changeSecret(ctx context.Context, op string, given Secret, proof []byte, set Secret, value []byte, call func(yk *piv.YubiKey, proof, value string) error) error {
	if err := checkSecret(given, proof); err != nil {
		return err
	}
	if err := CheckNewSecret("the new "+set.String(), value); err != nil {
		return err
	}
	return c.exec(ctx, op, func(yk *piv.YubiKey) error {
		if err := call(yk, string(proof), string(value)); err != nil {
			return credentialError(op, given, err)
		}
		return nil
	})
}

// CheckNewSecret returns an error if secret cannot become a PIN or PUK: it
// must pass the checks of CheckPIN (6 to 8 bytes, no control character,
// no whitespace at either end), and hold no byte FF (the padding byte).
// what names it in the error, such as "the new PIN".
func CheckNewSecret(what string, secret []byte) error {
	if p := secretProblem(secret); p != "" {
		return fmt.Errorf("%s %s", what, p)
	}
	if bytes.IndexByte(secret, 0xFF) >= 0 {
		return fmt.Errorf("%s must not contain the byte FF", what)
	}
	return nil
}

// TrimNewline returns b without one trailing newline, LF or CRLF, as a
// line read from a file, a program or the environment ends. Only one is
// removed: "123456\n\n" keeps a newline, which CheckPIN refuses.
func TrimNewline(b []byte) []byte {
	switch {
	case bytes.HasSuffix(b, []byte("\r\n")):
		return b[:len(b)-2]
	case bytes.HasSuffix(b, []byte("\n")):
		return b[:len(b)-1]
	}
	return b
}

// CheckPIN returns a *CredentialError with Malformed set if pin cannot be
// a PIN, before it costs a retry: see secretProblem. The error never
// contains the PIN.
func CheckPIN(pin []byte) error {
	return checkSecret(SecretPIN, pin)
}

// CheckPUK returns a *CredentialError with Malformed set if puk cannot be
// a PUK, before it costs a retry: see secretProblem.
func CheckPUK(puk []byte) error {
	return checkSecret(SecretPUK, puk)
}

// checkSecret returns a *CredentialError for secret with Malformed set if
// b cannot be one.
func checkSecret(secret Secret, b []byte) error {
	if p := secretProblem(b); p != "" {
		return &CredentialError{Secret: secret, RetriesLeft: -1, Malformed: true, Problem: p}
	}
	return nil
}

// secretProblem says why b cannot be a PIN or PUK, as words that follow
// "the PIN", or returns "" if it can be one: it is 6 to 8 bytes long, holds
// no control character, and neither begins nor ends with whitespace. Such
// a value is a mistake in a file or a variable, such as a second newline
// or a trailing space, and would only cost a retry. The answer never
// repeats any of b.
func secretProblem(b []byte) string {
	for _, r := range string(b) {
		if unicode.IsControl(r) {
			return "holds a control character, such as a second newline, a carriage return or a tab (only one newline at its end is removed)"
		}
	}
	first, _ := utf8.DecodeRune(b)
	last, _ := utf8.DecodeLastRune(b)
	if len(b) > 0 && (unicode.IsSpace(first) || unicode.IsSpace(last)) {
		return "begins or ends with whitespace"
	}
	if len(b) < 6 || len(b) > 8 {
		return "must be 6 to 8 characters long"
	}
	return ""
}
