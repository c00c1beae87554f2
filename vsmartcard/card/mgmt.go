package card

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/subtle"
	"io"
)

// generalAuthenticate handles GENERAL AUTHENTICATE (SP 800-73-4 part 2,
// §3.2.4): `7C L {…}` with P1 the algorithm and P2 the key reference.
func (c *Card) generalAuthenticate(cmd command) ([]byte, uint16) {
	objs, ok := template(cmd.data, 0x7C)
	if !ok {
		return nil, swWrongData
	}
	switch {
	case cmd.p2 == refManagement:
		return c.authenticateManagementKey(cmd.p1, objs)
	case keySlot(cmd.p2):
		return c.useKey(cmd, objs)
	}
	return nil, swWrongP1P2
}

// managementCipher returns the block cipher of the card's management key.
func (c *Card) managementCipher() (cipher.Block, error) {
	if c.state.MgmtAlgorithm == alg3DES {
		return des.NewTripleDESCipher(c.state.MgmtKey)
	}
	return aes.NewCipher(c.state.MgmtKey)
}

// authenticateManagementKey runs either mutual authentication (the host
// asks for a witness `80 00`, returns it decrypted with its own challenge
// `80 w 81 chal`, and gets `82 E(chal)`), or external authentication (the
// host asks for a challenge `81 00` and answers `82 E(chal)`).
func (c *Card) authenticateManagementKey(alg byte, objs []tlv) ([]byte, uint16) {
	s := &c.session
	// piv-authenticator answers a wrong algorithm with 6A86 and a wrong
	// key with 6A80.
	wrongAlg, wrongKey := uint16(swWrongData), uint16(swSecurityStatus)
	if c.profile == ProfileTrussed {
		wrongAlg, wrongKey = swWrongP1P2, swWrongData
	}
	if alg != c.state.MgmtAlgorithm {
		return nil, wrongAlg
	}
	block, err := c.managementCipher()
	if err != nil {
		return nil, swMemoryFailure
	}
	bs := block.BlockSize()
	witness, hasWitness := find(objs, 0x80)
	challenge, hasChallenge := find(objs, 0x81)
	response, hasResponse := find(objs, 0x82)
	s.mgmtAuthenticated = false

	switch {
	case hasWitness && len(witness) == 0: // step 1 of mutual authentication
		w, sw := c.random(bs)
		if sw != swOK {
			return nil, sw
		}
		s.mgmtWitness = w
		enc := make([]byte, bs)
		block.Encrypt(enc, w)
		return encodeTLV(0x7C, encodeTLV(0x80, enc)), swOK

	case hasWitness && hasChallenge: // step 2 of mutual authentication
		expected := s.mgmtWitness
		s.mgmtWitness = nil
		if expected == nil || len(witness) != bs || len(challenge) != bs {
			return nil, swWrongData
		}
		if subtle.ConstantTimeCompare(expected, witness) != 1 {
			return nil, wrongKey
		}
		c.touchForManagementKey()
		s.mgmtAuthenticated = true
		enc := make([]byte, bs)
		block.Encrypt(enc, challenge)
		return encodeTLV(0x7C, encodeTLV(0x82, enc)), swOK

	case hasChallenge && len(challenge) == 0: // step 1 of external authentication
		ch, sw := c.random(bs)
		if sw != swOK {
			return nil, sw
		}
		s.mgmtChallenge = ch
		return encodeTLV(0x7C, encodeTLV(0x81, ch)), swOK

	case hasResponse && len(response) > 0: // step 2 of external authentication
		ch := s.mgmtChallenge
		s.mgmtChallenge = nil
		if ch == nil || len(response) != bs {
			return nil, swWrongData
		}
		want := make([]byte, bs)
		block.Encrypt(want, ch)
		if subtle.ConstantTimeCompare(want, response) != 1 {
			return nil, wrongKey
		}
		c.touchForManagementKey()
		s.mgmtAuthenticated = true
		return nil, swOK
	}
	return nil, swWrongData
}

func (c *Card) touchForManagementKey() {
	if c.state.MgmtTouch {
		c.touch()
	}
}

func (c *Card) random(n int) ([]byte, uint16) {
	b := make([]byte, n)
	if _, err := io.ReadFull(c.rand, b); err != nil {
		return nil, swMemoryFailure
	}
	return b, swOK
}

// managementKeyLengths maps management key algorithms to key lengths.
var managementKeyLengths = map[byte]int{alg3DES: 24, algAES128: 16, algAES192: 24, algAES256: 32}

// setManagementKey handles the YubiKey SET MANAGEMENT KEY: P2 FF (no touch)
// or FE (touch required); data `alg 9B len key`.
func (c *Card) setManagementKey(cmd command) ([]byte, uint16) {
	if sw := c.authorize(cmd.p1 == 0xFF && (cmd.p2 == 0xFF || cmd.p2 == 0xFE)); sw != swOK {
		return nil, sw
	}
	d := cmd.data
	if len(d) < 3 || d[1] != refManagement || int(d[2]) != len(d)-3 || managementKeyLengths[d[0]] != len(d)-3 {
		return nil, swWrongData
	}
	c.state.MgmtAlgorithm = d[0]
	c.state.MgmtKey = append([]byte(nil), d[3:]...)
	c.state.MgmtTouch = cmd.p2 == 0xFE
	return c.changed(nil, swOK)
}

// authorize checks a command that changes the card: first its P1 and P2,
// which valid says are right, then that the session has authenticated the
// management key. It returns the status word of the first check that
// fails, or swOK.
func (c *Card) authorize(valid bool) uint16 {
	switch {
	case !valid:
		return swWrongP1P2
	case !c.session.mgmtAuthenticated:
		return swSecurityStatus
	}
	return swOK
}

// authorizedObjects checks a command that changes the card as authorize
// does, then parses its data objects: it answers swWrongData if they do
// not parse.
func (c *Card) authorizedObjects(cmd command, valid bool) ([]tlv, uint16) {
	if sw := c.authorize(valid); sw != swOK {
		return nil, sw
	}
	objs, err := parseTLVs(cmd.data)
	if err != nil {
		return nil, swWrongData
	}
	return objs, swOK
}
