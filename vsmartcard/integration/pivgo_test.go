package integration

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/notation-piv/notation-piv/fixtures"
)

// keyCase is one key type the card must generate and use.
type keyCase struct {
	name string
	alg  piv.Algorithm
	slot piv.Slot
}

var keyCases = []keyCase{
	{"EC-256", piv.AlgorithmEC256, piv.SlotAuthentication},
	{"EC-384", piv.AlgorithmEC384, piv.SlotSignature},
	{"RSA-2048", piv.AlgorithmRSA2048, piv.SlotKeyManagement},
	{"RSA-3072", piv.AlgorithmRSA3072, piv.SlotCardAuthentication},
	{"RSA-4096", piv.AlgorithmRSA4096, mustRetiredSlot(0x82)},
	{"Ed25519", piv.AlgorithmEd25519, mustRetiredSlot(0x83)},
	{"X25519", piv.AlgorithmX25519, mustRetiredSlot(0x84)},
}

// ecOnce is an EC P-256 key whose PIN is asked once per session.
var ecOnce = piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever}

func mustRetiredSlot(key uint32) piv.Slot {
	s, ok := piv.RetiredKeyManagementSlot(key)
	if !ok {
		panic("no retired slot")
	}
	return s
}

func TestOpenVersionSerial(t *testing.T) {
	yk := openCard(t)
	if v := yk.Version(); v.Major != 5 || v.Minor != 7 || v.Patch != 1 {
		t.Errorf("version %+v, want 5.7.1", v)
	}
	serial, err := yk.Serial()
	if err != nil {
		t.Fatal(err)
	}
	if serial != testSerial {
		t.Errorf("serial %d, want %d", serial, testSerial)
	}
}

// TestEveryKeyType generates each key type, stores and reads back a
// certificate, reads the key's metadata, attests it, and uses it: ECDSA,
// PKCS#1 v1.5 and PSS, Ed25519 and ECDH. Every result is checked with Go's
// crypto against the public key the card returned.
func TestEveryKeyType(t *testing.T) {
	yk := openCard(t)
	attCert, err := yk.AttestationCertificate()
	if err != nil {
		t.Fatalf("attestation certificate: %v", err)
	}
	attCA, err := env.Card.AttestationCA()
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(attCA)

	for _, kc := range keyCases {
		t.Run(kc.name, func(t *testing.T) {
			policy := piv.Key{Algorithm: kc.alg, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever}
			pub, err := yk.GenerateKey(piv.DefaultManagementKey, kc.slot, policy)
			if err != nil {
				t.Fatalf("generate: %v", err)
			}

			info, err := yk.KeyInfo(kc.slot)
			if err != nil {
				t.Fatalf("key info: %v", err)
			}
			if info.Algorithm != kc.alg || info.PINPolicy != piv.PINPolicyOnce || info.TouchPolicy != piv.TouchPolicyNever || info.Origin != piv.OriginGenerated {
				t.Errorf("key info %+v", info)
			}
			if !samePublicKey(info.PublicKey, pub) {
				t.Error("metadata public key differs from the generated one")
			}

			// Go's x509 cannot issue certificates for X25519 keys, so the
			// card neither attests them nor can we certify them here.
			if kc.alg != piv.AlgorithmX25519 {
				slotCert, err := yk.Attest(kc.slot)
				if err != nil {
					t.Fatalf("attest: %v", err)
				}
				att, err := (&piv.Verifier{Roots: roots}).Verify(attCert, slotCert)
				if err != nil {
					t.Fatalf("verify attestation: %v", err)
				}
				if att.Serial != testSerial || att.Slot != kc.slot || att.PINPolicy != piv.PINPolicyOnce || att.Version.Major != 5 {
					t.Errorf("attestation %+v", att)
				}
				if !samePublicKey(slotCert.PublicKey, pub) {
					t.Error("attested public key differs from the generated one")
				}

				cert := fixtures.Root().Issue(pub, fixtures.Name("integration "+kc.name))
				if err := yk.SetCertificate(piv.DefaultManagementKey, kc.slot, cert); err != nil {
					t.Fatalf("set certificate: %v", err)
				}
				got, err := yk.Certificate(kc.slot)
				if err != nil {
					t.Fatalf("read certificate: %v", err)
				}
				if !bytes.Equal(got.Raw, cert.Raw) {
					t.Error("certificate read back differs")
				}
			}

			priv, err := yk.PrivateKey(kc.slot, pub, piv.KeyAuth{PIN: piv.DefaultPIN})
			if err != nil {
				t.Fatalf("private key: %v", err)
			}
			useKey(t, priv, pub)
		})
	}
}

