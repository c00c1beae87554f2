package timestamp_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/notaryproject/tspclient-go"

	"github.com/notation-piv/notation-piv/fixtures/timestamptest"
	"github.com/notation-piv/notation-piv/timestamp"
)

// signature returns n random bytes standing in for a signature.
func signature(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStamp(t *testing.T) {
	tsa := timestamptest.Start(t)
	cfg := timestamp.Config{URL: tsa.URL, Roots: tsa.Roots()}
	for _, hash := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		t.Run(hash.String(), func(t *testing.T) {
			before := tsa.Requests()
			sig := signature(t, 64)
			start := time.Now().Truncate(time.Second)
			token, err := cfg.Stamp(context.Background(), sig, hash)
			if err != nil {
				t.Fatalf("Stamp: %v", err)
			}
			if n := tsa.Requests() - before; n != 1 {
				t.Errorf("Stamp sent %d requests, want 1", n)
			}
			info, err := timestamp.Verify(token, sig, hash, tsa.Roots())
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if info.GenTime.Before(start) || info.GenTime.After(time.Now()) {
				t.Errorf("genTime %s is not the time of the request (%s)", info.GenTime, start)
			}
			if info.Accuracy != time.Second || !info.Earliest().Equal(info.GenTime.Add(-time.Second)) || !info.Latest().Equal(info.GenTime.Add(time.Second)) {
				t.Errorf("accuracy %s, earliest %s, latest %s around %s", info.Accuracy, info.Earliest(), info.Latest(), info.GenTime)
			}
			if info.Hash != hash || !info.Policy.Equal(timestamptest.Policy) || info.SerialNumber == nil {
				t.Errorf("info = %+v", info)
			}
			if len(info.Chain) != 2 || !info.Chain[1].Equal(tsa.Root) || info.Chain[0].Subject.CommonName != "notation-piv test TSA" {
				t.Errorf("TSA chain = %v, want the TSA certificate and the root", info.Chain)
			}

			// The token is bound to this signature, this hash and these roots.
			other := bytes.Clone(sig)
			other[0] ^= 1
			if _, err := timestamp.Verify(token, other, hash, tsa.Roots()); err == nil || !strings.Contains(err.Error(), "not over this signature") {
				t.Errorf("Verify of another signature: %v", err)
			}
			wrongHash := crypto.SHA256
			if hash == crypto.SHA256 {
				wrongHash = crypto.SHA512
			}
			if _, err := timestamp.Verify(token, sig, wrongHash, tsa.Roots()); err == nil || !strings.Contains(err.Error(), "stamps a digest of algorithm") {
				t.Errorf("Verify with hash %v: %v", wrongHash, err)
			}
			if _, err := timestamp.Verify(token, sig, hash, timestamptest.Start(t).Roots()); err == nil || !strings.Contains(err.Error(), "does not chain to a trusted TSA root") {
				t.Errorf("Verify against another root: %v", err)
			}
			if _, err := timestamp.Verify(token, sig, hash, nil); err == nil {
				t.Error("Verify without roots succeeded")
			}
			if _, err := timestamp.Verify(sig, sig, hash, tsa.Roots()); err == nil || !strings.Contains(err.Error(), "does not parse") {
				t.Errorf("Verify of garbage: %v", err)
			}
		})
	}
}

// TestStampFaults: every fault of the test TSA makes Stamp fail with an
// *Error naming the TSA, and no token.
func TestStampFaults(t *testing.T) {
	tsa := timestamptest.Start(t)
	cfg := timestamp.Config{URL: tsa.URL, Roots: tsa.Roots(), Timeout: 10 * time.Second}
	want := map[timestamptest.Fault]string{
		timestamptest.WrongNonce:       "nonce in response",
		timestamptest.WrongImprint:     "message imprint in response",
		timestamptest.Untrusted:        "does not chain to a trusted TSA root",
		timestamptest.NonCriticalEKU:   "extended key usage extension must be set as critical",
		timestamptest.WrongSigningCert: "did not find any TSA signing certificate",
		timestamptest.Rejection:        "status code 2: rejected",
		timestamptest.HTTP500:          "500 Internal Server Error",
		timestamptest.Garbage:          "no valid answer: asn1",
	}
	for _, fault := range timestamptest.Faults() {
		t.Run(fault.String(), func(t *testing.T) {
			if want[fault] == "" {
				t.Fatalf("no expectation for fault %v", fault)
			}
			tsa.SetFault(fault)
			before := tsa.Requests()
			token, err := cfg.Stamp(context.Background(), signature(t, 256), crypto.SHA256)
			t.Log(err)
			if token != nil {
				t.Error("Stamp returned a token with an error")
			}
			if err == nil || !strings.Contains(err.Error(), want[fault]) {
				t.Fatalf("Stamp error = %v, want it to contain %q", err, want[fault])
			}
			var te *timestamp.Error
			if !errors.As(err, &te) || te.URL != tsa.URL || !strings.HasPrefix(err.Error(), "timestamp authority "+tsa.URL+": ") {
				t.Errorf("error %q is not a *timestamp.Error naming %s", err, tsa.URL)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Error("a refusing TSA gives a timeout error")
			}
			if n := tsa.Requests() - before; n != 1 {
				t.Errorf("Stamp sent %d requests, want 1", n)
			}
		})
	}
	tsa.SetFault(timestamptest.None)
	if _, err := cfg.Stamp(context.Background(), signature(t, 256), crypto.SHA256); err != nil {
		t.Errorf("Stamp after the faults: %v", err)
	}
}

