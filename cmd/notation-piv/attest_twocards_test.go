package main

import (
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/notation-piv/notation-piv/vsmartcard/card"
)

// TestNotationAttestedTwoCards: two virtual cards of one vendor, as two
// YubiKeys share Yubico's root, each sign with attest=true through stock
// notation v1.3.2. Both signatures verify under "piv.attested: any" with
// the vendor's root as attestation_roots, and a serial allowlist that
// names only the first card passes its signature and refuses the
// second's, naming the second card's serial.
func TestNotationAttestedTwoCards(t *testing.T) {
	env := needCard(t)
	vendor, err := card.NewAttestationCA(rand.Reader, "notation-piv test vendor")
	if err != nil {
		t.Fatal(err)
	}
	first, err := card.New(card.Config{Serial: testSerial, AttestationCA: vendor})
	if err != nil {
		t.Fatal(err)
	}
	original := env.Card
	if err := env.Swap(first); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Swap(original); err != nil {
			t.Errorf("put the first card back: %v", err)
		}
	})
	_, otherLeaf := startSecondCard(t, card.Config{Serial: otherSerial, AttestationCA: vendor})
	leaves := map[uint32]*x509.Certificate{testSerial: provision(t, piv.AlgorithmEC256, nil), otherSerial: otherLeaf}

	n := newNotation(t)
	n.trust(leaves[testSerial], leaves[otherSerial])
	n.importAttestedPolicies()
	roots := "attestation_roots=" + writePEM(t, filepath.Join(n.dir, "vendor-root.pem"), vendor.Certificate)
	for _, serial := range []uint32{testSerial, otherSerial} {
		name := fmt.Sprintf("card-%d", serial)
		n.run("key", "add", name, "--plugin", "piv", "--id", "9c", "--plugin-config", fmt.Sprintf("serial=%d", serial))
		layout := newLayout(t, "attested by "+name)
		n.run("sign", "--oci-layout", "--key", name, "--plugin-config", "attest=true", layout.ref())
		if out, err := n.exec("verify", "--oci-layout", "--scope", "local/attested-any", "--plugin-config", roots, layout.ref(), "-v"); err != nil {
			t.Errorf("card %d under piv.attested: any: %v\n%s", serial, err, out)
		}
		out, err := n.exec("verify", "--oci-layout", "--scope", "local/attested-serial-in", "--plugin-config", roots, layout.ref(), "-v")
		switch {
		case serial == testSerial && err != nil:
			t.Errorf("card %d under an allowlist that names it: %v\n%s", serial, err, out)
		case serial == otherSerial && (err == nil || !strings.Contains(out, fmt.Sprintf("serial %d is not one of", otherSerial))):
			t.Errorf("card %d under an allowlist without it: %v, want its serial refused\n%s", serial, err, out)
		}
	}
}
