package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/notation-piv/notation-piv/vsmartcard/card"
)

// These tests put cards of the generic and trussed profiles, provisioned
// with Config.Imports, into the reader and drive them with clients no one
// here wrote.

// provision makes a P-256 key and a certificate for it, named after the
// slot, writes the certificate to dir/<slot>.crt, and returns the import.
func provision(t *testing.T, dir string, slot byte) card.Import {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("%02x", slot)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(int64(slot)),
		Subject:      pkix.Name{CommonName: "imported " + name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return card.Import{Slot: slot, Key: key, Certificate: der}
}

// newProfileCard creates a card of cfg's profile holding keys and
// certificates for 9a and 9c, whose certificates are in dir.
func newProfileCard(t *testing.T, dir string, cfg card.Config) *card.Card {
	t.Helper()
	cfg.Imports = []card.Import{provision(t, dir, 0x9A), provision(t, dir, 0x9C)}
	c, err := card.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestOpenSCOnOtherProfiles lists and signs with OpenSC's PKCS#11 module
// on generic cards (with plain and compressed certificates, and offering
// T=0 alone) and on a trussed card, and verifies every ECDSA signature
// with openssl against the public key of the imported certificate.
func TestOpenSCOnOtherProfiles(t *testing.T) {
	for _, cfg := range []card.Config{
		{Serial: 2001, Profile: card.ProfileGeneric},
		{Serial: 2002, Profile: card.ProfileGeneric, CompressCerts: true},
		{Serial: 2003, Profile: card.ProfileGeneric, T0Only: true},
		{Serial: 2004, Profile: card.ProfileTrussed, CompressCerts: true},
	} {
		name := fmt.Sprintf("%s compressed=%t t0=%t", cfg.Profile, cfg.CompressCerts, cfg.T0Only)
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			module := pkcs11Module(t)
			swapIn(t, newProfileCard(t, dir, cfg))
			if err := os.WriteFile(filepath.Join(dir, "msg"), []byte("signed through OpenSC on a "+name+" card\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			objects := tool(t, dir, "pkcs11-tool", "--module", module, "--list-objects")
			for _, want := range []string{"CN=imported 9a", "CN=imported 9c", "PIV AUTH pubkey", "SIGN pubkey"} {
				if !strings.Contains(objects, want) {
					t.Errorf("object list lacks %q:\n%s", want, objects)
				}
			}
			for _, key := range []struct{ id, slot string }{{"01", "9a"}, {"02", "9c"}} {
				tool(t, dir, "pkcs11-tool", "--module", module, "--login", "--pin", card.DefaultPIN, "--sign",
					"--id", key.id, "-m", "ECDSA-SHA256", "--signature-format", "openssl", "-i", "msg", "-o", key.slot+".sig")
				tool(t, dir, "openssl", "x509", "-in", key.slot+".crt", "-pubkey", "-noout", "-out", key.slot+".pub")
				tool(t, dir, "openssl", "dgst", "-sha256", "-verify", key.slot+".pub", "-signature", key.slot+".sig", "msg")
			}
			// The 9c signature does not verify with the 9a key: the
			// checks above can fail.
			cmd := exec.Command("openssl", "dgst", "-sha256", "-verify", "9a.pub", "-signature", "9c.sig", "msg")
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err == nil {
				t.Errorf("openssl verified the 9c signature with the 9a key:\n%s", out)
			}
		})
	}
}

// TestOpenSCToolGetVersion sends SELECT and GET VERSION with opensc-tool:
// a generic card refuses GET VERSION with 6D00, a trussed card says 6.6.6.
func TestOpenSCToolGetVersion(t *testing.T) {
	for _, tc := range []struct {
		profile card.Profile
		want    string
	}{
		{card.ProfileGeneric, "Received (SW1=0x6D, SW2=0x00)"},
		{card.ProfileTrussed, "Received (SW1=0x90, SW2=0x00):\n06 06 06"},
	} {
		t.Run(string(tc.profile), func(t *testing.T) {
			c, err := card.New(card.Config{Serial: 2010, Profile: tc.profile})
			if err != nil {
				t.Fatal(err)
			}
			swapIn(t, c)
			out := tool(t, t.TempDir(), "opensc-tool", "-r", readerIndex(t), "-s", "00A4040005A000000308", "-s", "00FD000000")
			if n := strings.Count(out, "Received (SW1=0x90, SW2=0x00)"); !strings.Contains(out, tc.want) || n < 1 {
				t.Errorf("opensc-tool printed\n%s\nwant SELECT answered 9000 and %q", out, tc.want)
			}
		})
	}
}

// readerIndex returns opensc-tool's number for the virtual card's reader.
func readerIndex(t *testing.T) string {
	t.Helper()
	out := tool(t, t.TempDir(), "opensc-tool", "--list-readers")
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, env.Reader) {
			if f := strings.Fields(line); len(f) > 0 {
				return f[0]
			}
		}
	}
	t.Fatalf("opensc-tool does not list %q:\n%s", env.Reader, out)
	return ""
}

