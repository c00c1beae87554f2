package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"strconv"
	"testing"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/internal/attestation"
	"github.com/notation-piv/notation-piv/vsmartcard/card"
	"github.com/notation-piv/notation-piv/vsmartcard/vcardtest"
)

// swapIn puts c in the reader for the rest of the test, then the card it
// replaced back.
func swapIn(t *testing.T, c *card.Card) {
	t.Helper()
	freshCard(t)
	old := env.Card
	if err := env.Swap(c); err != nil {
		t.Fatalf("swap: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Swap(old); err != nil {
			t.Errorf("swap back: %v", err)
		}
	})
}

// TestVendorAttestation inserts two cards of one test vendor, one after
// the other, and attests keys of three types with different policies
// through pcscd with piv-go: every attestation verifies against the vendor
// root alone, with piv-go's Verifier and with internal/attestation, and
// carries the card's serial and firmware and the slot's real policies.
func TestVendorAttestation(t *testing.T) {
	ca, err := card.NewAttestationCA(rand.Reader, "Test Vendor Root")
	if err != nil {
		t.Fatal(err)
	}
	roots, err := attestation.NewRoots([]*x509.Certificate{ca.Certificate})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Certificate)

	keys := []struct {
		slot  piv.Slot
		key   piv.Key
		pin   attestation.PINPolicy
		touch attestation.TouchPolicy
	}{
		{piv.SlotSignature, piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyAlways, TouchPolicy: piv.TouchPolicyCached}, attestation.PINPolicyAlways, attestation.TouchPolicyCached},
		{piv.SlotAuthentication, piv.Key{Algorithm: piv.AlgorithmRSA2048, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever}, attestation.PINPolicyOnce, attestation.TouchPolicyNever},
		{piv.SlotKeyManagement, piv.Key{Algorithm: piv.AlgorithmEC384, PINPolicy: piv.PINPolicyNever, TouchPolicy: piv.TouchPolicyAlways}, attestation.PINPolicyNever, attestation.TouchPolicyAlways},
	}
	for _, cc := range []struct {
		serial   uint32
		firmware string
		version  attestation.Version
	}{
		{24681001, "5.7.1", attestation.Version{Major: 5, Minor: 7, Patch: 1}},
		{24681002, "5.4.3", attestation.Version{Major: 5, Minor: 4, Patch: 3}},
	} {
		t.Run(cc.firmware, func(t *testing.T) {
			c, err := card.New(card.Config{Serial: cc.serial, Firmware: cc.firmware, AttestationCA: ca})
			if err != nil {
				t.Fatal(err)
			}
			swapIn(t, c)
			yk := vcardtest.OpenPIV(t)
			device, err := yk.AttestationCertificate()
			if err != nil {
				t.Fatalf("attestation certificate: %v", err)
			}
			for _, k := range keys {
				pub, err := yk.GenerateKey(piv.DefaultManagementKey, k.slot, k.key)
				if err != nil {
					t.Fatalf("generate %v: %v", k.slot, err)
				}
				slotCert, err := yk.Attest(k.slot)
				if err != nil {
					t.Fatalf("attest %v: %v", k.slot, err)
				}
				theirs, err := (&piv.Verifier{Roots: pool}).Verify(device, slotCert)
				if err != nil {
					t.Fatalf("piv-go verify %v: %v", k.slot, err)
				}
				if theirs.Serial != cc.serial || theirs.Slot != k.slot || theirs.PINPolicy != k.key.PINPolicy || theirs.TouchPolicy != k.key.TouchPolicy {
					t.Errorf("piv-go reads %+v", theirs)
				}

				value, err := attestation.NewBundle(slotCert, device).Encode()
				if err != nil {
					t.Fatal(err)
				}
				policy, err := attestation.ParsePolicy([]string{"piv.attested: serial=1|" + strconv.FormatUint(uint64(cc.serial), 10) + ", firmware>=" + cc.version.String()})
				if err != nil {
					t.Fatal(err)
				}
				v := attestation.Check(map[string]any{attestation.HeaderKey: value}, leafFor(pub), attestation.Options{Roots: roots, Policy: policy})
				if v.Err != nil {
					t.Fatalf("check %v: %v", k.slot, v.Err)
				}
				a := v.Attestation
				if a.Serial != cc.serial || a.Firmware != cc.version || a.PINPolicy != k.pin || a.TouchPolicy != k.touch || a.Slot != k.slot.String() {
					t.Errorf("attestation of %v: %+v", k.slot, a)
				}
				if v := attestation.Check(map[string]any{attestation.HeaderKey: value}, leafFor(pub), attestation.Options{}); v.Err == nil {
					t.Error("a test vendor's attestation verified against Yubico's roots")
				}
			}
		})
	}
}

// TestAttestImportedKey imports a key and asks the card to attest it: the
// card answers 6A80, as a YubiKey does, which piv-go reports as
// ErrNotFound.
func TestAttestImportedKey(t *testing.T) {
	yk := openCard(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := yk.SetPrivateKeyInsecure(piv.DefaultManagementKey, piv.SlotSignature, key, ecOnce); err != nil {
		t.Fatalf("import: %v", err)
	}
	env.Card.ResetStats()
	if _, err := yk.Attest(piv.SlotSignature); !errors.Is(err, piv.ErrNotFound) {
		t.Errorf("attest an imported key: %v, want piv.ErrNotFound", err)
	}
	var attests []card.LogEntry
	for _, e := range env.Card.Stats().Log {
		if e.Name == "ATTEST" {
			attests = append(attests, e)
		}
	}
	if len(attests) != 1 || attests[0].SW != 0x6A80 {
		t.Errorf("ATTEST answers %+v, want one with 6A80", attests)
	}
}

// leafFor returns a signing certificate for pub, issued by a throwaway CA.
func leafFor(pub any) *x509.Certificate {
	return fixtures.NewRoot("Test Code Signing CA").Issue(pub, fixtures.Subject(pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Organization: []string{"Example"}}))
}
