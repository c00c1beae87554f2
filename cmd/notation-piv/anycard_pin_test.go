package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/fixtures"
	ownpiv "github.com/notation-piv/notation-piv/piv"
	"github.com/notation-piv/notation-piv/vsmartcard/card"
)

// TestGenericCardPIN checks the PIN on a plain SP 800-73-4 card, which has
// none of YubiKey's metadata: the plugin learns the retries from VERIFY
// alone.
//
//   - A wrong PIN costs exactly one retry and changes nothing else on the
//     card; the contract error is ACCESS_DENIED with the retries left in
//     its message and in errorMetadata retriesLeft.
//   - With one try left, the right PIN is not sent without
//     allow_last_pin_try; with it, the signature succeeds and the card
//     gives the PIN all its retries back.
//   - The key in slot 9c has PIN policy "always": two signatures in one
//     session with the card send the PIN twice, while the key in 9d
//     ("once") needs it once. Two plugin runs for 9c verify the PIN once
//     each, after the card refused the signature without it.
func TestGenericCardPIN(t *testing.T) {
	env := needCard(t)
	insertIssuedCard(t, genericCard)
	caCerts := writePEM(t, filepath.Join(t.TempDir(), "ca.pem"), fixtures.Intermediate().Chain()...)
	request := func(config map[string]string) string {
		config["ca_certs"] = caCerts
		return withoutSerial(t, requestFor("generate-envelope", config))
	}
	provisioned := snapshot(t, env)

	for _, left := range []int{2, 1} {
		env.Card.ResetStats()
		r := invoke(t, "generate-envelope", request(map[string]string{}), "NOTATION_PIV_PIN=999999")
		perr := expectError(t, r, plugin.ErrorCodeAccessDenied, "wrong PIN", triesLeft(left), "check the PIN source")
		if got := perr.Metadata["retriesLeft"]; got != strconv.Itoa(left) {
			t.Errorf("errorMetadata retriesLeft %q, want %d", got, left)
		}
		if got := pinRetries(t, env); got != left {
			t.Errorf("%d PIN retries left, want %d: a wrong PIN must cost exactly one", got, left)
		}
		if n := pinsChecked(env); n != 1 {
			t.Errorf("the wrong PIN reached the card %d times, want once", n)
		}
	}
	// Nothing but the PIN's retries changed.
	after := snapshot(t, env)
	setRetries(t, env, 3, -1)
	if !bytes.Equal(snapshot(t, env), provisioned) {
		t.Error("two wrong PINs changed more than the PIN's retries")
	}
	must(t, env.Card.Restore(after))

	env.Card.ResetStats()
	expectError(t, invoke(t, "generate-envelope", request(map[string]string{}), "NOTATION_PIV_PIN=123456"),
		plugin.ErrorCodeAccessDenied, "allow_last_pin_try=true")
	if n := pinsChecked(env); n != 0 || pinRetries(t, env) != 1 {
		t.Errorf("with one try left and no allow_last_pin_try, the PIN reached the card %d times and %d retries are left", n, pinRetries(t, env))
	}
	r := invoke(t, "generate-envelope", request(map[string]string{"allow_last_pin_try": "true"}), "NOTATION_PIV_PIN=123456")
	if r.code != 0 || !verifies(r.stdout) {
		t.Fatalf("the last try with the right PIN: exit %d, stderr %q", r.code, r.stderr)
	}
	if got := pinRetries(t, env); got != 3 {
		t.Errorf("the right PIN left %d retries, want 3", got)
	}

	// Two plugin runs: each signature of 9c is refused without the PIN
	// and verifies it once.
	env.Card.ResetStats()
	for range 2 {
		if r := invoke(t, "generate-envelope", request(map[string]string{}), "NOTATION_PIV_PIN=123456"); r.code != 0 {
			t.Fatalf("signature with slot 9c: exit %d, stderr %q", r.code, r.stderr)
		}
	}
	refused := count(env, func(e card.LogEntry) bool { return e.Name == "GENERAL AUTHENTICATE" && e.SW == 0x6982 })
	if n := pinsChecked(env); n != 2 || refused != 2 {
		t.Errorf("two plugin runs: the card refused %d signatures without the PIN and checked the PIN %d times, want 2 and 2", refused, n)
	}

	// One session, two signatures per slot, through the plugin's own PIV
	// client.
	for _, tc := range []struct {
		slot string
		pins int
	}{{"9c", 2}, {"9d", 1}} {
		env.Card.ResetStats()
		asked := signTwice(t, tc.slot)
		if n := pinsChecked(env); n != tc.pins || asked != tc.pins {
			t.Errorf("two signatures with slot %s in one session: the PIN was asked for %d times and checked %d times, want %d",
				tc.slot, asked, n, tc.pins)
		}
	}
	if got := pinRetries(t, env); got != 3 {
		t.Errorf("%d PIN retries left, want 3", got)
	}
}

// triesLeft is how a message counts the retries left.
func triesLeft(n int) string {
	if n == 1 {
		return "1 try left"
	}
	return fmt.Sprintf("%d tries left", n)
}

// signTwice opens the only card with the plugin's PIV client, signs two
// digests with the key in slot, giving the factory PIN whenever the card
// asks for it, and returns how often it asked.
func signTwice(t *testing.T, slotID string) (asked int) {
	t.Helper()
	ctx := context.Background()
	c, err := ownpiv.Open(ctx, ownpiv.Selector{})
	must(t, err)
	defer c.Close()
	slot, err := ownpiv.ParseSlot(slotID)
	must(t, err)
	cert, err := c.Certificate(ctx, slot)
	must(t, err)
	pin := func(ownpiv.PINRequest) ([]byte, error) {
		asked++
		return []byte(card.DefaultPIN), nil
	}
	signer, err := c.Signer(slot, cert, pin, ownpiv.SignerOptions{})
	must(t, err)
	for i := range 2 {
		digest := sha256.Sum256([]byte{byte(i)})
		var opts crypto.SignerOpts = crypto.SHA256
		if _, ok := signer.Public().(*rsa.PublicKey); ok {
			opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
		}
		if _, err := signer.Sign(nil, digest[:], opts); err != nil {
			t.Fatalf("signature %d with slot %s: %v", i+1, slotID, err)
		}
	}
	return asked
}
