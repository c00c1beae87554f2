package piv

import (
	"crypto"

	"github.com/notation-piv/notation-piv/internal/keyspec"
)

// KeySpecs returns the key specs a PIV card holds for Notary Project
// signatures, in the order of the specification: PIV has no P-521 keys,
// and the Notary Project rejects RSA-1024 and Ed25519.
func KeySpecs() []keyspec.Spec {
	return []keyspec.Spec{keyspec.RSA2048, keyspec.RSA3072, keyspec.RSA4096, keyspec.EC256, keyspec.EC384}
}

// LookupKeySpec returns the key spec named name, such as "EC-256", if a
// PIV card holds keys of it, and whether it does.
func LookupKeySpec(name string) (keyspec.Spec, bool) {
	for _, s := range KeySpecs() {
		if s.Name == name {
			return s, true
		}
	}
	return keyspec.Spec{}, false
}

// KeySpecOf returns the key spec of a public key, typically a
// certificate's. Keys a PIV card cannot hold for Notary Project
// signatures get a *keyspec.UnsupportedKeyError.
func KeySpecOf(pub crypto.PublicKey) (keyspec.Spec, error) {
	return keyspec.Of(pub, KeySpecs()...)
}
