package piv

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/internal/keyspec"
	"github.com/notation-piv/notation-piv/vsmartcard/card"
	"github.com/notation-piv/notation-piv/vsmartcard/vcardtest"
)

// ecNever is an EC-256 key that never needs the PIN.
var ecNever = piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyNever, TouchPolicy: piv.TouchPolicyNever}

func mustSlot(t *testing.T, id string) Slot {
	t.Helper()
	s, err := ParseSlot(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestListAndOpen(t *testing.T) {
	freshCard(t)
	ctx := context.Background()
	cards := retry(t, "List", func() ([]CardInfo, error) { return List(ctx) })
	var ours *CardInfo
	for i := range cards {
		if cards[i].Reader == env.Reader {
			ours = &cards[i]
		}
	}
	if ours == nil {
		t.Fatalf("List = %v, without the card in %q", cards, env.Reader)
	}
	if ours.Serial != testSerial || ours.Version != card.DefaultFirmware {
		t.Errorf("List: %+v, want serial %d, version %s", *ours, testSerial, card.DefaultFirmware)
	}

	for _, sel := range []Selector{
		{Serial: testSerial},
		{Reader: env.Reader},
		{Reader: env.Reader[2 : len(env.Reader)-2]},
		{Serial: testSerial, Reader: env.Reader},
	} {
		env.Card.ResetStats()
		c := retry(t, "Open", func() (*Card, error) { return Open(ctx, sel) })
		// SELECT and GET VERSION, plus GET SERIAL when the selector
		// names a serial number.
		wantAPDUs := 2
		if sel.Serial != 0 {
			wantAPDUs = 3
		}
		if n := env.Card.Stats().Commands; n != wantAPDUs {
			t.Errorf("Open(%v): %d APDUs, want %d", sel, n, wantAPDUs)
		}
		serial, err := c.ReadSerial(ctx)
		if err != nil || serial != testSerial || c.Serial() != testSerial || c.Reader() != env.Reader {
			t.Errorf("Open(%v): ReadSerial %d, %v; Serial %d in %q, want %d in %q", sel, serial, err, c.Serial(), c.Reader(), testSerial, env.Reader)
		}
		if n := env.Card.Stats().Commands; n != 3 {
			t.Errorf("Open(%v) and ReadSerial: %d APDUs, want 3: the serial number is read once", sel, n)
		}
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}

	// The zero selector takes the only card; another test package may
	// have a second card in the other vpcd reader.
	c, err := Open(ctx, Selector{})
	var se *SelectionError
	switch {
	case len(cards) == 1 && err != nil:
		t.Errorf("Open(any card) with one card: %v", err)
	case len(cards) == 1:
		if c.Serial() != 0 {
			t.Errorf("Open(any card) read serial %d, which nothing asked for", c.Serial())
		}
		if serial, err := c.ReadSerial(ctx); serial != testSerial || err != nil {
			t.Errorf("ReadSerial after Open(any card): %d, %v, want %d", serial, err, testSerial)
		}
		c.Close()
	case !errors.As(err, &se) || len(se.Cards) != len(cards):
		t.Errorf("Open(any card) with %d cards: %v, want a *SelectionError listing them", len(cards), err)
	}

	for _, sel := range []Selector{
		{Serial: testSerial + 1},
		{Reader: "No Such Reader"},
		{Reader: strings.ToLower(env.Reader)}, // case-sensitive
		{Serial: testSerial + 1, Reader: env.Reader},
	} {
		_, err := Open(ctx, sel)
		var se *SelectionError
		if !errors.As(err, &se) {
			t.Errorf("Open(%v): %v, want a *SelectionError", sel, err)
			continue
		}
		if se.Selector != sel || !strings.Contains(err.Error(), "serial 24681357 (YubiKey 5.7.1) in reader \""+env.Reader+"\"") ||
			!strings.Contains(err.Error(), "choose one by serial number, GUID or reader name") {
			t.Errorf("Open(%v): error %q does not list the card and say what to do", sel, err)
		}
	}
	// Every card Open probed was closed again: piv-go can open it.
	withPIVGo(t, func(*piv.YubiKey) {})
}

// TestTwoCards puts a second virtual card into the second vpcd reader.
func TestTwoCards(t *testing.T) {
	freshCard(t)
	const otherSerial = testSerial + 100
	other, err := vcardtest.Start(vcardtest.Options{Port: vcardtest.SecondPort, Config: card.Config{Serial: otherSerial}})
	if err != nil {
		t.Fatalf("second virtual card: %v", err)
	}
	defer other.Close()
	ctx := context.Background()

	_, err = Open(ctx, Selector{})
	var se *SelectionError
	if !errors.As(err, &se) || len(se.Cards) != 2 {
		t.Fatalf("Open(any card) with two cards: %v, want a *SelectionError with both", err)
	}
	for _, want := range []string{"found 2 PIV cards", "serial 24681357", "serial 24681457", other.Reader} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	for _, sel := range []Selector{{Serial: otherSerial}, {Reader: other.Reader}} {
		c := retry(t, "Open", func() (*Card, error) { return Open(ctx, sel) })
		if serial, err := c.ReadSerial(ctx); serial != otherSerial || err != nil || c.Reader() != other.Reader {
			t.Errorf("Open(%v): serial %d (%v) in %q", sel, serial, err, c.Reader())
		}
		c.Close()
	}
	c := retry(t, "Open", func() (*Card, error) { return Open(ctx, Selector{Serial: testSerial}) })
	if c.Reader() != env.Reader {
		t.Errorf("Open(serial %d) opened reader %q", testSerial, c.Reader())
	}
	c.Close()
}

func TestCertificate(t *testing.T) {
	freshCard(t)
	leaf, _ := provision(t, piv.SlotSignature, ecNever)
	c := openTest(t, Selector{Serial: testSerial})
	ctx := context.Background()
	got, err := c.Certificate(ctx, mustSlot(t, "9c"))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(leaf) {
		t.Errorf("Certificate(9c) = %q, want %q", got.Subject, leaf.Subject)
	}
	_, err = c.Certificate(ctx, mustSlot(t, "9a"))
	if !errors.Is(err, ErrSlotEmpty) || !strings.Contains(err.Error(), "slot 9a") {
		t.Errorf("Certificate(9a) on an empty slot: %v, want ErrSlotEmpty naming the slot", err)
	}
	if _, err := c.Certificate(ctx, Slot{}); err == nil {
		t.Error("Certificate(zero Slot) succeeded")
	}
}

func TestSign(t *testing.T) {
	tests := []struct {
		name string
		slot string
		key  piv.Key
		opts func(digest []byte) crypto.SignerOpts
	}{
		{"EC-256", "9a", piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever}, nil},
		{"EC-384", "9d", piv.Key{Algorithm: piv.AlgorithmEC384, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever}, nil},
		{"RSA-2048", "82", piv.Key{Algorithm: piv.AlgorithmRSA2048, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			freshCard(t)
			slot := mustSlot(t, tt.slot)
			leaf, _ := provision(t, slot.piv(), tt.key)
			c := openTest(t, Selector{Serial: testSerial})
			cert, err := c.Certificate(context.Background(), slot)
			if err != nil {
				t.Fatal(err)
			}
			spec, err := KeySpecOf(cert.PublicKey)
			if err != nil || spec.Name != tt.name {
				t.Fatalf("KeySpecOf = %+v, %v; want %s", spec, err, tt.name)
			}
			pin := &countingPIN{pin: card.DefaultPIN}
			s, err := c.Signer(slot, cert, pin.source, SignerOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(s.Public()) {
				t.Error("Signer.Public differs from the certificate's key")
			}
			h := spec.Hash
			var opts crypto.SignerOpts = h
			if _, ok := cert.PublicKey.(*rsa.PublicKey); ok {
				opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
			}
			for i := range 2 {
				hh := h.New()
				hh.Write([]byte("payload " + tt.name))
				digest := hh.Sum(nil)
				sig, err := s.Sign(rand.Reader, digest, opts)
				if err != nil {
					t.Fatalf("signature %d: %v", i+1, err)
				}
				switch pub := cert.PublicKey.(type) {
				case *ecdsa.PublicKey:
					if !ecdsa.VerifyASN1(pub, digest, sig) {
						t.Errorf("signature %d: ECDSA DER signature does not verify", i+1)
					}
				case *rsa.PublicKey:
					if err := rsa.VerifyPSS(pub, h, digest, sig, &rsa.PSSOptions{SaltLength: h.Size()}); err != nil {
						t.Errorf("signature %d: PSS signature with salt = hash length does not verify: %v", i+1, err)
					}
				}
			}
			// PIN policy once: asked for the first signature only.
			if pin.calls != 1 {
				t.Errorf("PIN source called %d times for two signatures, want 1", pin.calls)
			}
			if want := (PINRequest{Serial: testSerial, Slot: slot, RetriesLeft: 3}); len(pin.reqs) == 0 || pin.reqs[0] != want {
				t.Errorf("PIN requests %+v, want %+v", pin.reqs, want)
			}

			if _, ok := cert.PublicKey.(*rsa.PublicKey); ok {
				env.Card.ResetStats()
				digest := sha256.Sum256([]byte("payload"))
				_, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
				if err == nil || !strings.Contains(err.Error(), "RSASSA-PSS") {
					t.Errorf("PKCS #1 v1.5 signature: %v, want a refusal", err)
				}
				if n := env.Card.Stats().Commands; n != 0 {
					t.Errorf("refused PKCS #1 v1.5 signature sent %d APDUs", n)
				}
			}
		})
	}
}

// TestPINPolicyAlways signs with the default 9c policy: the PIN is asked,
// and verified right before the signature, for every signature.
func TestPINPolicyAlways(t *testing.T) {
	freshCard(t)
	provision(t, piv.SlotSignature, piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyAlways, TouchPolicy: piv.TouchPolicyNever})
	c, slot, cert := openSlot(t, Selector{}, "9c")
	pin := &countingPIN{pin: card.DefaultPIN}
	s, err := c.Signer(slot, cert, pin.source, SignerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	env.Card.ResetStats()
	for i := 1; i <= 3; i++ {
		digest := sha256.Sum256([]byte{byte(i)})
		sig, err := s.Sign(nil, digest[:], crypto.SHA256)
		if err != nil {
			t.Fatalf("signature %d: %v", i, err)
		}
		if !ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
			t.Errorf("signature %d does not verify", i)
		}
		if pin.calls != i {
			t.Errorf("after %d signatures the PIN source was called %d times", i, pin.calls)
		}
	}
	if n := commands("VERIFY", true); n != 3 {
		t.Errorf("%d PIN verifications for 3 signatures, want 3", n)
	}
	// The first request knows the retries; later ones find the PIN
	// verified, so the retries are unknown.
	if pin.reqs[0].RetriesLeft != 3 || pin.reqs[1].RetriesLeft != -1 {
		t.Errorf("PIN requests %+v", pin.reqs)
	}
}

func TestWrongPIN(t *testing.T) {
	freshCard(t)
	provision(t, piv.SlotAuthentication, piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever})
	c, slot, cert := openSlot(t, Selector{Serial: testSerial}, "9a")
	const wrong = "999888"
	pin := &countingPIN{pin: wrong}
	s, err := c.Signer(slot, cert, pin.source, SignerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("payload"))
	sign := func() error {
		_, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil && strings.Contains(err.Error(), wrong) {
			t.Errorf("error %q contains the PIN", err)
		}
		return err
	}

	env.Card.ResetStats()
	err = sign()
	var pe *CredentialError
	if !errors.As(err, &pe) || pe.Secret != SecretPIN || pe.RetriesLeft != 2 || pe.Blocked {
		t.Fatalf("wrong PIN: %v, want *CredentialError for the PIN with 2 retries left", err)
	}
	if pin.calls != 1 || commands("VERIFY", true) != 1 {
		t.Errorf("wrong PIN: source called %d times, %d PINs sent; want 1 and 1", pin.calls, commands("VERIFY", true))
	}
	if !strings.Contains(err.Error(), "2 tries left") {
		t.Errorf("error %q does not give the retries left", err)
	}
	c.Close()
	if n := pinRetries(t); n != 2 {
		t.Errorf("card has %d PIN retries left after one wrong PIN, want 2", n)
	}

	c = openTest(t, Selector{Serial: testSerial})
	if s, err = c.Signer(slot, cert, pin.source, SignerOptions{AllowLastPINTry: true}); err != nil {
		t.Fatal(err)
	}
	if err := sign(); !errors.As(err, &pe) || pe.RetriesLeft != 1 {
		t.Fatalf("second wrong PIN: %v, want 1 retry left", err)
	}
	if err := sign(); !errors.As(err, &pe) || !pe.Blocked || pe.RetriesLeft != 0 {
		t.Fatalf("third wrong PIN: %v, want blocked", err)
	}
	// Blocked: the card says so before any PIN is asked or sent.
	env.Card.ResetStats()
	if err = sign(); !errors.As(err, &pe) || !pe.Blocked {
		t.Fatalf("signature with a blocked PIN: %v, want blocked", err)
	}
	if pin.calls != 3 || commands("VERIFY", true) != 0 {
		t.Errorf("blocked PIN: source called %d times in all (want 3), %d PINs sent (want 0)", pin.calls, commands("VERIFY", true))
	}
	if !strings.Contains(err.Error(), "PUK") {
		t.Errorf("blocked PIN error %q does not mention the PUK", err)
	}
}

