package card

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/notation-piv/notation-piv/internal/attestation"
)

func newTestCA(t testing.TB) *AttestationCA {
	t.Helper()
	ca, err := NewAttestationCA(rand.Reader, "Test Vendor Root")
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// deviceCertificate reads the card's attestation certificate (object
// 5FFF01).
func deviceCertificate(t testing.TB, c *Card) *x509.Certificate {
	t.Helper()
	objs, ok := template(expectAll(t, c, "00CB3FFF055C035FFF0100"), 0x53)
	der, found := find(objs, 0x70)
	cert, err := x509.ParseCertificate(der)
	if !ok || !found || err != nil {
		t.Fatalf("no certificate in 5FFF01: %v", err)
	}
	return cert
}

// TestAttestWithVendorCA gives two cards one vendor root: each card's
// attestations verify against it and carry the card's serial and firmware
// and the slot's policies.
func TestAttestWithVendorCA(t *testing.T) {
	ca := newTestCA(t)
	roots, err := attestation.NewRoots([]*x509.Certificate{ca.Certificate})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		serial   uint32
		firmware string
		gen      string // GENERATE for slot 9C
		want     attestation.Attestation
	}{
		{1111, "5.7.1", "0047009C0B AC09 800111 AA0103 AB0103",
			attestation.Attestation{Slot: "9c", Serial: 1111, Firmware: attestation.Version{Major: 5, Minor: 7, Patch: 1}, PINPolicy: attestation.PINPolicyAlways, TouchPolicy: attestation.TouchPolicyCached}},
		{2222, "5.4.3", "0047009C05 AC03 800114",
			attestation.Attestation{Slot: "9c", Serial: 2222, Firmware: attestation.Version{Major: 5, Minor: 4, Patch: 3}, PINPolicy: attestation.PINPolicyAlways, TouchPolicy: attestation.TouchPolicyNever}},
		{3333, "5.7.1", "0047009C0B AC09 800107 AA0102 AB0102",
			attestation.Attestation{Slot: "9c", Serial: 3333, Firmware: attestation.Version{Major: 5, Minor: 7, Patch: 1}, PINPolicy: attestation.PINPolicyOnce, TouchPolicy: attestation.TouchPolicyAlways}},
	} {
		t.Run(tc.firmware, func(t *testing.T) {
			c, err := New(Config{Serial: tc.serial, Firmware: tc.firmware, AttestationCA: ca})
			if err != nil {
				t.Fatal(err)
			}
			if got, err := c.AttestationCA(); err != nil || !got.Equal(ca.Certificate) {
				t.Errorf("AttestationCA() is not the vendor root: %v", err)
			}
			authenticate3DES(t, c)
			expectAll(t, c, tc.gen)
			slot := expectAll(t, c, "00F99C0000")
			b, err := attestation.ParseBundle(base64.StdEncoding.EncodeToString(slot) + "," + base64.StdEncoding.EncodeToString(deviceCertificate(t, c).Raw))
			if err != nil {
				t.Fatal(err)
			}
			a, err := b.Verify(roots, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if a.Slot != tc.want.Slot || a.Serial != tc.want.Serial || a.Firmware != tc.want.Firmware ||
				a.PINPolicy != tc.want.PINPolicy || a.TouchPolicy != tc.want.TouchPolicy || a.FIPS {
				t.Errorf("attested %+v, want %+v", a, tc.want)
			}
			if !a.Chain[len(a.Chain)-1].Equal(ca.Certificate) {
				t.Error("the chain does not end at the vendor root")
			}
			priv, err := c.state.Keys[0x9C].privateKey()
			if err != nil {
				t.Fatal(err)
			}
			if !samePublic(a.PublicKey, priv) {
				t.Error("the attested key is not the slot's key")
			}
		})
	}
}

// TestAttestRefusesImportedKeys checks the answers a YubiKey gives: 6A80
// for an imported key and for an empty slot.
func TestAttestRefusesImportedKeys(t *testing.T) {
	c, err := New(Config{Serial: 4242, AttestationCA: newTestCA(t)})
	if err != nil {
		t.Fatal(err)
	}
	authenticate3DES(t, c)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	scalar := key.D.FillBytes(make([]byte, 32))
	expectSW(t, c, "00FE119A22 0620"+hex.EncodeToString(scalar), swOK)
	expectSW(t, c, "00F99A0000", swWrongData)
	expectSW(t, c, "00F99D0000", swWrongData)
	expectSW(t, c, "00F9F90000", swWrongP1P2)
	expectSW(t, c, "00F99A0100", swWrongP1P2)
}

// TestLoadReissuesAttestation loads a card saved with a root of its own
// under a vendor root: the vendor root certifies the same attestation key,
// and the new certificate is saved; the vendor's key stays out of the
// card's state.
func TestLoadReissuesAttestation(t *testing.T) {
	var saved []byte
	persist := func(b []byte) error { saved = append([]byte(nil), b...); return nil }
	c, err := New(Config{Serial: 77, Persist: persist})
	if err != nil {
		t.Fatal(err)
	}
	before := deviceCertificate(t, c)
	ca := newTestCA(t)
	snapshot := saved
	saved = nil
	d, err := Load(Config{AttestationCA: ca, Persist: persist}, snapshot)
	if err != nil {
		t.Fatal(err)
	}
	after := deviceCertificate(t, d)
	if err := after.CheckSignatureFrom(ca.Certificate); err != nil {
		t.Errorf("the new attestation certificate is not the vendor's: %v", err)
	}
	if !bytes.Equal(after.RawSubjectPublicKeyInfo, before.RawSubjectPublicKeyInfo) {
		t.Error("the attestation key changed")
	}
	if saved == nil {
		t.Fatal("the new attestation certificate was not persisted")
	}
	vendorKey, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(saved, []byte(base64.StdEncoding.EncodeToString(vendorKey))) {
		t.Error("the card's state holds the vendor's private key")
	}

	// Loading again under the same root changes nothing.
	saved = nil
	e, err := Load(Config{AttestationCA: ca, Persist: persist}, snapshotOf(t, d))
	if err != nil {
		t.Fatal(err)
	}
	if saved != nil || !deviceCertificate(t, e).Equal(after) {
		t.Error("a card already certified by the root was certified again")
	}
}

func snapshotOf(t *testing.T, c *Card) []byte {
	t.Helper()
	b, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAttestationCAPEM(t *testing.T) {
	ca := newTestCA(t)
	data, err := ca.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseAttestationCA(data)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Certificate.Equal(ca.Certificate) || !samePublic(got.Key.Public(), ca.Key) {
		t.Error("ParseAttestationCA(MarshalPEM) differs")
	}

	other := newTestCA(t)
	otherPEM, err := other.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM := splitPEM(t, data)
	_, otherKeyPEM := splitPEM(t, otherPEM)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: randomSerial(rand.Reader), Subject: pkix.Name{CommonName: "leaf"}}, ca.Certificate, &leafKey.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	leafKeyDER, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	leafPEM := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: leafKeyDER})...)

	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"key first", append(append([]byte(nil), keyPEM...), certPEM...), ""},
		{"empty", nil, "want one CERTIFICATE and one PRIVATE KEY PEM block"},
		{"no key", certPEM, "want one CERTIFICATE and one PRIVATE KEY"},
		{"no certificate", keyPEM, "want one CERTIFICATE and one PRIVATE KEY"},
		{"another root's key", append(append([]byte(nil), certPEM...), otherKeyPEM...), "attestation CA key does not match its certificate"},
		{"two certificates", append(append([]byte(nil), data...), certPEM...), `unexpected PEM block "CERTIFICATE"`},
		{"EC key block", append(append([]byte(nil), certPEM...), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1}})...), `unexpected PEM block "EC PRIVATE KEY"`},
		{"not a CA", leafPEM, "attestation CA certificate is not a CA certificate"},
		{"bad certificate", append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), keyPEM...), "attestation CA certificate:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseAttestationCA(tc.data)
			if tc.want == "" {
				if err != nil {
					t.Errorf("ParseAttestationCA: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseAttestationCA: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// splitPEM returns the certificate and key blocks of MarshalPEM's output.
func splitPEM(t *testing.T, data []byte) (cert, key []byte) {
	t.Helper()
	i := bytes.Index(data, []byte("-----BEGIN PRIVATE KEY-----"))
	if i < 0 {
		t.Fatal("no key block")
	}
	return data[:i], data[i:]
}

// samePublic reports whether pub is the public key of priv.
func samePublic(pub crypto.PublicKey, priv crypto.PrivateKey) bool {
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return false
	}
	eq, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(pub)
}

// expectAll sends a short APDU and collects the answer with GET RESPONSE,
// failing the test unless it ends in 9000.
func expectAll(t testing.TB, c *Card, apdu string) []byte {
	t.Helper()
	data, sw := send(t, c, apdu)
	got := append([]byte(nil), data...)
	for sw&0xFF00 == 0x6100 {
		data, sw = send(t, c, "00C0000000")
		got = append(got, data...)
	}
	if sw != swOK {
		t.Fatalf("%s: status %04X, want 9000", apdu, sw)
	}
	return got
}
