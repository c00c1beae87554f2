// Package timestamptest runs a local RFC 3161 timestamp authority (TSA) for
// tests and demonstrations, with its own small PKI and faults on demand.
//
// The TSA listens on 127.0.0.1 only (net/http/httptest) and answers
// POSTed timestamp queries (application/timestamp-query) with HTTP 200 and
// an application/timestamp-reply, signed with github.com/digitorus/timestamp.
// Its PKI is a self-signed root CA and a TSA certificate that meets the
// Notary Project rules: P-256 keys, key usage digitalSignature, and an
// extended key usage of timeStamping only, marked critical. Tokens carry
// the TSA certificate when the query asks for it, the root, the request's
// nonce, an accuracy of one second and a signingCertificateV2 attribute.
//
//	tsa, err := timestamptest.New()
//	if err != nil { ... }
//	defer tsa.Close()
//	tsa.SetFault(timestamptest.WrongNonce)
//	cfg := timestamp.Config{URL: tsa.URL, Roots: tsa.Roots()}
package timestamptest

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"time"

	"github.com/digitorus/timestamp"
)

// Fault is a way the TSA misbehaves.
type Fault int

// Faults the TSA can be set to. Each one affects every answer until the
// fault is changed.
const (
	// None: valid tokens.
	None Fault = iota
	// WrongNonce: the token carries another nonce than the query.
	WrongNonce
	// WrongImprint: the token stamps another message imprint than the
	// query's.
	WrongImprint
	// Untrusted: the token is signed by a TSA certificate of another root
	// than Root.
	Untrusted
	// NonCriticalEKU: the TSA certificate, issued by Root, has its
	// timeStamping extended key usage marked non-critical.
	NonCriticalEKU
	// WrongSigningCert: the signingCertificateV2 attribute holds a hash
	// that does not match the TSA certificate.
	WrongSigningCert
	// Rejection: a well-formed reply with status rejection, no token.
	Rejection
	// HTTP500: HTTP status 500 Internal Server Error.
	HTTP500
	// Garbage: HTTP 200 and the reply content type, but a body that is no
	// DER timestamp reply.
	Garbage
)

var faultNames = [...]string{"none", "wrong nonce", "wrong imprint", "untrusted certificate", "non-critical EKU",
	"wrong signing certificate", "rejection", "HTTP 500", "garbage body"}

// String names the fault, e.g. "wrong nonce".
func (f Fault) String() string {
	if f < 0 || int(f) >= len(faultNames) {
		return fmt.Sprintf("Fault(%d)", int(f))
	}
	return faultNames[f]
}

// Faults lists every fault but None, in declaration order.
func Faults() []Fault {
	return []Fault{WrongNonce, WrongImprint, Untrusted, NonCriticalEKU, WrongSigningCert, Rejection, HTTP500, Garbage}
}

// Policy is the TSA policy OID of every token.
var Policy = asn1.ObjectIdentifier{1, 2, 3, 4, 1}

// maxQuery bounds the size of a timestamp query.
const maxQuery = 64 << 10

// TSA is a running test timestamp authority. Its methods are safe for
// concurrent use.
type TSA struct {
	// URL is the address to POST queries to, http://127.0.0.1:port/.
	URL string
	// Root is the self-signed root CA that issued the TSA certificate.
	Root *x509.Certificate
	// RootPEM is Root in PEM form, as a TSA root certificate file holds it.
	RootPEM []byte

	server                   *httptest.Server
	good, rogue, nonCritical signer

	mu       sync.Mutex
	fault    Fault
	delay    time.Duration
	offset   time.Duration
	requests int
}

// New creates the PKI and starts the TSA on 127.0.0.1. Call Close when done.
func New() (*TSA, error) {
	root, rootKey, err := newRoot("notation-piv test TSA root")
	if err != nil {
		return nil, err
	}
	good, err := newTSA("notation-piv test TSA", root, rootKey, true)
	if err != nil {
		return nil, err
	}
	nonCritical, err := newTSA("notation-piv test TSA with non-critical EKU", root, rootKey, false)
	if err != nil {
		return nil, err
	}
	rogueRoot, rogueKey, err := newRoot("notation-piv untrusted TSA root")
	if err != nil {
		return nil, err
	}
	rogue, err := newTSA("notation-piv untrusted TSA", rogueRoot, rogueKey, true)
	if err != nil {
		return nil, err
	}
	s := &TSA{
		Root:        root,
		RootPEM:     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}),
		good:        good,
		rogue:       rogue,
		nonCritical: nonCritical,
	}
	s.server = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.server.URL + "/"
	return s, nil
}

