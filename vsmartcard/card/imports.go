package card

import (
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
)

// Import is a key and its certificate that a card holds from the factory
// (see Config.Imports).
type Import struct {
	// Slot is the key reference: 9A, 9C, 9D, 9E or a retired slot 82-95.
	Slot byte
	// Key is the private key: *rsa.PrivateKey (1024 to 4096 bits),
	// *ecdsa.PrivateKey (P-256 or P-384), ed25519.PrivateKey or
	// *ecdh.PrivateKey (X25519). nil leaves the slot without a key.
	Key crypto.PrivateKey
	// Certificate is the DER certificate stored in the slot's data
	// object. nil stores none. It is stored as given, even if it does not
	// parse, so that tests can provision broken cards; if it parses, its
	// public key must be Key's.
	Certificate []byte
}

// certInfoCompressed is CertInfo with bit 0 set: the certificate is
// gzip-compressed (SP 800-73-4 part 1, table 10, note 1).
const certInfoCompressed = 0x01

// importAtFactory puts an import into the card's state, the PIN policy
// the slot has on this card, and no touch policy.
func (c *Card) importAtFactory(imp Import) error {
	obj, ok := certObject(imp.Slot)
	if !ok || imp.Slot == slotAttestation {
		return fmt.Errorf("import into slot %02x: not a key slot; want 9a, 9c, 9d, 9e or 82-95", imp.Slot)
	}
	if imp.Key != nil {
		alg, err := algorithmOf(imp.Key)
		if err != nil {
			return fmt.Errorf("import into slot %02x: %w", imp.Slot, err)
		}
		if cert, err := x509.ParseCertificate(imp.Certificate); err == nil && !samePublicKey(cert.PublicKey, imp.Key) {
			return fmt.Errorf("import into slot %02x: the certificate is not for the key", imp.Slot)
		}
		if err := c.storeKey(imp.Slot, alg, defaultPINPolicy(imp.Slot), touchPolicyNever, originImported, imp.Key); err != nil {
			return fmt.Errorf("import into slot %02x: %w", imp.Slot, err)
		}
	}
	if imp.Certificate != nil {
		content, err := certificateObject(imp.Certificate, c.cfg.CompressCerts)
		if err != nil {
			return fmt.Errorf("import into slot %02x: %w", imp.Slot, err)
		}
		c.state.Objects[obj] = content
	}
	return nil
}

// certificateObject returns the content of a certificate's data object:
// `70 cert 71 CertInfo FE 00`, the certificate gzip-compressed if
// compress is set.
func certificateObject(der []byte, compress bool) ([]byte, error) {
	info := byte(0)
	if compress {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		if _, err := w.Write(der); err != nil {
			return nil, fmt.Errorf("compress certificate: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("compress certificate: %w", err)
		}
		der, info = buf.Bytes(), certInfoCompressed
	}
	return concat(encodeTLV(0x70, der), encodeTLV(0x71, []byte{info}), encodeTLV(0xFE, nil)), nil
}

// storedCertificate reads a certificate data object: the DER
// certificate, decompressed if CertInfo says it is compressed, and
// whether it was.
func storedCertificate(content []byte) (der []byte, compressed bool, err error) {
	objs, err := parseTLVs(content)
	if err != nil {
		return nil, false, err
	}
	cert, ok := find(objs, 0x70)
	if !ok {
		return nil, false, errors.New("no certificate (tag 70)")
	}
	if info, ok := find(objs, 0x71); !ok || len(info) != 1 || info[0]&certInfoCompressed == 0 {
		return cert, false, nil
	}
	r, err := gzip.NewReader(bytes.NewReader(cert))
	if err != nil {
		return nil, true, fmt.Errorf("decompress certificate: %w", err)
	}
	der, err = io.ReadAll(io.LimitReader(r, maxChainedData))
	if err != nil {
		return nil, true, fmt.Errorf("decompress certificate: %w", err)
	}
	return der, true, nil
}

// CheckImports reports the first of imports that the card does not hold
// as it would from the factory with Config.Imports and
// Config.CompressCerts set to compress: another key or no key in the
// slot, another certificate or none, or a certificate stored compressed
// when compress is unset or the other way round. A card loaded from a
// snapshot uses it to check that the snapshot is the card a
// configuration describes. Keys and certificates the card holds beyond
// imports do not matter.
func (c *Card) CheckImports(imports []Import, compress bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, imp := range imports {
		if imp.Key != nil {
			k, ok := c.state.Keys[imp.Slot]
			if !ok {
				return fmt.Errorf("slot %02x holds no key", imp.Slot)
			}
			priv, err := k.privateKey()
			if err != nil {
				return fmt.Errorf("slot %02x: %w", imp.Slot, err)
			}
			pub, ok := priv.(interface{ Public() crypto.PublicKey })
			if !ok || !samePublicKey(pub.Public(), imp.Key) {
				return fmt.Errorf("slot %02x holds another key", imp.Slot)
			}
		}
		if imp.Certificate == nil {
			continue
		}
		obj, _ := certObject(imp.Slot)
		content, ok := c.state.Objects[obj]
		if !ok {
			return fmt.Errorf("slot %02x holds no certificate", imp.Slot)
		}
		der, compressed, err := storedCertificate(content)
		switch {
		case err != nil:
			return fmt.Errorf("slot %02x: certificate object: %w", imp.Slot, err)
		case !bytes.Equal(der, imp.Certificate):
			return fmt.Errorf("slot %02x holds another certificate", imp.Slot)
		case compressed && !compress:
			return fmt.Errorf("slot %02x holds its certificate compressed", imp.Slot)
		case !compressed && compress:
			return fmt.Errorf("slot %02x holds its certificate uncompressed", imp.Slot)
		}
	}
	return nil
}

// algorithmOf returns the PIV algorithm identifier of a private key.
func algorithmOf(key crypto.PrivateKey) (byte, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		switch k.N.BitLen() {
		case 1024:
			return algRSA1024, nil
		case 2048:
			return algRSA2048, nil
		case 3072:
			return algRSA3072, nil
		case 4096:
			return algRSA4096, nil
		}
		return 0, fmt.Errorf("RSA key of %d bits; want 1024, 2048, 3072 or 4096", k.N.BitLen())
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			return algECP256, nil
		case elliptic.P384():
			return algECP384, nil
		}
		return 0, fmt.Errorf("EC key on %s; want P-256 or P-384", k.Curve.Params().Name)
	case ed25519.PrivateKey:
		return algEd25519, nil
	case *ecdh.PrivateKey:
		if k.Curve() == ecdh.X25519() {
			return algX25519, nil
		}
	}
	return 0, fmt.Errorf("unsupported key type %T", key)
}

// samePublicKey reports whether pub is the public key of priv.
func samePublicKey(pub crypto.PublicKey, priv crypto.PrivateKey) bool {
	p, ok := priv.(interface{ Public() crypto.PublicKey })
	if !ok {
		return false
	}
	eq, ok := p.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(pub)
}
