package timestamp

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/notaryproject/tspclient-go"
)

// baselinePolicy is the baseline time-stamp policy of ETSI EN 319 422
// (0.4.0.2023.1.1): a token issued under it without an accuracy is
// accurate to one second, as notation reads it.
var baselinePolicy = asn1.ObjectIdentifier{0, 4, 0, 2023, 1, 1}

// Token is what a timestamp token asserts, read by Parse without any
// verification: none of it is to be trusted before Verify succeeds.
type Token struct {
	// GenTime is the time the TSA asserts, in UTC.
	GenTime time.Time
	// Accuracy is the accuracy of GenTime as notation reads it: zero when
	// absent, or one second under the baseline policy.
	Accuracy time.Duration
	// Hash is the algorithm of the message imprint; 0 if it is none of
	// SHA-256, SHA-384 and SHA-512, and then HashOID names it.
	Hash    crypto.Hash
	HashOID asn1.ObjectIdentifier
	// Policy is the TSA policy the token claims.
	Policy asn1.ObjectIdentifier
	// SerialNumber is the token's serial number.
	SerialNumber *big.Int
	// Signer is the TSA certificate that the token's signingCertificateV2
	// attribute names among the certificates the token carries; nil if
	// there is none, and SignerError then says why.
	Signer      *x509.Certificate
	SignerError error

	info *tspclient.TSTInfo
}

// Parse reads token, a DER TimeStampToken, without verifying its
// signature, its certificates or what it stamps. It fails only if the
// token is not a CMS SignedData holding a TSTInfo.
func Parse(token []byte) (*Token, error) {
	if len(token) == 0 {
		return nil, errors.New("the timestamp token is empty")
	}
	signed, tst, err := parseToken(token)
	if err != nil {
		return nil, err
	}
	t := &Token{
		GenTime:      tst.GenTime.UTC(),
		HashOID:      tst.MessageImprint.HashAlgorithm.Algorithm,
		Policy:       tst.Policy,
		SerialNumber: tst.SerialNumber,
		info:         tst,
	}
	for h, oid := range hashOIDs {
		if oid.Equal(t.HashOID) {
			t.Hash = h
		}
	}
	acc := tst.Accuracy
	t.Accuracy = time.Duration(acc.Seconds)*time.Second + time.Duration(acc.Milliseconds)*time.Millisecond + time.Duration(acc.Microseconds)*time.Microsecond
	if t.Accuracy == 0 && baselinePolicy.Equal(tst.Policy) {
		t.Accuracy = time.Second
	}
	if len(signed.SignerInfos) == 0 {
		t.SignerError = errors.New("the token has no signer")
	} else {
		t.Signer, t.SignerError = signed.SigningCertificate(&signed.SignerInfos[0])
	}
	return t, nil
}

// parseToken reads token, a DER TimeStampToken, into its CMS SignedData
// and the TSTInfo that it signs, verifying nothing.
func parseToken(token []byte) (*tspclient.SignedToken, *tspclient.TSTInfo, error) {
	signed, err := tspclient.ParseSignedToken(token)
	if err != nil {
		return nil, nil, fmt.Errorf("the timestamp token does not parse: %w", err)
	}
	tst, err := signed.Info()
	if err != nil {
		return nil, nil, fmt.Errorf("the timestamp token does not parse: %w", err)
	}
	return signed, tst, nil
}

// Stamps reports whether the token's message imprint is the hash of
// signature, with the token's own hash algorithm.
func (t *Token) Stamps(signature []byte) bool {
	_, err := t.info.Validate(signature)
	return err == nil
}
