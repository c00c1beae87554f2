package envelope_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/notaryproject/notation-core-go/signature"
	nx509 "github.com/notaryproject/notation-core-go/x509"
	"github.com/notaryproject/tspclient-go"
	gocose "github.com/veraison/go-cose"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/cose"
	"github.com/notation-piv/notation-piv/envelope/envelopetest"
	"github.com/notation-piv/notation-piv/envelope/jws"
	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/fixtures/timestamptest"
	"github.com/notation-piv/notation-piv/internal/keyspec"
	"github.com/notation-piv/notation-piv/timestamp"
)

const timestampHeader = "io.cncf.notary.timestampSignature"

// formats are both envelope formats, signed through the same Build.
var formats = []envelope.Format{jws.Format{}, cose.Format{}}

// issued returns a Notary code-signing leaf for key valid from an hour ago
// to a day from now, issued by an intermediate and a root; the root is
// valid until rootNotAfter.
func issued(key crypto.Signer, rootNotAfter time.Time) []*x509.Certificate {
	now := time.Now()
	root := fixtures.NewRoot("timestamp test root", fixtures.ValidBetween(now.Add(-24*time.Hour), rootNotAfter))
	intermediate := root.NewIntermediate("timestamp test intermediate", fixtures.ValidBetween(now.Add(-24*time.Hour), now.Add(365*24*time.Hour)), fixtures.PathLen(0))
	return append([]*x509.Certificate{intermediate.Issue(key.Public(), fixtures.Name("timestamp test signer"))}, intermediate.Chain()...)
}

// stamper returns a SignRequest.Timestamp that asks tsa.
func stamper(tsa *timestamptest.TSA) func([]byte, crypto.Hash) ([]byte, error) {
	cfg := timestamp.Config{URL: tsa.URL, Roots: tsa.Roots(), Timeout: 10 * time.Second}
	return func(sig []byte, hash crypto.Hash) ([]byte, error) {
		return cfg.Stamp(context.Background(), sig, hash)
	}
}

// notaryTimestamp checks the timestamp of env as notation-go v1.3.2
// (verifier.verifyTimestamp) does after notation-core-go has parsed the
// envelope, with tspclient directly and without the timestamp package.
func notaryTimestamp(t *testing.T, mediaType string, env []byte, roots *x509.CertPool, hash crypto.Hash) (*signature.EnvelopeContent, *tspclient.Timestamp) {
	t.Helper()
	e, err := signature.ParseEnvelope(mediaType, env)
	if err != nil {
		t.Fatal(err)
	}
	content, err := e.Verify()
	if err != nil {
		t.Fatalf("notation-core-go rejects the envelope: %v", err)
	}
	info := content.SignerInfo
	if len(info.UnsignedAttributes.TimestampSignature) == 0 {
		t.Fatal("notation-core-go finds no timestamp countersignature in the envelope")
	}
	token, err := tspclient.ParseSignedToken(info.UnsignedAttributes.TimestampSignature)
	if err != nil {
		t.Fatal(err)
	}
	tst, err := token.Info()
	if err != nil {
		t.Fatal(err)
	}
	if len(tst.MessageImprint.HashedMessage) != hash.Size() {
		t.Errorf("message imprint is %d bytes, want a %v digest", len(tst.MessageImprint.HashedMessage), hash)
	}
	ts, err := tst.Validate(info.Signature)
	if err != nil {
		t.Fatalf("the timestamp is not over the signature notation-core-go read: %v", err)
	}
	tsaChain, err := token.Verify(context.Background(), x509.VerifyOptions{CurrentTime: ts.Value, Roots: roots})
	if err != nil {
		t.Fatalf("the timestamp does not verify against the TSA root: %v", err)
	}
	if err := nx509.ValidateTimestampingCertChain(tsaChain); err != nil {
		t.Fatalf("TSA chain: %v", err)
	}
	for _, c := range info.CertificateChain {
		if !ts.BoundedAfter(c.NotBefore) || !ts.BoundedBefore(c.NotAfter) {
			t.Errorf("timestamp %s is outside the validity of %q", ts.Format(time.RFC3339), c.Subject)
		}
	}
	return content, ts
}

