// Command virtual-piv inserts a virtual PIV card into pcscd's "Virtual PCD"
// reader, through the vpcd driver of Debian's vsmartcard-vpcd package.
//
// Every PC/SC client on the machine (piv-go, yubico-piv-tool, ykman, OpenSC)
// then sees a YubiKey-like card with factory defaults: PIN 123456, PUK
// 12345678 and the 3DES management key 010203040506070801020304050607080102030405060708.
// With --profile generic it sees a plain SP 800-73-4 card instead, whose
// management key no one knows, and with --profile trussed a Nitrokey 3's
// PIV application; --import provisions keys and certificates into either.
//
// Usage:
//
//	virtual-piv [--vpcd HOST:PORT] [--serial N] [--firmware X.Y.Z] [--state FILE]
//	            [--profile yubikey|generic|trussed] [--import SLOT=KEY.pem,CERT.pem]...
//	            [--compress-certs] [--t0] [--attestation-ca FILE] [--reader-ready]
//
// The card lives as long as the process; with --state its keys, objects and
// PIN state are kept in FILE across runs, and a restart with the same
// flags brings the same card back. With --attestation-ca, a test
// vendor root issues the card's attestation certificate, so that cards
// started with the same file share one attestation root, as YubiKeys share
// Yubico's. If vpcd is not listening yet, or
// the connection drops, virtual-piv connects again until it is stopped with
// SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/notation-piv/notation-piv/vsmartcard/card"
	"github.com/notation-piv/notation-piv/vsmartcard/vpcd"
)

const usage = `Usage: virtual-piv [options]

Insert a virtual PIV card into pcscd's vpcd reader ("Virtual PCD 00 00" on
port 35963, "Virtual PCD 00 01" on port 35964) and serve it until SIGINT or
SIGTERM. pcscd and the vsmartcard-vpcd driver must be installed; virtual-piv
waits for pcscd if it is not running yet.

Options:
  --vpcd HOST:PORT   vpcd driver address (default 127.0.0.1:35963)
  --serial N         card serial number for a new card (default 10000001)
  --firmware X.Y.Z   firmware version of a new yubikey card (default 5.7.1)
  --profile NAME     the kind of card (default yubikey):
                       yubikey  a YubiKey 5 with Yubico's PIV extensions
                       generic  a plain NIST SP 800-73-4 card: no YubiKey
                                extension (6D00), a management key no one
                                knows, fixed PIN policies (9a and 9d once,
                                9c always, 9e never), a CHUID whose GUID
                                comes from the serial number, a CCC
                       trussed  a Nitrokey 3 or Solo 2 (trussed's
                                piv-authenticator): version 6.6.6, serial
                                0052F743 on every card, no attestation
  --import SLOT=KEY.pem,CERT.pem
                     put a private key (PEM: PKCS #8, SEC 1 or PKCS #1)
                     and its certificate (PEM) into SLOT (9a, 9c, 9d, 9e,
                     82-95) of a new card; repeatable
  --compress-certs   store the certificates of --import gzip-compressed
                     (CertInfo 01), as many issued cards do
  --t0               offer T=0 only in the ATR, as many CAC and PIV cards
                     do (piv-go, which asks for T=1, cannot open the card)
  --state FILE       keep the card's state in FILE: load it if it exists,
                     create it otherwise, and save every change (mode 0600).
                     Started again with an existing FILE, the card is the
                     one in FILE; --serial, --firmware, --profile, --import
                     and --compress-certs must then agree with it
  --attestation-ca FILE
                     have the test vendor root in FILE (PEM: its certificate
                     and private key) issue the card's attestation
                     certificate (slot F9); FILE is created (mode 0600) if
                     missing. Cards started with one FILE share one root,
                     the trusted root for verifying their attestations
  --reader-ready     announce the card only once pcscd has it present

Once the card is connected (with --reader-ready: present in pcscd),
virtual-piv prints one line to stdout:
  virtual-piv: card <serial> ready on <HOST:PORT>

Examples:
  virtual-piv --state card.state --reader-ready &
  yubico-piv-tool -r "Virtual PCD 00 00" -a status

  # Two cards of one vendor, in both vpcd slots:
  virtual-piv --attestation-ca vendor.pem --serial 1001 &
  virtual-piv --attestation-ca vendor.pem --serial 1002 --vpcd 127.0.0.1:35964 &

  # An issued PIV card with a signing key and a compressed certificate:
  virtual-piv --profile generic --import 9c=sign.key,sign.crt --compress-certs &
`

