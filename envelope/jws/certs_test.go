package jws

import (
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