// wireTimestamp returns the token and the signature bytes as they sit in
// env: standard base64 beside the base64url signature in JWS, byte strings
// in COSE.
func wireTimestamp(t *testing.T, mediaType string, env []byte) (token, sig []byte) {
	t.Helper()
	switch mediaType {
	case envelope.MediaTypeJWS:
		_, unprotected, err := jws.Headers(env)
		if err != nil {
			t.Fatal(err)
		}
		s, ok := unprotected[timestampHeader].(string)
		if !ok {
			t.Fatalf("JWS header %s = %#v, want a string", timestampHeader, unprotected[timestampHeader])
		}
		if token, err = base64.StdEncoding.Strict().DecodeString(s); err != nil {
			t.Fatalf("JWS header %s is not standard base64: %v", timestampHeader, err)
		}
		var w struct{ Signature string }
		if err := json.Unmarshal(env, &w); err != nil {
			t.Fatal(err)
		}
		if sig, err = base64.RawURLEncoding.DecodeString(w.Signature); err != nil {
			t.Fatal(err)
		}
	case envelope.MediaTypeCOSE:
		_, unprotected, err := cose.Headers(env)
		if err != nil {
			t.Fatal(err)
		}
		var ok bool
		if token, ok = unprotected[timestampHeader].([]byte); !ok {
			t.Fatalf("COSE header %s = %#v, want a byte string", timestampHeader, unprotected[timestampHeader])
		}
		var msg gocose.Sign1Message
		if err := msg.UnmarshalCBOR(env); err != nil {
			t.Fatal(err)
		}
		sig = msg.Signature
	}
	return token, sig
}

// TestTimestampRoundTrip signs with a timestamp in both formats and checks
// the token as notation verify would.
func TestTimestampRoundTrip(t *testing.T) {
	tsa := timestamptest.Start(t)
	specs := []struct {
		spec string
		hash crypto.Hash
	}{
		{"EC-256", crypto.SHA256},
		{"RSA-2048", crypto.SHA256},
		{"EC-384", crypto.SHA384},
		{"EC-521", crypto.SHA512},
	}
	for _, f := range formats {
		for _, s := range specs {
			for _, shape := range []string{"self-signed", "leaf-intermediate-root"} {
				t.Run(f.MediaType()+"/"+s.spec+"/"+shape, func(t *testing.T) {
					key := fixtures.Key(s.spec)
					chain := []*x509.Certificate{leaf(key)}
					if shape != "self-signed" {
						chain = issued(key, time.Now().Add(365*24*time.Hour))
					}
					signer := &envelopetest.CardSigner{Signer: key}
					before := tsa.Requests()
					start := time.Now().Truncate(time.Second)
					env, err := f.Sign(envelope.SignRequest{
						Payload:      []byte(`{"targetArtifact":{"mediaType":"application/vnd.oci.image.manifest.v1+json"}}`),
						Signer:       signer,
						Chain:        chain,
						SigningTime:  time.Now(),
						SigningAgent: "notation-piv/test",
						Timestamp:    stamper(tsa),
						TSARoots:     tsa.Roots(),
					})
					if err != nil {
						t.Fatalf("Sign: %v", err)
					}
					if signer.Calls() != 1 || tsa.Requests()-before != 1 {
						t.Errorf("%d signatures and %d timestamp requests, want one each", signer.Calls(), tsa.Requests()-before)
					}
					content, ts := notaryTimestamp(t, f.MediaType(), env, tsa.Roots(), s.hash)
					if ts.Value.Before(start) || ts.Value.After(time.Now()) {
						t.Errorf("genTime %s is not the time of signing", ts.Value)
					}
					token, sig := wireTimestamp(t, f.MediaType(), env)
					if !bytes.Equal(token, content.SignerInfo.UnsignedAttributes.TimestampSignature) || !bytes.Equal(sig, content.SignerInfo.Signature) {
						t.Error("the wire token or signature differs from what notation-core-go reads")
					}
					info, err := envelope.VerifyTimestamp(content, tsa.Roots())
					if err != nil {
						t.Fatalf("VerifyTimestamp: %v", err)
					}
					if !info.GenTime.Equal(ts.Value) || info.Accuracy != ts.Accuracy || info.Hash != s.hash {
						t.Errorf("VerifyTimestamp = %+v, notation reads %+v", info, ts)
					}
					if _, err := envelope.VerifyTimestamp(content, timestamptest.Start(t).Roots()); err == nil {
						t.Error("VerifyTimestamp accepts the token against another TSA root")
					}
				})
			}
		}
	}
}

