package attestation

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
)

func TestBundleRoundTrip(t *testing.T) {
	v := newVendor(t)
	b := v.attest(t, newECKey(t).Public(), defaultFacts)
	b.Intermediates = []*x509.Certificate{v.root.cert}
	value, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(value, ",")
	if len(parts) != 3 || parts[0] != base64.StdEncoding.EncodeToString(b.Slot.Raw) {
		t.Fatalf("Encode = %q, want three base64 DER certificates, slot first", value)
	}
	got, err := ParseBundle(value)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Slot.Equal(b.Slot) || !got.Device.Equal(b.Device) || len(got.Intermediates) != 1 || !got.Intermediates[0].Equal(v.root.cert) {
		t.Error("ParseBundle(Encode) differs from the bundle")
	}

	rest := b.PEM()
	for i, want := range b.Certificates() {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil || block.Type != "CERTIFICATE" || string(block.Bytes) != string(want.Raw) {
			t.Fatalf("PEM block %d is not certificate %d", i, i)
		}
	}
	if len(rest) != 0 {
		t.Errorf("PEM has %d bytes after the certificates", len(rest))
	}
}

func TestParseBundleRefuses(t *testing.T) {
	v := newVendor(t)
	b := v.attest(t, newECKey(t).Public(), defaultFacts)
	slot := base64.StdEncoding.EncodeToString(b.Slot.Raw)
	device := base64.StdEncoding.EncodeToString(b.Device.Raw)
	big := bigCertificate(t, v)
	bigB64 := base64.StdEncoding.EncodeToString(big.Raw)
	seven := strings.TrimSuffix(strings.Repeat(slot+",", 7), ",")
	withNewline := slot[:64] + "\n" + slot[64:]

	for _, tc := range []struct {
		name, value, want string
	}{
		{"empty", "", "attestation bundle is empty"},
		{"one certificate", slot, "has 1 certificate; it needs the slot's and the device's"},
		{"seven certificates", seven, "has 7 certificates; at most 6"},
		{"a million commas", strings.Repeat(",", 1e6), "has 1000001 certificates; at most 6"},
		{"empty part", slot + ",," + device, "certificate 2: empty"},
		{"trailing comma", slot + "," + device + ",", "certificate 3: empty"},
		{"line break", withNewline + "," + device, "certificate 1: not standard base64"},
		{"space", slot + ", " + device, "certificate 2: not standard base64"},
		{"URL-safe base64", slot + "," + base64.URLEncoding.EncodeToString([]byte{0xfb, 0xff}), "certificate 2: not standard base64"},
		{"no padding", slot + ",aGVsbG8", "certificate 2: not standard base64"},
		{"not a certificate", slot + "," + base64.StdEncoding.EncodeToString([]byte("hello")), "certificate 2: x509:"},
		{"trailing data", slot + "," + base64.StdEncoding.EncodeToString(append(append([]byte(nil), b.Device.Raw...), 0)), "certificate 2: x509:"},
		{"too large", slot + "," + bigB64, "certificate 2: more than 8192 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseBundle(tc.value)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseBundle: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestEncodeRefuses(t *testing.T) {
	v := newVendor(t)
	b := v.attest(t, newECKey(t).Public(), defaultFacts)
	for _, tc := range []struct {
		name   string
		bundle *Bundle
		want   string
	}{
		{"no device", &Bundle{Slot: b.Slot}, "certificate 2 is missing"},
		{"seven certificates", &Bundle{Slot: b.Slot, Device: b.Device, Intermediates: make([]*x509.Certificate, 5)}, "has 7 certificates; at most 6"},
		{"too large", &Bundle{Slot: b.Slot, Device: bigCertificate(t, v)}, "certificate 2 is 8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.bundle.Encode()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Encode: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// bigCertificate returns a certificate of more than MaxCertificateSize
// bytes.
func bigCertificate(t *testing.T, v *vendor) *x509.Certificate {
	t.Helper()
	padding := pkix.Extension{Id: []int{1, 2, 3, 4}, Value: make([]byte, MaxCertificateSize)}
	c := newCert(t, "big", newECKey(t).Public(), nil, v.root, certOptions{extensions: []pkix.Extension{padding}})
	if len(c.Raw) <= MaxCertificateSize {
		t.Fatalf("big certificate is only %d bytes", len(c.Raw))
	}
	return c
}

func FuzzParseBundle(f *testing.F) {
	v := newVendor(f)
	b := v.attest(f, newECKey(f).Public(), defaultFacts)
	value, err := b.Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(value)
	f.Add("")
	f.Add(",")
	f.Add("AAAA,AAAA")
	f.Fuzz(func(t *testing.T, value string) {
		b, err := ParseBundle(value)
		if err != nil {
			return
		}
		again, err := b.Encode()
		if err != nil || again != value {
			t.Errorf("Encode(ParseBundle(%q)) = %q, %v", value, again, err)
		}
	})
}
