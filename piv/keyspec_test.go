package piv

import (
	"crypto"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/internal/keyspec"
)

func TestKeySpecOf(t *testing.T) {
	key := func(spec string) crypto.PublicKey { return fixtures.Key(spec).Public() }
	// Only the modulus size matters: a stand-in of that size will do.
	rsaKey := func(bits int) crypto.PublicKey { return fixtures.RSAPublicKey(bits) }
	x, _ := ecdh.X25519().GenerateKey(rand.Reader)

	tests := []struct {
		name string
		pub  crypto.PublicKey
		want keyspec.Spec
		hash crypto.Hash
		bad  string
	}{
		{"RSA-2048", rsaKey(2048), keyspec.RSA2048, crypto.SHA256, ""},
		{"RSA-3072", rsaKey(3072), keyspec.RSA3072, crypto.SHA384, ""},
		{"RSA-4096", rsaKey(4096), keyspec.RSA4096, crypto.SHA512, ""},
		{"P-256", key("EC-256"), keyspec.EC256, crypto.SHA256, ""},
		{"P-384", key("EC-384"), keyspec.EC384, crypto.SHA384, ""},
		{"RSA-1024", rsaKey(1024), keyspec.Spec{}, 0, "RSA-1024"},
		{"P-521", key("EC-521"), keyspec.Spec{}, 0, "EC-521"},
		{"P-224", key("EC-224"), keyspec.Spec{}, 0, "EC-224"},
		{"Ed25519", key("Ed25519"), keyspec.Spec{}, 0, "Ed25519"},
		{"X25519", x.PublicKey(), keyspec.Spec{}, 0, "X25519"},
		{"nil", nil, keyspec.Spec{}, 0, "of type <nil>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := KeySpecOf(tt.pub)
			if tt.bad == "" {
				if err != nil || got != tt.want {
					t.Fatalf("KeySpecOf = %+v, %v; want %+v", got, err, tt.want)
				}
				if h := got.Hash; h != tt.hash {
					t.Errorf("%s.Hash = %v, want %v", got.Name, h, tt.hash)
				}
				if s, ok := LookupKeySpec(got.Name); !ok || s != got {
					t.Errorf("LookupKeySpec(%s) = %+v, %v", got.Name, s, ok)
				}
				return
			}
			var uk *keyspec.UnsupportedKeyError
			if !errors.As(err, &uk) {
				t.Fatalf("KeySpecOf = %+v, %v; want an *UnsupportedKeyError", got, err)
			}
			if uk.Key != tt.bad {
				t.Errorf("UnsupportedKeyError.Key = %q, want %q", uk.Key, tt.bad)
			}
			if msg := err.Error(); !strings.HasSuffix(msg, "need one of RSA-2048, RSA-3072, RSA-4096, EC-256, EC-384") {
				t.Errorf("error %q does not name the supported key specs", msg)
			}
		})
	}
	if s, ok := LookupKeySpec("EC-521"); ok {
		t.Errorf("LookupKeySpec(EC-521) = %+v: a PIV card holds no P-521 key", s)
	}
}
