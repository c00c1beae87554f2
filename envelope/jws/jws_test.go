package jws

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/notaryproject/notation-core-go/signature"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/envelopetest"
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
	e, err := signature.ParseEnvelope(envelope.MediaTypeJWS, env)
	if err != nil {
		return nil, err
	}
	return e.Verify()
}

// wire splits an envelope into its four members.
type wire struct {
	Payload   string          `json:"payload"`
	Protected string          `json:"protected"`
	Header    json.RawMessage `json:"header"`
	Signature string          `json:"signature"`
}

func decodeWire(t *testing.T, env []byte) wire {
	t.Helper()
	var w wire
	dec := json.NewDecoder(bytes.NewReader(env))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		t.Fatalf("envelope is not the flattened JWS: %v\n%s", err, env)
	}
	return w
}

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("%q is not base64url without padding: %v", s, err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	specs := []struct {
		spec   string
		alg    string
		hash   crypto.Hash
		sigLen int
	}{
		{"RSA-2048", "PS256", crypto.SHA256, 256},
		{"RSA-3072", "PS384", crypto.SHA384, 384},
		{"RSA-4096", "PS512", crypto.SHA512, 512},
		{"EC-256", "ES256", crypto.SHA256, 64},
		{"EC-384", "ES384", crypto.SHA384, 96},
		{"EC-521", "ES512", crypto.SHA512, 132},
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
					chain := c.chain(t, key)
					req := envelope.SignRequest{
						Payload:      payload,
						Signer:       key,
						Chain:        chain,
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
					content, err := coreVerify(env)
					if err != nil {
						t.Fatalf("notation-core-go rejects the envelope: %v", err)
					}
					checkContent(t, content, req)

					w := decodeWire(t, env)
					protected, _, err := Headers(env)
					if err != nil {
						t.Fatal(err)
					}
					if protected["alg"] != s.alg {
						t.Errorf("alg = %v, want %s", protected["alg"], s.alg)
					}
					sig := b64(t, w.Signature)
					if len(sig) != s.sigLen {
						t.Fatalf("signature is %d bytes, want %d", len(sig), s.sigLen)
					}
					h := s.hash.New()
					h.Write([]byte(w.Protected + "." + w.Payload))
					checkWireSignature(t, key.Public(), s.hash, h.Sum(nil), sig)
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
		t.Fatalf("x5c has %d certificates, want %d", len(info.CertificateChain), len(req.Chain))
	}
	for i := range req.Chain {
		if !bytes.Equal(info.CertificateChain[i].Raw, req.Chain[i].Raw) {
			t.Errorf("x5c[%d] is %q, want %q (leaf to root)", i, info.CertificateChain[i].Subject, req.Chain[i].Subject)
		}
	}
	if len(info.UnsignedAttributes.TimestampSignature) != 0 {
		t.Error("unexpected timestamp signature")
	}
}

// checkWireSignature verifies sig over digest independently of JWT
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

// TestGolden checks every header against the conformance guide (§3, §8).
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

	// Top level: exactly four members, three of them base64url unpadded.
	var top map[string]json.RawMessage
	if err := json.Unmarshal(env, &top); err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(top)); !slices.Equal(got, []string{"header", "payload", "protected", "signature"}) {
		t.Errorf("top-level members = %q, want exactly header, payload, protected, signature", got)
	}
	w := decodeWire(t, env)
	b64url := regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	for name, v := range map[string]string{"payload": w.Payload, "protected": w.Protected, "signature": w.Signature} {
		if !b64url.MatchString(v) {
			t.Errorf("%s is not base64url without padding: %q", name, v)
		}
	}
	if got := b64(t, w.Payload); !bytes.Equal(got, payload) {
		t.Errorf("payload = %q, want the request bytes verbatim", got)
	}

	// Protected header, byte for byte as go-jose writes it (sorted keys).
	const wantProtected = `{"alg":"ES256",` +
		`"crit":["io.cncf.notary.signingScheme","io.cncf.notary.expiry"],` +
		`"cty":"application/vnd.cncf.notary.payload.v1+json",` +
		`"io.cncf.notary.expiry":"2025-04-02T02:04:06Z",` +
		`"io.cncf.notary.signingScheme":"notary.x509",` +
		`"io.cncf.notary.signingTime":"2025-01-02T02:04:05Z"}`
	if got := string(b64(t, w.Protected)); got != wantProtected {
		t.Errorf("protected header =\n%s\nwant\n%s", got, wantProtected)
	}
	protected, unprotected, err := Headers(env)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"alg":                          "ES256",
		"cty":                          "application/vnd.cncf.notary.payload.v1+json",
		"io.cncf.notary.signingScheme": "notary.x509",
		"io.cncf.notary.signingTime":   "2025-01-02T02:04:05Z",
		"io.cncf.notary.expiry":        "2025-04-02T02:04:06Z",
	} {
		if protected[k] != want {
			t.Errorf("protected %s = %#v, want %#v", k, protected[k], want)
		}
	}
	if crit, _ := protected["crit"].([]any); !slices.Equal(crit, []any{"io.cncf.notary.signingScheme", "io.cncf.notary.expiry"}) {
		t.Errorf("crit = %#v", protected["crit"])
	}
	for _, k := range []string{"kid", "jwk", "x5c", "typ", "io.cncf.notary.authenticSigningTime"} {
		if _, ok := protected[k]; ok {
			t.Errorf("protected header has %q", k)
		}
	}
	if len(protected) != 6 {
		t.Errorf("protected header has %d members, want 6: %v", len(protected), slices.Sorted(maps.Keys(protected)))
	}

	// Unprotected header: x5c (standard padded base64, leaf to root) and the
	// signing agent, nothing else.
	if got := slices.Sorted(maps.Keys(unprotected)); !slices.Equal(got, []string{"io.cncf.notary.signingAgent", "x5c"}) {
		t.Errorf("header members = %q, want exactly io.cncf.notary.signingAgent, x5c", got)
	}
	if unprotected["io.cncf.notary.signingAgent"] != agent {
		t.Errorf("signing agent = %#v", unprotected["io.cncf.notary.signingAgent"])
	}
	x5c, _ := unprotected["x5c"].([]any)
	if len(x5c) != len(chain) {
		t.Fatalf("x5c = %#v, want %d certificates", unprotected["x5c"], len(chain))
	}
	for i, v := range x5c {
		s, _ := v.(string)
		der, err := base64.StdEncoding.Strict().DecodeString(s)
		if err != nil || strings.ContainsAny(s, "-_") {
			t.Errorf("x5c[%d] is not standard padded base64: %v", i, err)
		}
		if !bytes.Equal(der, chain[i].Raw) {
			t.Errorf("x5c[%d] is not certificate %d of the chain (leaf to root)", i, i)
		}
	}
	if _, err := coreVerify(env); err != nil {
		t.Fatalf("notation-core-go rejects the golden envelope: %v", err)
	}
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
	if crit, _ := protected["crit"].([]any); !slices.Equal(crit, []any{"io.cncf.notary.signingScheme"}) {
		t.Errorf("crit = %#v, want only the signing scheme", protected["crit"])
	}
	if _, ok := protected["io.cncf.notary.expiry"]; ok {
		t.Error("expiry header present without an expiry")
	}
	if _, ok := unprotected["io.cncf.notary.signingAgent"]; ok {
		t.Error("signing agent present though none was requested")
	}
}