// TestLastPINTry: with one try left the signer does not try the PIN
// unless told to, so a pipeline with a wrong PIN cannot block the card.
func TestLastPINTry(t *testing.T) {
	freshCard(t)
	provision(t, piv.SlotSignature, piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever})
	withPIVGo(t, func(yk *piv.YubiKey) {
		for range 2 {
			if err := yk.VerifyPIN("999888"); err == nil {
				t.Fatal("a wrong PIN was accepted")
			}
		}
	})
	if n := pinRetries(t); n != 1 {
		t.Fatalf("%d PIN retries left after two wrong PINs, want 1", n)
	}
	sign := func(opts SignerOptions) (*countingPIN, error) {
		pin := &countingPIN{pin: card.DefaultPIN}
		return pin, signInSession(t, "9c", pin.source, opts)
	}

	env.Card.ResetStats()
	pin, err := sign(SignerOptions{})
	var pe *CredentialError
	if !errors.As(err, &pe) || pe.Secret != SecretPIN || !pe.LastTry || pe.RetriesLeft != 1 {
		t.Fatalf("signature with 1 try left: %v, want a *CredentialError with LastTry", err)
	}
	if pin.calls != 0 || commands("VERIFY", true) != 0 {
		t.Errorf("with 1 try left: PIN source called %d times, %d PINs sent; want 0 and 0", pin.calls, commands("VERIFY", true))
	}
	// What to do is for the program to say: the plugin names its
	// allow_last_pin_try setting (TestCardErrors in cmd/notation-piv).
	for _, want := range []string{"sign with slot 9c: no PIN was sent", "1 PIN try left"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "allow_last_pin_try") {
		t.Errorf("error %q names a setting of the plugin", err)
	}
	if n := pinRetries(t); n != 1 {
		t.Errorf("%d PIN retries left after the refusal, want 1", n)
	}

	pin, err = sign(SignerOptions{AllowLastPINTry: true})
	if err != nil || pin.calls != 1 {
		t.Fatalf("signature allowed the last try: %v, PIN source called %d times", err, pin.calls)
	}
	if pin.reqs[0].RetriesLeft != 1 {
		t.Errorf("PIN request %+v, want 1 retry left for the prompt", pin.reqs[0])
	}
	// Power the card off to forget the verified PIN, which would make
	// the status query answer 9000 instead of the retries.
	if err := env.Reinsert(); err != nil {
		t.Fatal(err)
	}
	if n := pinRetries(t); n != 3 {
		t.Errorf("%d PIN retries left after the right PIN, want 3", n)
	}
}

