package vcardtest_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"flag"
	"fmt"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/ebfe/scard"
	"github.com/go-piv/piv-go/v2/piv"

	"github.com/notation-piv/notation-piv/vsmartcard/card"
	"github.com/notation-piv/notation-piv/vsmartcard/vcardtest"
)

const serial = 1234

// env is nil when this machine cannot run virtual card tests; the unit
// tests of this package run anyway.
var env *vcardtest.Env

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // needEnv skips every test
	}
	var err error
	env, err = vcardtest.Start(vcardtest.Options{Config: card.Config{Serial: serial}})
	if err != nil {
		if code := vcardtest.SkipOrFail(err); code != 0 {
			os.Exit(code)
		}
	}
	code := m.Run()
	if env != nil {
		if err := env.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

func needEnv(t *testing.T) {
	t.Helper()
	if env == nil {
		t.Skip("no virtual card: go test -short, or this machine cannot run card tests (TestMain said why)")
	}
}

// openSerial opens the card in reader and returns its serial number.
func openSerial(t *testing.T, reader string) uint32 {
	t.Helper()
	yk, err := piv.Open(reader)
	if err != nil {
		t.Fatalf("open %q: %v", reader, err)
	}
	defer yk.Close()
	s, err := yk.Serial()
	if err != nil {
		t.Fatalf("serial: %v", err)
	}
	return s
}

func TestOpen(t *testing.T) {
	needEnv(t)
	env.Card.ResetStats()
	yk, err := piv.Open(env.Reader)
	if err != nil {
		t.Fatalf("open %q: %v", env.Reader, err)
	}
	defer yk.Close()
	if got, want := yk.Version(), (piv.Version{Major: 5, Minor: 7, Patch: 1}); got != want {
		t.Errorf("version = %v, want %v", got, want)
	}
	if s, err := yk.Serial(); err != nil || s != serial {
		t.Errorf("serial = %d, %v; want %d", s, err, serial)
	}
	// The in-process card answered: SELECT, GET VERSION, GET SERIAL.
	if n := env.Card.Stats().Commands; n < 3 {
		t.Errorf("card answered %d commands, want at least 3", n)
	}
}

func TestFaultRemovesCard(t *testing.T) {
	needEnv(t)
	defer env.Card.ClearFaults()
	// Drop the card at GET VERSION, after the SELECT in piv.Open: piv-go
	// closes its handle on that path.
	env.Card.InjectFault(card.Fault{INS: 0xFD, Disconnect: true, Times: 1})
	if yk, err := piv.Open(env.Reader); err == nil {
		yk.Close()
		t.Fatal("open succeeded while the card dropped out")
	}
	if err := env.Reinsert(); err != nil {
		t.Fatalf("reinsert: %v", err)
	}
	if s := openSerial(t, env.Reader); s != serial {
		t.Errorf("serial after reinsert = %d, want %d", s, serial)
	}
}

func TestRemove(t *testing.T) {
	needEnv(t)
	if err := env.Remove(); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if yk, err := piv.Open(env.Reader); err == nil {
		yk.Close()
		t.Fatal("open succeeded with the card removed")
	}
	if err := env.Reinsert(); err != nil {
		t.Fatalf("reinsert: %v", err)
	}
	openSerial(t, env.Reader)
}

func TestReinsertRepeatedly(t *testing.T) {
	needEnv(t)
	for i := range 3 {
		if err := env.Reinsert(); err != nil {
			t.Fatalf("reinsert %d: %v", i, err)
		}
		openSerial(t, env.Reader)
	}
}

func TestSwap(t *testing.T) {
	needEnv(t)
	old := env.Card
	fresh, err := card.New(card.Config{Serial: 5678})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Swap(fresh); err != nil {
		t.Fatalf("swap: %v", err)
	}
	defer func() {
		if err := env.Swap(old); err != nil {
			t.Errorf("swap back: %v", err)
		}
	}()
	if s := openSerial(t, env.Reader); s != 5678 {
		t.Errorf("serial after swap = %d, want 5678", s)
	}
}

func TestSecondSlot(t *testing.T) {
	needEnv(t)
	env2, err := vcardtest.Start(vcardtest.Options{
		Port:   vcardtest.SecondPort,
		Config: card.Config{Serial: 9999},
	})
	if err != nil {
		t.Fatalf("start second card: %v", err)
	}
	defer func() {
		if err := env2.Close(); err != nil {
			t.Errorf("close second card: %v", err)
		}
	}()
	if env2.Reader != "Virtual PCD 00 01" {
		t.Errorf("second reader = %q, want %q", env2.Reader, "Virtual PCD 00 01")
	}
	if env2.PCSCDLog != "" {
		t.Errorf("second environment started its own pcscd (log %s)", env2.PCSCDLog)
	}
	// Both cards at once, each in its own reader. pcscd may still be
	// letting go of the last test's connection to the first card.
	var yk1 *piv.YubiKey
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if yk1, err = piv.Open(env.Reader); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("open %q: %v", env.Reader, err)
	}
	defer yk1.Close()
	if s := openSerial(t, env2.Reader); s != 9999 {
		t.Errorf("serial in second reader = %d, want 9999", s)
	}
	if s, err := yk1.Serial(); err != nil || s != serial {
		t.Errorf("serial in first reader = %d, %v; want %d", s, err, serial)
	}
}

