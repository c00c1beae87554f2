package keyspec

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
	"testing"
)

// rsaPub returns an RSA public key with a modulus of exactly bits bits;
// Of looks at the size only, so no key generation is needed.
func rsaPub(bits int) *rsa.PublicKey {
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	return &rsa.PublicKey{N: n.SetBit(n, 0, 1), E: 65537}
}

func ecKey(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestOf(t *testing.T) {
	for _, tc := range []struct {
		pub                   crypto.PublicKey
		spec, jws, signingAlg string
		hash                  crypto.Hash
		cose                  int
	}{
		{rsaPub(2048), "RSA-2048", "PS256", "RSASSA-PSS-SHA-256", crypto.SHA256, -37},
		{rsaPub(3072), "RSA-3072", "PS384", "RSASSA-PSS-SHA-384", crypto.SHA384, -38},
		{rsaPub(4096), "RSA-4096", "PS512", "RSASSA-PSS-SHA-512", crypto.SHA512, -39},
		{ecKey(t, elliptic.P256()).Public(), "EC-256", "ES256", "ECDSA-SHA-256", crypto.SHA256, -7},
		{ecKey(t, elliptic.P384()).Public(), "EC-384", "ES384", "ECDSA-SHA-384", crypto.SHA384, -35},
		{ecKey(t, elliptic.P521()).Public(), "EC-521", "ES512", "ECDSA-SHA-512", crypto.SHA512, -36},
	} {
		alg, err := Of(tc.pub)
		if err != nil {
			t.Errorf("%s: %v", tc.spec, err)
			continue
		}
		if alg.Name != tc.spec || alg.JWS != tc.jws || alg.SigningAlgorithm != tc.signingAlg || alg.Hash != tc.hash || alg.COSE != tc.cose {
			t.Errorf("Of(%s) = %+v", tc.spec, alg)
		}
		if s, ok := ByName(tc.spec); !ok || s != alg {
			t.Errorf("ByName(%s) = %+v, %v", tc.spec, s, ok)
		}
		if s, ok := ByJWS(tc.jws); !ok || s != alg {
			t.Errorf("ByJWS(%s) = %+v, %v", tc.jws, s, ok)
		}
		if s, ok := ByCOSE(int64(tc.cose)); !ok || s != alg {
			t.Errorf("ByCOSE(%d) = %+v, %v", tc.cose, s, ok)
		}
	}
	for _, name := range []string{"EC-521 ", "ec-256", "RSA-1024", ""} {
		if s, ok := ByName(name); ok {
			t.Errorf("ByName(%q) = %+v", name, s)
		}
	}
}

// TestOfUnsupported gives Of keys outside the table, and keys outside a
// narrower list of supported specs (a PIV card holds no P-521 key): each
// gives an *UnsupportedKeyError that describes the key and lists the
// supported specs.
func TestOfUnsupported(t *testing.T) {
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	x, _ := ecdh.X25519().GenerateKey(rand.Reader)
	piv := []Spec{RSA2048, RSA3072, RSA4096, EC256, EC384}
	for _, tc := range []struct {
		pub       crypto.PublicKey
		supported []Spec
		name      string
		want      string
	}{
		{rsaPub(1024), nil, "RSA-1024", "RSA-2048, RSA-3072, RSA-4096, EC-256, EC-384, EC-521"},
		{rsaPub(8192), nil, "RSA-8192", "RSA-2048, RSA-3072, RSA-4096, EC-256, EC-384, EC-521"},
		{ecKey(t, elliptic.P224()).Public(), nil, "EC-224", "RSA-2048, RSA-3072, RSA-4096, EC-256, EC-384, EC-521"},
		{edPub, nil, "Ed25519", "RSA-2048, RSA-3072, RSA-4096, EC-256, EC-384, EC-521"},
		{x.PublicKey(), nil, "X25519", "RSA-2048, RSA-3072, RSA-4096, EC-256, EC-384, EC-521"},
		{nil, nil, "of type <nil>", "RSA-2048, RSA-3072, RSA-4096, EC-256, EC-384, EC-521"},
		{ecKey(t, elliptic.P521()).Public(), piv, "EC-521", "RSA-2048, RSA-3072, RSA-4096, EC-256, EC-384"},
	} {
		_, err := Of(tc.pub, tc.supported...)
		var ue *UnsupportedKeyError
		if !errors.As(err, &ue) || ue.Key != tc.name {
			t.Errorf("Of(%s) error = %v, want *UnsupportedKeyError for %s", tc.name, err, tc.name)
			continue
		}
		want := "unsupported signing key " + tc.name + ": notary signatures need one of " + tc.want
		if err.Error() != want {
			t.Errorf("error = %q, want %q", err, want)
		}
	}
}
