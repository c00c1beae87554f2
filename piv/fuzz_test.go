package piv

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/notation-piv/notation-piv/fixtures"
)

// scriptedConn is a conn that answers each APDU with the next of its
// answers, and with an empty answer once they run out.
type scriptedConn struct{ answers [][]byte }

func (s *scriptedConn) Transmit([]byte) ([]byte, error) {
	if len(s.answers) == 0 {
		return nil, nil
	}
	a := s.answers[0]
	s.answers = s.answers[1:]
	return a, nil
}

func (s *scriptedConn) close(bool) error { return nil }

// splitAnswers cuts b into answers: each starts with its length byte.
func splitAnswers(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := min(int(b[0]), len(b)-1)
		out = append(out, b[1:1+n])
		b = b[1+n:]
	}
	return out
}

// FuzzCardAnswers: whatever a card answers, opening it, reading its
// identity, certificates and status, the PIN status query and a signature
// end in a result or an error, never a panic.
func FuzzCardAnswers(f *testing.F) {
	f.Add([]byte{2, 0x90, 0x00, 5, 5, 7, 1, 0x90, 0x00, 6, 0, 1, 2, 3, 0x90, 0x00})
	f.Add([]byte{2, 0x90, 0x00, 2, 0x6D, 0x00, 4, 0x53, 0x00, 0x90, 0x00, 2, 0x61, 0x10})
	f.Add([]byte{2, 0x90, 0x00, 5, 6, 6, 6, 0x90, 0x00, 2, 0x63, 0xC2, 6, 0x7C, 0x02, 0x82, 0x00, 0x90, 0x00})
	ec, rsaKey := fixtures.Key("EC-256 fuzz"), fixtures.Key("RSA-2048 fuzz")
	slot, _ := ParseSlot("9c")
	f.Fuzz(func(t *testing.T, b []byte) {
		answers := splitAnswers(b)
		for _, want := range []identity{withSerial | withGUID, withEveryGUID} {
			conn := &scriptedConn{answers: answers}
			c := &Card{sem: make(chan struct{}, 1), conn: conn}
			if c.identify(want) != nil {
				continue
			}
			readCertificate(conn, "read certificate", slot.object())
			inspect(conn, c.info)
			pinStatus(conn)
			forgetPIN(conn)
			verifyPIN(conn, []byte("123456"))
			for _, key := range []crypto.Signer{ec, rsaKey} {
				s := &signer{card: c, slot: slot, pub: key.Public()}
				var opts crypto.SignerOpts = crypto.SHA256
				if _, ok := key.Public().(*rsa.PublicKey); ok {
					opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
				}
				s.sign(conn, "sign", rand.Reader, make([]byte, 32), opts, nil)
			}
			protectedManagementKey(b)
		}
	})
}