// useKey signs or agrees with a card key and checks the result.
func useKey(t *testing.T, priv crypto.PrivateKey, pub crypto.PublicKey) {
	t.Helper()
	msg := []byte("notation-piv integration test")
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		h := crypto.SHA256
		if pub.Curve == elliptic.P384() {
			h = crypto.SHA384
		}
		digest := hashOf(h, msg)
		sig, err := priv.(crypto.Signer).Sign(rand.Reader, digest, h)
		if err != nil {
			t.Fatalf("ECDSA sign: %v", err)
		}
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			t.Error("ECDSA signature does not verify")
		}
		peer, err := ecdsa.GenerateKey(pub.Curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		peerECDH, _ := peer.ECDH()
		shared, err := priv.(*piv.ECDSAPrivateKey).ECDH(peerECDH.PublicKey())
		if err != nil {
			t.Fatalf("ECDH: %v", err)
		}
		pubECDH, _ := pub.ECDH()
		want, _ := peerECDH.ECDH(pubECDH)
		if !bytes.Equal(shared, want) {
			t.Error("ECDH shared secrets differ")
		}
	case *rsa.PublicKey:
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			digest := hashOf(h, msg)
			sig, err := priv.(crypto.Signer).Sign(rand.Reader, digest, h)
			if err != nil {
				t.Fatalf("PKCS#1 v1.5 sign: %v", err)
			}
			if err := rsa.VerifyPKCS1v15(pub, h, digest, sig); err != nil {
				t.Errorf("PKCS#1 v1.5 %v: %v", h, err)
			}
			pss := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
			sig, err = priv.(crypto.Signer).Sign(rand.Reader, digest, pss)
			if err != nil {
				t.Fatalf("PSS sign: %v", err)
			}
			if err := rsa.VerifyPSS(pub, h, digest, sig, pss); err != nil {
				t.Errorf("PSS %v: %v", h, err)
			}
		}
	case ed25519.PublicKey:
		sig, err := priv.(crypto.Signer).Sign(rand.Reader, msg, crypto.Hash(0))
		if err != nil {
			t.Fatalf("Ed25519 sign: %v", err)
		}
		if !ed25519.Verify(pub, msg, sig) {
			t.Error("Ed25519 signature does not verify")
		}
	case *ecdh.PublicKey:
		peer, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		shared, err := priv.(*piv.X25519PrivateKey).ECDH(peer.PublicKey())
		if err != nil {
			t.Fatalf("X25519: %v", err)
		}
		want, _ := peer.ECDH(pub)
		if !bytes.Equal(shared, want) {
			t.Error("X25519 shared secrets differ")
		}
	default:
		t.Fatalf("unexpected public key %T", pub)
	}
}

func hashOf(h crypto.Hash, msg []byte) []byte {
	switch h {
	case crypto.SHA384:
		d := sha512.Sum384(msg)
		return d[:]
	case crypto.SHA512:
		d := sha512.Sum512(msg)
		return d[:]
	}
	d := sha256.Sum256(msg)
	return d[:]
}

func samePublicKey(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// TestPINPolicies checks that "always" asks for the PIN on every signature
// and "never" not at all.
func TestPINPolicies(t *testing.T) {
	yk := openCard(t)
	for _, tc := range []struct {
		policy  piv.PINPolicy
		prompts int
	}{
		{piv.PINPolicyOnce, 1},
		{piv.PINPolicyAlways, 2},
		{piv.PINPolicyNever, 0},
	} {
		pub, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotSignature,
			piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: tc.policy, TouchPolicy: piv.TouchPolicyCached})
		if err != nil {
			t.Fatal(err)
		}
		prompts := 0
		auth := piv.KeyAuth{PINPolicy: tc.policy, PINPrompt: func() (string, error) { prompts++; return piv.DefaultPIN, nil }}
		priv, err := yk.PrivateKey(piv.SlotSignature, pub, auth)
		if err != nil {
			t.Fatal(err)
		}
		digest := hashOf(crypto.SHA256, []byte("x"))
		for i := 0; i < 2; i++ {
			if _, err := priv.(crypto.Signer).Sign(rand.Reader, digest, crypto.SHA256); err != nil {
				t.Fatalf("policy %v, signature %d: %v", tc.policy, i, err)
			}
		}
		if prompts != tc.prompts {
			t.Errorf("policy %v: %d PIN prompts, want %d", tc.policy, prompts, tc.prompts)
		}
	}
	// A key with PIN policy "once" refuses to sign before the PIN is given.
	pub, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotSignature,
		piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever})
	if err != nil {
		t.Fatal(err)
	}
	reopened := reinsert(t, yk)
	priv, err := reopened.PrivateKey(piv.SlotSignature, pub, piv.KeyAuth{PINPolicy: piv.PINPolicyNever})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := priv.(crypto.Signer).Sign(rand.Reader, hashOf(crypto.SHA256, nil), crypto.SHA256); err == nil {
		t.Error("signed with PIN policy once and no PIN")
	}
	if env.Card.Stats().Touches == 0 {
		t.Error("touch policy cached never touched")
	}
}

