package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notation-piv/notation-piv/vsmartcard/card"
)

// lines collects what run writes, one Write per line.
type lines struct {
	ch chan string
}

func newLines() *lines { return &lines{ch: make(chan string, 100)} }

func (l *lines) Write(p []byte) (int, error) {
	l.ch <- string(p)
	return len(p), nil
}

// next returns the next line, or fails the test after d.
func (l *lines) next(t *testing.T, d time.Duration) string {
	t.Helper()
	select {
	case s := <-l.ch:
		return s
	case <-time.After(d):
		t.Fatalf("no output within %v", d)
		return ""
	}
}

// none fails the test if a line arrives within d.
func (l *lines) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case s := <-l.ch:
		t.Fatalf("unexpected output %q", s)
	case <-time.After(d):
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// fakeVPCD is the vpcd driver's side: it listens for the card.
type fakeVPCD struct {
	t  *testing.T
	ln net.Listener
}

func listen(t *testing.T, addr string) *fakeVPCD {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &fakeVPCD{t: t, ln: ln}
}

func (v *fakeVPCD) addr() string { return v.ln.Addr().String() }

// accept waits for the card to connect.
func (v *fakeVPCD) accept() net.Conn {
	v.t.Helper()
	v.ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	c, err := v.ln.Accept()
	if err != nil {
		v.t.Fatalf("card did not connect: %v", err)
	}
	v.t.Cleanup(func() { c.Close() })
	return c
}

// exchange sends one message and, unless it is a power event, returns the
// answer.
func exchange(t *testing.T, c net.Conn, msg ...byte) []byte {
	t.Helper()
	frame := binary.BigEndian.AppendUint16(nil, uint16(len(msg)))
	if _, err := c.Write(append(frame, msg...)); err != nil {
		t.Fatalf("write: %v", err)
	}
	if len(msg) == 1 && msg[0] != 0x04 {
		return nil
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hdr [2]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatalf("read answer: %v", err)
	}
	resp := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(c, resp); err != nil {
		t.Fatalf("read answer: %v", err)
	}
	return resp
}

// startRun runs the command in the background until the test ends and
// returns its stdout, its stderr and a function that stops it and returns
// its exit code.
func startRun(t *testing.T, args ...string) (*lines, *syncBuffer, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	stdout, stderr := newLines(), &syncBuffer{}
	code := make(chan int, 1)
	go func() { code <- run(ctx, args, stdout, stderr) }()
	var once sync.Once
	var exit int
	stop := func() int {
		once.Do(func() {
			cancel()
			select {
			case exit = <-code:
			case <-time.After(5 * time.Second):
				t.Fatal("run did not return after cancel")
			}
		})
		return exit
	}
	t.Cleanup(func() { stop() })
	return stdout, stderr, stop
}

func TestAnnounceOnConnect(t *testing.T) {
	v := listen(t, "127.0.0.1:0")
	stdout, _, stop := startRun(t, "--vpcd", v.addr(), "--serial", "4242")
	c := v.accept()

	want := "virtual-piv: card 4242 ready on " + v.addr() + "\n"
	if got := stdout.next(t, 5*time.Second); got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if atr := exchange(t, c, 0x04); len(atr) == 0 || atr[0] != 0x3B {
		t.Errorf("ATR = % x, want an ATR starting with 3B", atr)
	}
	if code := stop(); code != 0 {
		t.Errorf("exit code after cancel = %d, want 0", code)
	}
}

func TestAnnounceWhenReaderReady(t *testing.T) {
	v := listen(t, "127.0.0.1:0")
	stdout, _, _ := startRun(t, "--vpcd", v.addr(), "--reader-ready")
	c := v.accept()

	exchange(t, c, 0x04) // presence poll: pcscd sees the card
	exchange(t, c, 0x01) // pcscd powers it up...
	exchange(t, c, 0x04) // ...and reads the ATR
	stdout.none(t, 200*time.Millisecond)
	exchange(t, c, 0x04) // next poll: the card is present for clients
	want := "virtual-piv: card 10000001 ready on " + v.addr() + "\n"
	if got := stdout.next(t, 5*time.Second); got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
}