// TestPivGoOnOtherProfiles shows what piv-go, a YubiKey library, makes of
// the other profiles: it cannot open a generic card (GET VERSION is
// refused) nor a card that offers T=0 alone; it opens a trussed card,
// which says version 6.6.6 and serial 0052F743, cannot attest, and whose
// empty GET METADATA makes piv-go panic in GenerateKey.
func TestPivGoOnOtherProfiles(t *testing.T) {
	for _, tc := range []struct {
		cfg  card.Config
		want string
	}{
		{card.Config{Serial: 2020, Profile: card.ProfileGeneric}, "getting yubikey version: command failed: smart card error 6d00"},
		{card.Config{Serial: 2021, Profile: card.ProfileYubiKey, T0Only: true}, "the requested protocols are incompatible"},
	} {
		t.Run(fmt.Sprintf("%s t0=%t", tc.cfg.Profile, tc.cfg.T0Only), func(t *testing.T) {
			swapIn(t, newProfileCard(t, t.TempDir(), tc.cfg))
			if yk, err := piv.Open(env.Reader); err == nil {
				yk.Close()
				t.Error("piv-go opened the card")
			} else if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("piv-go: %v; want %q", err, tc.want)
			}
		})
	}
	t.Run("trussed", testPivGoOnTrussed)
}

func testPivGoOnTrussed(t *testing.T) {
	swapIn(t, newProfileCard(t, t.TempDir(), card.Config{Serial: 2022, Profile: card.ProfileTrussed}))
	yk, err := piv.Open(env.Reader)
	if err != nil {
		t.Fatalf("piv-go on a trussed card: %v", err)
	}
	defer yk.Close()
	if v := yk.Version(); v != (piv.Version{Major: 6, Minor: 6, Patch: 6}) {
		t.Errorf("version %v, want 6.6.6", v)
	}
	if s, err := yk.Serial(); err != nil || s != 0x0052F743 {
		t.Errorf("serial %d, %v; want %d", s, err, 0x0052F743)
	}
	if _, err := yk.Attest(piv.SlotSignature); err == nil || !strings.Contains(err.Error(), "6a81") {
		t.Errorf("attest: %v; want 6a81", err)
	}
	cert, err := yk.Certificate(piv.SlotSignature)
	if err != nil || cert.Subject.CommonName != "imported 9c" {
		t.Errorf("certificate in 9c: %v, %v", cert, err)
	}
	panicked := func() (msg string) {
		defer func() {
			if r := recover(); r != nil {
				msg = fmt.Sprint(r)
			}
		}()
		yk.GenerateKey(piv.DefaultManagementKey, piv.SlotAuthentication, piv.Key{Algorithm: piv.AlgorithmEC256})
		return ""
	}()
	if !strings.Contains(panicked, "slice bounds out of range") {
		t.Errorf("piv-go GenerateKey on a trussed card: panic %q, want slice bounds out of range", panicked)
	}
}