func TestTampered(t *testing.T) {
	key := testKey(t, "EC-256")
	chain := selfSigned(t, key)
	env, err := Format{}.Sign(envelope.SignRequest{Payload: payload, Signer: key, Chain: chain, SigningTime: time.Now(), SigningAgent: agent})
	if err != nil {
		t.Fatal(err)
	}
	reencode := func(f func(*map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(env, &m); err != nil {
			t.Fatal(err)
		}
		f(&m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	other := testKey(t, "other")
	for name, bad := range map[string][]byte{
		"payload": reencode(func(m *map[string]any) {
			(*m)["payload"] = base64.RawURLEncoding.EncodeToString(bytes.Replace(payload, []byte("942"), []byte("943"), 1))
		}),
		"signature": reencode(func(m *map[string]any) {
			sig, _ := base64.RawURLEncoding.DecodeString((*m)["signature"].(string))
			sig[10] ^= 1
			(*m)["signature"] = base64.RawURLEncoding.EncodeToString(sig)
		}),
		"protected": reencode(func(m *map[string]any) {
			p, _ := base64.RawURLEncoding.DecodeString((*m)["protected"].(string))
			q := regexp.MustCompile(`signingTime":"\d{4}`).ReplaceAll(p, []byte(`signingTime":"2024`))
			if bytes.Equal(p, q) {
				t.Fatal("protected header not changed")
			}
			(*m)["protected"] = base64.RawURLEncoding.EncodeToString(q)
		}),
		"x5c": reencode(func(m *map[string]any) {
			(*m)["header"].(map[string]any)["x5c"] = []any{selfSigned(t, other)[0].Raw}
		}),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := coreVerify(bad); err == nil {
				t.Error("notation-core-go accepts the tampered envelope")
			}
			if _, err := envelope.Verify(envelope.MediaTypeJWS, bad); err == nil {
				t.Error("envelope.Verify accepts the tampered envelope")
			}
		})
	}
}

// TestRejected covers requests refused before the signer is asked to sign,
// so before any PIN prompt.
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
		{"leaf without key usage", ec, selfSigned(t, ec, func(c *x509.Certificate) { c.KeyUsage = 0 }), nil,
			"key usage extension must be present"},
		{"leaf with non-critical key usage", ec, selfSigned(t, ec, nonCriticalKU), nil,
			"key usage extension must be marked critical"},
		{"leaf with serverAuth", ec, selfSigned(t, ec, func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }), nil,
			"must not contain ServerAuth eku"},
		{"chain out of order", ec, swapCAs(threeLevel(t, ec)), nil,
			"certificate chain fails the notary code-signing rules"},
		{"leaf only of a CA-issued chain", ec, threeLevel(t, ec)[:1], nil,
			"invalid self-signed certificate"},
		{"signing time before validity", ec, good, func(r *envelope.SignRequest) { r.SigningTime = notBefore.Add(-time.Hour) },
			"was invalid at signing time"},
		{"expiry before signing time", ec, good, func(r *envelope.SignRequest) { r.Expiry = now.Add(-time.Hour) },
			"is not after the signing time"},
		{"expiry equal to signing time after truncation", ec, good, func(r *envelope.SignRequest) {
			r.SigningTime = time.Date(2025, 1, 1, 0, 0, 0, 100, time.UTC)
			r.Expiry = r.SigningTime.Add(500 * time.Millisecond)
		}, "expiry 2025-01-01T00:00:00Z is not after the signing time 2025-01-01T00:00:00Z"},
		{"signer does not match leaf", testKey(t, "other"), good, nil,
			"the signing key does not match the public key of the leaf certificate"},
		{"no signing time", ec, good, func(r *envelope.SignRequest) { r.SigningTime = time.Time{} }, "no signing time"},
		{"empty payload", ec, good, func(r *envelope.SignRequest) { r.Payload = nil }, "empty payload"},
		{"payload not JSON", ec, good, func(r *envelope.SignRequest) { r.Payload = []byte("hello") }, "jws payload must be a JSON object"},
		{"payload a JSON array", ec, good, func(r *envelope.SignRequest) { r.Payload = []byte("[1]") }, "jws payload must be a JSON object"},
		{"payload null", ec, good, func(r *envelope.SignRequest) { r.Payload = []byte("null") }, "jws payload must be a JSON object"},
		{"no chain", ec, nil, nil, "no certificate chain"},
		{"nil certificate in chain", ec, append(threeLevel(t, ec)[:2:2], nil), nil, "certificate 2 of the chain is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			signer := &envelopetest.CountingSigner{Signer: tc.signer}
			req := envelope.SignRequest{Payload: payload, Signer: signer, Chain: tc.chain, SigningTime: now}
			if tc.mod != nil {
				tc.mod(&req)
			}
			env, err := Format{}.Sign(req)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Sign error = %v, want it to contain %q", err, tc.want)
			}
			t.Log(err)
			if env != nil {
				t.Error("Sign returned an envelope with an error")
			}
			if n := signer.Calls(); n != 0 {
				t.Errorf("the signer was asked to sign %d times before the request was rejected", n)
			}
			if err.Error() != strings.ToLower(err.Error()[:1])+err.Error()[1:] {
				t.Errorf("error %q does not start in lower case", err)
			}
		})
	}
	var ue *keyspec.UnsupportedKeyError
	if _, err := (Format{}).Sign(envelope.SignRequest{Payload: payload, Signer: ed, Chain: selfSigned(t, ed), SigningTime: now}); !errors.As(err, &ue) {
		t.Errorf("Ed25519 error %v is not an *keyspec.UnsupportedKeyError", err)
	}
	if _, err := (Format{}).Sign(envelope.SignRequest{Payload: payload, Chain: good, SigningTime: now}); err == nil || !strings.Contains(err.Error(), "no signer") {
		t.Errorf("nil signer: error = %v", err)
	}
}

