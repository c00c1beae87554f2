package keyspec_test

import (
	"crypto"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/internal/keyspec"
)

func TestOf(t *testing.T) {
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
		alg, err := keyspec.Of(tc.pub)
		if err != nil {
			t.Errorf("%s: %v", tc.spec, err)
			continue
		}
		if alg.Name != tc.spec || alg.JWS != tc.jws || alg.SigningAlgorithm != tc.signingAlg || alg.Hash != tc.hash || alg.COSE != tc.cose {
			t.Errorf("keyspec.Of(%s) = %+v", tc.spec, alg)
		}
		if s, ok := keyspec.ByName(tc.spec); !ok || s != alg {
			t.Errorf("keyspec.ByName(%s) = %+v, %v", tc.spec, s, ok)
		}
		if s, ok := keyspec.ByJWS(tc.jws); !ok || s != alg {
			t.Errorf("keyspec.ByJWS(%s) = %+v, %v", tc.jws, s, ok)
		}
		if s, ok := keyspec.ByCOSE(int64(tc.cose)); !ok || s != alg {
			t.Errorf("keyspec.ByCOSE(%d) = %+v, %v", tc.cose, s, ok)
		}
	}
	for _, name := range []string{"EC-521 ", "ec-256", "RSA-1024", ""} {
		if s, ok := keyspec.ByName(name); ok {
			t.Errorf("keyspec.ByName(%q) = %+v", name, s)
		}
	}
}

// TestOfUnsupported gives Of keys outside the table, and keys outside a
// narrower list of supported specs (a PIV card holds no P-521 key): each
// gives an *keyspec.UnsupportedKeyError that describes the key and lists the
// supported specs.
func TestOfUnsupported(t *testing.T) {
	x, _ := ecdh.X25519().GenerateKey(rand.Reader)
	piv := []keyspec.Spec{keyspec.RSA2048, keyspec.RSA3072, keyspec.RSA4096, keyspec.EC256, keyspec.EC384}
	for _, tc := range []struct {
		pub       crypto.PublicKey
		supported []keyspec.Spec
		name      string
		want      string
	}{
		{fixtures.RSAPublicKey(1024), nil, "RSA-1024", "RSA-2048, RSA-3072, RSA-4096, EC-256, EC-384, EC-521"},
		{fixtures.RSAPublicKey(8192), nil, "RSA-8192", "RSA-2048, RSA-3072, RSA-4096, EC-256, EC-384, EC-521"},
		{fixtures.Key("EC-224").Public(), nil, "EC-224", "RSA-2048, RSA-3072, RSA-4096, EC-256, EC-384, EC-521"},
		{fixtures.Key("Ed25519").Public(), nil, "Ed25519", "RSA-2048, RSA-3072, RSA-4096, EC-256, EC-384, EC-521"},
		{x.PublicKey(), nil, "X25519", "RSA-2048, RSA-3072, RSA-4096, EC-256, EC-384, EC-521"},
		{nil, nil, "of type <nil>", "RSA-2048, RSA-3072, RSA-4096, EC-256, EC-384, EC-521"},
		{fixtures.Key("EC-521").Public(), piv, "EC-521", "RSA-2048, RSA-3072, RSA-4096, EC-256, EC-384"},
	} {
		_, err := keyspec.Of(tc.pub, tc.supported...)
		var ue *keyspec.UnsupportedKeyError
		if !errors.As(err, &ue) || ue.Key != tc.name {
			t.Errorf("keyspec.Of(%s) error = %v, want *keyspec.UnsupportedKeyError for %s", tc.name, err, tc.name)
			continue
		}
		want := "unsupported signing key " + tc.name + ": notary signatures need one of " + tc.want
		if err.Error() != want {
			t.Errorf("error = %q, want %q", err, want)
		}
	}
}
