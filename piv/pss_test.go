package piv

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	"testing"
)

// TestPSSBlock: the block a card signs with its raw RSA operation makes a
// signature that crypto/rsa verifies, for each salt length and for moduli
// whose size in bits is and is not a multiple of eight plus one.
func TestPSSBlock(t *testing.T) {
	for _, bits := range []int{1024, 1025, 2048} {
		key, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		for _, hash := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			digest := make([]byte, hash.Size())
			rand.Read(digest)
			for _, salt := range []int{rsa.PSSSaltLengthEqualsHash, rsa.PSSSaltLengthAuto, 20} {
				opts := &rsa.PSSOptions{SaltLength: salt, Hash: hash}
				block, err := pssBlock(rand.Reader, &key.PublicKey, digest, opts)
				if emLen := (bits + 6) / 8; salt == rsa.PSSSaltLengthEqualsHash && emLen < 2*hash.Size()+2 {
					if err == nil {
						t.Errorf("RSA-%d %v salt %d: no error for a key too small", bits, hash, salt)
					}
					continue
				}
				if err != nil {
					t.Fatalf("RSA-%d %v salt %d: %v", bits, hash, salt, err)
				}
				if len(block) != key.Size() {
					t.Fatalf("block is %d bytes, want %d", len(block), key.Size())
				}
				// What the card does: the raw private-key operation.
				sig := new(big.Int).Exp(new(big.Int).SetBytes(block), key.D, key.N).FillBytes(make([]byte, key.Size()))
				verify := &rsa.PSSOptions{SaltLength: salt, Hash: hash}
				if salt == rsa.PSSSaltLengthAuto {
					verify.SaltLength = rsa.PSSSaltLengthAuto
				}
				if err := rsa.VerifyPSS(&key.PublicKey, hash, digest, sig, verify); err != nil {
					t.Errorf("RSA-%d %v salt %d: %v", bits, hash, salt, err)
				}
			}
		}
	}
}
