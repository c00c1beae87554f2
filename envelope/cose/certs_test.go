package cose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/notation-piv/notation-piv/envelope/envelopetest"
)

// The test PKI of package envelopetest, under the names these tests use.
var (
	testKey      = envelopetest.Key
	leafTemplate = envelopetest.LeafTemplate
	selfSigned   = envelopetest.SelfSigned
	threeLevel   = envelopetest.ThreeLevel
	notBefore    = envelopetest.NotBefore
)

// cardSigner behaves like the PIV card signer behind a SignRequest: ECDSA
// keys return ASN.1 DER whatever opts say, RSA keys sign only RSASSA-PSS
// (*rsa.PSSOptions) and need randomness. It counts the signatures it makes.
type cardSigner struct {
	crypto.Signer
	mu    sync.Mutex
	calls int
}

func (c *cardSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	if r == nil {
		return nil, errors.New("card signer: no randomness")
	}
	switch c.Public().(type) {
	case *rsa.PublicKey:
		if _, ok := opts.(*rsa.PSSOptions); !ok {
			return nil, fmt.Errorf("card signer: RSA signs only RSASSA-PSS, got opts %T", opts)
		}
	case *ecdsa.PublicKey:
		opts = crypto.Hash(0) // the card ignores opts for ECDSA
	}
	return c.Signer.Sign(r, digest, opts)
}
