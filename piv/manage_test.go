package piv

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/internal/keyspec"
	"github.com/notation-piv/notation-piv/vsmartcard/card"
)

// cardState is the part of the virtual card's state these tests read.
type cardState struct {
	PIN        []byte `json:"pin"`
	PINRetries int    `json:"pinRetries"`
	PUKRetries int    `json:"pukRetries"`
	MgmtKey    []byte `json:"mgmtKey"`
}

func snapshot(t *testing.T) cardState {
	t.Helper()
	b, err := env.Card.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var st cardState
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// ourCard returns the virtual card's entry from List.
func ourCard(t *testing.T) CardInfo {
	t.Helper()
	cards := retry(t, "List", func() ([]CardInfo, error) { return List(context.Background()) })
	for _, c := range cards {
		if c.Reader == env.Reader {
			return c
		}
	}
	t.Fatalf("List = %v, without %q", cards, env.Reader)
	return CardInfo{}
}

func TestInspect(t *testing.T) {
	freshCard(t)
	info := ourCard(t)
	env.Card.ResetStats()
	st := retry(t, "Inspect", func() (*Status, error) { return Inspect(context.Background(), info) })
	t.Logf("Inspect of a factory card: %d APDUs", env.Card.Stats().Commands)
	if !st.Metadata || st.PIN != (Counter{3, 3, true}) || st.PUK != (Counter{3, 3, true}) ||
		st.ManagementKey != (ManagementKeyStatus{Algorithm: "3DES", Default: true}) || len(st.Slots) != 0 {
		t.Errorf("factory card: %+v", st)
	}

	leaf, _ := provision(t, piv.SlotSignature, piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyAlways, TouchPolicy: piv.TouchPolicyCached})
	withPIVGo(t, func(yk *piv.YubiKey) {
		if _, err := yk.GenerateKey(piv.DefaultManagementKey, retiredSlot(t, 0x85), piv.Key{Algorithm: piv.AlgorithmRSA2048, PINPolicy: piv.PINPolicyNever, TouchPolicy: piv.TouchPolicyNever}); err != nil {
			t.Fatal(err)
		}
		if err := yk.SetCertificate(piv.DefaultManagementKey, piv.SlotKeyManagement, leaf); err != nil {
			t.Fatal(err)
		}
		if err := yk.VerifyPIN("999999"); err == nil {
			t.Fatal("wrong PIN accepted")
		}
	})
	env.Card.ResetStats()
	st = retry(t, "Inspect", func() (*Status, error) { return Inspect(context.Background(), info) })
	n := env.Card.Stats().Commands
	t.Logf("Inspect of a card with 3 slots in use: %d APDUs", n)
	if n > 40 {
		t.Errorf("Inspect took %d APDUs, want at most 40", n)
	}
	if st.PIN.RetriesLeft != 2 || st.PIN.Default != true {
		t.Errorf("PIN %+v after a wrong PIN", st.PIN)
	}
	var got []string
	for _, ss := range st.Slots {
		got = append(got, ss.Slot.String())
	}
	if strings.Join(got, " ") != "9c 9d 85" {
		t.Fatalf("slots %v, want 9c 9d 85", got)
	}
	sig, mgmt, retired := st.Slots[0], st.Slots[1], st.Slots[2]
	if sig.Key == nil || sig.Key.Algorithm != "EC-256" || sig.Key.PINPolicy != PolicyAlways || sig.Key.TouchPolicy != PolicyCached || !sig.Key.Generated {
		t.Errorf("slot 9c key %+v", sig.Key)
	}
	if sig.Certificate == nil || !bytes.Equal(sig.Certificate.Raw, leaf.Raw) || !leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(sig.Key.PublicKey) {
		t.Errorf("slot 9c: certificate or public key differ from the one stored")
	}
	if mgmt.Key != nil || mgmt.Certificate == nil {
		t.Errorf("slot 9d (certificate only): %+v", mgmt)
	}
	if retired.Key == nil || retired.Key.Algorithm != "RSA-2048" || retired.Certificate != nil {
		t.Errorf("slot 85 (key only): %+v", retired)
	}
}