// TestProfileCards starts cards of the other profiles, provisioned with
// Options.Config, in the second reader, and reads them through pcscd with
// plain PC/SC: the CHUID of a generic card offering T=0 alone, and a
// trussed card's certificate, stored compressed.
func TestProfileCards(t *testing.T) {
	needEnv(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "imported"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cfg      card.Config
		protocol scard.Protocol
		apdu     string
		want     []byte
	}{
		{card.Config{Serial: 4711, Profile: card.ProfileGeneric, T0Only: true}, scard.ProtocolT0,
			"00CB3FFF055C035FC10200", guid(4711)},
		{card.Config{Serial: 4712, Profile: card.ProfileTrussed, CompressCerts: true,
			Imports: []card.Import{{Slot: 0x9C, Key: key, Certificate: der}}}, scard.ProtocolT1,
			"00CB3FFF055C035FC10A00", []byte{0x71, 0x01, 0x01, 0xFE, 0x00}},
	} {
		t.Run(string(tc.cfg.Profile), func(t *testing.T) {
			env2, err := vcardtest.Start(vcardtest.Options{Port: vcardtest.SecondPort, Config: tc.cfg})
			if err != nil {
				t.Fatalf("start %s card: %v", tc.cfg.Profile, err)
			}
			// Closed even when transmit fails, so that the second reader
			// is free for the next card.
			defer func() {
				if err := env2.Close(); err != nil {
					t.Errorf("close %s card: %v", tc.cfg.Profile, err)
				}
			}()
			got := transmit(t, env2.Reader, tc.protocol, tc.apdu)
			if !bytes.Contains(got, tc.want) || !bytes.HasSuffix(got, []byte{0x90, 0x00}) {
				t.Errorf("%s card answered %x, want %x in it", tc.cfg.Profile, got, tc.want)
			}
		})
	}
}

// guid returns the CHUID's GUID object of a generic card.
func guid(serial uint32) []byte {
	g := card.GUIDOf(serial)
	return append([]byte{0x34, 0x10}, g[:]...)
}

// transmit connects to reader with protocol, sends a short APDU in hex and
// collects the answer through GET RESPONSE.
func transmit(t *testing.T, reader string, protocol scard.Protocol, apdu string) []byte {
	t.Helper()
	ctx, err := scard.EstablishContext()
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Release()
	h, err := ctx.Connect(reader, scard.ShareShared, protocol)
	if err != nil {
		t.Fatalf("connect %q: %v", reader, err)
	}
	defer h.Disconnect(scard.LeaveCard)
	cmd, err := hex.DecodeString(apdu)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for {
		resp, err := h.Transmit(cmd)
		if err != nil || len(resp) < 2 {
			t.Fatalf("transmit %x: %x, %v", cmd, resp, err)
		}
		n := len(resp) - 2
		out = append(out, resp[:n]...)
		if resp[n] != 0x61 {
			return append(out, resp[n:]...)
		}
		cmd = []byte{0x00, 0xC0, 0x00, 0x00, resp[n+1]}
	}
}
