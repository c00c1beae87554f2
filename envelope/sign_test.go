package envelope_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/asn1"
	"io"
	"math/big"
	"strings"
	"testing"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/internal/keyspec"
)

func TestSignMessageECDSA(t *testing.T) {
	msg := []byte("eyJhbGciOiJFUzI1NiJ9.eyJ0YXJnZXRBcnRpZmFjdCI6e319")
	for _, tc := range []struct {
		spec string
		size int
	}{{"EC-256", 64}, {"EC-384", 96}, {"EC-521", 132}} {
		key := fixtures.Key(tc.spec).(*ecdsa.PrivateKey)
		alg, err := keyspec.Of(key.Public())
		if err != nil {
			t.Fatal(err)
		}
		// Repeat so that short r or s values (leading zero bytes) occur.
		for range 50 {
			sig, err := envelope.SignMessage(key, alg, msg)
			if err != nil {
				t.Fatal(err)
			}
			if len(sig) != tc.size {
				t.Fatalf("%s: signature is %d bytes, want r||s of %d", alg.Name, len(sig), tc.size)
			}
			h := alg.Hash.New()
			h.Write(msg)
			r := new(big.Int).SetBytes(sig[:tc.size/2])
			s := new(big.Int).SetBytes(sig[tc.size/2:])
			if !ecdsa.Verify(&key.PublicKey, h.Sum(nil), r, s) {
				t.Fatalf("%s: r||s does not verify", alg.Name)
			}
		}
	}
}

func TestSignMessageRSAPSS(t *testing.T) {
	key := fixtures.Key("RSA-2048").(*rsa.PrivateKey)
	alg, err := keyspec.Of(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("signing input")
	sig, err := envelope.SignMessage(key, alg, msg)
	if err != nil {
		t.Fatal(err)
	}
	if len(sig) != 256 {
		t.Fatalf("signature is %d bytes, want 256", len(sig))
	}
	digest := crypto.SHA256.New()
	digest.Write(msg)
	// An explicit salt length makes VerifyPSS insist on it: 32 = hash length.
	if err := rsa.VerifyPSS(&key.PublicKey, crypto.SHA256, digest.Sum(nil), sig, &rsa.PSSOptions{SaltLength: 32}); err != nil {
		t.Fatalf("PSS signature with 32-byte salt does not verify: %v", err)
	}
}

// fakeSigner returns out for any digest and records the options it got.
type fakeSigner struct {
	pub  crypto.PublicKey
	out  []byte
	opts crypto.SignerOpts
}

func (f *fakeSigner) Public() crypto.PublicKey { return f.pub }
func (f *fakeSigner) Sign(_ io.Reader, _ []byte, opts crypto.SignerOpts) ([]byte, error) {
	f.opts = opts
	return f.out, nil
}

func der(t *testing.T, r, s *big.Int, trailer ...byte) []byte {
	t.Helper()
	b, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
	if err != nil {
		t.Fatal(err)
	}
	return append(b, trailer...)
}

func TestSignMessageConversion(t *testing.T) {
	pub := fixtures.Key("EC-256").Public()
	alg, _ := keyspec.Of(pub)

	// Short values are left-padded to 32 bytes each.
	f := &fakeSigner{pub: pub, out: der(t, big.NewInt(1), big.NewInt(0x0203))}
	sig, err := envelope.SignMessage(f, alg, []byte("m"))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 64)
	want[31], want[62], want[63] = 1, 2, 3
	if string(sig) != string(want) {
		t.Errorf("r||s = %x, want %x", sig, want)
	}
	if f.opts != crypto.SHA256 {
		t.Errorf("ECDSA signer got opts %v, want crypto.SHA256", f.opts)
	}

	big33 := new(big.Int).Lsh(big.NewInt(1), 256) // 33 bytes
	for name, out := range map[string][]byte{
		"raw r||s instead of DER": want,
		"trailing bytes":          der(t, big.NewInt(1), big.NewInt(1), 0),
		"r too large":             der(t, big33, big.NewInt(1)),
		"zero s":                  der(t, big.NewInt(1), big.NewInt(0)),
		"negative r":              der(t, big.NewInt(-1), big.NewInt(1)),
	} {
		if _, err := envelope.SignMessage(&fakeSigner{pub: pub, out: out}, alg, []byte("m")); err == nil || !strings.HasPrefix(err.Error(), "sign with EC-256 key: ecdsa signature") {
			t.Errorf("%s: error = %v", name, err)
		}
	}
}

func TestSignMessageRSAWidth(t *testing.T) {
	pub := fixtures.RSAPublicKey(2048)
	alg, _ := keyspec.Of(pub)
	f := &fakeSigner{pub: pub, out: []byte{1, 2, 3}}
	sig, err := envelope.SignMessage(f, alg, []byte("m"))
	if err != nil {
		t.Fatal(err)
	}
	if len(sig) != 256 || sig[253] != 1 || sig[255] != 3 || sig[0] != 0 {
		t.Errorf("short RSA signature not left-padded to 256 bytes: %x", sig)
	}
	if o, ok := f.opts.(*rsa.PSSOptions); !ok || o.SaltLength != rsa.PSSSaltLengthEqualsHash || o.Hash != crypto.SHA256 {
		t.Errorf("RSA signer got opts %#v, want PSS with salt = hash length and SHA-256", f.opts)
	}
	f.out = make([]byte, 257)
	if _, err := envelope.SignMessage(f, alg, []byte("m")); err == nil {
		t.Error("a signature wider than the modulus was accepted")
	}
}

func TestSignMessageMisuse(t *testing.T) {
	ec := fixtures.Key("EC-256")
	if _, err := envelope.SignMessage(ec, keyspec.Spec{}, []byte("m")); err == nil || !strings.Contains(err.Error(), "keyspec.Of") {
		t.Errorf("zero algorithm: error = %v", err)
	}
	alg384, _ := keyspec.Of(fixtures.Key("EC-384").Public())
	if _, err := envelope.SignMessage(ec, alg384, []byte("m")); err == nil || !strings.Contains(err.Error(), "holds an EC-256 key but the algorithm is for EC-384") {
		t.Errorf("mismatched algorithm: error = %v", err)
	}
	if _, err := envelope.SignMessage(fixtures.Key("Ed25519"), alg384, []byte("m")); err == nil || !strings.Contains(err.Error(), "Ed25519") {
		t.Errorf("Ed25519 signer: error = %v", err)
	}
}