func retiredSlot(t *testing.T, key uint32) piv.Slot {
	t.Helper()
	s, ok := piv.RetiredKeyManagementSlot(key)
	if !ok {
		t.Fatalf("no slot %x", key)
	}
	return s
}

func TestInspectWithoutMetadata(t *testing.T) {
	freshCard(t)
	old, err := card.New(card.Config{Serial: 13572468, Firmware: "5.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	factory := env.Card
	if err := env.Swap(old); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Swap(factory); err != nil {
			t.Fatal(err)
		}
	})
	leaf, _ := provision(t, piv.SlotSignature, ecNever)
	c := openTest(t, Selector{Serial: 13572468})
	st, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Metadata || st.PIN.RetriesLeft != 3 || st.PUK.RetriesLeft != -1 || len(st.Slots) != 1 || st.Slots[0].Key != nil ||
		!bytes.Equal(st.Slots[0].Certificate.Raw, leaf.Raw) {
		t.Errorf("status of a card without GET METADATA: %+v", st)
	}
	// The factory key is assumed when the card cannot tell.
	key, protected, err := c.ManagementKey(context.Background(), st, nil, nil)
	if err != nil || protected || !bytes.Equal(key, piv.DefaultManagementKey) {
		t.Errorf("ManagementKey = %x, %v, %v", key, protected, err)
	}
}

func TestStatusReopensCard(t *testing.T) {
	freshCard(t)
	leaf, _ := provision(t, piv.SlotSignature, ecNever)
	c := openTest(t, Selector{Serial: testSerial})
	ctx := context.Background()
	if _, err := c.Status(ctx); err != nil {
		t.Fatal(err)
	}
	cert, err := c.Certificate(ctx, mustSlot(t, "9c"))
	if err != nil || !bytes.Equal(cert.Raw, leaf.Raw) {
		t.Fatalf("Certificate after Status: %v", err)
	}
}

