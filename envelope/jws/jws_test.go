package jws

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/envelopetest"
	"github.com/notation-piv/notation-piv/fixtures"
)

var _ envelope.Format = Format{}

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

// TestRoundTrip signs with every key spec and chain shape and reads each
// envelope back as notation-core-go does and as it is on the wire: the
// signing input is protected.payload, the signature base64url.
func TestRoundTrip(t *testing.T) {
	algs := map[string]any{"RSA-2048": "PS256", "RSA-3072": "PS384", "RSA-4096": "PS512", "EC-256": "ES256", "EC-384": "ES384", "EC-521": "ES512"}
	envelopetest.CheckRoundTrip(t, Format{}, algs, func(t *testing.T, env []byte) (any, []byte, []byte) {
		w := decodeWire(t, env)
		protected, _, err := Headers(env)
		if err != nil {
			t.Fatal(err)
		}
		return protected["alg"], []byte(w.Protected + "." + w.Payload), b64(t, w.Signature)
	})
}

// TestGolden checks every header against the conformance guide (§3, §8).
func TestGolden(t *testing.T) {
	env, req := envelopetest.Golden(t, Format{})
	chain, payload := req.Chain, req.Payload

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
	if unprotected["io.cncf.notary.signingAgent"] != envelopetest.Agent {
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
	if _, err := envelopetest.CoreVerify(envelope.MediaTypeJWS, env); err != nil {
		t.Fatalf("notation-core-go rejects the golden envelope: %v", err)
	}
}

func TestNoExpiry(t *testing.T) {
	env, _ := envelopetest.Sign(t, Format{}, nil)
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
	env, req := envelopetest.Sign(t, Format{}, func(r *envelope.SignRequest) { r.SigningAgent = envelopetest.Agent })
	payload := req.Payload
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
	other := fixtures.Key("other")
	envelopetest.CheckTampered(t, envelope.MediaTypeJWS, map[string][]byte{
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
			(*m)["header"].(map[string]any)["x5c"] = []any{fixtures.SelfSigned(other).Raw}
		}),
	})
}

// TestRejected covers requests refused before the signer is asked to sign,
// so before any PIN prompt: the checks of envelope.Build, and a payload
// that is no JSON object, which JWS cannot embed.
func TestRejected(t *testing.T) {
	ec := fixtures.Key("EC-256")
	good := []*x509.Certificate{fixtures.SelfSigned(ec)}
	const notObject = "jws payload must be a JSON object"
	envelopetest.CheckRejected(t, Format{}, append(envelopetest.Rejections(),
		envelopetest.Rejection{Name: "payload not JSON", Signer: ec, Chain: good, Change: func(r *envelope.SignRequest) { r.Payload = []byte("hello") }, Want: notObject},
		envelopetest.Rejection{Name: "payload a JSON array", Signer: ec, Chain: good, Change: func(r *envelope.SignRequest) { r.Payload = []byte("[1]") }, Want: notObject},
		envelopetest.Rejection{Name: "payload null", Signer: ec, Chain: good, Change: func(r *envelope.SignRequest) { r.Payload = []byte("null") }, Want: notObject},
	))
}

// TestSelfCheck shows that the self-check stops envelopes the shared
// pre-checks would have refused, had they been skipped: encode is called
// directly, bypassing envelope.Build.
func TestSelfCheck(t *testing.T) {
	envelopetest.CheckSelfCheck(t, envelope.MediaTypeJWS, encode)
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
