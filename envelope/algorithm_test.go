package envelope

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"strings"
	"testing"

	"github.com/notation-piv/notation-piv/fixtures"
)

func TestAlgorithmFor(t *testing.T) {
	for _, tc := range []struct {
		pub                   crypto.PublicKey
		spec, jws, signingAlg string
		hash                  crypto.Hash
		cose                  int
	}{
		{fixtures.RSAPublicKey(2048), "RSA-2048", "PS256", "RSASSA-PSS-SHA-256", crypto.SHA256, -37},
		{fixtures.RSAPublicKey(3072), "RSA-3072", "PS384", "RSASSA-PSS-SHA-384", crypto.SHA384, -38},
		{fixtures.RSAPublicKey(4096), "RSA-4096", "PS512", "RSASSA-PSS-SHA-512", crypto.SHA512, -39},
		{fixtures.Key("EC-256").Public(), "EC-256", "ES256", "ECDSA-SHA-256", crypto.SHA256, -7},
		{fixtures.Key("EC-384").Public(), "EC-384", "ES384", "ECDSA-SHA-384", crypto.SHA384, -35},
		{fixtures.Key("EC-521").Public(), "EC-521", "ES512", "ECDSA-SHA-512", crypto.SHA512, -36},
	} {
		alg, err := AlgorithmFor(tc.pub)
		if err != nil {
			t.Errorf("%s: %v", tc.spec, err)
			continue
		}
		if alg.KeySpec != tc.spec || alg.JWS != tc.jws || alg.SigningAlgorithm != tc.signingAlg || alg.Hash != tc.hash || alg.COSE != tc.cose {
			t.Errorf("AlgorithmFor(%s) = %+v", tc.spec, alg)
		}
	}
}

func TestAlgorithmForUnsupported(t *testing.T) {
	edPub := fixtures.Key("Ed25519").Public()
	x, _ := ecdh.X25519().GenerateKey(rand.Reader)
	for _, tc := range []struct {
		pub  crypto.PublicKey
		name string
	}{
		{fixtures.RSAPublicKey(1024), "RSA-1024"},
		{fixtures.RSAPublicKey(8192), "RSA-8192"},
		{fixtures.Key("EC-224").Public(), "EC-224"},
		{edPub, "Ed25519"},
		{x.PublicKey(), "*ecdh.PublicKey"},
	} {
		_, err := AlgorithmFor(tc.pub)
		var ue *UnsupportedKeyError
		if !errors.As(err, &ue) || ue.Key != tc.name {
			t.Errorf("AlgorithmFor(%s) error = %v, want *UnsupportedKeyError for %s", tc.name, err, tc.name)
			continue
		}
		want := "unsupported signing key " + tc.name + ": notary signatures need one of RSA-2048, RSA-3072, RSA-4096, EC-256, EC-384, EC-521; generate or import such a key"
		if err.Error() != want {
			t.Errorf("error = %q, want %q", err, want)
		}
	}
}

func TestSignMessageECDSA(t *testing.T) {
	msg := []byte("eyJhbGciOiJFUzI1NiJ9.eyJ0YXJnZXRBcnRpZmFjdCI6e319")
	for _, tc := range []struct {
		spec string
		size int
	}{{"EC-256", 64}, {"EC-384", 96}, {"EC-521", 132}} {
		key := fixtures.Key(tc.spec).(*ecdsa.PrivateKey)
		alg, err := AlgorithmFor(key.Public())
		if err != nil {
			t.Fatal(err)
		}
		// Repeat so that short r or s values (leading zero bytes) occur.
		for range 50 {
			sig, err := SignMessage(key, alg, msg)
			if err != nil {
				t.Fatal(err)
			}
			if len(sig) != tc.size {
				t.Fatalf("%s: signature is %d bytes, want r||s of %d", alg.KeySpec, len(sig), tc.size)
			}
			h := alg.Hash.New()
			h.Write(msg)
			r := new(big.Int).SetBytes(sig[:tc.size/2])
			s := new(big.Int).SetBytes(sig[tc.size/2:])
			if !ecdsa.Verify(&key.PublicKey, h.Sum(nil), r, s) {
				t.Fatalf("%s: r||s does not verify", alg.KeySpec)
			}
		}
	}
}

func TestSignMessageRSAPSS(t *testing.T) {
	key := fixtures.Key("RSA-2048").(*rsa.PrivateKey)
	alg, err := AlgorithmFor(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("signing input")
	sig, err := SignMessage(key, alg, msg)
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
	alg, _ := AlgorithmFor(pub)

	// Short values are left-padded to 32 bytes each.
	f := &fakeSigner{pub: pub, out: der(t, big.NewInt(1), big.NewInt(0x0203))}
	sig, err := SignMessage(f, alg, []byte("m"))
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
		if _, err := SignMessage(&fakeSigner{pub: pub, out: out}, alg, []byte("m")); err == nil || !strings.HasPrefix(err.Error(), "sign with EC-256 key: ecdsa signature") {
			t.Errorf("%s: error = %v", name, err)
		}
	}
}

func TestSignMessageRSAWidth(t *testing.T) {
	pub := fixtures.RSAPublicKey(2048)
	alg, _ := AlgorithmFor(pub)
	f := &fakeSigner{pub: pub, out: []byte{1, 2, 3}}
	sig, err := SignMessage(f, alg, []byte("m"))
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
	if _, err := SignMessage(f, alg, []byte("m")); err == nil {
		t.Error("a signature wider than the modulus was accepted")
	}
}

func TestSignMessageMisuse(t *testing.T) {
	ec := fixtures.Key("EC-256")
	if _, err := SignMessage(ec, Algorithm{}, []byte("m")); err == nil || !strings.Contains(err.Error(), "AlgorithmFor") {
		t.Errorf("zero algorithm: error = %v", err)
	}
	alg384, _ := AlgorithmFor(fixtures.Key("EC-384").Public())
	if _, err := SignMessage(ec, alg384, []byte("m")); err == nil || !strings.Contains(err.Error(), "holds an EC-256 key but the algorithm is for EC-384") {
		t.Errorf("mismatched algorithm: error = %v", err)
	}
	if _, err := SignMessage(fixtures.Key("Ed25519"), alg384, []byte("m")); err == nil || !strings.Contains(err.Error(), "Ed25519") {
		t.Errorf("Ed25519 signer: error = %v", err)
	}
}
