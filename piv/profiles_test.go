package piv

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/internal/keyspec"
	"github.com/notation-piv/notation-piv/vsmartcard/card"
)

// otherCard puts a card of cfg's profile in the reader for the rest of the
// test, holding an EC-256 key with a CA-issued certificate in 9c, an
// RSA-2048 one in 9a and an EC-384 one in 9d, and puts the factory card back afterwards.
func otherCard(t *testing.T, cfg card.Config) *card.Card {
	t.Helper()
	freshCard(t)
	original := env.Card
	ec, ec384, rsaKey := fixtures.NewKey("EC-256"), fixtures.NewKey("EC-384"), fixtures.NewKey("RSA-2048")
	cfg.Imports = []card.Import{
		{Slot: 0x9C, Key: ec, Certificate: fixtures.Intermediate().Issue(ec.Public()).Raw},
		{Slot: 0x9A, Key: rsaKey, Certificate: fixtures.Intermediate().Issue(rsaKey.Public()).Raw},
		{Slot: 0x9D, Key: ec384, Certificate: fixtures.Intermediate().Issue(ec384.Public()).Raw},
	}
	c, err := card.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Swap(c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Swap(original); err != nil {
			t.Fatal(err)
		}
	})
	return c
}

// TestOtherCards: cards without YubiKey's extensions open, show their
// kind and GUID, read plain and compressed certificates over T=1 and T=0,
// sign with EC and RSA keys, spend exactly one retry on a wrong PIN, and
// refuse card management and attestation before sending anything.
func TestOtherCards(t *testing.T) {
	const serial = 13572468
	guid := card.GUIDOf(serial)
	for _, tc := range []struct {
		name string
		cfg  card.Config
		kind Kind
	}{
		{"generic", card.Config{Profile: card.ProfileGeneric, Serial: serial}, KindPlain},
		{"generic, T=0 only, compressed certificates", card.Config{Profile: card.ProfileGeneric, Serial: serial, T0Only: true, CompressCerts: true}, KindPlain},
		{"trussed", card.Config{Profile: card.ProfileTrussed, Serial: serial, CompressCerts: true}, KindTrussed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vc := otherCard(t, tc.cfg)
			ctx := context.Background()
			c := retry(t, "Open", func() (*Card, error) { return Open(ctx, Selector{GUID: hex.EncodeToString(guid[:])}) })
			defer c.Close()
			info := c.Info()
			if info.Kind != tc.kind || info.Serial != 0 || info.GUID != hex.EncodeToString(guid[:]) {
				t.Errorf("Open: %+v, want kind %v, no serial and GUID %x", info, tc.kind, guid)
			}
			if s, err := c.ReadSerial(ctx); s != 0 || err != nil {
				t.Errorf("ReadSerial: %d, %v; want 0 (no serial that names this card)", s, err)
			}

			pin := &countingPIN{pin: card.DefaultPIN}
			// 9d: a SHA-256 digest for a P-384 key, which trussed's applet
			// takes only padded to the curve's size.
			for _, slot := range []string{"9c", "9a", "9c", "9d"} {
				slot := mustSlot(t, slot)
				cert, err := c.Certificate(ctx, slot)
				if err != nil {
					t.Fatalf("Certificate(%s): %v", slot, err)
				}
				s, err := c.Signer(slot, cert, pin.source, SignerOptions{})
				if err != nil {
					t.Fatal(err)
				}
				digest := sha256.Sum256([]byte("payload " + slot.String()))
				var opts crypto.SignerOpts = crypto.SHA256
				if _, ok := cert.PublicKey.(*rsa.PublicKey); ok {
					opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
				}
				// Sign verifies each signature with the certificate's key.
				if _, err := s.Sign(rand.Reader, digest[:], opts); err != nil {
					t.Errorf("sign with slot %s: %v", slot, err)
				}
			}
			if pin.calls != 2 {
				t.Errorf("the PIN was asked %d times, want 2: 9c (PIN policy always) wants it for each signature, 9a (once) not after 9c's", pin.calls)
			}

			// Card management and attestation are refused before any APDU.
			vc.ResetStats()
			before, err := vc.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			slot := mustSlot(t, "9c")
			checks := map[string]error{
				"Reset": c.Reset(ctx),
				"GenerateKey": func() error {
					_, err := c.GenerateKey(ctx, card.DefaultManagementKey, slot, KeyOptions{Spec: keyspec.EC256, PINPolicy: PolicyOnce, TouchPolicy: PolicyNever})
					return err
				}(),
				"ManagementKey": func() error {
					_, _, err := c.ManagementKey(ctx, &Status{}, nil, func() ([]byte, error) { t.Error("PIN asked"); return nil, ErrNoPIN })
					return err
				}(),
			}
			for name, err := range checks {
				var ue *UnsupportedError
				if !errors.As(err, &ue) {
					t.Errorf("%s: %v, want an *UnsupportedError", name, err)
				}
			}
			if _, _, err := c.Attest(ctx, slot); !errors.Is(err, ErrNoAttestation) {
				t.Errorf("Attest: %v, want ErrNoAttestation", err)
			}
			if n := len(vc.Stats().Log); n != 0 {
				t.Errorf("refused operations sent %d APDUs", n)
			}
			after, err := vc.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			if string(before) != string(after) {
				t.Error("the card's state changed")
			}

			// A wrong PIN costs exactly one retry and says how many are left.
			err = c.VerifyPIN(ctx, []byte("654321"))
			var ce *CredentialError
			if !errors.As(err, &ce) || ce.RetriesLeft != 2 {
				t.Errorf("wrong PIN: %v, want a *CredentialError with 2 retries left", err)
			}
			st, err := c.Status(ctx)
			if err != nil {
				t.Fatalf("Status: %v", err)
			}
			if st.Metadata || st.PIN.RetriesLeft != 2 || len(st.Slots) != 3 {
				t.Errorf("Status: metadata %t, %d PIN retries, %d slots; want no metadata, 2, 3", st.Metadata, st.PIN.RetriesLeft, len(st.Slots))
			}
			// A wrong old PIN, which trussed's applet refuses with 6300,
			// without the count.
			if err := c.ChangePIN(ctx, []byte("654321"), []byte("24681357")); !errors.As(err, &ce) || ce.Blocked {
				t.Errorf("ChangePIN with a wrong PIN: %v, want a *CredentialError", err)
			}
			if st, err := c.Status(ctx); err != nil || st.PIN.RetriesLeft != 1 {
				t.Errorf("after a wrong PIN in ChangePIN: %v, want 1 retry left", err)
			}
			if err := c.ChangePIN(ctx, []byte(card.DefaultPIN), []byte("24681357")); err != nil {
				t.Errorf("ChangePIN: %v", err)
			}
			if err := c.UnblockPIN(ctx, []byte(card.DefaultPUK), []byte(card.DefaultPIN)); err != nil {
				t.Errorf("UnblockPIN: %v", err)
			}
		})
	}
}