// TestPINForgottenAfterClose: a PIN verified by one signature does not
// unlock a key with PIN policy "once" for the next program to open the
// card. The session forgets it with VERIFY P1=FF, checked by the status
// query.
func TestPINForgottenAfterClose(t *testing.T) {
	freshCard(t)
	provision(t, piv.SlotSignature, piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever})
	env.Card.ResetStats()
	if err := signInSession(t, "9c", (&countingPIN{pin: card.DefaultPIN}).source, SignerOptions{}); err != nil {
		t.Fatalf("signature with the PIN: %v", err)
	}
	log := env.Card.Stats().Log
	if n := len(log); n < 2 || log[n-2].Name != "VERIFY" || log[n-2].P1 != 0xFF || log[n-1].Name != "VERIFY" || log[n-1].SW&0xFFF0 != 0x63C0 {
		t.Errorf("the session ended with %v, want VERIFY P1=FF and a status query answering 63Cx", log)
	}
	if err := signInSession(t, "9c", nil, SignerOptions{}); !errors.Is(err, ErrNoPIN) {
		t.Errorf("signature right after, without a PIN: %v, want ErrNoPIN: the PIN verified by the first session still unlocks the key", err)
	}
}

// TestPINForgottenWhenResetIgnored: a card that answers 9000 to VERIFY
// P1=FF but keeps the PIN verified still reports it verified to the
// status query, so Close falls back to the card reset, and the next
// session finds the PIN forgotten all the same.
func TestPINForgottenWhenResetIgnored(t *testing.T) {
	freshCard(t)
	provision(t, piv.SlotSignature, piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever})
	env.Card.KeepPINOnReset()
	env.Card.ResetStats()
	if err := signInSession(t, "9c", (&countingPIN{pin: card.DefaultPIN}).source, SignerOptions{}); err != nil {
		t.Fatalf("signature with the PIN: %v", err)
	}
	log := env.Card.Stats().Log
	if n := len(log); n < 1 || log[n-1].Name != "VERIFY" || log[n-1].SW != 0x9000 {
		t.Fatalf("the session ended with %v, want a status query answering 9000: the card should have ignored VERIFY P1=FF", log)
	}
	if err := signInSession(t, "9c", nil, SignerOptions{}); !errors.Is(err, ErrNoPIN) {
		t.Errorf("signature right after, without a PIN: %v, want ErrNoPIN: the card reset did not follow", err)
	}
}

