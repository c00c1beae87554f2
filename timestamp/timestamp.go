// Package timestamp obtains and checks RFC 3161 timestamps over Notary
// signatures, with github.com/notaryproject/tspclient-go.
//
// A timestamp lets a signature outlive its signing certificate: notation
// verifies a timestamped signature as long as the timestamp's time lies
// within the validity of every certificate of the signing chain. notation
// ignores --timestamp-url for envelope plugins, so the plugin stamps its
// envelopes itself.
//
// [Config.Stamp] asks a timestamp authority (TSA) for a token over the raw
// signature bytes, hashed with the hash of the signing key's key spec,
// with certReq set and a random nonce. It returns the token only after it
// has checked all of it: HTTP status 200, content type and size, a granted
// status, the nonce and message imprint, the token's signature and
// signingCertificateV2 attribute, the chain of the TSA certificate to the
// configured root at the token's time, and the Notary rules for
// timestamping certificates (an extended key usage of timeStamping only,
// marked critical). [Verify] runs the token checks on an embedded token;
// [Info.CheckWithin] compares the token's time with a signing chain.
// [Parse] reads a token without verifying it, to show what it asserts.
//
// The checks follow notation-go v1.3.2 (verifier.verifyTimestamp) and
// notation-core-go v1.3.0 (internal/timestamp), and the Notary Project
// signature specification:
// https://github.com/notaryproject/specifications/blob/main/specs/signature-specification.md#timestamping.
package timestamp

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/notaryproject/tspclient-go"
)

// DefaultTimeout bounds a timestamp request when Config.Timeout is zero;
// notation allows its own TSA requests as long.
const DefaultTimeout = 15 * time.Second

// Config names a timestamp authority and the root it must chain to.
// A Config is only for a TSA: callers that do not timestamp build none.
type Config struct {
	// URL is the TSA's http or https URL.
	URL string
	// Roots holds the trusted TSA root certificates, e.g. from LoadRoot.
	// It is required: a token is never accepted unverified.
	Roots *x509.CertPool
	// Timeout bounds each request, from sending the query to reading the
	// reply; zero means DefaultTimeout.
	Timeout time.Duration
	// HTTPClient sends the query; nil means a plain client without a
	// timeout of its own. Timeout applies in either case.
	HTTPClient *http.Client
}

// Validate checks c without contacting the TSA, so that a bad
// configuration is refused before a card is touched: the URL must pass
// CheckURL; there must be roots; the timeout must not be negative.
func (c Config) Validate() error {
	if err := CheckURL(c.URL); err != nil {
		return err
	}
	if c.Roots == nil {
		return fmt.Errorf("timestamp authority %s has no trusted root certificate: give the PEM file of the root CA that issued the TSA's certificate, as notation verify will trust it", Redact(c.URL))
	}
	if c.Timeout < 0 {
		return fmt.Errorf("timestamp authority %s: negative timeout %s: give a positive timeout, or zero for %s", Redact(c.URL), c.Timeout, DefaultTimeout)
	}
	return nil
}

// timeout returns the effective timeout of a request.
func (c Config) timeout() time.Duration {
	if c.Timeout == 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

// Error reports a TSA that gave no valid timestamp: unreachable, too slow,
// refusing, answering with something else than a valid token, or with a
// token that does not verify against the configured roots.
type Error struct {
	// URL is the TSA's URL as Redact shows it.
	URL string
	// Err says what went wrong and what to do. It wraps
	// context.DeadlineExceeded when the TSA did not answer within the
	// timeout, and context.Canceled when the caller gave up.
	Err error
}

// Error names the TSA and the cause.
func (e *Error) Error() string { return "timestamp authority " + e.URL + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Stamp asks the TSA of c for a timestamp token over signature, the raw
// signature bytes of an envelope, hashed with hash (the hash of the
// signing key's key spec: SHA-256, SHA-384 or SHA-512). It returns the
// DER TimeStampToken (a CMS ContentInfo) only after every check the
// package documentation lists has passed at the token's time.
//
// Errors from the TSA or its token are *Error. A TSA that does not answer
// within the timeout gives an error wrapping context.DeadlineExceeded.
func (c Config) Stamp(ctx context.Context, signature []byte, hash crypto.Hash) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if len(signature) == 0 {
		return nil, errors.New("timestamp: no signature to stamp")
	}
	req, err := tspclient.NewRequest(tspclient.RequestOptions{Content: signature, HashAlgorithm: hash})
	if err != nil {
		return nil, fmt.Errorf("timestamp: build a query with hash %v: %w; use SHA-256, SHA-384 or SHA-512", hash, err)
	}
	client := c.HTTPClient
	if client == nil {
		client = &http.Client{}
	}
	ts, err := tspclient.NewHTTPTimestamper(client, c.URL)
	if err != nil {
		return nil, fmt.Errorf("timestamp: %w", redactError(err, c.URL))
	}
	timeout := c.timeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := ts.Timestamp(ctx, req)
	err = redactError(err, c.URL)
	shown := Redact(c.URL)
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled) || ctx.Err() == context.Canceled:
		return nil, &Error{shown, fmt.Errorf("the request was cancelled: %w", context.Canceled)}
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded || isTimeout(err):
		return nil, &Error{shown, fmt.Errorf("no answer within %s: %w; check that the TSA is reachable, or try again later", timeout, context.DeadlineExceeded)}
	case errors.As(err, new(*url.Error)):
		return nil, &Error{shown, fmt.Errorf("cannot reach it: %w; check the URL, the network and that the TSA is up", err)}
	default:
		return nil, &Error{shown, fmt.Errorf("no valid answer: %w; check that the URL names an RFC 3161 timestamp authority, or try again later", err)}
	}
	token := resp.TimestampToken.FullBytes
	if _, err := Verify(token, signature, hash, c.Roots); err != nil {
		return nil, &Error{shown, err}
	}
	return token, nil
}

// isTimeout reports a network timeout, such as one set by a caller's
// http.Client.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