// TestYubiKey4Serial: a YubiKey before firmware 5 has no GET SERIAL; its
// serial comes through its OTP application, after which the PIV
// application answers again.
func TestYubiKey4Serial(t *testing.T) {
	const serial = 4433221
	otherCard(t, card.Config{Serial: serial, Firmware: "4.3.7"})
	ctx := context.Background()
	c := retry(t, "Open", func() (*Card, error) { return Open(ctx, Selector{Serial: serial}) })
	defer c.Close()
	if info := c.Info(); info.Kind != KindYubiKey || info.Serial != serial || info.Version != "4.3.7" {
		t.Errorf("Open: %+v, want a YubiKey 4.3.7 with serial %d", info, serial)
	}
	if _, err := c.Certificate(ctx, mustSlot(t, "9c")); err != nil {
		t.Errorf("the PIV application after the OTP application: %v", err)
	}
}

// TestYubiKey4WithoutOTP: a YubiKey before firmware 5 whose OTP
// application is not found (6A82) has no serial number; it is not a
// broken or missing card, and its PIV application still answers.
func TestYubiKey4WithoutOTP(t *testing.T) {
	otherCard(t, card.Config{Serial: 4433222, Firmware: "4.3.7"})
	ctx := context.Background()
	c := retry(t, "Open", func() (*Card, error) { return Open(ctx, Selector{}) })
	defer c.Close()
	env.Card.InjectFault(card.Fault{INS: 0xA4, Times: 1, SW: 0x6A82})
	defer env.Card.ClearFaults()
	if s, err := c.ReadSerial(ctx); s != 0 || err != nil {
		t.Errorf("ReadSerial: %d, %v; want 0 and no error", s, err)
	}
	if _, err := c.Certificate(ctx, mustSlot(t, "9c")); err != nil {
		t.Errorf("the PIV application after the OTP application was not found: %v", err)
	}
}
