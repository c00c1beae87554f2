package piv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/notation-piv/notation-piv/piv/internal/apdu"
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
	const op = "verify PIN"
	return c.do(ctx, op, func(conn conn) error {
		c.verified |= verifiedPIN
		return verifyPIN(conn, pin)
	})
}

// ChangePIN sets a new PIN (checked with CheckNewSecret). A wrong old PIN
// gives a *CredentialError and costs exactly one retry.
//
// APDU: CHANGE REFERENCE DATA `00 24 00 80 10 <old> <new>`.
func (c *Card) ChangePIN(ctx context.Context, old, new []byte) error {
	return c.changeSecret(ctx, "change PIN", SecretPIN, old, SecretPIN, new, 0x24, refPIN)
}

// ChangePUK sets a new PUK (checked with CheckNewSecret). A wrong old PUK
// gives a *CredentialError and costs exactly one PUK retry.
//
// APDU: CHANGE REFERENCE DATA `00 24 00 81 10 <old> <new>`.
func (c *Card) ChangePUK(ctx context.Context, old, new []byte) error {
	return c.changeSecret(ctx, "change PUK", SecretPUK, old, SecretPUK, new, 0x24, refPUK)
}

// UnblockPIN sets a new PIN with the PUK and restores the PIN's retries,
// whether or not the PIN is blocked. A wrong PUK gives a *CredentialError
// and costs exactly one PUK retry.
//
// APDU: RESET RETRY COUNTER `00 2C 00 80 10 <PUK> <new PIN>`.
func (c *Card) UnblockPIN(ctx context.Context, puk, newPIN []byte) error {
	return c.changeSecret(ctx, "unblock PIN", SecretPUK, puk, SecretPIN, newPIN, 0x2C, refPIN)
}

// Key references of SP 800-73-4 part 2, table 4.
const (
	refPIN = 0x80
	refPUK = 0x81
)

// changeSecret runs op, the standard command ins (CHANGE REFERENCE DATA or
// RESET RETRY COUNTER) for key reference ref: it sets the secret set to
// value, proven with proof, the secret given. Both values are checked
// before the card sees them; a proof the card refuses gives a
// *CredentialError for given.
func (c *Card) changeSecret(ctx context.Context, op string, given Secret, proof []byte, set Secret, value []byte, ins, ref byte) error {
	if err := checkSecret(given, proof); err != nil {
		return err
	}
	if err := CheckNewSecret("the new "+set.String(), value); err != nil {
		return err
	}
	data := append(padSecret(proof), padSecret(value)...)
	defer clear(data)
	return c.do(ctx, op, func(conn conn) error {
		c.verified |= verifiedPIN
		_, err := apdu.Exchange(conn, apdu.Command{Name: op, Ins: ins, P2: ref, Data: data})
		var ce *CredentialError
		if err = secretError(op, given, err); errors.As(err, &ce) {
			return fmt.Errorf("%s: %w", op, err)
		}
		return err
	})
}

// padSecret returns a PIN or PUK padded with FF to the 8 bytes the card
// compares. The caller clears it.
func padSecret(secret []byte) []byte {
	b := bytes.Repeat([]byte{0xFF}, 8)
	copy(b, secret)
	return b
}

// verifyPIN sends the PIN: VERIFY `00 20 00 80 08 <PIN padded with FF>`.
// A PIN the card refuses gives a *CredentialError.
func verifyPIN(conn conn, pin []byte) error {
	data := padSecret(pin)
	defer clear(data)
	_, err := apdu.Exchange(conn, apdu.Command{Name: "verify PIN", Ins: 0x20, P2: refPIN, Data: data})
	return secretError("verify PIN", SecretPIN, err)
}

// pinState is the answer to the PIN status query.
type pinState struct {
	// verified: the PIN is verified in this session (9000).
	verified bool
	// retries is the number of tries left; -1 if the card does not say.
	retries int
}

func (p pinState) blocked() bool { return p.retries == 0 }

// pinStatus sends the PIN status query, VERIFY without data `00 20 00 80
// 00`, which spends no retry: 9000 if the PIN is verified, 63Cx with x
// retries left, 6983 if blocked. Some cards refuse the query as malformed
// (OpenSC knows them as CI_VERIFY_LC0_FAIL): 6700, 6A80 or 6A86 leave the
// status unknown. Any other answer is an error.
func pinStatus(conn conn) (pinState, error) {
	_, err := apdu.Exchange(conn, apdu.Command{Name: "read PIN retries", Ins: 0x20, P2: refPIN})
	switch sw := apdu.SW(err); {
	case err == nil:
		return pinState{verified: true, retries: -1}, nil
	case sw&0xFFF0 == 0x63C0:
		return pinState{retries: int(sw & 0x0F)}, nil
	case sw == 0x6983:
		return pinState{retries: 0}, nil
	case sw == 0x6700 || sw == 0x6A80 || sw == 0x6A86:
		return pinState{retries: -1}, nil
	}
	return pinState{}, err
}

// secretError maps the error of a command that sent secret: an
// authentication failure (63Cx, 6983, or 6300 without the count) to a
// *CredentialError with the retries left, any other failure to a
// *CardError, nil to nil.
func secretError(op string, secret Secret, err error) error {
	switch sw := apdu.SW(err); {
	case err == nil:
		return nil
	case sw&0xFFF0 == 0x63C0:
		n := int(sw & 0x0F)
		return &CredentialError{Secret: secret, RetriesLeft: n, Blocked: n == 0}
	case sw == 0x6983:
		return &CredentialError{Secret: secret, RetriesLeft: 0, Blocked: true}
	case sw == 0x6300:
		// Refused without the count, as trussed's applet answers.
		return &CredentialError{Secret: secret, RetriesLeft: -1}
	}
	return cardError(op, err)
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
