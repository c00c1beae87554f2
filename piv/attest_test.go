package piv

import (
	"context"
	"crypto"
	"errors"
	"strings"
	"testing"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/notation-piv/notation-piv/fixtures"
)

// TestAttest attests a key generated on the card: the slot certificate
// holds the slot's key and was signed by the device certificate, which
// the card's vendor root issued; an imported key is refused.
func TestAttest(t *testing.T) {
	freshCard(t)
	leaf, _ := provision(t, piv.SlotSignature, ecNever)
	key := fixtures.Key("EC-256")
	withPIVGo(t, func(yk *piv.YubiKey) {
		if err := yk.SetPrivateKeyInsecure(piv.DefaultManagementKey, piv.SlotAuthentication, key, ecNever); err != nil {
			t.Fatal(err)
		}
		if err := yk.SetCertificate(piv.DefaultManagementKey, piv.SlotAuthentication, fixtures.SelfSigned(key)); err != nil {
			t.Fatal(err)
		}
	})
	c := openTest(t, Selector{Serial: testSerial})
	ctx := context.Background()
	env.Card.ResetStats()
	slotCert, device, err := c.Attest(ctx, mustSlot(t, "9c"))
	if err != nil {
		t.Fatal(err)
	}
	if n := commands("ATTEST", false); n != 1 {
		t.Errorf("%d ATTEST commands, want 1", n)
	}
	if !leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(slotCert.PublicKey) {
		t.Error("the attested key is not the slot's key")
	}
	if err := slotCert.CheckSignatureFrom(device); err != nil {
		t.Errorf("the device certificate did not sign the slot certificate: %v", err)
	}
	root, err := env.Card.AttestationCA()
	if err != nil {
		t.Fatal(err)
	}
	if err := device.CheckSignatureFrom(root); err != nil {
		t.Errorf("the vendor root did not sign the device certificate: %v", err)
	}
	_, _, err = c.Attest(ctx, mustSlot(t, "9a"))
	if !errors.Is(err, ErrKeyImported) || !strings.Contains(err.Error(), "slot 9a") {
		t.Errorf("Attest(imported key) = %v, want ErrKeyImported naming the slot", err)
	}
	if _, _, err := c.Attest(ctx, Slot{}); err == nil {
		t.Error("Attest(zero Slot) succeeded")
	}
}