// rawToken fetches a token from tsa with tspclient alone, without the
// checks of Stamp: what an envelope could carry.
func rawToken(t *testing.T, tsa *timestamptest.TSA, sig []byte) []byte {
	t.Helper()
	req, err := tspclient.NewRequest(tspclient.RequestOptions{Content: sig, HashAlgorithm: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	der, err := req.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(tsa.URL, tspclient.MediaTypeTimestampQuery, bytes.NewReader(der))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var reply tspclient.Response
	if err := reply.UnmarshalBinary(body); err != nil {
		t.Fatal(err)
	}
	return reply.TimestampToken.FullBytes
}

// TestVerifyFaults: Verify alone, as it runs on a token embedded in an
// envelope, refuses every faulty token.
func TestVerifyFaults(t *testing.T) {
	tsa := timestamptest.Start(t)
	sig := signature(t, 64)
	if _, err := timestamp.Verify(rawToken(t, tsa, sig), sig, crypto.SHA256, tsa.Roots()); err != nil {
		t.Fatalf("Verify of a good token: %v", err)
	}
	for fault, want := range map[timestamptest.Fault]string{
		timestamptest.WrongImprint:     "not over this signature",
		timestamptest.Untrusted:        "does not chain to a trusted TSA root",
		timestamptest.NonCriticalEKU:   "extended key usage extension must be set as critical",
		timestamptest.WrongSigningCert: "signing certificate hash does not match",
	} {
		t.Run(fault.String(), func(t *testing.T) {
			tsa.SetFault(fault)
			_, err := timestamp.Verify(rawToken(t, tsa, sig), sig, crypto.SHA256, tsa.Roots())
			t.Log(err)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Verify error = %v, want it to contain %q", err, want)
			}
		})
	}
}

func TestStampSlow(t *testing.T) {
	tsa := timestamptest.Start(t)
	tsa.SetDelay(time.Minute)
	const timeout = 300 * time.Millisecond
	cfg := timestamp.Config{URL: tsa.URL, Roots: tsa.Roots(), Timeout: timeout}
	start := time.Now()
	token, err := cfg.Stamp(context.Background(), signature(t, 64), crypto.SHA256)
	elapsed := time.Since(start)
	t.Log(err)
	if token != nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stamp = %x, %v; want an error wrapping context.DeadlineExceeded", token, err)
	}
	if elapsed < timeout || elapsed > timeout+2*time.Second {
		t.Errorf("Stamp gave up after %s, want about %s", elapsed, timeout)
	}
	var te *timestamp.Error
	if !errors.As(err, &te) || te.URL != tsa.URL || !strings.Contains(err.Error(), "no answer within 300ms") {
		t.Errorf("error %q does not name the TSA and the timeout", err)
	}

	// A caller's deadline, shorter than the timeout, is a timeout too.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	cfg.Timeout = 0
	if _, err := cfg.Stamp(ctx, signature(t, 64), crypto.SHA256); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stamp with an expiring context: %v", err)
	}

	// A caller that gives up is no timeout.
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	if _, err := cfg.Stamp(ctx, signature(t, 64), crypto.SHA256); !errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stamp with a cancelled context: %v", err)
	}
}

func TestStampUnreachable(t *testing.T) {
	closed := httptest.NewServer(nil)
	closed.Close()
	cfg := timestamp.Config{URL: closed.URL + "/", Roots: x509.NewCertPool()}
	_, err := cfg.Stamp(context.Background(), signature(t, 64), crypto.SHA256)
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "timestamp authority "+cfg.URL+": cannot reach it") || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stamp of a closed port: %v", err)
	}
}