func TestReconnect(t *testing.T) {
	// Nothing listens yet, as when pcscd is still starting.
	v := listen(t, "127.0.0.1:0")
	addr := v.addr()
	v.ln.Close()
	stdout, stderr, _ := startRun(t, "--vpcd", addr)
	time.Sleep(300 * time.Millisecond)
	if !strings.Contains(stderr.String(), "virtual-piv: waiting for vpcd at "+addr) {
		t.Errorf("stderr = %q, want a waiting message", stderr)
	}

	v = listen(t, addr)
	c := v.accept()
	stdout.next(t, 5*time.Second)

	// vpcd drops the connection (pcscd stopped): the card comes back.
	c.Close()
	c = v.accept()
	if atr := exchange(t, c, 0x04); len(atr) == 0 {
		t.Error("no ATR after reconnecting")
	}
	if !strings.Contains(stderr.String(), "connection to vpcd lost") {
		t.Errorf("stderr = %q, want a lost-connection message", stderr)
	}
	stdout.none(t, 200*time.Millisecond) // announced once only
}

func TestStateFile(t *testing.T) {
	state := filepath.Join(t.TempDir(), "card.state")
	v := listen(t, "127.0.0.1:0")
	verifyPIN := func(c net.Conn, pin string) []byte {
		pin += strings.Repeat("\xFF", 8-len(pin))
		return exchange(t, c, append([]byte{0x00, 0x20, 0x00, 0x80, 0x08}, pin...)...)
	}
	pinStatus := []byte{0x00, 0x20, 0x00, 0x80, 0x00}

	// A new card is saved at once, and again after a wrong PIN.
	stdout, stderr, stop := startRun(t, "--vpcd", v.addr(), "--state", state, "--serial", "77")
	c := v.accept()
	stdout.next(t, 5*time.Second)
	exchange(t, c, 0x01)
	if sw := verifyPIN(c, "999999"); !bytes.Equal(sw, []byte{0x63, 0xC2}) {
		t.Fatalf("wrong PIN: SW % x, want 63 c2", sw)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit code %d; stderr: %s", code, stderr)
	}
	fi, err := os.Stat(state)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode = %v, want 0600", fi.Mode().Perm())
	}

	// The card comes back with its serial and the spent PIN try.
	stdout, _, _ = startRun(t, "--vpcd", v.addr(), "--state", state)
	c = v.accept()
	if got, want := stdout.next(t, 5*time.Second), "virtual-piv: card 77 ready"; !strings.HasPrefix(got, want) {
		t.Errorf("stdout = %q, want it to start with %q", got, want)
	}
	exchange(t, c, 0x01)
	if sw := exchange(t, c, pinStatus...); !bytes.Equal(sw, []byte{0x63, 0xC2}) {
		t.Errorf("PIN status after reload: SW % x, want 63 c2", sw)
	}

	// No temporary files are left next to the state file.
	entries, err := os.ReadDir(filepath.Dir(state))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("state directory holds %d files, want 1", len(entries))
	}
}

func TestErrors(t *testing.T) {
	state := filepath.Join(t.TempDir(), "card.state")
	if err := os.WriteFile(state, []byte("not a snapshot"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--serial", "4294967296"}, "virtual-piv: error: --serial 4294967296 is larger than 4294967295\n"},
		{[]string{"--firmware", "5.x"}, "virtual-piv: error: firmware version"},
		{[]string{"extra"}, `virtual-piv: error: unexpected argument "extra"`},
		{[]string{"--state", state}, "virtual-piv: error: load state file " + state},
		{[]string{"--profile", "nitrokey"}, `virtual-piv: error: --profile: unknown card profile "nitrokey"`},
		{[]string{"--profile", "generic", "--firmware", "5.7.1"}, "only the yubikey profile has a configurable firmware version"},
		{[]string{"--no-such-flag"}, "flag provided but not defined"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), tc.args, &stdout, &stderr); code != 1 {
			t.Errorf("run %q: exit code %d, want 1", tc.args, code)
		}
		if !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("run %q: stderr = %q, want %q", tc.args, stderr.String(), tc.want)
		}
		if stdout.Len() != 0 {
			t.Errorf("run %q: stdout = %q, want nothing", tc.args, stdout.String())
		}
	}
}

