package piv

import (
	"crypto"
	"crypto/rsa"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
)

// pssBlock returns the block a PIV card signs with its raw RSA operation
// for an RSASSA-PSS signature of digest: the encoded message of
// EMSA-PSS-ENCODE (RFC 8017, §9.1.1) with MGF1 over opts.Hash, left-padded
// with zeros to the size of the modulus. The salt comes from rand; its
// length is that of the hash for PSSSaltLengthEqualsHash, the largest that
// fits for PSSSaltLengthAuto, as crypto/rsa signs, or opts.SaltLength.
func pssBlock(rand io.Reader, pub *rsa.PublicKey, digest []byte, opts *rsa.PSSOptions) ([]byte, error) {
	hash := opts.Hash
	hLen := hash.Size()
	if len(digest) != hLen {
		return nil, fmt.Errorf("digest is %d bytes, but %v makes %d", len(digest), hash, hLen)
	}
	emBits := pub.N.BitLen() - 1
	emLen := (emBits + 7) / 8
	sLen := opts.SaltLength
	switch sLen {
	case rsa.PSSSaltLengthEqualsHash:
		sLen = hLen
	case rsa.PSSSaltLengthAuto:
		sLen = emLen - hLen - 2
	}
	if sLen < 0 || emLen < hLen+sLen+2 {
		return nil, errors.New("the RSA key is too small for this hash and salt length")
	}
	salt := make([]byte, sLen)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return nil, fmt.Errorf("draw the PSS salt: %w", err)
	}

	// H = Hash(00 00 00 00 00 00 00 00 || mHash || salt)
	h := hash.New()
	h.Write(make([]byte, 8))
	h.Write(digest)
	h.Write(salt)
	sum := h.Sum(nil)

	// DB = PS || 01 || salt, masked with MGF1(H).
	k := (pub.N.BitLen() + 7) / 8
	block := make([]byte, k)
	em := block[k-emLen:]
	db := em[:emLen-hLen-1]
	db[len(db)-sLen-1] = 0x01
	copy(db[len(db)-sLen:], salt)
	mgf1XOR(db, hash, sum)
	// Clear the leftmost 8*emLen - emBits bits.
	db[0] &= 0xFF >> (8*emLen - emBits)
	copy(em[emLen-hLen-1:], sum)
	em[emLen-1] = 0xBC
	return block, nil
}

// mgf1XOR XORs out with MGF1 (RFC 8017, appendix B.2.1) of seed.
func mgf1XOR(out []byte, hash crypto.Hash, seed []byte) {
	var counter [4]byte
	h := hash.New()
	for done := 0; done < len(out); {
		h.Reset()
		h.Write(seed)
		h.Write(counter[:])
		mask := h.Sum(nil)
		done += subtle.XORBytes(out[done:], out[done:], mask)
		for i := 3; i >= 0; i-- {
			if counter[i]++; counter[i] != 0 {
				break
			}
		}
	}
}