func TestStampBadInput(t *testing.T) {
	tsa := timestamptest.Start(t)
	cfg := timestamp.Config{URL: tsa.URL, Roots: tsa.Roots()}
	if _, err := cfg.Stamp(context.Background(), nil, crypto.SHA256); err == nil {
		t.Error("Stamp of an empty signature succeeded")
	}
	if _, err := cfg.Stamp(context.Background(), signature(t, 64), crypto.SHA1); err == nil || !strings.Contains(err.Error(), "use SHA-256, SHA-384 or SHA-512") {
		t.Errorf("Stamp with SHA-1: %v", err)
	}
	if n := tsa.Requests(); n != 0 {
		t.Errorf("bad input sent %d requests", n)
	}
}

func TestValidate(t *testing.T) {
	tsa := timestamptest.Start(t)
	roots := tsa.Roots()
	for _, tc := range []struct {
		name string
		cfg  timestamp.Config
		want string // "" for valid
	}{
		{"http", timestamp.Config{URL: tsa.URL, Roots: roots}, ""},
		{"https with timeout", timestamp.Config{URL: "https://tsa.example.com/rfc3161", Roots: roots, Timeout: time.Second}, ""},
		{"no URL", timestamp.Config{Roots: roots}, "no timestamp authority URL given"},
		{"no root", timestamp.Config{URL: tsa.URL}, "has no trusted root certificate"},
		{"ftp", timestamp.Config{URL: "ftp://tsa.example.com/", Roots: roots}, `has scheme "ftp": only http and https are supported`},
		{"file", timestamp.Config{URL: "file:///etc/passwd", Roots: roots}, `has scheme "file"`},
		{"host:port without scheme", timestamp.Config{URL: "localhost:8080", Roots: roots}, `has scheme "localhost"`},
		{"empty host", timestamp.Config{URL: "http://", Roots: roots}, "names no host"},
		{"empty host with path", timestamp.Config{URL: "https:///tsr", Roots: roots}, "names no host"},
		{"unparsable", timestamp.Config{URL: "http://[::1", Roots: roots}, "does not parse"},
		{"negative timeout", timestamp.Config{URL: tsa.URL, Roots: roots, Timeout: -time.Second}, "negative timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate error = %v, want it to contain %q", err, tc.want)
			}
			if _, serr := tc.cfg.Stamp(context.Background(), signature(t, 64), crypto.SHA256); serr == nil || serr.Error() != err.Error() {
				t.Errorf("Stamp error = %v, want the Validate error", serr)
			}
		})
	}
	if n := tsa.Requests(); n != 0 {
		t.Errorf("invalid configurations sent %d requests", n)
	}
}

// TestCheckWithin compares a token's time, shifted by the TSA's clock,
// with certificate validity, accuracy included.
func TestCheckWithin(t *testing.T) {
	tsa := timestamptest.Start(t)
	tsa.SetClockOffset(48 * time.Hour)
	cfg := timestamp.Config{URL: tsa.URL, Roots: tsa.Roots()}
	sig := signature(t, 64)
	token, err := cfg.Stamp(context.Background(), sig, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	info, err := timestamp.Verify(token, sig, crypto.SHA256, tsa.Roots())
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(info.GenTime); d < 47*time.Hour || d > 49*time.Hour {
		t.Fatalf("genTime %s is not 48h ahead", info.GenTime)
	}
	cert := func(from, to time.Time) *x509.Certificate {
		return &x509.Certificate{NotBefore: from, NotAfter: to}
	}
	now := time.Now()
	long := cert(now.Add(-time.Hour), now.Add(365*24*time.Hour))
	for _, tc := range []struct {
		name  string
		chain []*x509.Certificate
		ok    bool
	}{
		{"long-lived chain", []*x509.Certificate{long, long}, true},
		{"leaf expires before genTime", []*x509.Certificate{cert(now.Add(-time.Hour), now.Add(time.Hour)), long}, false},
		{"root expires before genTime", []*x509.Certificate{long, cert(now.Add(-time.Hour), now.Add(time.Hour))}, false},
		{"leaf starts after genTime", []*x509.Certificate{cert(now.Add(72*time.Hour), now.Add(96*time.Hour))}, false},
		{"exactly genTime ± accuracy", []*x509.Certificate{cert(info.Earliest(), info.Latest())}, true},
		{"ends within the accuracy", []*x509.Certificate{cert(info.Earliest(), info.Latest().Add(-time.Millisecond))}, false},
		{"starts within the accuracy", []*x509.Certificate{cert(info.Earliest().Add(time.Millisecond), info.Latest())}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := info.CheckWithin(tc.chain)
			if tc.ok != (err == nil) {
				t.Fatalf("CheckWithin = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "is outside the validity of certificate") {
				t.Errorf("CheckWithin error = %v", err)
			}
		})
	}
}
