package attestation

import (
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/notation-piv/notation-piv/internal/pemcert"
)

func TestVerifyFacts(t *testing.T) {
	v := newVendor(t)
	key := newECKey(t)
	for _, tc := range []struct {
		name  string
		facts facts
		want  Attestation
	}{
		{"YubiKey 5", defaultFacts, Attestation{Slot: "9c", Serial: 12345678, Firmware: Version{5, 7, 1}, PINPolicy: PINPolicyAlways, TouchPolicy: TouchPolicyAlways, FormFactor: 3}},
		{"FIPS form factor", facts{firmware: [3]byte{5, 4, 3}, serial: 4294967295, pin: 2, touch: 3, formFactor: 0x83},
			Attestation{Slot: "9c", Serial: 4294967295, Firmware: Version{5, 4, 3}, PINPolicy: PINPolicyOnce, TouchPolicy: TouchPolicyCached, FormFactor: 0x83, FIPS: true}},
		{"FIPS extension, no form factor", facts{firmware: [3]byte{4, 3, 7}, serial: 0, pin: 1, touch: 1, formFactor: -1, fipsExt: true},
			Attestation{Slot: "9c", Firmware: Version{4, 3, 7}, PINPolicy: PINPolicyNever, TouchPolicy: TouchPolicyNever, FIPS: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := v.attest(t, key.Public(), tc.facts)
			a, err := b.Verify(v.roots(t), time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if a.Slot != tc.want.Slot || a.Serial != tc.want.Serial || a.Firmware != tc.want.Firmware || a.PINPolicy != tc.want.PINPolicy ||
				a.TouchPolicy != tc.want.TouchPolicy || a.FormFactor != tc.want.FormFactor || a.FIPS != tc.want.FIPS {
				t.Errorf("facts %+v, want %+v", a, tc.want)
			}
			if len(a.Chain) != 3 || a.Chain[0] != b.Slot || a.Chain[1] != b.Device || !a.Chain[2].Equal(v.root.cert) {
				t.Errorf("chain of %d certificates, want slot, device, root", len(a.Chain))
			}
			if err := a.CheckKey(signingCert(t, key.Public(), exampleSubject)); err != nil {
				t.Errorf("CheckKey with the attested key: %v", err)
			}
		})
	}
}

func TestVerifyChain(t *testing.T) {
	v := newVendor(t)
	pub := newECKey(t).Public()
	other := newVendor(t)

	// A vendor with an intermediate between its root and the device
	// certificate, as in Yubico's 2024 hierarchy.
	mid := newIssuer(t, "Vendor Intermediate", v.root, certOptions{})
	deviceUnderMid := newIssuer(t, "Device under intermediate", mid, certOptions{})
	viaMid := (&vendor{root: v.root, device: deviceUnderMid}).attest(t, pub, defaultFacts)

	// Device certificates without basicConstraints: as YubiKey 4s make
	// them (with Yubico's firmware extension), as any end-entity
	// certificate might be (without it), and with a key usage that forbids
	// signing certificates; and one with cA false.
	firmware := []pkix.Extension{{Id: oidFirmware, Value: []byte{4, 3, 5}}}
	bareDevice := newIssuer(t, "Device without basicConstraints", v.root, certOptions{noBasicConstraints: true, extensions: firmware})
	bareLeaf := newIssuer(t, "End entity without basicConstraints", v.root, certOptions{noBasicConstraints: true})
	bareSigner := newIssuer(t, "Device that may not sign certificates", v.root, certOptions{noBasicConstraints: true, extensions: firmware, keyUsage: x509.KeyUsageDigitalSignature})
	notCADevice := newIssuer(t, "Device with cA false", v.root, certOptions{notCA: true, extensions: firmware})
	// An intermediate without basicConstraints above a proper device.
	bareMid := newIssuer(t, "Intermediate without basicConstraints", v.root, certOptions{noBasicConstraints: true})
	deviceUnderBareMid := newIssuer(t, "Device under bare intermediate", bareMid, certOptions{})

	good := v.attest(t, pub, defaultFacts)
	expiredDevice := newIssuer(t, "Expired device", v.root, certOptions{notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-24 * time.Hour)})

	for _, tc := range []struct {
		name   string
		bundle *Bundle
		roots  *Roots
		at     time.Time
		want   string // "" for a verified chain
	}{
		{"right root", good, v.roots(t), time.Time{}, ""},
		{"wrong root", good, other.roots(t), time.Time{}, "certificate signed by unknown authority"},
		{"intermediate carried", &Bundle{Slot: viaMid.Slot, Device: viaMid.Device, Intermediates: []*x509.Certificate{mid.cert}}, v.roots(t), time.Time{}, ""},
		{"intermediate missing", viaMid, v.roots(t), time.Time{}, "certificate signed by unknown authority"},
		{"device without basicConstraints", (&vendor{root: v.root, device: bareDevice}).attest(t, pub, defaultFacts), v.roots(t), time.Time{}, ""},
		{"device with cA false", (&vendor{root: v.root, device: notCADevice}).attest(t, pub, defaultFacts), v.roots(t), time.Time{}, "verify attestation chain"},
		{"end entity without basicConstraints as the device", (&vendor{root: v.root, device: bareLeaf}).attest(t, pub, defaultFacts), v.roots(t), time.Time{}, "verify attestation chain"},
		{"device whose key usage forbids signing certificates", (&vendor{root: v.root, device: bareSigner}).attest(t, pub, defaultFacts), v.roots(t), time.Time{}, "verify attestation chain"},
		{"intermediate without basicConstraints", func() *Bundle {
			b := (&vendor{root: v.root, device: deviceUnderBareMid}).attest(t, pub, defaultFacts)
			b.Intermediates = []*x509.Certificate{bareMid.cert}
			return b
		}(), v.roots(t), time.Time{}, "verify attestation chain"},
		{"bare device moved to the intermediates", func() *Bundle {
			b := (&vendor{root: v.root, device: bareDevice}).attest(t, pub, defaultFacts)
			return &Bundle{Slot: b.Slot, Device: v.device.cert, Intermediates: []*x509.Certificate{bareDevice.cert}}
		}(), v.roots(t), time.Time{}, "verify attestation chain"},
		{"slot not issued by the device", func() *Bundle {
			b := (&vendor{root: v.root, device: mid}).attest(t, pub, defaultFacts)
			return &Bundle{Slot: b.Slot, Device: v.device.cert, Intermediates: []*x509.Certificate{mid.cert}}
		}(), v.roots(t), time.Time{}, "the slot certificate is not issued by the device certificate"},
		{"device of another card", &Bundle{Slot: good.Slot, Device: other.device.cert}, v.roots(t), time.Time{}, "verify attestation chain"},
		{"expired", (&vendor{root: v.root, device: expiredDevice}).attest(t, pub, defaultFacts), v.roots(t), time.Time{}, "expired"},
		{"before the validity", good, v.roots(t), time.Now().Add(-24 * time.Hour), "not yet valid"},
		{"device pinned as the root", good, mustRoots(t, v.device.cert), time.Time{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := tc.bundle.Verify(tc.roots, tc.at)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if !a.Chain[1].Equal(tc.bundle.Device) {
					t.Error("the chain's second certificate is not the device certificate")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Verify: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func mustRoots(t testing.TB, certs ...*x509.Certificate) *Roots {
	t.Helper()
	r, err := NewRoots(certs)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestVerifyLeavesDeviceAlone checks that the basicConstraints exception
// works on a copy: the caller's device certificate is unchanged.
func TestVerifyLeavesDeviceAlone(t *testing.T) {
	v := newVendor(t)
	bare := newIssuer(t, "Device without basicConstraints", v.root, certOptions{noBasicConstraints: true, extensions: []pkix.Extension{{Id: oidFirmware, Value: []byte{4, 3, 5}}}})
	b := (&vendor{root: v.root, device: bare}).attest(t, newECKey(t).Public(), defaultFacts)
	if _, err := b.Verify(v.roots(t), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if b.Device.BasicConstraintsValid || b.Device.IsCA {
		t.Error("Verify changed the bundle's device certificate")
	}
}

func TestVerifyMalformedFacts(t *testing.T) {
	v := newVendor(t)
	pub := newECKey(t).Public()
	for _, tc := range []struct {
		name string
		edit func(f facts) facts
		drop int // index of an extension to leave out, or -1
		want string
	}{
		{"unknown PIN policy", func(f facts) facts { f.pin = 9; return f }, -1, "unknown PIN policy 0x09"},
		{"unknown touch policy", func(f facts) facts { f.touch = 0; return f }, -1, "unknown touch policy 0x00"},
		{"negative serial", func(f facts) facts { f.serial = -1; return f }, -1, "serial number -1 is out of range"},
		{"serial over 32 bits", func(f facts) facts { f.serial = 1 << 32; return f }, -1, "serial number 4294967296 is out of range"},
		{"no firmware", nil, 0, "has no firmware version"},
		{"no serial", nil, 1, "has no serial number"},
		{"no policy", nil, 2, "has no PIN and touch policy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := defaultFacts
			if tc.edit != nil {
				f = tc.edit(f)
			}
			exts := f.extensions(t)
			if tc.drop >= 0 {
				exts = append(exts[:tc.drop:tc.drop], exts[tc.drop+1:]...)
			}
			slot := newCert(t, "YubiKey PIV Attestation 9c", pub, nil, v.device, certOptions{noBasicConstraints: true, extensions: exts})
			_, err := (&Bundle{Slot: slot, Device: v.device.cert}).Verify(v.roots(t), time.Time{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Verify: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestCheckKey(t *testing.T) {
	v := newVendor(t)
	ec, rsaKey := newECKey(t), newRSAKey(t)
	for _, tc := range []struct {
		name            string
		attested, signs any
		ok              bool
	}{
		{"same EC key", ec.Public(), ec.Public(), true},
		{"same RSA key", rsaKey.Public(), rsaKey.Public(), true},
		{"other EC key", ec.Public(), newECKey(t).Public(), false},
		{"RSA attested, EC signs", rsaKey.Public(), ec.Public(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := v.attest(t, tc.attested, defaultFacts).Verify(v.roots(t), time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			err = a.CheckKey(signingCert(t, tc.signs, exampleSubject))
			if tc.ok != (err == nil) {
				t.Errorf("CheckKey: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestNewRoots(t *testing.T) {
	if _, err := NewRoots(nil); err == nil || err.Error() != "no attestation root certificates" {
		t.Errorf("NewRoots(nil): %v", err)
	}
	v := newVendor(t)
	many := make([]*x509.Certificate, MaxRoots+1)
	for i := range many {
		many[i] = v.root.cert
	}
	if _, err := NewRoots(many); err == nil || !strings.Contains(err.Error(), "65 attestation root certificates; at most 64") {
		t.Errorf("NewRoots(65 certificates): %v", err)
	}
}

// TestYubicoRoots pins the embedded Yubico certificates to the SHA-256
// fingerprints of the files Yubico publishes, and checks that each
// intermediate chains to the 2024 root.
func TestYubicoRoots(t *testing.T) {
	r := YubicoRoots()
	want := map[string]string{
		"Yubico PIV Root CA Serial 263751":    "63ece914e54dd87915f34033c85af4c0696ba1512f8add66ced738331207b546",
		"Yubico Attestation Root 1":           "62760c6a6ef91679f454c8902b80fd009825b3f25da90f1fbace2ec6586cd5a8",
		"Yubico Attestation Intermediate A 1": "4698a1d3389c3ec60016c216250f1d0439922832d65142327436376dc2942b55",
		"Yubico Attestation Intermediate B 1": "d4cc3f456fdaf4e7812a21aab1dfe9d8e27d24e2fd2d6f21c9940109f0daa754",
		"Yubico PIV Attestation A 1":          "6de693f05376f5d8ca29069261e1c8626c75d503bd2edbfd75354cad1f722870",
		"Yubico PIV Attestation B 1":          "2d55b7998f4e42569d6d8fa382b6dc77d1dacf07358b19701163892922b17052",
	}
	got := map[string]string{}
	for _, c := range append(r.Certificates(), r.intermediates...) {
		sum := sha256.Sum256(c.Raw)
		got[c.Subject.CommonName] = hex.EncodeToString(sum[:])
	}
	for name, fp := range want {
		if got[name] != fp {
			t.Errorf("%s: SHA-256 %s, want %s", name, got[name], fp)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d embedded certificates, want %d", len(got), len(want))
	}
	for _, c := range r.intermediates {
		if _, err := c.Verify(x509.VerifyOptions{Roots: r.pool, Intermediates: poolOf(r.intermediates...), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("%s does not chain to a Yubico root: %v", c.Subject.CommonName, err)
		}
	}
}

func poolOf(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// TestYubiKey5 verifies a real attestation of a YubiKey 5 (firmware 5.4.3,
// slot 9a) against the built-in roots: its device certificate chains to
// the 2016 root.
func TestYubiKey5(t *testing.T) {
	slot, device := readPEM(t, "testdata/yubikey-5.4.3-9a.pem"), readPEM(t, "testdata/yubikey-5.4.3-f9.pem")
	b := NewBundle(slot, device)
	if len(b.Intermediates) != 0 {
		t.Errorf("NewBundle added %d intermediates to a 2016-hierarchy device", len(b.Intermediates))
	}
	// The certificates are valid from 2016 to 2052.
	a, err := b.Verify(YubicoRoots(), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	want := Attestation{Slot: "9a", Serial: 15732500, Firmware: Version{5, 4, 3}, PINPolicy: PINPolicyOnce, TouchPolicy: TouchPolicyNever, FormFactor: 4}
	if a.Slot != want.Slot || a.Serial != want.Serial || a.Firmware != want.Firmware || a.PINPolicy != want.PINPolicy ||
		a.TouchPolicy != want.TouchPolicy || a.FormFactor != want.FormFactor || a.FIPS {
		t.Errorf("facts %+v, want %+v", a, want)
	}
	if root := a.Chain[len(a.Chain)-1]; root.Subject.CommonName != "Yubico PIV Root CA Serial 263751" {
		t.Errorf("chain ends at %q", root.Subject.CommonName)
	}
	if _, err := b.Verify(newVendor(t).roots(t), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)); err == nil {
		t.Error("a real attestation verified against a test vendor root")
	}
}

// TestNewBundleIntermediates checks that NewBundle adds the known
// intermediates a device chains through, nearest first.
func TestNewBundleIntermediates(t *testing.T) {
	v := newVendor(t)
	top := newIssuer(t, "Intermediate 1", v.root, certOptions{})
	low := newIssuer(t, "Intermediate 2", top, certOptions{})
	device := newIssuer(t, "Device", low, certOptions{})
	r := &Roots{intermediates: []*x509.Certificate{top.cert, v.device.cert, low.cert}}
	got := r.issuerChain(device.cert)
	if len(got) != 2 || got[0] != low.cert || got[1] != top.cert {
		t.Errorf("issuerChain = %d certificates, want intermediate 2 then 1", len(got))
	}
	if got := r.issuerChain(v.root.cert); len(got) != 0 {
		t.Errorf("issuerChain(root) = %d certificates", len(got))
	}
}

func readPEM(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	certs, err := pemcert.Load(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}