// Reconnection backoff.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 2 * time.Second
	// pcscd polls a vpcd slot every 400 ms.
	confirmTimeout = 5 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("virtual-piv", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), usage) }
	addr := fs.String("vpcd", vpcd.DefaultAddr, "vpcd driver address")
	serial := fs.Uint64("serial", 10000001, "card serial number for a new card")
	firmware := fs.String("firmware", card.DefaultFirmware, "firmware version of a new yubikey card")
	profile := fs.String("profile", string(card.ProfileYubiKey), "the kind of card: yubikey, generic or trussed")
	var imports importFlags
	fs.Var(&imports, "import", "SLOT=KEY.pem,CERT.pem: a key and its certificate for a new card (repeatable)")
	compress := fs.Bool("compress-certs", false, "store imported certificates gzip-compressed")
	t0 := fs.Bool("t0", false, "offer T=0 only in the ATR")
	statePath := fs.String("state", "", "file that keeps the card's state")
	caPath := fs.String("attestation-ca", "", "test vendor root that issues the card's attestation certificate")
	readerReady := fs.Bool("reader-ready", false, "announce the card once pcscd has it present")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 1
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "virtual-piv: error: %v\n", err)
		return 1
	}
	if fs.NArg() > 0 {
		return fail(fmt.Errorf("unexpected argument %q; see virtual-piv --help", fs.Arg(0)))
	}
	if *serial > math.MaxUint32 {
		return fail(fmt.Errorf("--serial %d is larger than %d", *serial, uint64(math.MaxUint32)))
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })

	p, err := card.ParseProfile(*profile)
	if err != nil {
		return fail(fmt.Errorf("--profile: %w", err))
	}
	cfg := card.Config{Serial: uint32(*serial), Profile: p, CompressCerts: *compress, T0Only: *t0}
	if explicit["firmware"] {
		cfg.Firmware = *firmware
	}
	for _, v := range imports {
		imp, err := parseImport(v)
		if err != nil {
			return fail(err)
		}
		cfg.Imports = append(cfg.Imports, imp)
	}
	if *caPath != "" {
		ca, err := attestationCA(*caPath, stderr)
		if err != nil {
			return fail(err)
		}
		cfg.AttestationCA = ca
	}
	var c *card.Card
	if *statePath == "" {
		c, err = card.New(cfg)
	} else {
		c, err = openState(*statePath, cfg, explicit, imports, stderr)
	}
	if err != nil {
		return fail(err)
	}
	s := &server{addr: *addr, card: c, readerReady: *readerReady, stdout: stdout, stderr: stderr}
	s.run(ctx)
	return 0
}

// openState loads the card saved in path, or creates a new card and saves
// it there. Every change to the card is saved to path. A loaded card must
// agree with the flags given explicitly, which explicit names, and with
// every --import, whose values are importFlags.
func openState(path string, cfg card.Config, explicit map[string]bool, importFlags []string, stderr io.Writer) (*card.Card, error) {
	cfg.Persist = func(snapshot []byte) error {
		if err := writeFileAtomic(path, snapshot); err != nil {
			fmt.Fprintf(stderr, "virtual-piv: error: %v\n", err)
			return err
		}
		return nil
	}
	snapshot, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		c, err := card.New(cfg)
		if err != nil {
			return nil, fmt.Errorf("create card with state file %s: %w", path, err)
		}
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	c, err := card.Load(cfg, snapshot)
	if err != nil {
		return nil, fmt.Errorf("load state file %s: %w", path, err)
	}
	if err := checkStoredCard(c, cfg, explicit, importFlags, path); err != nil {
		return nil, err
	}
	return c, nil
}

