package timestamp

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	nx509 "github.com/notaryproject/notation-core-go/x509"

	"github.com/notation-piv/notation-piv/envelope/certchain"
)

// hashOIDs are the message imprint algorithms of the Notary key specs
// (RFC 5758 §2, NIST).
var hashOIDs = map[crypto.Hash]asn1.ObjectIdentifier{
	crypto.SHA256: {2, 16, 840, 1, 101, 3, 4, 2, 1},
	crypto.SHA384: {2, 16, 840, 1, 101, 3, 4, 2, 2},
	crypto.SHA512: {2, 16, 840, 1, 101, 3, 4, 2, 3},
}

// Info describes a timestamp token that Verify accepted.
type Info struct {
	// GenTime is the time the TSA asserts, in UTC.
	GenTime time.Time
	// Accuracy bounds the error of GenTime either way; notation reads a
	// missing accuracy as zero, or as one second under the baseline
	// timestamp policy.
	Accuracy time.Duration
	// Hash is the algorithm of the message imprint.
	Hash crypto.Hash
	// Policy is the TSA policy the token was issued under.
	Policy asn1.ObjectIdentifier
	// SerialNumber is the token's serial number, unique per TSA.
	SerialNumber *big.Int
	// Chain is the TSA certificate chain, the TSA certificate first and a
	// trusted root last.
	Chain []*x509.Certificate
}

// Earliest returns GenTime - Accuracy, the earliest time the token may
// have been issued.
func (i *Info) Earliest() time.Time { return i.GenTime.Add(-i.Accuracy) }

// Latest returns GenTime + Accuracy, the latest time the token may have
// been issued.
func (i *Info) Latest() time.Time { return i.GenTime.Add(i.Accuracy) }

// CheckWithin checks that the whole interval [Earliest, Latest] lies within
// the validity of every certificate of chain, the signing certificate
// chain, as notation verify requires of a timestamped signature.
func (i *Info) CheckWithin(chain []*x509.Certificate) error {
	for _, c := range chain {
		if i.Earliest().Before(c.NotBefore) || i.Latest().After(c.NotAfter) {
			return fmt.Errorf("the timestamp %s ± %s is outside the validity of certificate %q (valid from %s to %s): check the clock of the timestamp authority, or renew the certificate",
				i.GenTime.UTC().Format(time.RFC3339), i.Accuracy, certchain.Subject(c),
				c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// Verify checks token, a DER TimeStampToken, as a timestamp of signature
// and returns what it asserts. It checks the checks of notation verify:
// the message imprint is the hash of signature with hash; the token's
// signature and signingCertificateV2 attribute match the TSA certificate;
// that certificate chains to one of roots at GenTime with an extended key
// usage of timeStamping only, marked critical; and the chain meets the
// Notary rules for timestamping certificates. It does not check
// revocation, and does not compare GenTime with anything: see CheckWithin.
func Verify(token, signature []byte, hash crypto.Hash, roots *x509.CertPool) (*Info, error) {
	if roots == nil {
		return nil, errors.New("verify timestamp: no trusted TSA root certificates given")
	}
	want, ok := hashOIDs[hash]
	if !ok {
		return nil, fmt.Errorf("verify timestamp: hash %v is not one of SHA-256, SHA-384, SHA-512", hash)
	}
	signed, tst, err := parseToken(token)
	if err != nil {
		return nil, err
	}
	if got := tst.MessageImprint.HashAlgorithm.Algorithm; !got.Equal(want) {
		return nil, fmt.Errorf("the timestamp stamps a digest of algorithm %v, want %v (%v, the hash of the signing key)", got, want, hash)
	}
	ts, err := tst.Validate(signature)
	if err != nil {
		return nil, fmt.Errorf("the timestamp is not over this signature: %w", err)
	}
	chain, err := signed.Verify(context.Background(), x509.VerifyOptions{CurrentTime: ts.Value, Roots: roots})
	if err != nil {
		var unknown x509.UnknownAuthorityError
		if errors.As(err, &unknown) {
			return nil, fmt.Errorf("the timestamp does not chain to a trusted TSA root: %w; give the root CA certificate of this timestamp authority", err)
		}
		return nil, fmt.Errorf("the timestamp does not verify at its time %s: %w; have the operator of the timestamp authority fix its certificate, or use another timestamp authority", ts.Value.UTC().Format(time.RFC3339), err)
	}
	if err := nx509.ValidateTimestampingCertChain(chain); err != nil {
		return nil, fmt.Errorf("the certificate chain of the timestamp authority breaks the notary timestamping rules: %w; use a timestamp authority whose certificates meet them", err)
	}
	return &Info{
		GenTime:      ts.Value.UTC(),
		Accuracy:     ts.Accuracy,
		Hash:         hash,
		Policy:       tst.Policy,
		SerialNumber: tst.SerialNumber,
		Chain:        chain,
	}, nil
}
