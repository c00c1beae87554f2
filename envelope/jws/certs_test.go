package jws

import (
	"crypto"
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

// countingSigner counts the signatures it makes.
type countingSigner struct {
	crypto.Signer
	mu    sync.Mutex
	calls int
}

func (c *countingSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.Signer.Sign(r, digest, opts)
}