func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"--help"}, &stdout, &stderr); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if !strings.HasPrefix(stderr.String(), "Usage: virtual-piv [options]") {
		t.Errorf("stderr = %q, want the usage text", stderr.String())
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	for _, data := range []string{"first", "second"} {
		if err := writeFileAtomic(path, []byte(data)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != data {
			t.Errorf("file holds %q, want %q", got, data)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d files, want 1", len(entries))
	}
	if err := writeFileAtomic(filepath.Join(dir, "missing", "state"), nil); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

func TestCardRemovedByFault(t *testing.T) {
	c, err := card.New(card.Config{Serial: 31})
	if err != nil {
		t.Fatal(err)
	}
	c.InjectFault(card.Fault{Disconnect: true, Times: 1})
	v := listen(t, "127.0.0.1:0")
	stderr := &syncBuffer{}
	s := &server{addr: v.addr(), card: c, stdout: newLines(), stderr: stderr}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		s.run(ctx)
		close(done)
	}()
	defer func() {
		cancel()
		<-done
	}()

	// The card drops out in the middle of a command.
	conn := v.accept()
	conn.Write([]byte{0x00, 0x05, 0x00, 0xFD, 0x00, 0x00, 0x00})
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := conn.Read(make([]byte, 10)); err != io.EOF {
		t.Fatalf("after the fault: read %d bytes, %v; want EOF", n, err)
	}
	// pcscd's next poll is answered with "no card"...
	probe := v.accept()
	if answer := exchange(t, probe, 0x04); len(answer) != 0 {
		t.Errorf("presence poll after removal answered % x, want an empty answer", answer)
	}
	// ...and then the card is back.
	conn = v.accept()
	if sw := exchange(t, conn, 0x00, 0xFD, 0x00, 0x00, 0x00); !bytes.HasSuffix(sw, []byte{0x90, 0x00}) {
		t.Errorf("GET VERSION after reinsertion: % x, want 90 00 at the end", sw)
	}
	if !strings.Contains(stderr.String(), "virtual-piv: card removed from the reader") {
		t.Errorf("stderr = %q, want a removal message", stderr)
	}
}

// readF9 reads the card's attestation certificate (object 5FFF01) through
// the fake vpcd.
func readF9(t *testing.T, c net.Conn) *x509.Certificate {
	t.Helper()
	exchange(t, c, 0x01)
	// GET DATA 5FFF01 as an extended APDU, so that no GET RESPONSE is needed.
	resp := exchange(t, c, 0x00, 0xCB, 0x3F, 0xFF, 0x00, 0x00, 0x05, 0x5C, 0x03, 0x5F, 0xFF, 0x01, 0x00, 0x00)
	if len(resp) < 2 || !bytes.Equal(resp[len(resp)-2:], []byte{0x90, 0x00}) {
		t.Fatalf("GET DATA 5FFF01: % x", resp)
	}
	// 53 L { 70 L cert, ... }: find the certificate's SEQUENCE.
	i := bytes.Index(resp, []byte{0x70, 0x82})
	if i < 0 {
		t.Fatalf("no certificate in % x", resp)
	}
	n := int(resp[i+2])<<8 | int(resp[i+3])
	cert, err := x509.ParseCertificate(resp[i+4 : i+4+n])
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestAttestationCA starts a card with a missing --attestation-ca file,
// which is created, and one with the file that now exists: both cards'
// attestation certificates are issued by the root in the file.
func TestAttestationCA(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vendor.pem")
	v := listen(t, "127.0.0.1:0")

	var roots []*x509.Certificate
	for i, serial := range []string{"1001", "1002"} {
		stdout, stderr, stop := startRun(t, "--vpcd", v.addr(), "--serial", serial, "--attestation-ca", path)
		c := v.accept()
		stdout.next(t, 5*time.Second)
		f9 := readF9(t, c)
		if code := stop(); code != 0 {
			t.Fatalf("exit code %d; stderr: %s", code, stderr)
		}
		created := strings.Contains(stderr.String(), "virtual-piv: created test vendor root "+path)
		if created != (i == 0) {
			t.Errorf("card %s: stderr = %q", serial, stderr)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		ca, err := card.ParseAttestationCA(data)
		if err != nil {
			t.Fatal(err)
		}
		if err := f9.CheckSignatureFrom(ca.Certificate); err != nil {
			t.Errorf("card %s: attestation certificate not issued by the vendor root: %v", serial, err)
		}
		if !strings.Contains(f9.Subject.CommonName, serial) {
			t.Errorf("card %s: attestation certificate subject %q", serial, f9.Subject.CommonName)
		}
		roots = append(roots, ca.Certificate)
	}
	if !roots[0].Equal(roots[1]) {
		t.Error("the second card got another root")
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("attestation CA file mode = %v, want 0600", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d files, want the attestation CA file only", len(entries))
	}
}

// TestAttestationCAConcurrent creates one missing file from several
// processes' worth of callers at once: all get the same root.
func TestAttestationCAConcurrent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vendor.pem")
	const n = 8
	cas := make([]*card.AttestationCA, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cas[i], errs[i] = attestationCA(path, io.Discard)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if !cas[i].Certificate.Equal(cas[0].Certificate) {
			t.Errorf("caller %d got another root", i)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d files, want 1", len(entries))
	}
}

func TestAttestationCARefused(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "vendor.pem")
	if _, err := attestationCA(good, io.Discard); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.pem")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "dangling.pem")
	target := filepath.Join(dir, "target.pem")
	if err := os.Symlink(target, dangling); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	large := filepath.Join(dir, "large.pem")
	if err := os.WriteFile(large, make([]byte, maxAttestationCAFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, want string
	}{
		{link, "virtual-piv: error: attestation CA file " + link + " is a symbolic link"},
		{dangling, "virtual-piv: error: attestation CA file " + dangling + " is a symbolic link"},
		{dir, "virtual-piv: error: attestation CA file " + dir + " is not a regular file"},
		{garbage, "virtual-piv: error: attestation CA file " + garbage + ": want one CERTIFICATE and one PRIVATE KEY"},
		{large, "virtual-piv: error: attestation CA file " + large + " is more than 65536 bytes"},
		{filepath.Join(dir, "missing", "vendor.pem"), "virtual-piv: error: create attestation CA file:"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), []string{"--attestation-ca", tc.path}, &stdout, &stderr); code != 1 {
			t.Errorf("%s: exit code %d, want 1", tc.path, code)
		}
		if !strings.HasPrefix(stderr.String(), tc.want) {
			t.Errorf("%s: stderr = %q, want %q", tc.path, stderr.String(), tc.want)
		}
	}
	if _, err := os.Lstat(target); err == nil {
		t.Error("a file was created through the dangling symbolic link")
	}
}

// TestAttestationCAWithState starts a saved card, made without a vendor
// root, with --attestation-ca: the vendor root certifies its attestation
// key, and the state file keeps the new certificate.
func TestAttestationCAWithState(t *testing.T) {
	dir := t.TempDir()
	state, caPath := filepath.Join(dir, "card.state"), filepath.Join(dir, "vendor.pem")
	v := listen(t, "127.0.0.1:0")
	stdout, _, stop := startRun(t, "--vpcd", v.addr(), "--state", state)
	c := v.accept()
	stdout.next(t, 5*time.Second)
	own := readF9(t, c)
	stop()

	var issued []*x509.Certificate
	for range 2 {
		stdout, stderr, stop := startRun(t, "--vpcd", v.addr(), "--state", state, "--attestation-ca", caPath)
		c = v.accept()
		stdout.next(t, 5*time.Second)
		f9 := readF9(t, c)
		if code := stop(); code != 0 {
			t.Fatalf("exit code %d; stderr: %s", code, stderr)
		}
		ca, err := attestationCA(caPath, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if err := f9.CheckSignatureFrom(ca.Certificate); err != nil {
			t.Errorf("attestation certificate not issued by the vendor root: %v", err)
		}
		if !bytes.Equal(f9.RawSubjectPublicKeyInfo, own.RawSubjectPublicKeyInfo) {
			t.Error("the card's attestation key changed")
		}
		issued = append(issued, f9)
	}
	if !issued[0].Equal(issued[1]) {
		t.Error("the state file did not keep the vendor's attestation certificate")
	}
}
