package piv

import (
	"crypto"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/notation-piv/notation-piv/fixtures"
)

func TestKeySpecOf(t *testing.T) {
	ec := func(spec string) crypto.PublicKey { return fixtures.Key(spec).Public() }
	// Only the modulus size matters: a stand-in of that size will do.
	rsaKey := func(bits int) crypto.PublicKey { return fixtures.RSAPublicKey(bits) }
	edPub := fixtures.Key("Ed25519").Public()
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
		{"P-256", ec("EC-256"), KeySpecEC256, crypto.SHA256, ""},
		{"P-384", ec("EC-384"), KeySpecEC384, crypto.SHA384, ""},
		{"RSA-1024", rsaKey(1024), "", 0, "RSA-1024"},
		{"P-521", ec("EC-521"), "", 0, "ECDSA P-521"},
		{"P-224", ec("EC-224"), "", 0, "ECDSA P-224"},
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