// signInSession opens the only card, signs a SHA-256 digest once with the
// EC key in slot, and closes the card: a whole session, as one plugin run
// has. It returns the signature's error.
func signInSession(t *testing.T, slot string, pin PINSource, opts SignerOptions) error {
	t.Helper()
	c := openTest(t, Selector{})
	defer c.Close()
	s := mustSlot(t, slot)
	cert, err := c.Certificate(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := c.Signer(s, cert, pin, opts)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("payload"))
	_, err = signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	return err
}

func TestMalformedPIN(t *testing.T) {
	freshCard(t)
	provision(t, piv.SlotAuthentication, piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever})
	c, slot, cert := openSlot(t, Selector{}, "9a")
	digest := sha256.Sum256([]byte("payload"))
	for _, bad := range []string{"12345", "123456789"} {
		s, err := c.Signer(slot, cert, (&countingPIN{pin: bad}).source, SignerOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Sign(rand.Reader, digest[:], crypto.SHA256)
		var pe *CredentialError
		if !errors.As(err, &pe) || !pe.Malformed || pe.RetriesLeft != 3 {
			t.Errorf("PIN of %d characters: %v, want a malformed *CredentialError", len(bad), err)
		}
	}
	if n := commands("VERIFY", true); n != 0 {
		t.Errorf("%d malformed PINs reached the card", n)
	}
}

