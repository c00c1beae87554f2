package main

import (
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notation-piv/notation-piv/vsmartcard/card"
)

// writeKeyAndCert writes a P-256 key (PKCS #8, or SEC 1 with EC
// parameters as openssl ecparam writes it) and a self-signed certificate
// for it into dir, and returns the key and the two paths.
func writeKeyAndCert(t *testing.T, dir, name string, sec1 bool) (*ecdsa.PrivateKey, string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	var keyPEM []byte
	if sec1 {
		b, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		keyPEM = append(pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}}),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: b})...)
	} else {
		b, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: b})
	}
	keyPath, certPath := filepath.Join(dir, name+".key"), filepath.Join(dir, name+".crt")
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return key, keyPath, certPath
}

// getData reads a data object through the fake vpcd, as an extended APDU
// so that no GET RESPONSE is needed, and returns the content of its 53
// template.
func getData(t *testing.T, c net.Conn, tag string) []byte {
	t.Helper()
	cmd, err := hex.DecodeString("00CB3FFF0000055C03" + tag + "0000")
	if err != nil {
		t.Fatal(err)
	}
	resp := exchange(t, c, cmd...)
	if len(resp) < 4 || !bytes.HasSuffix(resp, []byte{0x90, 0x00}) || resp[0] != 0x53 {
		t.Fatalf("GET DATA %s: % x", tag, resp)
	}
	value, _ := tlvValue(t, resp[1:len(resp)-2])
	return value
}

// tlvValue splits b, which starts with a BER length, into the value that
// length covers and the rest.
func tlvValue(t *testing.T, b []byte) (value, rest []byte) {
	t.Helper()
	n, skip := 0, 1
	switch {
	case len(b) > 0 && b[0] < 0x80:
		n = int(b[0])
	case len(b) > 1 && b[0] == 0x81:
		n, skip = int(b[1]), 2
	case len(b) > 2 && b[0] == 0x82:
		n, skip = int(b[1])<<8|int(b[2]), 3
	default:
		t.Fatalf("bad BER length in % x", b)
	}
	if len(b) < skip+n {
		t.Fatalf("BER length %d longer than % x", n, b)
	}
	return b[skip : skip+n], b[skip+n:]
}

// startCard runs virtual-piv with args against a fake vpcd, waits for the
// card to be announced and powers it up. The returned function stops it.
func startCard(t *testing.T, v *fakeVPCD, args ...string) (net.Conn, string, func() int) {
	t.Helper()
	stdout, stderr, stop := startRun(t, append([]string{"--vpcd", v.addr()}, args...)...)
	c := v.accept()
	line := stdout.next(t, 5*time.Second)
	exchange(t, c, 0x01)
	return c, line, func() int {
		code := stop()
		if code != 0 {
			t.Errorf("exit code %d; stderr: %s", code, stderr)
		}
		return code
	}
}

// withTCK appends the check byte to an ATR given in hex.
func withTCK(atr string) string {
	b, _ := hex.DecodeString(atr)
	var tck byte
	for _, x := range b[1:] {
		tck ^= x
	}
	return atr + hex.EncodeToString([]byte{tck})
}

func TestProfiles(t *testing.T) {
	v := listen(t, "127.0.0.1:0")
	for _, tc := range []struct {
		args        []string
		atr, getVer string
	}{
		{nil, "3b888001765049566361726424", "0507019000"},
		{[]string{"--profile", "yubikey", "--firmware", "5.2.7"}, "3b888001765049566361726424", "0502079000"},
		{[]string{"--profile", "generic"}, withTCK("3b888001" + hex.EncodeToString([]byte("vGENERIC"))), "6d00"},
		{[]string{"--profile", "trussed"}, "3b8f01805d4e6974726f6b657900000000006a", "0606069000"},
		{[]string{"--profile", "generic", "--t0"}, "3b08" + hex.EncodeToString([]byte("vGENERIC")), "6d00"},
	} {
		c, _, stop := startCard(t, v, tc.args...)
		if atr := hex.EncodeToString(exchange(t, c, 0x04)); atr != tc.atr {
			t.Errorf("%q: ATR %s, want %s", tc.args, atr, tc.atr)
		}
		if got := hex.EncodeToString(exchange(t, c, 0x00, 0xFD, 0x00, 0x00, 0x00)); got != tc.getVer {
			t.Errorf("%q: GET VERSION answered %s, want %s", tc.args, got, tc.getVer)
		}
		stop()
	}
}

// TestImportFlag provisions a generic card with two keys and compressed
// certificates and reads them back.
func TestImportFlag(t *testing.T) {
	dir := t.TempDir()
	key9c, k9c, c9c := writeKeyAndCert(t, dir, "sign", false)
	_, k9a, c9a := writeKeyAndCert(t, dir, "auth", true)
	v := listen(t, "127.0.0.1:0")
	c, line, stop := startCard(t, v, "--profile", "generic", "--serial", "4321",
		"--import", "9c="+k9c+","+c9c, "--import", "9A="+k9a+","+c9a, "--compress-certs")
	defer stop()
	if !strings.HasPrefix(line, "virtual-piv: card 4321 ready") {
		t.Errorf("stdout = %q", line)
	}
	obj := getData(t, c, "5FC10A")
	if obj[0] != 0x70 {
		t.Fatalf("9C certificate object % x: want 70 … 71 01 01 FE 00", obj)
	}
	compressed, rest := tlvValue(t, obj[1:])
	if !bytes.Equal(rest, []byte{0x71, 0x01, 0x01, 0xFE, 0x00}) {
		t.Fatalf("9C certificate object % x: want 70 … 71 01 01 FE 00", obj)
	}
	r, err := gzip.NewReader(bytes.NewReader(compressed))
	if err != nil {
		t.Fatal(err)
	}
	der, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if !key9c.PublicKey.Equal(cert.PublicKey) || cert.Subject.CommonName != "sign" {
		t.Errorf("9C certificate %q is not the imported one", cert.Subject)
	}
	getData(t, c, "5FC105")
	guid := card.GUIDOf(4321)
	if chuid := getData(t, c, "5FC102"); !bytes.Contains(chuid, append([]byte{0x34, 0x10}, guid[:]...)) {
		t.Errorf("CHUID % x lacks GUID % x", chuid, guid)
	}
}