// checkStoredCard reports the first flag that asks for something else
// than the card loaded from the state file at path holds.
func checkStoredCard(c *card.Card, cfg card.Config, explicit map[string]bool, importFlags []string, path string) error {
	conflict := func(flag, given, stored string) error {
		return fmt.Errorf("%s %s conflicts with state file %s, which holds a card with %s %s; "+
			"give the same value, leave the flag out, or use another --state file", flag, given, path, flag, stored)
	}
	switch {
	case explicit["serial"] && c.Serial() != cfg.Serial:
		return conflict("--serial", strconv.FormatUint(uint64(cfg.Serial), 10), strconv.FormatUint(uint64(c.Serial()), 10))
	case explicit["profile"] && c.Profile() != cfg.Profile:
		return conflict("--profile", string(cfg.Profile), string(c.Profile()))
	case explicit["firmware"] && c.Firmware() != cfg.Firmware:
		stored := c.Firmware()
		if stored == "" {
			stored = "(none: a " + string(c.Profile()) + " card)"
		}
		return conflict("--firmware", cfg.Firmware, stored)
	}
	for i, imp := range cfg.Imports {
		if err := c.CheckImports([]card.Import{imp}, cfg.CompressCerts); err != nil {
			with := "without"
			if cfg.CompressCerts {
				with = "with"
			}
			return fmt.Errorf("--import %s (%s --compress-certs) conflicts with state file %s: %v; "+
				"give the flags the card was created with, or use another --state file", importFlags[i], with, path, err)
		}
	}
	return nil
}

// server keeps a card connected to vpcd.
type server struct {
	addr           string
	card           *card.Card
	readerReady    bool // announce the card only once pcscd has it present
	stdout, stderr io.Writer
	announced      bool
}

// run keeps the card connected until ctx ends, connecting again with
// backoff whenever vpcd is unreachable or the connection ends.
func (s *server) run(ctx context.Context) {
	waiting := false // "waiting for vpcd" was printed for this outage
	backoff := minBackoff
	for {
		conn, err := vpcd.Connect(ctx, s.addr, s.card)
		if err == nil {
			waiting = false
			err = s.serve(ctx, conn)
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, vpcd.ErrCardRemoved) {
				fmt.Fprintln(s.stderr, "virtual-piv: card removed from the reader; inserting it again")
				s.confirmRemoval(ctx)
			} else {
				fmt.Fprintf(s.stderr, "virtual-piv: connection to vpcd lost: %v; connecting again\n", err)
			}
			select {
			case <-conn.Ready():
				backoff = minBackoff // pcscd used the card: not a connect-and-drop loop
			default:
			}
		} else {
			if ctx.Err() != nil {
				return
			}
			if !waiting {
				fmt.Fprintf(s.stderr, "virtual-piv: waiting for vpcd at %s: %v\n", s.addr, err)
				waiting = true
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// confirmRemoval makes sure pcscd has seen the card leave before it comes
// back, so that clients learn it was removed. Failing that (vpcd gone, or
// pcscd not polling), the card is inserted again all the same.
func (s *server) confirmRemoval(ctx context.Context) {
	confirmCtx, cancel := context.WithTimeout(ctx, confirmTimeout)
	defer cancel()
	if err := vpcd.ConfirmRemoval(confirmCtx, s.addr); err != nil && ctx.Err() == nil {
		fmt.Fprintf(s.stderr, "virtual-piv: %v\n", err)
	}
}

// serve serves one connection and announces the card on stdout the first
// time it is connected (or, with readerReady, present in pcscd).
func (s *server) serve(ctx context.Context, conn *vpcd.Conn) error {
	done := make(chan error, 1)
	go func() { done <- conn.Serve(ctx) }()
	var ready <-chan struct{} // nil: nothing to announce
	switch {
	case s.announced:
	case s.readerReady:
		ready = conn.Ready()
	default:
		ready = closed
	}
	for {
		select {
		case <-ready:
			fmt.Fprintf(s.stdout, "virtual-piv: card %d ready on %s\n", s.card.Serial(), s.addr)
			s.announced = true
			ready = nil
		case err := <-done:
			return err
		}
	}
}

// closed is a closed channel: a receive from it never blocks.
var closed = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()