func TestNoPINForPolicyNever(t *testing.T) {
	freshCard(t)
	provision(t, piv.SlotCardAuthentication, ecNever)
	c, slot, cert := openSlot(t, Selector{}, "9e")
	s, err := c.Signer(slot, cert, func(PINRequest) ([]byte, error) {
		t.Error("PIN source called for a key with PIN policy never")
		return []byte(card.DefaultPIN), nil
	}, SignerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	env.Card.ResetStats()
	digest := sha256.Sum256([]byte("payload"))
	if _, err := s.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	if st := env.Card.Stats(); st.Commands != 1 || st.Log[0].Name != "GENERAL AUTHENTICATE" {
		t.Errorf("signature without PIN sent %d APDUs (%v), want 1 GENERAL AUTHENTICATE", st.Commands, st.Log)
	}
}

func TestNoPINSource(t *testing.T) {
	freshCard(t)
	provision(t, piv.SlotAuthentication, piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever})
	c, slot, cert := openSlot(t, Selector{}, "9a")
	digest := sha256.Sum256([]byte("payload"))
	for _, src := range []PINSource{nil, First(FromEnv("NOTATION_PIV_TEST_UNSET"), FromFile(""), Pinentry(""))} {
		s, err := c.Signer(slot, cert, src, SignerOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Sign(rand.Reader, digest[:], crypto.SHA256); !errors.Is(err, ErrNoPIN) {
			t.Errorf("signature without a PIN source: %v, want ErrNoPIN", err)
		}
	}
	if n := commands("VERIFY", true); n != 0 {
		t.Errorf("%d PINs sent without a PIN source", n)
	}
}

// TestAPDUCount measures the APDUs of one EC-256 signature with PIN policy
// always, as the plugin makes an envelope: open, read the certificate and
// the serial number, sign; and then the close that makes the card forget
// the PIN.
func TestAPDUCount(t *testing.T) {
	freshCard(t)
	provision(t, piv.SlotSignature, piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyAlways, TouchPolicy: piv.TouchPolicyNever})
	env.Card.ResetStats()
	c := retry(t, "Open", func() (*Card, error) { return Open(context.Background(), Selector{}) })
	defer c.Close()
	slot := mustSlot(t, "9c")
	cert, err := c.Certificate(context.Background(), slot)
	if err != nil {
		t.Fatal(err)
	}
	if serial, err := c.ReadSerial(context.Background()); err != nil || serial != testSerial {
		t.Fatalf("ReadSerial: %d, %v", serial, err)
	}
	s, err := c.Signer(slot, cert, (&countingPIN{pin: card.DefaultPIN}).source, SignerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("payload"))
	if _, err := s.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	signed := len(env.Card.Stats().Log)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// Each APDU and why it is needed.
	want := []struct{ name, why string }{
		{"SELECT", "Open: select the PIV application"},
		{"GET VERSION", "Open: piv-go reads the firmware version"},
		{"GET DATA", "the slot's certificate"},
		{"GET RESPONSE", "the rest of the certificate, past 256 bytes"},
		{"GET SERIAL", "the serial number for the envelope's annotation"},
		{"GENERAL AUTHENTICATE", "the signature, tried without the PIN: 6982 says the key wants it"},
		{"VERIFY", "the PIN status query: the retries left, for the PIN prompt and the last-try guard"},
		{"VERIFY", "the PIN, just before the signature (PIN policy always)"},
		{"GENERAL AUTHENTICATE", "the signature"},
		{"VERIFY", "Close: P1=FF, forget the PIN"},
		{"VERIFY", "Close: the PIN status query, which must answer 63Cx"},
	}
	log := env.Card.Stats().Log
	var got []string
	for i, e := range log {
		got = append(got, e.Name)
		if i < len(want) {
			t.Logf("APDU %d: %s (%04X): %s", i+1, e.Name, e.SW, want[i].why)
		}
	}
	t.Logf("EC-256 envelope, PIN policy always: %d APDUs to sign, %d to close", signed, len(log)-signed)
	if signed > 9 {
		t.Errorf("Open, certificate and serial number read and signature took %d APDUs (%s), want at most 9", signed, strings.Join(got[:signed], ", "))
	}
	if len(log) != len(want) {
		t.Fatalf("%d APDUs (%s), want %d", len(log), strings.Join(got, ", "), len(want))
	}
	for i, w := range want {
		if got[i] != w.name {
			t.Errorf("APDU %d is %s, want %s (%s)", i+1, got[i], w.name, w.why)
		}
	}
}

