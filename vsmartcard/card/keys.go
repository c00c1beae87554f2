package card

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"math/big"
	"time"
)

// keySlot reports whether ref names a slot that can hold a private key.
func keySlot(ref byte) bool {
	_, ok := certObject(ref)
	return ok
}

// defaultPINPolicy is the PIN policy a YubiKey gives a slot's key when none
// is asked for, and the one SP 800-73-4 fixes for the slot.
func defaultPINPolicy(slot byte) byte {
	switch slot {
	case slotSignature:
		return pinPolicyAlways
	case slotCardAuth, slotAttestation:
		return pinPolicyNever
	}
	return pinPolicyOnce
}

// keyPolicies resolves the PIN (AA) and touch (AB) policy tags of GENERATE
// and IMPORT KEY. Cards other than YubiKeys ignore them: their PIN
// policies are fixed by slot, as SP 800-73-4 has them, and they have no
// touch.
func (c *Card) keyPolicies(objs []tlv, slot byte) (pin, touch byte, ok bool) {
	pin, touch = defaultPINPolicy(slot), touchPolicyNever
	if c.profile != ProfileYubiKey {
		return pin, touch, true
	}
	if v, found := find(objs, 0xAA); found {
		if len(v) != 1 || v[0] > pinPolicyAlways {
			return 0, 0, false
		}
		if v[0] != pinPolicyDefault {
			pin = v[0]
		}
	}
	if v, found := find(objs, 0xAB); found {
		if len(v) != 1 || v[0] > touchPolicyCached {
			return 0, 0, false
		}
		if v[0] != touchPolicyDefault {
			touch = v[0]
		}
	}
	return pin, touch, true
}

// newPrivateKey generates a key for a PIV algorithm identifier.
func (c *Card) newPrivateKey(alg byte) (crypto.PrivateKey, error) {
	switch alg {
	case algRSA1024, algRSA2048, algRSA3072, algRSA4096:
		return rsa.GenerateKey(c.rand, rsaBits(alg))
	case algECP256, algECP384:
		return ecdsa.GenerateKey(curve(alg), c.rand)
	case algEd25519:
		_, priv, err := ed25519.GenerateKey(c.rand)
		return priv, err
	case algX25519:
		return ecdh.X25519().GenerateKey(c.rand)
	}
	return nil, errors.New("unsupported algorithm")
}

func rsaBits(alg byte) int {
	switch alg {
	case algRSA1024:
		return 1024
	case algRSA2048:
		return 2048
	case algRSA3072:
		return 3072
	case algRSA4096:
		return 4096
	}
	return 0
}

func curve(alg byte) elliptic.Curve {
	if alg == algECP384 {
		return elliptic.P384()
	}
	return elliptic.P256()
}

// storeKey puts a private key in a slot.
func (c *Card) storeKey(slot, alg, pin, touch, origin byte, priv crypto.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	c.state.Keys[slot] = &slotKey{
		Algorithm: alg, PINPolicy: pin, TouchPolicy: touch, Origin: origin,
		PKCS8: der, private: priv,
	}
	return nil
}

// generate handles GENERATE ASYMMETRIC KEY PAIR (SP 800-73-4 part 2,
// §3.3.2): `AC L {80 01 alg [AA 01 pin] [AB 01 touch]}`. It answers the new
// public key in a 7F49 template.
func (c *Card) generate(cmd command) ([]byte, uint16) {
	if sw := c.authorize(cmd.p1 == 0 && keySlot(cmd.p2)); sw != swOK {
		return nil, sw
	}
	objs, ok := template(cmd.data, 0xAC)
	alg, found := find(objs, 0x80)
	if !ok || !found || len(alg) != 1 {
		return nil, swWrongData
	}
	pin, touch, ok := c.keyPolicies(objs, cmd.p2)
	if !ok || c.profile == ProfileTrussed && !trussedAlgorithm(alg[0]) {
		return nil, swWrongData
	}
	priv, err := c.newPrivateKey(alg[0])
	if err != nil {
		return nil, swWrongData
	}
	if err := c.storeKey(cmd.p2, alg[0], pin, touch, originGenerated, priv); err != nil {
		return nil, swMemoryFailure
	}
	pub, err := encodePublicKey(c.state.Keys[cmd.p2])
	if err != nil {
		return nil, swMemoryFailure
	}
	return c.changed(encodeTLV(0x7F49, pub), swOK)
}

