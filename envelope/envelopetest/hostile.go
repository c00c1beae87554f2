package envelopetest

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/internal/keyspec"
)

// Hostile is the shape of a validly signed envelope built to be costly to
// read: Notary headers plus many extra ones. Only its signature is sound
// (a self-signed P-256 leaf signs it), so that verifiers read all of it
// rather than stopping at a broken signature.
type Hostile struct {
	// Headers is how many extra protected headers it carries, labelled
	// "h000000", "h000001"…, each with the value 0.
	Headers int
	// Critical is how many of the extra headers, from the first, the
	// "crit" header lists besides the signing scheme.
	Critical int
	// RepeatCritical is how many more times "crit" lists the signing
	// scheme.
	RepeatCritical int
	// Unprotected is how many extra unprotected headers it carries,
	// labelled "u000000"…, each with the value 0.
	Unprotected int
	// Certificates is how many certificates the chain header holds: the
	// leaf, then copies of it; 0 means 1.
	Certificates int
	// Chain, if set, is the chain the chain header holds instead, leaf
	// first; its leaf must be for the key of HostileRoot (HostileKey).
	Chain []*x509.Certificate
}

// The shapes of the review that found quadratic "crit" checks (issue 13,
// finding 5): the largest all-critical envelopes within
// envelope.MaxEnvelopeSize. COSE is smaller because go-cose and
// fxamacker/cbor refuse maps and arrays of more than 131072 entries.
var (
	// CriticalJWS is a JWS envelope of about 4 MB with 140,000 critical
	// headers.
	CriticalJWS = Hostile{Headers: 140000, Critical: 140000}
	// CriticalCOSE is a COSE envelope of about 2.2 MB with 130,000
	// critical headers.
	CriticalCOSE = Hostile{Headers: 130000, Critical: 130000}
)

// label returns the label of the extra header i with prefix p.
func label(p string, i int) string {
	return fmt.Sprintf("%s%06d", p, i)
}

// hostilePayload is a Notary payload naming a small artifact.
func hostilePayload(t testing.TB) []byte {
	t.Helper()
	p, err := envelope.NewPayload(envelope.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json",
		Digest: "sha256:" + string(bytes.Repeat([]byte("ab"), 32)), Size: 1024})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// hostileLeaf is the certificate that signs hostile envelopes, made once
// per test binary.
var hostileLeaf struct {
	sync.Mutex
	cert *x509.Certificate
}

// HostileRoot returns the self-signed certificate that signs every Hostile
// envelope: the trust root that verifies them.
func HostileRoot(t testing.TB) *x509.Certificate {
	t.Helper()
	hostileLeaf.Lock()
	defer hostileLeaf.Unlock()
	if hostileLeaf.cert == nil {
		hostileLeaf.cert = fixtures.SelfSigned(HostileKey(t))
	}
	return hostileLeaf.cert
}

// HostileKey returns the P-256 key that signs every Hostile envelope.
func HostileKey(t testing.TB) crypto.Signer {
	t.Helper()
	return fixtures.Key("hostile")
}

// hostileSigner returns a function that signs with the key of HostileRoot,
// its algorithm and the DER chain h asks for.
func hostileSigner(t testing.TB, h Hostile) (sign func([]byte) []byte, alg keyspec.Spec, chain [][]byte) {
	t.Helper()
	key := HostileKey(t)
	alg, err := keyspec.Of(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	leaf := HostileRoot(t).Raw
	chain = [][]byte{leaf}
	for len(chain) < h.Certificates {
		chain = append(chain, leaf)
	}
	if h.Chain != nil {
		chain = nil
		for _, c := range h.Chain {
			chain = append(chain, c.Raw)
		}
	}
	sign = func(message []byte) []byte {
		sig, err := envelope.SignMessage(key, alg, message)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	return sign, alg, chain
}

// JWS returns a flattened JWS envelope of shape h, signed now.
func (h Hostile) JWS(t testing.TB) []byte {
	t.Helper()
	sign, alg, chain := hostileSigner(t, h)
	var p bytes.Buffer
	fmt.Fprintf(&p, `{"alg":%q,"cty":%q,%q:%q,%q:%q,"crit":[%q`, alg.JWS, envelope.PayloadType,
		envelope.HeaderSigningScheme, envelope.SigningScheme, envelope.HeaderSigningTime, time.Now().UTC().Format(time.RFC3339), envelope.HeaderSigningScheme)
	for i := range h.Critical {
		fmt.Fprintf(&p, ",%q", label("h", i))
	}
	for range h.RepeatCritical {
		fmt.Fprintf(&p, ",%q", envelope.HeaderSigningScheme)
	}
	p.WriteString("]")
	for i := range h.Headers {
		fmt.Fprintf(&p, ",%q:0", label("h", i))
	}
	p.WriteString("}")
	protected := base64.RawURLEncoding.EncodeToString(p.Bytes())
	payload := base64.RawURLEncoding.EncodeToString(hostilePayload(t))
	unprotected := map[string]any{"x5c": chain}
	for i := range h.Unprotected {
		unprotected[label("u", i)] = 0
	}
	env, err := json.Marshal(map[string]any{
		"protected": protected,
		"payload":   payload,
		"header":    unprotected,
		"signature": base64.RawURLEncoding.EncodeToString(sign([]byte(protected + "." + payload))),
	})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// COSE returns a tagged COSE_Sign1 envelope of shape h, signed now.
func (h Hostile) COSE(t testing.TB) []byte {
	t.Helper()
	sign, alg, chain := hostileSigner(t, h)
	crit := []any{envelope.HeaderSigningScheme}
	for i := range h.Critical {
		crit = append(crit, label("h", i))
	}
	for range h.RepeatCritical {
		crit = append(crit, envelope.HeaderSigningScheme)
	}
	fields := map[any]any{
		int64(1):                     int64(alg.COSE),
		int64(2):                     crit,
		int64(3):                     envelope.PayloadType,
		envelope.HeaderSigningScheme: envelope.SigningScheme,
		envelope.HeaderSigningTime:   cbor.Tag{Number: 1, Content: time.Now().Unix()},
	}
	for i := range h.Headers {
		fields[label("h", i)] = 0
	}
	protected := mustCBOR(t, fields)
	payload := hostilePayload(t)
	certs := make([]any, len(chain))
	for i, c := range chain {
		certs[i] = c
	}
	unprotected := map[any]any{int64(33): certs}
	for i := range h.Unprotected {
		unprotected[label("u", i)] = 0
	}
	sig := sign(mustCBOR(t, []any{"Signature1", protected, []byte{}, payload}))
	return mustCBOR(t, cbor.Tag{Number: 18, Content: []any{protected, unprotected, payload, sig}})
}

// mustCBOR encodes v in CBOR. Its encoder refuses no map or array size.
func mustCBOR(t testing.TB, v any) []byte {
	t.Helper()
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// String describes h for test names, e.g. "140000-headers-140000-critical",
// or "notary" for the zero Hostile.
func (h Hostile) String() string {
	var parts []string
	for _, p := range []struct {
		n    int
		name string
	}{{h.Headers, "headers"}, {h.Critical, "critical"}, {h.RepeatCritical, "repeated-critical"},
		{h.Unprotected, "unprotected"}, {h.Certificates, "certificates"}, {len(h.Chain), "chain"}} {
		if p.n > 0 {
			parts = append(parts, strconv.Itoa(p.n)+"-"+p.name)
		}
	}
	if parts == nil {
		return "notary"
	}
	return strings.Join(parts, "-")
}