func TestTimeout(t *testing.T) {
	freshCard(t)
	provision(t, piv.SlotCardAuthentication, ecNever)
	c := retry(t, "Open", func() (*Card, error) { return Open(context.Background(), Selector{}) })
	slot := mustSlot(t, "9e")
	cert, err := c.Certificate(context.Background(), slot)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Signer(slot, cert, nil, SignerOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	env.Card.InjectFault(card.Fault{INS: 0x87, Delay: 10 * time.Second})
	defer env.Card.ClearFaults()
	digest := sha256.Sum256([]byte("payload"))
	start := time.Now()
	_, err = s.Sign(rand.Reader, digest[:], crypto.SHA256)
	elapsed := time.Since(start)
	var te *TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("signature on a stalled card: %v, want a *TimeoutError", err)
	}
	if elapsed < time.Second || elapsed > 2*time.Second {
		t.Errorf("signature timed out after %v, want about 1 s", elapsed)
	}
	t.Logf("timed out after %v: %v", elapsed, err)
	// The stalled signature still holds the card: the next call times out
	// waiting for it.
	start = time.Now()
	if _, err := s.Sign(rand.Reader, digest[:], crypto.SHA256); !errors.As(err, &te) || time.Since(start) > 2*time.Second {
		t.Errorf("signature while the card is busy: %v after %v, want a *TimeoutError within 2 s", err, time.Since(start))
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close during a stalled call: %v", err)
	}
	env.Card.ClearFaults()
	// Once the stalled call ends the card is released.
	withPIVGo(t, func(*piv.YubiKey) {})
}