// importKey handles the YubiKey IMPORT KEY: P1 is the algorithm, P2 the
// slot; RSA keys come as tags 01-05 (p, q, dP, dQ, qInv), EC keys as tag 06
// (private scalar), Ed25519 and X25519 as tags 07 and 08.
func (c *Card) importKey(cmd command) ([]byte, uint16) {
	objs, sw := c.authorizedObjects(cmd, keySlot(cmd.p2))
	if sw != swOK {
		return nil, sw
	}
	pin, touch, ok := c.keyPolicies(objs, cmd.p2)
	if !ok {
		return nil, swWrongData
	}
	priv, err := importedKey(cmd.p1, objs)
	if err != nil {
		return nil, swWrongData
	}
	if err := c.storeKey(cmd.p2, cmd.p1, pin, touch, originImported, priv); err != nil {
		return nil, swMemoryFailure
	}
	return c.changed(nil, swOK)
}

var errBadKey = errors.New("bad key material")

func importedKey(alg byte, objs []tlv) (crypto.PrivateKey, error) {
	switch alg {
	case algRSA1024, algRSA2048, algRSA3072, algRSA4096:
		p, okP := find(objs, 0x01)
		q, okQ := find(objs, 0x02)
		if !okP || !okQ {
			return nil, errBadKey
		}
		key, err := rsaFromPrimes(new(big.Int).SetBytes(p), new(big.Int).SetBytes(q), big.NewInt(65537))
		if err != nil || key.N.BitLen() != rsaBits(alg) {
			return nil, errBadKey
		}
		return key, nil
	case algECP256, algECP384:
		d, ok := find(objs, 0x06)
		size := (curve(alg).Params().BitSize + 7) / 8
		if !ok || len(d) > size {
			return nil, errBadKey
		}
		padded := make([]byte, size)
		copy(padded[size-len(d):], d)
		return ecdsa.ParseRawPrivateKey(curve(alg), padded)
	case algEd25519:
		seed, ok := find(objs, 0x07)
		if !ok || len(seed) != ed25519.SeedSize {
			return nil, errBadKey
		}
		return ed25519.NewKeyFromSeed(seed), nil
	case algX25519:
		k, ok := find(objs, 0x08)
		if !ok {
			return nil, errBadKey
		}
		return ecdh.X25519().NewPrivateKey(k)
	}
	return nil, errBadKey
}

// rsaFromPrimes rebuilds an RSA key from its primes and public exponent;
// a YubiKey's is always 65537.
func rsaFromPrimes(p, q, e *big.Int) (*rsa.PrivateKey, error) {
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
		return nil, errBadKey
	}
	one := big.NewInt(1)
	phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
	d := new(big.Int).ModInverse(e, phi)
	if d == nil {
		return nil, errBadKey
	}
	key := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: new(big.Int).Mul(p, q), E: int(e.Int64())},
		D:         d,
		Primes:    []*big.Int{p, q},
	}
	if err := key.Validate(); err != nil {
		return nil, err
	}
	key.Precompute()
	return key, nil
}

// encodePublicKey encodes a slot's public key as the inside of a 7F49
// template: `86 point` for EC, Ed25519 and X25519; `81 n 82 e` for RSA.
func encodePublicKey(k *slotKey) ([]byte, error) {
	priv, err := k.privateKey()
	if err != nil {
		return nil, err
	}
	switch p := priv.(type) {
	case *rsa.PrivateKey:
		return concat(encodeTLV(0x81, p.N.Bytes()), encodeTLV(0x82, big.NewInt(int64(p.E)).Bytes())), nil
	case *ecdsa.PrivateKey:
		pub, err := p.PublicKey.ECDH()
		if err != nil {
			return nil, err
		}
		return encodeTLV(0x86, pub.Bytes()), nil
	case ed25519.PrivateKey:
		return encodeTLV(0x86, p.Public().(ed25519.PublicKey)), nil
	case *ecdh.PrivateKey:
		return encodeTLV(0x86, p.PublicKey().Bytes()), nil
	}
	return nil, errors.New("unsupported key type")
}

// authorizeKeyUse enforces a slot's PIN and touch policies before its key
// is used.
func (c *Card) authorizeKeyUse(slot byte, k *slotKey) uint16 {
	s := &c.session
	switch k.PINPolicy {
	case pinPolicyOnce:
		if !s.pinVerified {
			return swSecurityStatus
		}
	case pinPolicyAlways:
		if !s.pinVerifiedForAlways {
			return swSecurityStatus
		}
		s.pinVerifiedForAlways = false
	}
	switch k.TouchPolicy {
	case touchPolicyAlways:
		c.touch()
	case touchPolicyCached:
		if time.Since(s.lastTouch[slot]) > touchCacheTime {
			c.touch()
			s.lastTouch[slot] = time.Now()
		}
	}
	return swOK
}