func nonCriticalKU(c *x509.Certificate) {
	// KeyUsage digitalSignature as a BIT STRING, written non-critical; Go
	// lets ExtraExtensions replace the extension it would write.
	value, _ := asn1.Marshal(asn1.BitString{Bytes: []byte{0x80}, BitLength: 1})
	c.ExtraExtensions = append(c.ExtraExtensions, pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 15}, Critical: false, Value: value})
}

// swapCAs turns leaf, intermediate, root into leaf, root, intermediate.
func swapCAs(chain []*x509.Certificate) []*x509.Certificate {
	return []*x509.Certificate{chain[0], chain[2], chain[1]}
}

// TestSelfCheck shows that the self-check stops envelopes the shared
// pre-checks would have refused, had they been skipped: encode is called
// directly, bypassing envelope.Build.
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
		{"leaf with non-critical key usage", threeLevel(t, ec, nonCriticalKU), time.Now(), false,
			"key usage extension must be marked critical"},
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
			if _, err := envelope.Verify(envelope.MediaTypeJWS, env); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("envelope.Verify error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestHeadersErrors(t *testing.T) {
	for _, in := range []string{
		``,
		`[]`,
		`{"protected":"e30="}`,
		`{"protected":"bnVsbA"}`,
		`{"protected":"W10"}`,
		`{"protected":"e30","header":[]}`,
	} {
		if _, _, err := Headers([]byte(in)); err == nil {
			t.Errorf("Headers(%q) succeeded", in)
		}
	}
	p, u, err := Headers([]byte(`{"protected":"eyJhbGciOiJFUzI1NiJ9"}`))
	if err != nil || p["alg"] != "ES256" || u != nil {
		t.Errorf("Headers without header member = %v, %v, %v", p, u, err)
	}
}