// Close stops the TSA and waits for answers in progress, which a delay
// cut short.
func (s *TSA) Close() { s.server.Close() }

// Roots returns a pool holding Root only.
func (s *TSA) Roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(s.Root)
	return pool
}

// WriteRoot writes RootPEM to the file path, mode 0644.
func (s *TSA) WriteRoot(path string) error {
	return os.WriteFile(path, s.RootPEM, 0o644)
}

// SetFault makes every following answer misbehave as f; None restores
// valid answers.
func (s *TSA) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// SetDelay makes the TSA wait d before it answers, or until the client
// gives up.
func (s *TSA) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetClockOffset shifts the TSA's clock by d: tokens carry genTime =
// now + d. The TSA certificates are valid from 2000 to 2099.
func (s *TSA) SetClockOffset(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset = d
}

// Requests returns how many timestamp queries the TSA has received,
// including those it answered with a fault or refused as malformed.
func (s *TSA) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// serve answers one query.
func (s *TSA) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST a timestamp query", http.StatusMethodNotAllowed)
		return
	}
	s.mu.Lock()
	s.requests++
	fault, delay, offset := s.fault, s.delay, s.offset
	s.mu.Unlock()

	body, err := io.ReadAll(io.LimitReader(r.Body, maxQuery+1))
	if err != nil || len(body) > maxQuery {
		http.Error(w, "unreadable or oversized query", http.StatusBadRequest)
		return
	}
	req, err := timestamp.ParseRequest(body)
	if err != nil {
		http.Error(w, "malformed timestamp query: "+err.Error(), http.StatusBadRequest)
		return
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
	}
	if fault == HTTP500 {
		http.Error(w, "test TSA: internal error on demand", http.StatusInternalServerError)
		return
	}
	reply, err := s.reply(req, fault, time.Now().Add(offset))
	if err != nil {
		http.Error(w, "test TSA: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/timestamp-reply")
	w.Write(reply)
}

// reply builds the DER TimeStampResp for req at genTime, with fault.
func (s *TSA) reply(req *timestamp.Request, fault Fault, genTime time.Time) ([]byte, error) {
	switch fault {
	case Garbage:
		return []byte("this is not a timestamp reply\n"), nil
	case Rejection:
		return timestamp.CreateErrorResponse(timestamp.Rejection, timestamp.SystemFailure)
	}
	by := s.good
	switch fault {
	case Untrusted:
		by = s.rogue
	case NonCriticalEKU:
		by = s.nonCritical
	}
	ts := timestamp.Timestamp{
		HashAlgorithm:     req.HashAlgorithm,
		HashedMessage:     bytes.Clone(req.HashedMessage),
		Time:              genTime.UTC(),
		Nonce:             req.Nonce,
		Policy:            Policy,
		Accuracy:          time.Second,
		AddTSACertificate: req.Certificates,
		// Issuers only: with the TSA certificate itself here, the
		// signature fails ("parent certificate cannot sign this kind of
		// certificate").
		Certificates: by.issuers,
	}
	switch fault {
	case WrongNonce:
		ts.Nonce = new(big.Int).Add(nonce(req), big.NewInt(1))
	case WrongImprint:
		ts.HashedMessage[0] ^= 0xff
	}
	reply, err := ts.CreateResponseWithOpts(by.cert, by.key, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	if fault == WrongSigningCert {
		// The ESSCertIDv2 holds the hash of the TSA certificate with the
		// query's hash algorithm; tspclient compares it before it checks
		// the signature, so a flipped byte there is the fault alone.
		h := req.HashAlgorithm.New()
		h.Write(by.cert.Raw)
		i := bytes.Index(reply, h.Sum(nil))
		if i < 0 {
			return nil, errors.New("signingCertificateV2 hash not found in the reply")
		}
		reply[i] ^= 0xff
	}
	return reply, nil
}

// nonce returns the query's nonce, or zero if it has none.
func nonce(req *timestamp.Request) *big.Int {
	if req.Nonce == nil {
		return new(big.Int)
	}
	return req.Nonce
}