// failRequest is a request whose signature the test expects to fail.
func failRequest(t *testing.T, chain []*x509.Certificate, tsa *timestamptest.TSA) envelope.SignRequest {
	return envelope.SignRequest{
		Payload:     []byte(`{"targetArtifact":{}}`),
		Signer:      &envelopetest.CardSigner{Signer: fixtures.Key("EC-256")},
		Chain:       chain,
		SigningTime: time.Now().Add(-time.Minute),
		Timestamp:   stamper(tsa),
		TSARoots:    tsa.Roots(),
	}
}

// checkFailure checks that Sign fails with an error containing want,
// returns no envelope, and had the signer sign signatures times.
func checkFailure(t *testing.T, f envelope.Format, req envelope.SignRequest, want string, signatures int) {
	t.Helper()
	env, err := f.Sign(req)
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Sign error = %v, want it to contain %q", err, want)
	}
	if env != nil {
		t.Error("Sign returned an envelope with an error")
	}
	if calls := req.Signer.(*envelopetest.CardSigner).Calls(); calls != signatures {
		t.Errorf("the signer signed %d times, want %d", calls, signatures)
	}
}

// TestTimestampFailures: whenever the timestamp is missing, faulty or
// out of the chain's validity, Build returns an error and no envelope.
func TestTimestampFailures(t *testing.T) {
	tsa := timestamptest.Start(t)
	key := fixtures.Key("EC-256")
	stamp := stamper(tsa)
	for _, tc := range []struct {
		name  string
		mod   func(*envelope.SignRequest)
		want  string
		signs int // signatures made before the failure
	}{
		{"timestamper error", func(r *envelope.SignRequest) {
			r.Timestamp = func([]byte, crypto.Hash) ([]byte, error) { return nil, errors.New("test TSA is down") }
		}, "test TSA is down", 1},
		{"no token", func(r *envelope.SignRequest) {
			r.Timestamp = func([]byte, crypto.Hash) ([]byte, error) { return nil, nil }
		}, "carries no timestamp", 1},
		{"garbage token", func(r *envelope.SignRequest) {
			r.Timestamp = func([]byte, crypto.Hash) ([]byte, error) { return []byte("garbage"), nil }
		}, "does not parse", 1},
		{"token of another signature", func(r *envelope.SignRequest) {
			r.Timestamp = func(sig []byte, h crypto.Hash) ([]byte, error) { return stamp(append(bytes.Clone(sig), 0), h) }
		}, "not over this signature", 1},
		{"token of another hash", func(r *envelope.SignRequest) {
			r.Timestamp = func(sig []byte, _ crypto.Hash) ([]byte, error) { return stamp(sig, crypto.SHA512) }
		}, "stamps a digest of algorithm", 1},
		{"other TSA roots", func(r *envelope.SignRequest) { r.TSARoots = timestamptest.Start(t).Roots() },
			"does not chain to a trusted TSA root", 1},
		{"no TSA roots", func(r *envelope.SignRequest) { r.TSARoots = nil }, "trusts no TSA root", 0},
	} {
		for _, f := range formats {
			t.Run(f.MediaType()+"/"+tc.name, func(t *testing.T) {
				req := failRequest(t, []*x509.Certificate{leaf(key)}, tsa)
				tc.mod(&req)
				checkFailure(t, f, req, tc.want, tc.signs)
			})
		}
	}
	for _, fault := range timestamptest.Faults() {
		for _, f := range formats {
			t.Run(f.MediaType()+"/TSA fault "+fault.String(), func(t *testing.T) {
				tsa.SetFault(fault)
				defer tsa.SetFault(timestamptest.None)
				req := failRequest(t, []*x509.Certificate{leaf(key)}, tsa)
				checkFailure(t, f, req, "timestamp authority "+tsa.URL+": ", 1)
			})
		}
	}
	// genTime ± accuracy must lie within every certificate of the chain.
	for _, tc := range []struct {
		name   string
		offset time.Duration
		chain  func() []*x509.Certificate
		want   string
	}{
		{"TSA clock 48h ahead, leaf expired", 48 * time.Hour,
			func() []*x509.Certificate { return []*x509.Certificate{leaf(key)} }, `certificate "CN=build test"`},
		{"TSA clock 48h behind, leaf not yet valid", -48 * time.Hour,
			func() []*x509.Certificate { return []*x509.Certificate{leaf(key)} }, `certificate "CN=build test"`},
		// genTime has whole seconds: a root that ends this second ends at
		// genTime (outside genTime + 1s accuracy) or before it.
		{"root expires at the time of signing", 0,
			func() []*x509.Certificate { return issued(key, time.Now()) }, `certificate "CN=timestamp test root"`},
	} {
		for _, f := range formats {
			t.Run(f.MediaType()+"/"+tc.name, func(t *testing.T) {
				tsa.SetClockOffset(tc.offset)
				defer tsa.SetClockOffset(0)
				req := failRequest(t, tc.chain(), tsa)
				checkFailure(t, f, req, "is outside the validity of "+tc.want, 1)
			})
		}
	}
}

