package cose

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"maps"
	"math/big"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	gocose "github.com/veraison/go-cose"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/envelopetest"
	"github.com/notation-piv/notation-piv/fixtures"
)

var _ envelope.Format = Format{}

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

// TestRoundTrip signs with every key spec and chain shape and reads each
// envelope back as notation-core-go does and as it is on the wire: the
// signing input is the Sig_structure, rebuilt with plain CBOR.
func TestRoundTrip(t *testing.T) {
	algs := map[string]any{"RSA-2048": int64(-37), "RSA-3072": int64(-38), "RSA-4096": int64(-39), "EC-256": int64(-7), "EC-384": int64(-35), "EC-521": int64(-36)}
	envelopetest.CheckRoundTrip(t, Format{}, algs, func(t *testing.T, env []byte) (any, []byte, []byte) {
		protected, _, err := Headers(env)
		if err != nil {
			t.Fatal(err)
		}
		msg := parseMessage(t, env)
		return protected[int64(1)], sigStructure(t, msg), msg.Signature
	})
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
	env, req := envelopetest.Golden(t, Format{})
	chain, payload := req.Chain, req.Payload

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
	if got := unprotected["io.cncf.notary.signingAgent"]; got != envelopetest.Agent {
		t.Errorf("signing agent = %#v, want the text string %q", got, envelopetest.Agent)
	}
	checkX5Chain(t, unprotected, chain)
	if _, err := envelopetest.CoreVerify(envelope.MediaTypeCOSE, env); err != nil {
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
	env, req := envelopetest.Sign(t, Format{}, nil)
	chain := req.Chain
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
	env, _ := envelopetest.Sign(t, Format{}, nil)
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
	env, req := envelopetest.Sign(t, Format{}, func(r *envelope.SignRequest) {
		r.Chain, r.SigningAgent = fixtures.Chain(r.Signer.Public()), envelopetest.Agent
	})
	chain, payload, signingTime := req.Chain, req.Payload, req.SigningTime
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
	other := fixtures.SelfSigned(fixtures.Key("other")).Raw
	envelopetest.CheckTampered(t, envelope.MediaTypeCOSE, map[string][]byte{
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
			raw, err := cbor.Marshal(q)
			if err != nil {
				t.Fatal(err)
			}
			m.Headers.RawProtected = raw
		}),
		"x5chain of another key":    tamper(setX5Chain([]any{other})),
		"x5chain as a bare bstr":    tamper(setX5Chain(chain[0].Raw)),
		"x5chain without the chain": tamper(setX5Chain([]any{})),
		"untagged":                  env[1:],
	})
}

// TestRejected covers requests refused before the signer is asked to sign,
// so before any PIN prompt: the checks of envelope.Build, which the COSE
// format goes through too.
func TestRejected(t *testing.T) {
	envelopetest.CheckRejected(t, Format{}, envelopetest.Rejections())
}

// TestSelfCheck shows that envelope.Verify stops COSE envelopes that the
// shared pre-checks would have refused, had they been skipped: encode is
// called directly, bypassing envelope.Build.
func TestSelfCheck(t *testing.T) {
	envelopetest.CheckSelfCheck(t, envelope.MediaTypeCOSE, encode)
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
