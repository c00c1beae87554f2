package cli

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/inspect"
	"github.com/notation-piv/notation-piv/fixtures"
	"github.com/notation-piv/notation-piv/fixtures/recorded"
)

// TestEnvelopeHostileInput gives inspect and verify inputs that are no
// envelope: each gives a clear error, none a panic.
func TestEnvelopeHostileInput(t *testing.T) {
	dir := t.TempDir()
	trust := writePEM(t, dir, "root.pem", fixtures.Root().Cert)
	notationJWS := recorded.Envelope("jws")
	huge := filepath.Join(dir, "huge")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(f, zeros{}, envelope.MaxEnvelopeSize+1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, tc := range []struct {
		name, file string
		fragments  []string
	}{
		{"empty", writeFile(t, dir, "empty", nil), []string{"is empty"}},
		{"huge", huge, []string{"more than 4194304 bytes", "hint:"}},
		{"garbage", writeFile(t, dir, "garbage", []byte("\x00garbage\xff")), []string{"neither a JWS", "hint:"}},
		{"truncated", writeFile(t, dir, "truncated", notationJWS[:len(notationJWS)/2]), []string{"read jws envelope"}},
		{"missing", filepath.Join(dir, "missing"), []string{"no such file"}},
		{"directory", dir, []string{"is a directory"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectFailure(t, runEnv(t, nil, "inspect", tc.file), tc.fragments...)
			r := runEnv(t, nil, "verify", tc.file, "--trust-root", trust)
			expectFailure(t, r)
		})
	}
	expectFailure(t, runEnv(t, nil, "inspect", "-"), "stdin is empty")
	expectFailure(t, runEnv(t, []byte("not an envelope"), "inspect", "-"), "stdin: this is neither")
	jwsFile := writeFile(t, dir, "ok.sig", notationJWS)
	for _, tc := range []struct {
		args      []string
		fragments []string
	}{
		{[]string{"verify", jwsFile}, []string{"needs --trust-root"}},
		{[]string{"verify", jwsFile, "--trust-root", jwsFile}, []string{"holds no PEM certificate"}},
		{[]string{"verify", jwsFile, "--trust-root", trust, "--digest", "md5:00"}, []string{"--digest"}},
		{[]string{"verify", jwsFile, "--trust-root", trust, "--digest", "sha256:" + strings.Repeat("0", 64), "--artifact", jwsFile}, []string{"exclude each other"}},
		{[]string{"verify", jwsFile, "--trust-root", trust, "--tsa-root", jwsFile}, []string{"--tsa-root: TSA root certificate"}},
		{[]string{"inspect"}, []string{"takes one argument, not 0"}},
		{[]string{"inspect", jwsFile, jwsFile}, []string{"takes one argument, not 2"}},
		{[]string{"frobnicate"}, []string{`no subcommand "frobnicate"`}},
		{nil, []string{"needs a subcommand"}},
	} {
		expectFailure(t, runEnv(t, nil, tc.args...), tc.fragments...)
	}
	for _, args := range [][]string{{"--help"}, {"inspect", "--help"}, {"verify", "--help"}, {"sign", "--help"}} {
		if r := runEnv(t, nil, args...); r.code != 0 || !strings.HasPrefix(r.stdout, "Usage") {
			t.Errorf("%v: exit %d, %q", args, r.code, r.stdout)
		}
	}
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestEnvelopeTrustRootFile checks that verify refuses trust roots that a
// notation trust store refuses: a certificate that is neither a CA nor
// self-signed.
func TestEnvelopeTrustRootFile(t *testing.T) {
	leaf := fixtures.Chain(fixtures.Key("EC-256").Public())[0]
	file := writePEM(t, t.TempDir(), "leaf.pem", leaf)
	env := writeFile(t, t.TempDir(), "e.sig", recorded.Envelope("cose"))
	expectFailure(t, runEnv(t, nil, "verify", env, "--trust-root", file), "neither a CA nor self-signed")
}

// softwareSigner is a self-signed Notary signing certificate with the
// test signer's subject, and its key, in software; name names the key.
func softwareSigner(t *testing.T, name string) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key := fixtures.Key(name)
	return fixtures.SelfSigned(key), key
}

// TestEnvelopeVerifyPin is the appended-root attack of issue 13 (finding
// 2) on "envelope verify": roots.pem holds the genuine certificate and,
// after it, the attacker's, with the same subject, and the envelope is
// signed under the attacker's. Without a pin it verifies, and verify names
// the attacker's root with its fingerprint and warns that the file holds
// two; with the genuine fingerprint pinned, in either form, the chain check
// fails naming both; a pin that no certificate of the file has is refused
// before anything is verified.
func TestEnvelopeVerifyPin(t *testing.T) {
	registerFormats()
	genuine, _ := softwareSigner(t, "genuine")
	attacker, attackerKey := softwareSigner(t, "attacker")
	stranger, _ := softwareSigner(t, "stranger")
	fp := func(c *x509.Certificate) string { return inspect.Fingerprint(c) }
	colons := func(c *x509.Certificate) string { // as openssl x509 -fingerprint prints it
		sum := sha256.Sum256(c.Raw)
		pairs := make([]string, len(sum))
		for i, b := range sum {
			pairs[i] = fmt.Sprintf("%02X", b)
		}
		return strings.Join(pairs, ":")
	}
	dir := t.TempDir()
	roots := writePEM(t, dir, "roots.pem", genuine, attacker)
	payload, err := envelope.NewPayload(envelope.Descriptor{MediaType: "text/plain", Digest: "sha256:" + strings.Repeat("ab", 32), Size: 10})
	if err != nil {
		t.Fatal(err)
	}
	format, err := envelope.Lookup(envelope.MediaTypeJWS)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := format.Sign(envelope.SignRequest{Payload: payload, Signer: attackerKey, Chain: []*x509.Certificate{attacker}, SigningTime: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	env := writeFile(t, dir, "e.jws", signed)
	verify := []string{"verify", env, "--trust-root", roots}

	r := runEnv(t, nil, verify...)
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("trust root: %q, SHA-256 %s\n", leafSubject(attacker), fp(attacker))) ||
		!strings.Contains(r.stderr, "warning: --trust-root "+roots+" holds 2 certificates, and the envelope verifies under any of them: pin the one you expect with --trust-root-sha256") {
		t.Errorf("verify without a pin: exit %d, want 0, naming the attacker's root and warning of two\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, pin := range []string{fp(genuine), colons(genuine), strings.ToUpper(fp(genuine))} {
		r := runEnv(t, nil, append(verify, "--trust-root-sha256", pin)...)
		expectFailure(t, r, "FAILED  chain: ", "ends at the trust root", "SHA-256 "+fp(attacker)+", not at the pinned trust root SHA-256 "+fp(genuine),
			"does not verify: 1 check failed (chain)", "hint: --trust-root "+roots+" holds a certificate besides the pinned one")
		if strings.Contains(r.stdout, "trust root: ") || strings.Contains(r.stderr, "warning") {
			t.Errorf("a failed verification names a trust root, or warns:\n%s%s", r.stdout, r.stderr)
		}
	}
	r = runEnv(t, nil, append(verify, "--trust-root-sha256", colons(attacker))...)
	if r.code != 0 || !strings.Contains(r.stdout, "SHA-256 "+fp(attacker)+" (pinned)\n") || r.stderr != "" {
		t.Errorf("verify pinned to the signing root: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = runEnv(t, nil, append(verify, "--json", "--trust-root-sha256", fp(genuine))...)
	var v struct {
		Verified  bool
		TrustRoot *inspect.TrustRoot
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || r.code != 1 || v.Verified ||
		v.TrustRoot == nil || v.TrustRoot.SHA256 != fp(attacker) || v.TrustRoot.Pinned || v.TrustRoot.Subject != leafSubject(attacker) {
		t.Errorf("verify --json pinned to the genuine root: exit %d, %+v, %v\n%s", r.code, v, err, r.stdout)
	}

	expectFailure(t, runEnv(t, nil, append(verify, "--trust-root-sha256", fp(stranger))...),
		"--trust-root "+roots+" holds no certificate with the SHA-256 fingerprint "+fp(stranger), fp(genuine), fp(attacker), "hint: this is not the trust root that was published")
	for _, bad := range []string{"xyz", fp(genuine)[:62], fp(genuine) + "00", colons(genuine)[1:] + "0", "sha256:" + fp(genuine)} {
		expectFailure(t, runEnv(t, nil, append(verify, "--trust-root-sha256", bad)...), "is no SHA-256 fingerprint", "hint: give the 64 hex digits")
	}
}