// TestTimestampSlowTSA: a TSA slower than the timeout fails the signature
// with an error wrapping context.DeadlineExceeded, in time.
func TestTimestampSlowTSA(t *testing.T) {
	tsa := timestamptest.Start(t)
	tsa.SetDelay(time.Minute)
	key := fixtures.Key("EC-256")
	cfg := timestamp.Config{URL: tsa.URL, Roots: tsa.Roots(), Timeout: 200 * time.Millisecond}
	for _, f := range formats {
		start := time.Now()
		env, err := f.Sign(envelope.SignRequest{
			Payload:     []byte(`{"targetArtifact":{}}`),
			Signer:      key,
			Chain:       []*x509.Certificate{leaf(key)},
			SigningTime: time.Now(),
			Timestamp: func(sig []byte, h crypto.Hash) ([]byte, error) {
				return cfg.Stamp(context.Background(), sig, h)
			},
			TSARoots: tsa.Roots(),
		})
		var te *timestamp.Error
		if env != nil || !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &te) || te.URL != tsa.URL {
			t.Errorf("%s: Sign = %d bytes, %v; want a *timestamp.Error wrapping context.DeadlineExceeded", f.MediaType(), len(env), err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: Sign took %s", f.MediaType(), d)
		}
	}
}

// TestBuildTimestampSelfCheck: an encoder that drops the requested
// timestamp, or adds one nobody asked for, is caught.
func TestBuildTimestampSelfCheck(t *testing.T) {
	tsa := timestamptest.Start(t)
	key := fixtures.Key("EC-256")
	base := envelope.SignRequest{
		Payload:     []byte(`{"targetArtifact":{}}`),
		Signer:      key,
		Chain:       []*x509.Certificate{leaf(key)},
		SigningTime: time.Now(),
	}
	for _, f := range formats {
		withTimestamp := base
		withTimestamp.Timestamp, withTimestamp.TSARoots = stamper(tsa), tsa.Roots()
		drop := func(r envelope.SignRequest, _ keyspec.Spec) ([]byte, error) {
			r.Timestamp = nil
			return f.Sign(r)
		}
		if _, err := envelope.Build(f.MediaType(), withTimestamp, drop); err == nil || !strings.Contains(err.Error(), "carries no timestamp") {
			t.Errorf("%s: encoder dropping the timestamp: %v", f.MediaType(), err)
		}
		add := func(r envelope.SignRequest, _ keyspec.Spec) ([]byte, error) {
			r.Timestamp, r.TSARoots = stamper(tsa), tsa.Roots()
			return f.Sign(r)
		}
		if _, err := envelope.Build(f.MediaType(), base, add); err == nil || !strings.Contains(err.Error(), "a timestamp that was not asked for") {
			t.Errorf("%s: encoder adding a timestamp: %v", f.MediaType(), err)
		}
	}
}
