package cose

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"maps"
	"math/big"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/notaryproject/notation-core-go/signature"
	gocose "github.com/veraison/go-cose"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/internal/keyspec"
)

var _ envelope.Format = Format{}

// payload is a Notary payload with unusual spacing and key order: it must be
// embedded byte for byte.
var payload = []byte(`{"targetArtifact": {"size":942,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
	"\n\t" + `"digest":"sha256:0f3ab8e9a4b9c5bd2ad1e4ff3bd0b8b52ef7f9c4e0e1b9a3d1a0c9c7f4c1d6e2","annotations":{"io.example/x":"<&>"}}}`)

const agent = "notation-piv/0.1.0"

// coreVerify parses and verifies env with notation-core-go alone, as notation
// does before it accepts a plugin's envelope.
func coreVerify(env []byte) (*signature.EnvelopeContent, error) {
	e, err := signature.ParseEnvelope(envelope.MediaTypeCOSE, env)
	if err != nil {
		return nil, err
	}
	return e.Verify()
}

// parseMessage decodes env with go-cose, independently of Headers.
func parseMessage(t *testing.T, env []byte) *gocose.Sign1Message {
	t.Helper()
	var msg gocose.Sign1Message
	if err := msg.UnmarshalCBOR(env); err != nil {
		t.Fatalf("envelope is not a tagged COSE_Sign1: %v", err)
	}
	return &msg
}

// sigStructure rebuilds the bytes signed for msg (RFC 9052 §4.4) with plain
// CBOR encoding: "Signature1", the protected header bytes, an empty byte
// string and the payload, in an array.
func sigStructure(t *testing.T, msg *gocose.Sign1Message) []byte {
	t.Helper()
	var protected []byte
	if err := cbor.Unmarshal(msg.Headers.RawProtected, &protected); err != nil {
		t.Fatalf("protected header is not a byte string: %v", err)
	}
	tbs, err := cbor.Marshal([]any{"Signature1", protected, []byte{}, msg.Payload})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(tbs, []byte("\x84\x6aSignature1")) {
		t.Fatalf("Sig_structure starts % x", tbs[:12])
	}
	return tbs
}

func TestRoundTrip(t *testing.T) {
	specs := []struct {
		spec   string
		alg    int64
		hash   crypto.Hash
		sigLen int
	}{
		{"RSA-2048", -37, crypto.SHA256, 256},
		{"RSA-3072", -38, crypto.SHA384, 384},
		{"RSA-4096", -39, crypto.SHA512, 512},
		{"EC-256", -7, crypto.SHA256, 64},
		{"EC-384", -35, crypto.SHA384, 96},
		{"EC-521", -36, crypto.SHA512, 132},
	}
	chains := []struct {
		name  string
		chain func(testing.TB, crypto.Signer, ...func(*x509.Certificate)) []*x509.Certificate
	}{
		{"self-signed", selfSigned},
		{"leaf-intermediate-root", threeLevel},
	}
	// Nanoseconds and a non-UTC zone: the envelope must carry whole UTC seconds.
	signingTime := time.Now().In(time.FixedZone("CET", 3600)).Add(-time.Minute)
	if signingTime.Nanosecond() == 0 {
		signingTime = signingTime.Add(123 * time.Millisecond)
	}
	for _, s := range specs {
		for _, c := range chains {
			for _, expiry := range []time.Duration{0, time.Hour} {
				name := s.spec + "/" + c.name + "/no-expiry"
				if expiry != 0 {
					name = s.spec + "/" + c.name + "/expiry"
				}
				t.Run(name, func(t *testing.T) {
					key := testKey(t, s.spec)
					card := &cardSigner{Signer: key}
					req := envelope.SignRequest{
						Payload:      payload,
						Signer:       card,
						Chain:        c.chain(t, key),
						SigningTime:  signingTime,
						SigningAgent: agent,
					}
					if expiry != 0 {
						req.Expiry = signingTime.Add(expiry + 900*time.Millisecond)
					}
					env, err := Format{}.Sign(req)
					if err != nil {
						t.Fatalf("Sign: %v", err)
					}
					if card.calls != 1 {
						t.Errorf("the card signed %d times, want once", card.calls)
					}
					content, err := coreVerify(env)
					if err != nil {
						t.Fatalf("notation-core-go rejects the envelope: %v", err)
					}
					checkContent(t, content, req)

					protected, _, err := Headers(env)
					if err != nil {
						t.Fatal(err)
					}
					if protected[int64(1)] != s.alg {
						t.Errorf("alg = %#v, want %d", protected[int64(1)], s.alg)
					}
					msg := parseMessage(t, env)
					if len(msg.Signature) != s.sigLen {
						t.Fatalf("signature is %d bytes, want %d", len(msg.Signature), s.sigLen)
					}
					h := s.hash.New()
					h.Write(sigStructure(t, msg))
					checkWireSignature(t, key.Public(), s.hash, h.Sum(nil), msg.Signature)
				})
			}
		}
	}
}

// checkContent compares verified content with the request.
func checkContent(t *testing.T, content *signature.EnvelopeContent, req envelope.SignRequest) {
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
		t.Fatalf("x5chain has %d certificates, want %d", len(info.CertificateChain), len(req.Chain))
	}
	for i := range req.Chain {
		if !bytes.Equal(info.CertificateChain[i].Raw, req.Chain[i].Raw) {
			t.Errorf("x5chain[%d] is %q, want %q (leaf to root)", i, info.CertificateChain[i].Subject, req.Chain[i].Subject)
		}
	}
	if len(info.UnsignedAttributes.TimestampSignature) != 0 {
		t.Error("unexpected timestamp signature")
	}
	if len(info.SignedAttributes.ExtendedAttributes) != 0 {
		t.Errorf("unexpected extended attributes %v", info.SignedAttributes.ExtendedAttributes)
	}
}

// checkWireSignature verifies sig over digest independently of COSE
// libraries: ECDSA as fixed-width r||s, RSA as PSS with salt = hash length.
func checkWireSignature(t *testing.T, pub crypto.PublicKey, hash crypto.Hash, digest, sig []byte) {
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

// goldenProtected is the protected header of TestGolden, as go-cose writes
// it (RFC 8949 §4.2.3 core deterministic order: shorter labels first).
var goldenProtected = "" +
	"a6" + // map of 6
	"01" + "26" + // 1 (alg): -7 (ES256)
	"02" + "82" + // 2 (crit): array of 2 text strings
	/**/ "781c" + hexText("io.cncf.notary.signingScheme") +
	/**/ "75" + hexText("io.cncf.notary.expiry") +
	"03" + "782b" + hexText("application/vnd.cncf.notary.payload.v1+json") + // 3 (content type): tstr
	"75" + hexText("io.cncf.notary.expiry") + "c1" + "1a" + "67ec9b16" + // tag 1, 2025-04-02T02:04:06Z
	"781a" + hexText("io.cncf.notary.signingTime") + "c1" + "1a" + "6775f415" + // tag 1, 2025-01-02T02:04:05Z
	"781c" + hexText("io.cncf.notary.signingScheme") + "6b" + hexText("notary.x509")

func hexText(s string) string { return hex.EncodeToString([]byte(s)) }

// TestGolden checks every header against the conformance guide (§4, §8).
func TestGolden(t *testing.T) {
	key := testKey(t, "EC-256")
	chain := threeLevel(t, key)
	signingTime := time.Date(2025, 1, 2, 3, 4, 5, 678e6, time.FixedZone("CET", 3600))
	req := envelope.SignRequest{
		Payload:      payload,
		Signer:       key,
		Chain:        chain,
		SigningTime:  signingTime,
		Expiry:       signingTime.Add(90*24*time.Hour + 900*time.Millisecond),
		SigningAgent: agent,
	}
	env, err := Format{}.Sign(req)
	if err != nil {
		t.Fatal(err)
	}

	// Tag 18 around an array of four; the payload embedded verbatim.
	if !bytes.HasPrefix(env, []byte{0xd2, 0x84}) {
		t.Errorf("envelope starts % x, want d2 84 (tag 18, array of 4)", env[:2])
	}
	msg := parseMessage(t, env)
	if !bytes.Equal(msg.Payload, payload) {
		t.Errorf("payload = %q, want the request bytes verbatim", msg.Payload)
	}
	var protectedBytes []byte
	if err := cbor.Unmarshal(msg.Headers.RawProtected, &protectedBytes); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(protectedBytes); got != goldenProtected {
		t.Errorf("protected header =\n%s\nwant\n%s", got, goldenProtected)
	}

	protected, unprotected, err := Headers(env)
	if err != nil {
		t.Fatal(err)
	}
	for label, want := range map[any]any{
		int64(1):                       int64(-7),
		int64(2):                       []any{"io.cncf.notary.signingScheme", "io.cncf.notary.expiry"},
		int64(3):                       "application/vnd.cncf.notary.payload.v1+json",
		"io.cncf.notary.signingScheme": "notary.x509",
		"io.cncf.notary.signingTime":   cbor.Tag{Number: 1, Content: int64(1735783445)},
		"io.cncf.notary.expiry":        cbor.Tag{Number: 1, Content: int64(1743559446)},
	} {
		if got := protected[label]; !reflect.DeepEqual(got, want) {
			t.Errorf("protected %v = %#v, want %#v", label, got, want)
		}
	}
	if len(protected) != 6 {
		t.Errorf("protected header has %d labels, want 6: %v", len(protected), labels(protected))
	}

	// Unprotected header: x5chain (an array of byte strings, leaf to root)
	// and the signing agent, nothing else.
	if len(unprotected) != 2 {
		t.Errorf("unprotected header labels = %v, want exactly 33 and io.cncf.notary.signingAgent", labels(unprotected))
	}
	if got := unprotected["io.cncf.notary.signingAgent"]; got != agent {
		t.Errorf("signing agent = %#v, want the text string %q", got, agent)
	}
	checkX5Chain(t, unprotected, chain)
	if _, err := coreVerify(env); err != nil {
		t.Fatalf("notation-core-go rejects the golden envelope: %v", err)
	}
}

// checkX5Chain checks that label 33 is an array of byte strings holding
// chain, leaf first.
func checkX5Chain(t *testing.T, unprotected map[any]any, chain []*x509.Certificate) {
	t.Helper()
	x5chain, ok := unprotected[int64(33)].([]any)
	if !ok || len(x5chain) != len(chain) {
		t.Fatalf("x5chain = %T of %v, want an array of %d byte strings", unprotected[int64(33)], unprotected[int64(33)], len(chain))
	}
	for i, v := range x5chain {
		der, ok := v.([]byte)
		if !ok {
			t.Errorf("x5chain[%d] is a %T, want a byte string", i, v)
		}
		if !bytes.Equal(der, chain[i].Raw) {
			t.Errorf("x5chain[%d] is not certificate %d of the chain (leaf to root)", i, i)
		}
	}
}

// labels lists the labels of a header for messages.
func labels(h map[any]any) []any { return slices.Collect(maps.Keys(h)) }

// TestOneCertificate checks that a lone self-signed leaf still goes into an
// array: notation-core-go rejects a bare byte string with "certificate chain
// is not present".
func TestOneCertificate(t *testing.T) {
	key := testKey(t, "EC-256")
	chain := selfSigned(t, key)
	env, err := Format{}.Sign(envelope.SignRequest{Payload: payload, Signer: key, Chain: chain, SigningTime: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	msg := parseMessage(t, env)
	var fields map[any]cbor.RawMessage
	if err := cbor.Unmarshal(msg.Headers.RawUnprotected, &fields); err != nil {
		t.Fatal(err)
	}
	if raw := fields[uint64(33)]; len(raw) == 0 || raw[0] != 0x81 {
		t.Errorf("x5chain is encoded as % x..., want 81 (array of one)", raw[:min(len(raw), 4)])
	}
	_, unprotected, err := Headers(env)
	if err != nil {
		t.Fatal(err)
	}
	checkX5Chain(t, unprotected, chain)
}

func TestNoExpiry(t *testing.T) {
	key := testKey(t, "EC-256")
	env, err := Format{}.Sign(envelope.SignRequest{Payload: payload, Signer: key, Chain: selfSigned(t, key), SigningTime: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	protected, unprotected, err := Headers(env)
	if err != nil {
		t.Fatal(err)
	}
	if crit := protected[int64(2)]; !reflect.DeepEqual(crit, []any{"io.cncf.notary.signingScheme"}) {
		t.Errorf("crit = %#v, want only the signing scheme", crit)
	}
	if _, ok := protected["io.cncf.notary.expiry"]; ok {
		t.Error("expiry header present without an expiry")
	}
	if len(protected) != 5 {
		t.Errorf("protected header has %d labels, want 5: %v", len(protected), labels(protected))
	}
	if _, ok := unprotected["io.cncf.notary.signingAgent"]; ok {
		t.Error("signing agent present though none was requested")
	}
}

func TestTampered(t *testing.T) {
	key := testKey(t, "EC-256")
	chain := threeLevel(t, key)
	signingTime := time.Now()
	env, err := Format{}.Sign(envelope.SignRequest{Payload: payload, Signer: key, Chain: chain, SigningTime: signingTime, SigningAgent: agent})
	if err != nil {
		t.Fatal(err)
	}
	tamper := func(f func(*gocose.Sign1Message)) []byte {
		msg := parseMessage(t, env)
		f(msg)
		b, err := msg.MarshalCBOR()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	setX5Chain := func(v any) func(*gocose.Sign1Message) {
		return func(m *gocose.Sign1Message) {
			m.Headers.RawUnprotected = nil
			m.Headers.Unprotected[gocose.HeaderLabelX5Chain] = v
		}
	}
	other := selfSigned(t, testKey(t, "other"))[0].Raw
	for name, bad := range map[string][]byte{
		"payload": tamper(func(m *gocose.Sign1Message) {
			m.Payload = bytes.Replace(payload, []byte("942"), []byte("943"), 1)
		}),
		"signature": tamper(func(m *gocose.Sign1Message) { m.Signature[10] ^= 1 }),
		"protected signing time": tamper(func(m *gocose.Sign1Message) {
			var p []byte
			if err := cbor.Unmarshal(m.Headers.RawProtected, &p); err != nil {
				t.Fatal(err)
			}
			var when [4]byte
			big.NewInt(signingTime.Unix()).FillBytes(when[:])
			q := bytes.Replace(p, append([]byte{0xc1, 0x1a}, when[:]...), append([]byte{0xc1, 0x1a}, when[0], when[1], when[2], when[3]-1), 1)
			if bytes.Equal(p, q) {
				t.Fatal("protected header not changed")
			}
			if m.Headers.RawProtected, err = cbor.Marshal(q); err != nil {
				t.Fatal(err)
			}
		}),
		"x5chain of another key":    tamper(setX5Chain([]any{other})),
		"x5chain as a bare bstr":    tamper(setX5Chain(chain[0].Raw)),
		"x5chain without the chain": tamper(setX5Chain([]any{})),
		"untagged":                  env[1:],
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := coreVerify(bad); err == nil {
				t.Error("notation-core-go accepts the tampered envelope")
			}
			if _, err := envelope.Verify(envelope.MediaTypeCOSE, bad); err == nil {
				t.Error("envelope.Verify accepts the tampered envelope")
			} else {
				t.Log(err)
			}
		})
	}
}

// TestRejected covers requests refused before the signer is asked to sign,
// so before any PIN prompt. The shared checks of envelope.Build are covered
// in full by the jws tests; these show that the COSE format goes through
// them.
func TestRejected(t *testing.T) {
	ec := testKey(t, "EC-256")
	good := selfSigned(t, ec)
	now := time.Now()
	rsa1024 := testKey(t, "RSA-1024")
	ed := testKey(t, "Ed25519")
	for _, tc := range []struct {
		name   string
		signer crypto.Signer
		chain  []*x509.Certificate
		mod    func(*envelope.SignRequest)
		want   string
	}{
		{"RSA-1024", rsa1024, selfSigned(t, rsa1024), nil,
			"unsupported signing key RSA-1024: notary signatures need one of RSA-2048, RSA-3072, RSA-4096, EC-256, EC-384, EC-521"},
		{"Ed25519", ed, selfSigned(t, ed), nil,
			"unsupported signing key Ed25519: notary signatures need one of RSA-2048, RSA-3072, RSA-4096, EC-256, EC-384, EC-521"},
		{"signer does not match leaf", testKey(t, "other"), good, nil,
			"the signing key does not match the public key of the leaf certificate"},
		{"leaf only of a CA-issued chain", ec, threeLevel(t, ec)[:1], nil,
			"invalid self-signed certificate"},
		{"expiry before signing time", ec, good, func(r *envelope.SignRequest) { r.Expiry = now.Add(-time.Hour) },
			"is not after the signing time"},
		{"empty payload", ec, good, func(r *envelope.SignRequest) { r.Payload = []byte{} }, "empty payload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			card := &cardSigner{Signer: tc.signer}
			req := envelope.SignRequest{Payload: payload, Signer: card, Chain: tc.chain, SigningTime: now}
			if tc.mod != nil {
				tc.mod(&req)
			}
			env, err := Format{}.Sign(req)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Sign error = %v, want it to contain %q", err, tc.want)
			}
			if env != nil {
				t.Error("Sign returned an envelope with an error")
			}
			if card.calls != 0 {
				t.Errorf("the signer was asked to sign %d times before the request was rejected", card.calls)
			}
		})
	}
	var ue *keyspec.UnsupportedKeyError
	if _, err := (Format{}).Sign(envelope.SignRequest{Payload: payload, Signer: ed, Chain: selfSigned(t, ed), SigningTime: now}); !errors.As(err, &ue) {
		t.Errorf("Ed25519 error %v is not an *keyspec.UnsupportedKeyError", err)
	}
}

// TestSelfCheck shows that envelope.Verify stops COSE envelopes that the
// shared pre-checks would have refused, had they been skipped: encode is
// called directly, bypassing envelope.Build.
func TestSelfCheck(t *testing.T) {
	ec := testKey(t, "EC-256")
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
		{"leaf without key usage", selfSigned(t, ec, func(c *x509.Certificate) { c.KeyUsage = 0 }), time.Now(), false,
			"key usage extension must be present"},
		{"signing time after the leaf expired", selfSigned(t, ec, func(c *x509.Certificate) {
			c.NotBefore, c.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)
		}), time.Now().Add(-time.Hour).Truncate(time.Second), true, "was invalid at signing time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, err := encode(envelope.SignRequest{Payload: payload, Signer: ec, Chain: tc.chain, SigningTime: tc.signingTime}, alg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := coreVerify(env); (err == nil) != tc.coreAccepts {
				t.Errorf("notation-core-go verify error = %v", err)
			}
			if _, err := envelope.Verify(envelope.MediaTypeCOSE, env); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("envelope.Verify error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	for _, tc := range []struct {
		in                     string // hex
		protected, unprotected map[any]any
	}{
		{"d28440a0f640", map[any]any{}, map[any]any{}},
		{"d28443a10126a1044200 01f640", map[any]any{int64(1): int64(-7)}, map[any]any{int64(4): []byte{0, 1}}},
		{"d28445a16174c100a0f640", map[any]any{"t": cbor.Tag{Number: 1, Content: int64(0)}}, map[any]any{}},
	} {
		p, u, err := Headers(unhex(t, tc.in))
		if err != nil || !reflect.DeepEqual(p, tc.protected) || !reflect.DeepEqual(u, tc.unprotected) {
			t.Errorf("Headers(%s) = %#v, %#v, %v; want %#v, %#v", tc.in, p, u, err, tc.protected, tc.unprotected)
		}
	}
}

func TestHeadersErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "does not start with a CBOR tag"},
		{"untagged", "8440a0f640", "does not start with a CBOR tag"},
		{"tag 17", "d18440a0f640", "CBOR tag 17, want 18"},
		{"array of three", "d28340a0f6", "not a COSE_Sign1 array of four"},
		{"not an array", "d2a0", "not a COSE_Sign1 array of four"},
		{"truncated", "d28443a10126a0f6", "unexpected EOF"},
		{"trailing bytes", "d28440a0f64000", "extraneous data"},
		{"protected a map", "d284a0a0f640", "protected header: not a CBOR byte string"},
		{"protected not a map", "d2844101a0f640", "protected header: not a CBOR map"},
		{"unprotected an array", "d2844080f640", "unprotected header: not a CBOR map"},
		{"byte string label", "d28440a1410001f640", "labels must be integers or text strings"},
		{"bool label", "d28440a1f501f640", "labels must be integers or text strings"},
		{"duplicate label", "d28440a201010102f640", "duplicate map key"},
		{"duplicate protected label", "d28445a201010102a0f640", "protected header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Headers(unhex(t, tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Headers error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