func TestImportFlagErrors(t *testing.T) {
	dir := t.TempDir()
	_, k1, c1 := writeKeyAndCert(t, dir, "one", false)
	_, _, c2 := writeKeyAndCert(t, dir, "two", false)
	for _, tc := range []struct {
		value, want string
	}{
		{"9c", "want SLOT=KEY.pem,CERT.pem"},
		{"9c=" + k1, "want SLOT=KEY.pem,CERT.pem"},
		{"zz=" + k1 + "," + c1, `slot "zz" is not a hex key reference`},
		{"9b=" + k1 + "," + c1, "import into slot 9b: not a key slot"},
		{"9c=" + k1 + "," + c2, "import into slot 9c: the certificate is not for the key"},
		{"9c=" + c1 + "," + c1, `PEM block "CERTIFICATE" is not an unencrypted private key`},
		{"9c=" + k1 + "," + k1, "is a \"PRIVATE KEY\", not a certificate"},
		{"9c=" + filepath.Join(dir, "missing.key") + "," + c1, "missing.key"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), []string{"--profile", "generic", "--import", tc.value}, &stdout, &stderr); code != 1 {
			t.Errorf("--import %s: exit code %d, want 1", tc.value, code)
		}
		if !strings.HasPrefix(stderr.String(), "virtual-piv: error: ") || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("--import %s: stderr = %q, want %q", tc.value, stderr.String(), tc.want)
		}
	}
}

// TestRestartWithState starts a card with a state file, changes it, and
// starts it again with the same flags: the card comes back as it was.
// Flags that ask for another card are refused, naming the flag and both
// values.
func TestRestartWithState(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "card.state")
	_, key, cert := writeKeyAndCert(t, dir, "sign", false)
	_, otherKey, otherCert := writeKeyAndCert(t, dir, "other", false)
	imp := "9c=" + key + "," + cert
	flags := []string{"--state", state, "--serial", "77", "--profile", "trussed", "--import", imp, "--compress-certs"}
	v := listen(t, "127.0.0.1:0")

	c, _, stop := startCard(t, v, flags...)
	wrongPIN := []byte{0x00, 0x20, 0x00, 0x80, 0x08, '9', '9', '9', '9', '9', '9', 0xFF, 0xFF}
	if sw := exchange(t, c, wrongPIN...); !bytes.Equal(sw, []byte{0x63, 0xC2}) {
		t.Fatalf("wrong PIN: % x", sw)
	}
	stop()

	for _, args := range [][]string{flags, {"--state", state}, {"--state", state, "--serial", "77"}, {"--state", state, "--import", imp, "--compress-certs"}} {
		c, line, stop := startCard(t, v, append(args, "--t0")...)
		if !strings.HasPrefix(line, "virtual-piv: card 77 ready") {
			t.Errorf("%q: stdout = %q", args, line)
		}
		if sw := exchange(t, c, 0x00, 0x20, 0x00, 0x80, 0x00); !bytes.Equal(sw, []byte{0x63, 0xC2}) {
			t.Errorf("%q: PIN status % x, want 63 c2", args, sw)
		}
		if got := hex.EncodeToString(exchange(t, c, 0x00, 0xF8, 0x00, 0x00, 0x00)); got != "0052f7439000" {
			t.Errorf("%q: not a trussed card: GET SERIAL answered %s", args, got)
		}
		stop()
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--serial", "78"}, "--serial 78 conflicts with state file " + state + ", which holds a card with --serial 77"},
		{[]string{"--profile", "generic"}, "--profile generic conflicts with state file " + state + ", which holds a card with --profile trussed"},
		{[]string{"--firmware", "5.7.1"}, "--firmware 5.7.1 conflicts with state file " + state + ", which holds a card with --firmware (none: a trussed card)"},
		{[]string{"--import", imp}, "--import " + imp + " (without --compress-certs) conflicts with state file " + state + ": slot 9c holds its certificate compressed"},
		{[]string{"--import", "9c=" + otherKey + "," + otherCert, "--compress-certs"}, "slot 9c holds another key"},
		{[]string{"--import", "9a=" + key + "," + cert}, "slot 9a holds no key"},
	} {
		var stdout, stderr bytes.Buffer
		args := append([]string{"--state", state}, tc.args...)
		if code := run(t.Context(), args, &stdout, &stderr); code != 1 {
			t.Errorf("%q: exit code %d, want 1", args, code)
		}
		if !strings.HasPrefix(stderr.String(), "virtual-piv: error: "+tc.args[0]) || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%q: stderr = %q, want %q", args, stderr.String(), tc.want)
		}
	}
}