// TestStatusReopensWithoutSerial: a Card whose serial number was not read
// is opened again without GET SERIAL: there is nothing to compare it with.
func TestStatusReopensWithoutSerial(t *testing.T) {
	freshCard(t)
	c := openTest(t, Selector{})
	env.Card.ResetStats()
	if _, err := c.Status(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := commands("GET SERIAL", false); n != 0 {
		t.Errorf("Status sent GET SERIAL %d times for a card opened without its serial number, want 0", n)
	}
}

func TestPINAndPUK(t *testing.T) {
	freshCard(t)
	c := openTest(t, Selector{Serial: testSerial})
	ctx := context.Background()

	var pinErr, pukErr *CredentialError
	if err := c.ChangePIN(ctx, []byte("12345"), []byte("24681357")); !errors.As(err, &pinErr) || !pinErr.Malformed {
		t.Fatalf("ChangePIN with a 5-character PIN: %v", err)
	}
	if err := c.ChangePIN(ctx, []byte(factoryPIN), []byte("12345")); err == nil || !strings.Contains(err.Error(), "6 to 8") {
		t.Fatalf("ChangePIN to a 5-character PIN: %v", err)
	}
	// PINs and PUKs with whitespace at an end or a control character
	// never reach the card.
	env.Card.ResetStats()
	for _, bad := range []string{factoryPIN + " ", " " + factoryPIN, factoryPIN + "\n", "123\t456"} {
		if err := c.VerifyPIN(ctx, []byte(bad)); !errors.As(err, &pinErr) || !pinErr.Malformed {
			t.Errorf("VerifyPIN(%q): %v", bad, err)
		}
		if err := c.ChangePIN(ctx, []byte(bad), []byte("24681357")); !errors.As(err, &pinErr) || !pinErr.Malformed {
			t.Errorf("ChangePIN(%q): %v", bad, err)
		}
		if err := c.ChangePIN(ctx, []byte(factoryPIN), []byte(bad)); err == nil || !strings.Contains(err.Error(), "the new PIN") {
			t.Errorf("ChangePIN to %q: %v", bad, err)
		}
		if err := c.UnblockPIN(ctx, []byte(bad+"78"), []byte("24681357")); !errors.As(err, &pukErr) || pukErr.Secret != SecretPUK || !pukErr.Malformed {
			t.Errorf("UnblockPIN with PUK %q: %v", bad+"78", err)
		}
		if err := c.ChangePUK(ctx, []byte("12345678"), []byte(bad)); err == nil || !strings.Contains(err.Error(), "the new PUK") {
			t.Errorf("ChangePUK to %q: %v", bad, err)
		}
	}
	if n := env.Card.Stats().Commands; n != 0 {
		t.Errorf("malformed PINs and PUKs sent %d commands to the card", n)
	}
	if st := snapshot(t); st.PINRetries != 3 || st.PUKRetries != 3 {
		t.Fatalf("malformed PINs and PUKs cost retries: %+v", st)
	}
	if err := c.ChangePIN(ctx, []byte("999999"), []byte("24681357")); !errors.As(err, &pinErr) || pinErr.RetriesLeft != 2 {
		t.Fatalf("ChangePIN with a wrong PIN: %v", err)
	}
	if n := snapshot(t).PINRetries; n != 2 {
		t.Fatalf("a wrong PIN left %d retries, want 2", n)
	}
	if err := c.ChangePIN(ctx, []byte(factoryPIN), []byte("24681357")); err != nil {
		t.Fatal(err)
	}
	if st := snapshot(t); st.PINRetries != 3 || !bytes.HasPrefix(st.PIN, []byte("24681357")) {
		t.Fatalf("PIN not changed: %+v", st)
	}
	for i := 0; i < 3; i++ {
		c.VerifyPIN(ctx, []byte("000000"))
	}
	if err := c.VerifyPIN(ctx, []byte("24681357")); !errors.As(err, &pinErr) || !pinErr.Blocked {
		t.Fatalf("VerifyPIN once blocked: %v", err)
	}
	if err := c.UnblockPIN(ctx, []byte("87654321"), []byte("11223344")); !errors.As(err, &pukErr) || pukErr.RetriesLeft != 2 {
		t.Fatalf("UnblockPIN with a wrong PUK: %v", err)
	}
	if err := c.UnblockPIN(ctx, []byte("12345678"), []byte("11223344")); err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyPIN(ctx, []byte("11223344")); err != nil {
		t.Fatalf("the new PIN after unblocking: %v", err)
	}
	if err := c.ChangePUK(ctx, []byte("12345678"), []byte("55667788")); err != nil {
		t.Fatal(err)
	}
	if err := c.ChangePUK(ctx, []byte("12345678"), []byte("55667788")); !errors.As(err, &pukErr) || pukErr.RetriesLeft != 2 {
		t.Fatalf("ChangePUK with the old PUK: %v", err)
	}
}

// factoryPIN is the PIN of a new card.
const factoryPIN = "123456"

func TestManagementKey(t *testing.T) {
	freshCard(t)
	c := openTest(t, Selector{Serial: testSerial})
	ctx := context.Background()
	slot := mustSlot(t, "9a")
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	def, protected, err := c.ManagementKey(ctx, st, nil, nil)
	if err != nil || protected {
		t.Fatal(err, protected)
	}
	if err := c.SetManagementKey(ctx, def, nil, true); err != nil {
		t.Fatal(err)
	}
	if st, err = c.Status(ctx); err != nil {
		t.Fatal(err)
	}
	if st.ManagementKey.Default || st.ManagementKey.Algorithm != "AES-192" {
		t.Fatalf("management key after --protect: %+v", st.ManagementKey)
	}
	var credErr *CredentialError
	if _, err := c.GenerateKey(ctx, def, slot, KeyOptions{keyspec.EC256, PolicyNever, PolicyNever}); !errors.As(err, &credErr) || credErr.Secret != SecretManagementKey {
		t.Fatalf("GenerateKey with the old key: %v", err)
	}

	var pinErr *CredentialError
	wrong := func() ([]byte, error) { return []byte("654321"), nil }
	if _, _, err := c.ManagementKey(ctx, st, nil, wrong); !errors.As(err, &pinErr) || pinErr.RetriesLeft != 2 {
		t.Fatalf("protected key with a wrong PIN: %v", err)
	}
	right := func() ([]byte, error) { return []byte(factoryPIN), nil }
	key, protected, err := c.ManagementKey(ctx, st, nil, right)
	if err != nil || !protected || len(key) != 24 {
		t.Fatalf("protected key: %v %v", protected, err)
	}
	if !bytes.Equal(key, snapshot(t).MgmtKey) {
		t.Fatal("the protected copy is not the card's management key")
	}
	pub, err := c.GenerateKey(ctx, key, slot, KeyOptions{keyspec.EC256, PolicyNever, PolicyNever})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := c.KeySigner(slot, pub, nil, SignerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := fixtures.Issue(fixtures.LeafTemplate(fixtures.Name("managed")), pub, nil, signer)
	if err != nil {
		t.Fatalf("sign a certificate with the new key: %v", err)
	}
	if err := c.StoreCertificate(ctx, key, slot, cert); err != nil {
		t.Fatal(err)
	}

	// Back to a key the user keeps: the protected copy goes.
	own, err := ParseManagementKey(strings.Repeat("0f", 32))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ManagementKey(ctx, st, own[:16], nil); err == nil || !strings.Contains(err.Error(), "AES-192") {
		t.Fatalf("a 16-byte key for an AES-192 card: %v", err)
	}
	if err := c.SetManagementKey(ctx, key, own, false); err != nil {
		t.Fatal(err)
	}
	if st, err = c.Status(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ManagementKey(ctx, st, nil, right); !errors.Is(err, ErrNoProtectedKey) {
		t.Fatalf("protected key after setting one: %v", err)
	}
	if err := c.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err = c.Status(ctx); err != nil {
		t.Fatal(err)
	}
	if !st.ManagementKey.Default || !st.PIN.Default || len(st.Slots) != 0 {
		t.Fatalf("after Reset: %+v", st)
	}
}

func TestParseManagementKey(t *testing.T) {
	for _, s := range []string{"", "xyz", strings.Repeat("00", 20), strings.Repeat("0", 47)} {
		if _, err := ParseManagementKey(s); err == nil {
			t.Errorf("ParseManagementKey(%q) succeeded", s)
		} else if strings.Contains(err.Error(), s) && s != "" {
			t.Errorf("the error shows the key: %v", err)
		}
	}
	if k, err := ParseManagementKey(" " + strings.Repeat("Ab", 24) + "\n"); err != nil || len(k) != 24 {
		t.Errorf("ParseManagementKey: %x %v", k, err)
	}
}

// TestPINForgottenAfterManagementKey: the PIN that ManagementKey sends to
// read the protected copy of the management key is forgotten on Close,
// even when the card holds no copy and nothing else verified anything.
func TestPINForgottenAfterManagementKey(t *testing.T) {
	freshCard(t)
	withPIVGo(t, func(yk *piv.YubiKey) {
		if err := yk.SetManagementKey(piv.DefaultManagementKey, bytes.Repeat([]byte{0x0f}, 24)); err != nil {
			t.Fatal(err)
		}
	})
	c := openTest(t, Selector{Serial: testSerial})
	ctx := context.Background()
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	right := func() ([]byte, error) { return []byte(factoryPIN), nil }
	if _, _, err := c.ManagementKey(ctx, st, nil, right); !errors.Is(err, ErrNoProtectedKey) {
		t.Fatalf("protected key on a card without one: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if n := pinRetries(t); n != 3 {
		t.Errorf("%d PIN retries left after Close, want 3 and the PIN not verified", n)
	}
}

// TestManageNotRunAfterTimeout: a management command whose piv-go
// connection opens only after its deadline, here because SELECT stalls,
// is not run once the caller was told that it timed out.
func TestManageNotRunAfterTimeout(t *testing.T) {
	freshCard(t)
	c := openTest(t, Selector{Serial: testSerial})
	env.Card.InjectFault(card.Fault{INS: 0xA4, Times: 1, Delay: 2 * time.Second})
	env.Card.ResetStats()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var te *TimeoutError
	if err := c.Reset(ctx); !errors.As(err, &te) {
		t.Fatalf("Reset while SELECT stalls: %v, want a *TimeoutError", err)
	}
	c.Close()
	// Once the stalled SELECT ends the card is released.
	withPIVGo(t, func(*piv.YubiKey) {})
	for _, e := range env.Card.Stats().Log {
		if e.INS == 0xFB || e.Name == "VERIFY" {
			t.Fatalf("the card got %s after Reset timed out", e.Name)
		}
	}
}