// touch simulates the user touching the card.
func (c *Card) touch() {
	c.stats.Touches++
	time.Sleep(c.cfg.TouchDelay)
}

// useKey runs GENERAL AUTHENTICATE with a slot's key: `82 00` asks for the
// result; `81 data` is a digest to sign (ECDSA), a message (Ed25519) or a
// k-byte block for the raw RSA private operation; `85 point` is an ECDH
// peer public key.
func (c *Card) useKey(cmd command, objs []tlv) ([]byte, uint16) {
	k, ok := c.state.Keys[cmd.p2]
	if !ok && c.profile == ProfileTrussed {
		// piv-authenticator checks the slot's PIN policy first, then
		// finds no key.
		if sw := c.authorizeKeyUse(cmd.p2, &slotKey{PINPolicy: defaultPINPolicy(cmd.p2)}); sw != swOK {
			return nil, sw
		}
		return nil, swConditionsNotMet
	}
	if !ok {
		return nil, swRefNotFound
	}
	if k.Algorithm != cmd.p1 {
		return nil, swWrongData
	}
	if v, ok := find(objs, 0x82); !ok || len(v) != 0 {
		return nil, swWrongData
	}
	priv, err := k.privateKey()
	if err != nil {
		return nil, swMemoryFailure
	}
	input, sign := find(objs, 0x81)
	peer, agree := find(objs, 0x85)
	if sign == agree {
		return nil, swWrongData
	}
	// Check the request before the PIN policy consumes a verification.
	var op func() ([]byte, error)
	switch p := priv.(type) {
	case *ecdsa.PrivateKey:
		size := (p.Curve.Params().BitSize + 7) / 8
		// piv-authenticator signs only digests as long as the curve.
		shortOK := c.profile != ProfileTrussed || len(input) == size
		switch {
		case sign && len(input) <= size && len(input) > 0 && shortOK:
			op = func() ([]byte, error) { return ecdsa.SignASN1(c.rand, p, input) }
		case agree:
			op = func() ([]byte, error) { return ecdhShared(p, peer) }
		default:
			return nil, swWrongData
		}
	case *rsa.PrivateKey:
		if !sign || len(input) != p.Size() || new(big.Int).SetBytes(input).Cmp(p.N) >= 0 {
			return nil, swWrongData
		}
		op = func() ([]byte, error) { return rawRSA(p, input), nil }
	case ed25519.PrivateKey:
		if !sign {
			return nil, swWrongData
		}
		op = func() ([]byte, error) { return ed25519.Sign(p, input), nil }
	case *ecdh.PrivateKey:
		if !agree {
			return nil, swWrongData
		}
		op = func() ([]byte, error) {
			pub, err := ecdh.X25519().NewPublicKey(peer)
			if err != nil {
				return nil, err
			}
			return p.ECDH(pub)
		}
	default:
		return nil, swWrongData
	}
	if sw := c.authorizeKeyUse(cmd.p2, k); sw != swOK {
		return nil, sw
	}
	out, err := op()
	if err != nil {
		return nil, swWrongData
	}
	return encodeTLV(0x7C, encodeTLV(0x82, out)), swOK
}

func ecdhShared(p *ecdsa.PrivateKey, peer []byte) ([]byte, error) {
	priv, err := p.ECDH()
	if err != nil {
		return nil, err
	}
	pub, err := priv.Curve().NewPublicKey(peer)
	if err != nil {
		return nil, err
	}
	return priv.ECDH(pub)
}

// rawRSA is the RSA private-key primitive m^d mod n, computed with the CRT
// and left-padded to the modulus size.
func rawRSA(k *rsa.PrivateKey, input []byte) []byte {
	c := new(big.Int).SetBytes(input)
	p, q := k.Primes[0], k.Primes[1]
	dp := new(big.Int).Mod(k.D, new(big.Int).Sub(p, big.NewInt(1)))
	dq := new(big.Int).Mod(k.D, new(big.Int).Sub(q, big.NewInt(1)))
	qinv := new(big.Int).ModInverse(q, p)
	m1 := new(big.Int).Exp(c, dp, p)
	m2 := new(big.Int).Exp(c, dq, q)
	h := new(big.Int).Sub(m1, m2)
	h.Mul(h, qinv).Mod(h, p)
	m := h.Mul(h, q).Add(h, m2)
	return m.FillBytes(make([]byte, k.Size()))
}
