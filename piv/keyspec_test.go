package piv

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"math/big"
	"strings"
	"testing"
)

func TestKeySpecOf(t *testing.T) {
	ec := func(c elliptic.Curve) crypto.PublicKey {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k.Public()
	}
	rsaKey := func(bits int) crypto.PublicKey {
		// Only the modulus size matters: an odd number of that many bits
		// stands in for a real modulus.
		n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
		return &rsa.PublicKey{N: n.Add(n, big.NewInt(1)), E: 65537}
	}
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	x, _ := ecdh.X25519().GenerateKey(rand.Reader)

	tests := []struct {
		name string
		pub  crypto.PublicKey
		want KeySpec
		hash crypto.Hash
		bad  string
	}{
		{"RSA-2048", rsaKey(2048), KeySpecRSA2048, crypto.SHA256, ""},
		{"RSA-3072", rsaKey(3072), KeySpecRSA3072, crypto.SHA384, ""},
		{"RSA-4096", rsaKey(4096), KeySpecRSA4096, crypto.SHA512, ""},
		{"P-256", ec(elliptic.P256()), KeySpecEC256, crypto.SHA256, ""},
		{"P-384", ec(elliptic.P384()), KeySpecEC384, crypto.SHA384, ""},
		{"RSA-1024", rsaKey(1024), "", 0, "RSA-1024"},
		{"P-521", ec(elliptic.P521()), "", 0, "ECDSA P-521"},
		{"P-224", ec(elliptic.P224()), "", 0, "ECDSA P-224"},
		{"Ed25519", edPub, "", 0, "Ed25519"},
		{"X25519", x.PublicKey(), "", 0, "X25519"},
		{"nil", nil, "", 0, "of type <nil>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := KeySpecOf(tt.pub)
			if tt.bad == "" {
				if err != nil || got != tt.want {
					t.Fatalf("KeySpecOf = %q, %v; want %q", got, err, tt.want)
				}
				if h := got.Hash(); h != tt.hash {
					t.Errorf("%s.Hash() = %v, want %v", got, h, tt.hash)
				}
				return
			}
			var uk *UnsupportedKeyError
			if !errors.As(err, &uk) {
				t.Fatalf("KeySpecOf = %q, %v; want an *UnsupportedKeyError", got, err)
			}
			if uk.Key != tt.bad {
				t.Errorf("UnsupportedKeyError.Key = %q, want %q", uk.Key, tt.bad)
			}
			if msg := err.Error(); !strings.Contains(msg, "RSA-2048, RSA-3072, RSA-4096, EC-256, EC-384") {
				t.Errorf("error %q does not name the supported key specs", msg)
			}
		})
	}
	if h := KeySpec("EC-521").Hash(); h != 0 {
		t.Errorf("unknown spec hash = %v, want 0", h)
	}
}