func TestTimeoutOpen(t *testing.T) {
	freshCard(t)
	env.Card.InjectFault(card.Fault{INS: 0xF8, Delay: 10 * time.Second})
	defer env.Card.ClearFaults()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, err := Open(ctx, Selector{Serial: testSerial})
	var te *TimeoutError
	if !errors.As(err, &te) || time.Since(start) > 2*time.Second {
		t.Fatalf("Open on a stalled card: %v after %v, want a *TimeoutError within 2 s", err, time.Since(start))
	}
	env.Card.ClearFaults()
	// The abandoned handle is closed in the background.
	withPIVGo(t, func(*piv.YubiKey) {})
}

func TestTouchNotice(t *testing.T) {
	freshCard(t)
	provision(t, piv.SlotCardAuthentication, ecNever)
	c, slot, cert := openSlot(t, Selector{}, "9e")
	notices := make(chan struct{}, 10)
	s, err := c.Signer(slot, cert, nil, SignerOptions{TouchNotice: func() { notices <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("payload"))
	env.Card.InjectFault(card.Fault{INS: 0x87, Delay: 2500 * time.Millisecond, Times: 1})
	defer env.Card.ClearFaults()
	if _, err := s.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	if len(notices) != 1 {
		t.Errorf("slow signature: %d touch notices, want 1", len(notices))
	}
	if _, err := s.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	if len(notices) != 1 {
		t.Errorf("fast signature gave a touch notice")
	}
}

func TestKeyMismatch(t *testing.T) {
	freshCard(t)
	_, ca := provision(t, piv.SlotCardAuthentication, ecNever)
	// Replace the certificate with one for another key.
	other := ca.Issue(fixtures.NewKey("EC-256").Public(), fixtures.Name("Other Key"))
	withPIVGo(t, func(yk *piv.YubiKey) {
		if err := yk.SetCertificate(piv.DefaultManagementKey, piv.SlotCardAuthentication, other); err != nil {
			t.Fatal(err)
		}
	})
	c, slot, cert := openSlot(t, Selector{}, "9e")
	s, err := c.Signer(slot, cert, nil, SignerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("payload"))
	if _, err := s.Sign(rand.Reader, digest[:], crypto.SHA256); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("signature with another key's certificate: %v, want ErrKeyMismatch", err)
	}
}

// TestSignerChecks covers what Signer and Sign refuse before the card is
// asked; the Card is never used.
func TestSignerChecks(t *testing.T) {
	var c Card
	slot := Slot{key: 0x9c}
	ca := fixtures.NewRoot("CA")
	edLeaf := ca.Issue(fixtures.Key("Ed25519").Public(), fixtures.Name("Ed25519 Leaf"))
	_, err := c.Signer(slot, edLeaf, nil, SignerOptions{})
	var uk *keyspec.UnsupportedKeyError
	if !errors.As(err, &uk) || !strings.Contains(err.Error(), `"CN=Ed25519 Leaf"`) {
		t.Errorf("Signer with an Ed25519 certificate: %v, want *UnsupportedKeyError naming the certificate", err)
	}
	if _, err := c.Signer(slot, nil, nil, SignerOptions{}); err == nil {
		t.Error("Signer without a certificate succeeded")
	}
	if _, err := c.Signer(Slot{}, ca.Cert, nil, SignerOptions{}); err == nil {
		t.Error("Signer with the zero Slot succeeded")
	}
	s, err := c.Signer(slot, ca.Issue(fixtures.NewKey("EC-256").Public(), fixtures.Name("EC Leaf")), nil, SignerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		digest []byte
		opts   crypto.SignerOpts
	}{
		{nil, crypto.SHA256},
		{make([]byte, 20), crypto.SHA256},
		{make([]byte, 32), crypto.SHA384},
	} {
		if _, err := s.Sign(rand.Reader, tc.digest, tc.opts); err == nil || !strings.Contains(err.Error(), "digest") {
			t.Errorf("Sign(%d-byte digest, %v): %v, want a digest error", len(tc.digest), tc.opts, err)
		}
	}
}

// TestPCSCHandleOf: the PC/SC handle read from piv-go's connection is the
// connection's own: disconnecting it with a reset makes the card forget a
// verified PIN, and piv-go's handle is gone afterwards.
func TestPCSCHandleOf(t *testing.T) {
	freshCard(t)
	yk := vcardtest.OpenPIV(t)
	h, err := pcscHandleOf(yk)
	if err != nil {
		t.Fatal(err)
	}
	if err := yk.VerifyPIN(card.DefaultPIN); err != nil {
		t.Fatal(err)
	}
	if err := h.disconnectReset(); err != nil {
		t.Fatalf("disconnect with reset: %v", err)
	}
	if _, err := yk.Serial(); err == nil {
		t.Error("piv-go's connection still works after its handle was disconnected")
	}
	yk.Close()
	withPIVGo(t, func(yk *piv.YubiKey) {
		if n, err := yk.Retries(); err != nil || n != 3 {
			t.Errorf("PIN status after the reset: %d tries, %v; want 3 tries and not verified", n, err)
		}
	})
}
