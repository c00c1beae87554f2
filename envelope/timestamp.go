package envelope

import (
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/notaryproject/notation-core-go/signature"

	"github.com/notation-piv/notation-piv/internal/keyspec"
	"github.com/notation-piv/notation-piv/timestamp"
)

// VerifyTimestamp checks the RFC 3161 timestamp of verified envelope
// content (from Verify) the way notation verify does under a trust policy
// with a tsa trust store holding roots: the envelope must carry a
// timestamp token ("io.cncf.notary.timestampSignature"); the token must
// stamp the envelope's signature bytes with the hash of the leaf's key
// spec and pass timestamp.Verify against roots; and its time, accuracy
// included, must lie within the validity of every certificate of the
// signing chain. It returns what the token asserts.
func VerifyTimestamp(content *signature.EnvelopeContent, roots *x509.CertPool) (*timestamp.Info, error) {
	info := content.SignerInfo
	token := info.UnsignedAttributes.TimestampSignature
	if len(token) == 0 {
		return nil, errors.New("the envelope carries no timestamp (io.cncf.notary.timestampSignature)")
	}
	if len(info.CertificateChain) == 0 {
		return nil, errors.New("the envelope carries no certificate chain")
	}
	alg, err := keyspec.Of(info.CertificateChain[0].PublicKey)
	if err != nil {
		return nil, fmt.Errorf("leaf certificate %q: %w", info.CertificateChain[0].Subject, err)
	}
	ts, err := timestamp.Verify(token, info.Signature, alg.Hash, roots)
	if err != nil {
		return nil, err
	}
	if err := ts.CheckWithin(info.CertificateChain); err != nil {
		return nil, err
	}
	return ts, nil
}
