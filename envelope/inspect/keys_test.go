package inspect

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/envelopetest"
	"github.com/notation-piv/notation-piv/fixtures"
)

// hugeKeyChain returns a chain of n certificates, leaf first, under CAs
// whose RSA keys have bits bits and the largest public exponent Go
// accepts, 2³¹−1: each signature checked with one of them costs a
// modular exponentiation in bits-bit numbers of 61 multiplications. The
// keys are not real (their moduli are odd numbers of bits bits that no one
// can sign with), and nor are the signatures made with them: random
// numbers below the modulus, which cost as much to check as real ones.
// The leaf holds HostileKey, so that Hostile envelopes carry the chain
// with a valid signature.
func hugeKeyChain(t testing.TB, bits, n int) []*x509.Certificate {
	t.Helper()
	modulus, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits-1)))
	if err != nil {
		t.Fatal(err)
	}
	modulus.SetBit(modulus, bits-1, 1).SetBit(modulus, 0, 1)
	huge := &rsa.PublicKey{N: modulus, E: 1<<31 - 1}
	// Each certificate is made with a real RSA-2048 key, then given a
	// signature as long as the huge modulus.
	maker := fixtures.Key("RSA-2048")
	chain := make([]*x509.Certificate, n)
	var issuer pkix.Name
	for i := n - 1; i >= 0; i-- {
		name := pkix.Name{CommonName: fmt.Sprintf("RSA-%d CA %d", bits, i)}
		tmpl := fixtures.CATemplate(name.CommonName)
		pub := any(huge)
		if i == 0 {
			tmpl = fixtures.LeafTemplate()
			pub = envelopetest.HostileKey(t).Public()
		}
		if i == n-1 {
			issuer = tmpl.Subject
		}
		tmpl.SignatureAlgorithm = x509.SHA256WithRSA
		tmpl.SerialNumber, tmpl.NotBefore, tmpl.NotAfter = big.NewInt(int64(i+1)), time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
		der, err := x509.CreateCertificate(rand.Reader, tmpl, &x509.Certificate{Subject: issuer}, pub, maker)
		if err != nil {
			t.Fatal(err)
		}
		if chain[i], err = x509.ParseCertificate(resign(t, der, bits/8)); err != nil {
			t.Fatal(err)
		}
		issuer = name
	}
	return chain
}

// resign replaces the signature of the DER certificate der with a random
// number of size bytes whose first byte is zero.
func resign(t testing.TB, der []byte, size int) []byte {
	t.Helper()
	var cert struct {
		TBS       asn1.RawValue
		Algorithm pkix.AlgorithmIdentifier
		Signature asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &cert); err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, size)
	rand.Read(sig[1:])
	cert.Signature = asn1.BitString{Bytes: sig, BitLength: 8 * size}
	out, err := asn1.Marshal(cert)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestHugeKeys inspects and verifies envelopes of under a megabyte whose
// chain of 32 certificates, the most envelope.MaxCertificates allows, runs
// under CAs with RSA-65536 keys. Checking the chain's signatures with them, here
// and in notation-core-go, took 20 s for the JWS envelope alone (1.3 s
// with RSA-16384 keys, 0.5 s with RSA-8192). Each CA must be flagged for
// its key, and no signature checked with it, so that Inspect and Verify
// end within a second.
func TestHugeKeys(t *testing.T) {
	const bits = 65536
	chain := hugeKeyChain(t, bits, envelope.MaxCertificates)
	root := chain[len(chain)-1]
	h := envelopetest.Hostile{Chain: chain}
	for _, c := range []struct {
		name string
		env  []byte
	}{{"jws", h.JWS(t)}, {"cose", h.COSE(t)}} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			r, err := Inspect(c.env, Options{})
			if err != nil {
				t.Fatal(err)
			}
			v, err := Verify(c.env, VerifyOptions{TrustRoots: []*x509.Certificate{root}})
			if err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("Inspect and Verify took %v, want less than a second", took)
			}
			key := fmt.Sprintf("RSA-%d", bits)
			if r.Integrity.Status != StatusUnchecked || !strings.Contains(r.Integrity.Detail, `certificate 1 ("CN=RSA-65536 CA 1") has an RSA-65536 key, which the Notary rules do not allow`) {
				t.Errorf("integrity %+v", r.Integrity)
			}
			if !strings.Contains(r.Chain.Problem, "has an "+key+" key") {
				t.Errorf("chain %+v", r.Chain)
			}
			for i, ci := range r.Certificates {
				flagged := slices.ContainsFunc(ci.Problems, func(p string) bool {
					return strings.Contains(p, "the key ("+key+") is not one the Notary rules allow")
				})
				if ci.KeySpec != key && i > 0 || flagged != (i > 0) || ci.SelfSigned {
					t.Errorf("certificate %d: key %s, self-signed %v, problems %q", i, ci.KeySpec, ci.SelfSigned, ci.Problems)
				}
			}
			if v.Verified {
				t.Fatal("verified")
			}
			for _, check := range v.Checks {
				if (check.Name == CheckIntegrity || check.Name == CheckChain) && check.Status != Failed {
					t.Errorf("check %s: %s (%s), want failed", check.Name, check.Status, check.Detail)
				}
			}
		})
	}
}