// TestPINRetriesBlockAndUnblock spends retries, blocks the PIN, unblocks it
// with the PUK and changes PIN and PUK.
func TestPINRetriesBlockAndUnblock(t *testing.T) {
	yk := openCard(t)
	retries, err := yk.Retries()
	if err != nil || retries != 3 {
		t.Fatalf("retries %d, %v", retries, err)
	}
	for want := 2; want >= 0; want-- {
		var authErr piv.AuthErr
		if err := yk.VerifyPIN("999999"); !errors.As(err, &authErr) || authErr.Retries != want {
			t.Fatalf("wrong PIN: %v, want %d retries left", err, want)
		}
	}
	var blocked interface{ Status() uint16 }
	if err := yk.VerifyPIN(piv.DefaultPIN); !errors.As(err, &blocked) || blocked.Status() != 0x6983 {
		t.Fatalf("blocked PIN: %v, want status 6983", err)
	}
	if err := yk.Unblock("00000000", "654321"); err == nil {
		t.Fatal("unblocked with a wrong PUK")
	}
	if err := yk.Unblock(piv.DefaultPUK, "654321"); err != nil {
		t.Fatalf("unblock: %v", err)
	}
	if err := yk.VerifyPIN("654321"); err != nil {
		t.Fatalf("new PIN: %v", err)
	}
	if err := yk.SetPIN("654321", "13572468"); err != nil {
		t.Fatalf("set PIN: %v", err)
	}
	if err := yk.SetPUK(piv.DefaultPUK, "87654321"); err != nil {
		t.Fatalf("set PUK: %v", err)
	}
	if err := yk.SetPUK(piv.DefaultPUK, "87654321"); err == nil {
		t.Fatal("old PUK still works")
	}
	if err := yk.VerifyPIN("13572468"); err != nil {
		t.Fatalf("changed PIN: %v", err)
	}
	if err := yk.SetRetries(piv.DefaultManagementKey, "13572468", 5, 4); err != nil {
		t.Fatalf("set retries: %v", err)
	}
	// SET PIN RETRIES restores the default PIN, with the new count.
	var authErr piv.AuthErr
	if err := yk.VerifyPIN("13572468"); !errors.As(err, &authErr) || authErr.Retries != 4 {
		t.Fatalf("after set retries: %v", err)
	}
	if err := yk.VerifyPIN(piv.DefaultPIN); err != nil {
		t.Fatalf("default PIN after set retries: %v", err)
	}
}

// TestManagementKeys authenticates with the default 3DES key and with
// AES-128, AES-192 and AES-256 keys.
func TestManagementKeys(t *testing.T) {
	yk := openCard(t)
	old := piv.DefaultManagementKey
	for _, size := range []int{16, 24, 32} {
		next := make([]byte, size)
		if _, err := rand.Read(next); err != nil {
			t.Fatal(err)
		}
		if err := yk.SetManagementKey(old, next); err != nil {
			t.Fatalf("set %d-byte management key: %v", size, err)
		}
		if _, err := yk.GenerateKey(old, piv.SlotAuthentication, ecOnce); err == nil {
			t.Fatalf("old management key still works after switching to %d bytes", size)
		}
		if _, err := yk.GenerateKey(next, piv.SlotAuthentication, ecOnce); err != nil {
			t.Fatalf("generate with the %d-byte AES key: %v", size, err)
		}
		old = next
	}
}

// TestProtectedMetadata stores a management key PIN-protected on the card,
// as yubikey-agent does, and reads it back with the PIN.
func TestProtectedMetadata(t *testing.T) {
	yk := openCard(t)
	key := make([]byte, 24)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	if err := yk.SetMetadata(piv.DefaultManagementKey, &piv.Metadata{ManagementKey: &key}); err != nil {
		t.Fatalf("set metadata: %v", err)
	}
	yk = reinsert(t, yk)
	m, err := yk.Metadata(piv.DefaultPIN)
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	if m.ManagementKey == nil || !bytes.Equal(*m.ManagementKey, key) {
		t.Error("metadata management key differs")
	}
}

// TestReset blocks PIN and PUK and resets the card to factory state.
func TestReset(t *testing.T) {
	yk := openCard(t)
	if _, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotAuthentication, ecOnce); err != nil {
		t.Fatal(err)
	}
	if err := yk.SetPIN(piv.DefaultPIN, "24682468"); err != nil {
		t.Fatal(err)
	}
	if err := yk.Reset(); err != nil {
		t.Fatalf("reset: %v", err)
	}
	if _, err := yk.KeyInfo(piv.SlotAuthentication); err == nil {
		t.Error("key survived reset")
	}
	if err := yk.VerifyPIN(piv.DefaultPIN); err != nil {
		t.Errorf("default PIN after reset: %v", err)
	}
	if _, err := yk.AttestationCertificate(); err != nil {
		t.Errorf("attestation certificate lost in reset: %v", err)
	}
}

// TestReconnectDropsAuthentication checks that a PIN verified before the
// card was re-inserted is forgotten, as on a real card.
func TestReconnectDropsAuthentication(t *testing.T) {
	yk := openCard(t)
	if err := yk.VerifyPIN(piv.DefaultPIN); err != nil {
		t.Fatal(err)
	}
	yk = reinsert(t, yk)
	retries, err := yk.Retries()
	if err != nil || retries != 3 {
		t.Fatalf("after reinsert: retries %d, %v (the PIN should no longer be verified)", retries, err)
	}
}
