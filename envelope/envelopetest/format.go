package envelopetest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notaryproject/notation-core-go/signature"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/internal/keyspec"
)

// Checks that the tests of every envelope format share. Each format
// package brings what only it knows: how to read its wire format without
// its own decoder, how to tamper with it, and its private encoder.

// NotaryPayload is a Notary payload with unusual spacing and key order:
// formats must embed it byte for byte.
var NotaryPayload = []byte(`{"targetArtifact": {"size":942,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
	"\n\t" + `"digest":"sha256:0f3ab8e9a4b9c5bd2ad1e4ff3bd0b8b52ef7f9c4e0e1b9a3d1a0c9c7f4c1d6e2","annotations":{"io.example/x":"<&>"}}}`)

// Agent is the signing agent of the test envelopes.
const Agent = "notation-piv/0.1.0"

// CardSigner behaves like the PIV card signer behind a SignRequest: ECDSA
// keys return ASN.1 DER whatever opts say, RSA keys sign only RSASSA-PSS
// (*rsa.PSSOptions) and need randomness. It counts the signatures it
// makes.
type CardSigner struct {
	crypto.Signer
	mu    sync.Mutex
	calls int
}

// Sign signs digest with the key, as a card would.
func (c *CardSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
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

// Calls returns how many signatures the card was asked for.
func (c *CardSigner) Calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// KeySpec is a Notary Project key spec: the hash it signs with and the
// size of its signatures in an envelope.
type KeySpec struct {
	Name          string
	Hash          crypto.Hash
	SignatureSize int
}

// KeySpecs are the key specs of the Notary Project.
var KeySpecs = []KeySpec{
	{"RSA-2048", crypto.SHA256, 256},
	{"RSA-3072", crypto.SHA384, 384},
	{"RSA-4096", crypto.SHA512, 512},
	{"EC-256", crypto.SHA256, 64},
	{"EC-384", crypto.SHA384, 96},
	{"EC-521", crypto.SHA512, 132},
}

// Wire reads an envelope as it is on the wire, without the decoder of its
// format package: the value of its algorithm header, the bytes its
// signature signs, and the signature.
type Wire func(t *testing.T, env []byte) (alg any, signed, sig []byte)

// CheckRoundTrip signs NotaryPayload with format for every key spec of
// KeySpecs, with a self-signed leaf and under fixtures.Intermediate, with and
// without an expiry, at a signing time with nanoseconds and another time
// zone. Each envelope must verify with notation-core-go and hold what was
// asked (CheckContent), the card must sign once, and wire must find
// algs[spec] in the algorithm header and a signature of the spec's size
// over what it signs (CheckWireSignature).
func CheckRoundTrip(t *testing.T, format envelope.Format, algs map[string]any, wire Wire) {
	chains := []struct {
		name  string
		chain func(crypto.Signer) []*x509.Certificate
	}{
		{"self-signed", func(k crypto.Signer) []*x509.Certificate { return []*x509.Certificate{fixtures.SelfSigned(k)} }},
		{"leaf-intermediate-root", func(k crypto.Signer) []*x509.Certificate { return fixtures.Chain(k.Public()) }},
	}
	// Nanoseconds and a non-UTC zone: the envelope must carry whole UTC seconds.
	signingTime := time.Now().In(time.FixedZone("CET", 3600)).Add(-time.Minute)
	if signingTime.Nanosecond() == 0 {
		signingTime = signingTime.Add(123 * time.Millisecond)
	}
	for _, s := range KeySpecs {
		for _, c := range chains {
			for _, expiry := range []time.Duration{0, time.Hour} {
				name := s.Name + "/" + c.name + "/no-expiry"
				if expiry != 0 {
					name = s.Name + "/" + c.name + "/expiry"
				}
				t.Run(name, func(t *testing.T) {
					key := fixtures.Key(s.Name)
					card := &CardSigner{Signer: key}
					req := envelope.SignRequest{Payload: NotaryPayload, Signer: card, Chain: c.chain(key), SigningTime: signingTime, SigningAgent: Agent}
					if expiry != 0 {
						req.Expiry = signingTime.Add(expiry + 900*time.Millisecond)
					}
					env, err := format.Sign(req)
					if err != nil {
						t.Fatalf("Sign: %v", err)
					}
					if card.Calls() != 1 {
						t.Errorf("the card signed %d times, want once", card.Calls())
					}
					content, err := CoreVerify(format.MediaType(), env)
					if err != nil {
						t.Fatalf("notation-core-go rejects the envelope: %v", err)
					}
					CheckContent(t, content, req)
					alg, signed, sig := wire(t, env)
					if alg != algs[s.Name] {
						t.Errorf("alg = %#v, want %#v", alg, algs[s.Name])
					}
					if len(sig) != s.SignatureSize {
						t.Fatalf("signature is %d bytes, want %d", len(sig), s.SignatureSize)
					}
					h := s.Hash.New()
					h.Write(signed)
					CheckWireSignature(t, key.Public(), s.Hash, h.Sum(nil), sig)
				})
			}
		}
	}
}

// CheckContent compares what notation-core-go verified with the request.
func CheckContent(t *testing.T, content *signature.EnvelopeContent, req envelope.SignRequest) {
	t.Helper()
	if !bytes.Equal(content.Payload.Content, req.Payload) {
		t.Errorf("payload = %q, want %q", content.Payload.Content, req.Payload)
	}
	if content.Payload.ContentType != "application/vnd.cncf.notary.payload.v1+json" {
		t.Errorf("payload content type = %q", content.Payload.ContentType)
	}
	info := content.SignerInfo
	if info.SignedAttributes.SigningScheme != "notary.x509" {
		t.Errorf("signing scheme = %q", info.SignedAttributes.SigningScheme)
	}
	if want := req.SigningTime.Truncate(time.Second); !info.SignedAttributes.SigningTime.Equal(want) {
		t.Errorf("signing time = %s, want %s", info.SignedAttributes.SigningTime, want)
	}
	if want := req.Expiry.Truncate(time.Second); !info.SignedAttributes.Expiry.Equal(want) {
		t.Errorf("expiry = %s, want %s", info.SignedAttributes.Expiry, want)
	}
	if info.UnsignedAttributes.SigningAgent != req.SigningAgent {
		t.Errorf("signing agent = %q, want %q", info.UnsignedAttributes.SigningAgent, req.SigningAgent)
	}
	if len(info.CertificateChain) != len(req.Chain) {
		t.Fatalf("the chain header holds %d certificates, want %d", len(info.CertificateChain), len(req.Chain))
	}
	for i := range req.Chain {
		if !bytes.Equal(info.CertificateChain[i].Raw, req.Chain[i].Raw) {
			t.Errorf("certificate %d of the chain header is %q, want %q (leaf to root)", i, info.CertificateChain[i].Subject, req.Chain[i].Subject)
		}
	}
	if len(info.UnsignedAttributes.TimestampSignature) != 0 {
		t.Error("unexpected timestamp signature")
	}
	if len(info.SignedAttributes.ExtendedAttributes) != 0 {
		t.Errorf("unexpected extended attributes %v", info.SignedAttributes.ExtendedAttributes)
	}
}

// CheckWireSignature verifies sig over digest independently of JOSE and
// COSE libraries: ECDSA as fixed-width r||s, RSA as PSS with salt = hash
// length.
func CheckWireSignature(t *testing.T, pub crypto.PublicKey, hash crypto.Hash, digest, sig []byte) {
	t.Helper()
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		n := len(sig) / 2
		r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
		if !ecdsa.Verify(pub, digest, r, s) {
			t.Error("signature is not a valid r||s ECDSA signature")
		}
		if _, err := asn1.Unmarshal(sig, new(struct{ R, S *big.Int })); err == nil {
			t.Error("signature parses as ASN.1 DER, want raw r||s")
		}
	case *rsa.PublicKey:
		if err := rsa.VerifyPSS(pub, hash, digest, sig, &rsa.PSSOptions{SaltLength: hash.Size()}); err != nil {
			t.Errorf("signature is not RSASSA-PSS with a %d-byte salt: %v", hash.Size(), err)
		}
	default:
		t.Fatalf("unexpected key %T", pub)
	}
}

// Golden signs the golden request with format: NotaryPayload under
// fixtures.Intermediate with an EC-256 key, on 2025-01-02 at 03:04:05.678
// CET, with an expiry 90 days and 0.9 s later and the signing agent Agent.
func Golden(t *testing.T, format envelope.Format) ([]byte, envelope.SignRequest) {
	t.Helper()
	key := fixtures.Key("EC-256")
	signingTime := time.Date(2025, 1, 2, 3, 4, 5, 678e6, time.FixedZone("CET", 3600))
	req := envelope.SignRequest{
		Payload:      NotaryPayload,
		Signer:       key,
		Chain:        fixtures.Chain(key.Public(), fixtures.ValidBetween(fixtures.CANotBefore, fixtures.CANotAfter)),
		SigningTime:  signingTime,
		Expiry:       signingTime.Add(90*24*time.Hour + 900*time.Millisecond),
		SigningAgent: Agent,
	}
	env, err := format.Sign(req)
	if err != nil {
		t.Fatal(err)
	}
	return env, req
}

// CheckTampered checks that neither notation-core-go nor envelope.Verify
// accepts any of the tampered envelopes of mediaType, by name.
func CheckTampered(t *testing.T, mediaType string, tampered map[string][]byte) {
	for name, bad := range tampered {
		t.Run(name, func(t *testing.T) {
			if _, err := CoreVerify(mediaType, bad); err == nil {
				t.Error("notation-core-go accepts the tampered envelope")
			}
			if _, err := envelope.Verify(mediaType, bad); err == nil {
				t.Error("envelope.Verify accepts the tampered envelope")
			} else {
				t.Log(err)
			}
		})
	}
}

// Rejection is a request a format must refuse before it asks the signer
// to sign, so before any PIN prompt: Signer and Chain sign NotaryPayload
// now, changed by Change, and the error contains Want.
type Rejection struct {
	Name   string
	Signer crypto.Signer
	Chain  []*x509.Certificate
	Change func(*envelope.SignRequest)
	Want   string
}

// Rejections are the requests every format refuses: the checks of
// envelope.Build.
func Rejections() []Rejection {
	ec, rsa1024, ed := fixtures.Key("EC-256"), fixtures.Key("RSA-1024"), fixtures.Key("Ed25519")
	good := []*x509.Certificate{fixtures.SelfSigned(ec)}
	leaf := func(opts ...fixtures.Option) []*x509.Certificate {
		return []*x509.Certificate{fixtures.SelfSigned(ec, opts...)}
	}
	chain := fixtures.Chain(ec.Public())
	const unsupported = ": notary signatures need one of RSA-2048, RSA-3072, RSA-4096, EC-256, EC-384, EC-521"
	return []Rejection{
		{"RSA-1024", rsa1024, []*x509.Certificate{fixtures.SelfSigned(rsa1024)}, nil, "unsupported signing key RSA-1024" + unsupported},
		{"Ed25519", ed, []*x509.Certificate{fixtures.SelfSigned(ed)}, nil, "unsupported signing key Ed25519" + unsupported},
		{"leaf without key usage", ec, leaf(fixtures.KeyUsage(0)), nil, "key usage extension must be present"},
		{"leaf with non-critical key usage", ec, leaf(fixtures.NonCriticalKeyUsage), nil, "key usage extension must be marked critical"},
		{"leaf with serverAuth", ec, leaf(fixtures.ServerAuth), nil, "must not contain ServerAuth eku"},
		{"chain out of order", ec, []*x509.Certificate{chain[0], chain[2], chain[1]}, nil, "certificate chain fails the notary code-signing rules"},
		{"leaf only of a CA-issued chain", ec, chain[:1], nil, "invalid self-signed certificate"},
		{"signing time before validity", ec, good, func(r *envelope.SignRequest) { r.SigningTime = good[0].NotBefore.Add(-time.Hour) },
			"was invalid at signing time"},
		{"expiry before signing time", ec, good, func(r *envelope.SignRequest) { r.Expiry = r.SigningTime.Add(-time.Hour) },
			"is not after the signing time"},
		{"expiry equal to signing time after truncation", ec, leaf(fixtures.ValidBetween(fixtures.CANotBefore, fixtures.CANotAfter)), func(r *envelope.SignRequest) {
			r.SigningTime = time.Date(2025, 1, 1, 0, 0, 0, 100, time.UTC)
			r.Expiry = r.SigningTime.Add(500 * time.Millisecond)
		}, "expiry 2025-01-01T00:00:00Z is not after the signing time 2025-01-01T00:00:00Z"},
		{"signer does not match leaf", fixtures.Key("other"), good, nil,
			"the signing key does not match the public key of the leaf certificate"},
		{"no signing time", ec, good, func(r *envelope.SignRequest) { r.SigningTime = time.Time{} }, "no signing time"},
		{"no payload", ec, good, func(r *envelope.SignRequest) { r.Payload = nil }, "empty payload"},
		{"empty payload", ec, good, func(r *envelope.SignRequest) { r.Payload = []byte{} }, "empty payload"},
		{"no chain", ec, nil, nil, "no certificate chain"},
		{"nil certificate in chain", ec, append(chain[:2:2], nil), nil, "certificate 2 of the chain is missing"},
	}
}

// CheckRejected has format sign each rejection: each must fail with its
// error, in lower case, without an envelope, before the signer signs. An
// Ed25519 key must fail with an *keyspec.UnsupportedKeyError, and a
// request without a signer too.
func CheckRejected(t *testing.T, format envelope.Format, rejections []Rejection) {
	now := time.Now()
	for _, tc := range rejections {
		t.Run(tc.Name, func(t *testing.T) {
			card := &CardSigner{Signer: tc.Signer}
			req := envelope.SignRequest{Payload: NotaryPayload, Signer: card, Chain: tc.Chain, SigningTime: now}
			if tc.Change != nil {
				tc.Change(&req)
			}
			env, err := format.Sign(req)
			if err == nil || !strings.Contains(err.Error(), tc.Want) {
				t.Fatalf("Sign error = %v, want it to contain %q", err, tc.Want)
			}
			t.Log(err)
			if env != nil {
				t.Error("Sign returned an envelope with an error")
			}
			if card.Calls() != 0 {
				t.Errorf("the signer was asked to sign %d times before the request was rejected", card.Calls())
			}
			if err.Error() != strings.ToLower(err.Error()[:1])+err.Error()[1:] {
				t.Errorf("error %q does not start in lower case", err)
			}
		})
	}
	ed := fixtures.Key("Ed25519")
	var ue *keyspec.UnsupportedKeyError
	if _, err := format.Sign(envelope.SignRequest{Payload: NotaryPayload, Signer: ed, Chain: []*x509.Certificate{fixtures.SelfSigned(ed)}, SigningTime: now}); !errors.As(err, &ue) {
		t.Errorf("Ed25519 error %v is not an *keyspec.UnsupportedKeyError", err)
	}
	good := []*x509.Certificate{fixtures.SelfSigned(fixtures.Key("EC-256"))}
	if _, err := format.Sign(envelope.SignRequest{Payload: NotaryPayload, Chain: good, SigningTime: now}); err == nil || !strings.Contains(err.Error(), "no signer") {
		t.Errorf("nil signer: error = %v", err)
	}
}

// Encoder is the private encoder of a format package: what its Sign does
// after envelope.Build's checks.
type Encoder func(envelope.SignRequest, keyspec.Spec) ([]byte, error)

// CheckSelfCheck shows that envelope.Verify stops the envelopes of
// mediaType that the checks of envelope.Build would have refused, had they
// been skipped: encode signs them directly.
func CheckSelfCheck(t *testing.T, mediaType string, encode Encoder) {
	ec := fixtures.Key("EC-256")
	alg, err := keyspec.Of(ec.Public())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		chain       []*x509.Certificate
		signingTime time.Time
		coreAccepts bool // notation-core-go checks the chain without a time
		want        string
	}{
		{"leaf without key usage", []*x509.Certificate{fixtures.SelfSigned(ec, fixtures.KeyUsage(0))}, time.Now(), false,
			"key usage extension must be present"},
		{"leaf with non-critical key usage", fixtures.Chain(ec.Public(), fixtures.NonCriticalKeyUsage), time.Now(), false,
			"key usage extension must be marked critical"},
		{"signing time after the leaf expired", []*x509.Certificate{fixtures.SelfSigned(ec, fixtures.Expired)},
			time.Now().Add(-time.Hour).Truncate(time.Second), true, "was invalid at signing time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, err := encode(envelope.SignRequest{Payload: NotaryPayload, Signer: ec, Chain: tc.chain, SigningTime: tc.signingTime}, alg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := CoreVerify(mediaType, env); (err == nil) != tc.coreAccepts {
				t.Errorf("notation-core-go verify error = %v", err)
			}
			if _, err := envelope.Verify(mediaType, env); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("envelope.Verify error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
