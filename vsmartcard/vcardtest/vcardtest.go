// Package vcardtest puts a virtual PIV card into a real pcscd for
// integration tests: every PC/SC client (piv-go, the plugin, yubico-piv-tool,
// OpenSC) then talks to an in-process [card.Card] through the vpcd reader
// driver.
//
// A test package starts one environment in TestMain:
//
//	var env *vcardtest.Env
//
//	func TestMain(m *testing.M) {
//		var err error
//		env, err = vcardtest.Start(vcardtest.Options{Config: card.Config{Serial: 1234}})
//		if err != nil {
//			os.Exit(vcardtest.SkipOrFail(err))
//		}
//		code := m.Run()
//		if err := env.Close(); err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			code = 1
//		}
//		os.Exit(code)
//	}
//
// Start uses the pcscd that is running, or starts one (which needs root)
// and stops it again in Close. pcscd has one socket per machine and vpcd two
// card slots, so at most two environments may run at a time, one per port:
// run integration test packages one at a time (go test -p 1).
//
// piv-go opens YubiKeys and trussed cards but not generic cards (it needs
// GET VERSION) nor cards that offer T=0 alone (it asks for T=1).
//
// piv-go holds a card exclusively from Open to Close, and leaks its handle
// if the card fails the SELECT in Open; keep faults that make SELECT fail
// away from Open.
package vcardtest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/notation-piv/notation-piv/vsmartcard/card"
	"github.com/notation-piv/notation-piv/vsmartcard/vpcd"
)

// Ports of the vpcd driver's two slots, as configured by Debian's
// /etc/reader.conf.d/vpcd.
const (
	FirstPort  = 35963 // reader "Virtual PCD 00 00"
	SecondPort = 35964 // reader "Virtual PCD 00 01"
)

// DriverPath is where Debian's vsmartcard-vpcd package installs the driver.
const DriverPath = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"

// pcscd's socket and PID file, fixed at build time in Debian's pcscd.
// Variables so that tests can point them elsewhere.
var (
	socketPath = "/run/pcscd/pcscd.comm"
	pidPath    = "/run/pcscd/pcscd.pid"
)

// defaultTimeout bounds each wait for pcscd and for the card.
const defaultTimeout = 10 * time.Second

// Options configures Start.
type Options struct {
	// Port is the vpcd port the card connects to; 0 means FirstPort.
	Port int
	// Reader is the PC/SC name of the reader behind Port; "" means
	// "Virtual PCD 00 00" for FirstPort and "Virtual PCD 00 01" for
	// SecondPort.
	Reader string
	// Config creates the card with card.New. Its Profile chooses a
	// YubiKey, a generic SP 800-73-4 card or a trussed card, Imports
	// provision keys and certificates (the only way into a generic card),
	// CompressCerts stores those certificates compressed and T0Only has
	// the card offer T=0 alone.
	Config card.Config
	// Timeout bounds each wait for pcscd and for the card; 0 means 10 s.
	Timeout time.Duration
}

// SkipError means that this machine cannot run virtual card tests, for
// example because pcscd is not installed. See SkipOrFail.
type SkipError struct {
	Reason string
}

// Error says why the tests cannot run.
func (e *SkipError) Error() string {
	return "virtual card tests cannot run here: " + e.Reason
}

// SkipOrFail reports an error from Start on stderr and returns the exit code
// for TestMain: 0 (skip the package) for a *SkipError, unless the
// environment variable CI is "true", where every test must run; 1
// otherwise.
func SkipOrFail(err error) int {
	var skip *SkipError
	if errors.As(err, &skip) && os.Getenv("CI") != "true" {
		fmt.Fprintf(os.Stderr, "vcardtest: skipping virtual card tests: %s\n", skip.Reason)
		return 0
	}
	fmt.Fprintf(os.Stderr, "vcardtest: %v\n", err)
	return 1
}

// Env is a virtual card in a pcscd reader. Its methods must not be called
// concurrently.
type Env struct {
	// Card is the card in the reader. Tests may inject faults, read its
	// stats, or power-cycle it; use Swap to put in another card.
	Card *card.Card
	// Reader is the PC/SC reader name, for piv.Open and the other clients.
	Reader string
	// Addr is the vpcd address the card connects to.
	Addr string
	// PCSCDLog is the log file of the pcscd that Start started, or "" if
	// pcscd was already running. Close deletes it.
	PCSCDLog string

	timeout time.Duration
	pcscd   *daemon    // nil if pcscd was already running
	conn    *vpcd.Conn // nil while the card is out of the reader
	served  chan error // result of conn.Serve
}

// Start makes sure pcscd runs, creates a card with card.New(opts.Config)
// and inserts it into the reader at opts.Port. It returns once PC/SC clients
// can open the card. The error is a *SkipError if pcscd or the vpcd driver
// is not installed, or if pcscd is not running and this process is not root.
func Start(opts Options) (*Env, error) {
	if opts.Port == 0 {
		opts.Port = FirstPort
	}
	if opts.Reader == "" {
		switch opts.Port {
		case FirstPort, SecondPort:
			opts.Reader = fmt.Sprintf("Virtual PCD 00 %02d", opts.Port-FirstPort)
		default:
			return nil, fmt.Errorf("start virtual card: Options.Reader must be set for port %d", opts.Port)
		}
	}
	if opts.Timeout == 0 {
		opts.Timeout = defaultTimeout
	}
	c, err := card.New(opts.Config)
	if err != nil {
		return nil, fmt.Errorf("start virtual card: %w", err)
	}
	d, err := ensurePCSCD(opts.Timeout)
	if err != nil {
		return nil, err
	}
	e := &Env{
		Card:    c,
		Reader:  opts.Reader,
		Addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(opts.Port)),
		timeout: opts.Timeout,
		pcscd:   d,
	}
	if d != nil {
		e.PCSCDLog = d.log
	}
	if err := e.insert(); err != nil {
		return nil, errors.Join(err, e.Close())
	}
	readers, err := piv.Cards()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("list pcscd readers: %w", err), e.Close())
	}
	if !slices.Contains(readers, e.Reader) {
		err := fmt.Errorf("pcscd has no reader %q for port %d; readers: %q", e.Reader, opts.Port, readers)
		return nil, errors.Join(err, e.Close())
	}
	return e, nil
}

// Remove takes the card out of the reader and returns once pcscd has seen
// the reader empty. Clients then fail to open it until Reinsert. If a fault
// is holding a command back, Remove waits for it: call Card.ClearFaults
// first.
func (e *Env) Remove() error {
	e.disconnect()
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	defer cancel()
	if err := vpcd.ConfirmRemoval(ctx, e.Addr); err != nil {
		return fmt.Errorf("remove virtual card from %q: %w", e.Reader, err)
	}
	return nil
}

// Reinsert takes the card out of the reader, if it is in, and puts it back,
// as after a fault removed it. It returns once PC/SC clients can open the
// card again; handles opened before are no longer valid.
func (e *Env) Reinsert() error {
	if err := e.Remove(); err != nil {
		return err
	}
	return e.insert()
}

// Swap replaces the card in the reader with c, for tests that need a fresh
// card. It returns once PC/SC clients can open c.
func (e *Env) Swap(c *card.Card) error {
	if err := e.Remove(); err != nil {
		return err
	}
	e.Card = c
	return e.insert()
}

// Close takes the card out of the reader and, if Start started pcscd, stops
// it with SIGTERM and deletes its log.
func (e *Env) Close() error {
	e.disconnect()
	if e.pcscd == nil {
		return nil
	}
	err := e.pcscd.stop(e.timeout)
	e.pcscd = nil
	return err
}

// insert connects the card to vpcd and waits until pcscd has it present.
// A connection that vpcd refuses, or resets or closes before pcscd powers
// the card up (as a driver that has just started can), is tried again
// until the timeout; the error then says how often and what each try met.
func (e *Env) insert() error {
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	defer cancel()
	var tries []string
	fail := func(err error) error {
		return fmt.Errorf("insert virtual card into %q at %s: %w (tried %d times: %s)", e.Reader, e.Addr, err, len(tries), summarize(tries))
	}
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		conn, err := vpcd.Connect(ctx, e.Addr, e.Card)
		if err == nil {
			served := make(chan error, 1)
			go func() { served <- conn.Serve(context.Background()) }()
			select {
			case <-conn.Ready():
				e.conn, e.served = conn, served
				return nil
			case err = <-served:
				// Reset or closed by the driver before power-up: try again.
			case <-ctx.Done():
				conn.Close()
				<-served
				return fail(fmt.Errorf("pcscd did not power the card up within %v (is another card connected to %s?)", e.timeout, e.Addr))
			}
		} else {
			// pcscd activated by systemd starts on a client's first
			// request, and only then does the driver listen.
			piv.Cards()
		}
		tries = append(tries, err.Error())
		select {
		case <-ctx.Done():
			return fail(err)
		case <-time.After(delay):
		}
	}
}

// summarize lists distinct messages with their counts, in first-seen
// order: "connection refused (3×), connection reset by peer".
func summarize(msgs []string) string {
	var order []string
	count := map[string]int{}
	for _, m := range msgs {
		if count[m] == 0 {
			order = append(order, m)
		}
		count[m]++
	}
	for i, m := range order {
		if count[m] > 1 {
			order[i] = fmt.Sprintf("%s (%d×)", m, count[m])
		}
	}
	return strings.Join(order, ", ")
}

// disconnect closes the card's connection, if any, and waits for its
// Serve to return.
func (e *Env) disconnect() {
	if e.conn == nil {
		return
	}
	e.conn.Close()
	<-e.served
	e.conn, e.served = nil, nil
}

// daemon is a pcscd started by Start.
type daemon struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
	dir    string        // temporary directory holding log
	log    string
}

// ensurePCSCD checks that pcscd and the vpcd driver are installed and that
// pcscd runs. It returns the daemon it started, or nil if pcscd was
// already running.
func ensurePCSCD(timeout time.Duration) (*daemon, error) {
	bin, err := exec.LookPath("pcscd")
	if err != nil {
		// Not on the PATH of non-root users.
		bin = "/usr/sbin/pcscd"
		if _, err := os.Stat(bin); err != nil {
			return nil, &SkipError{Reason: "pcscd is not installed (make deps installs it)"}
		}
	}
	if _, err := os.Stat(DriverPath); err != nil {
		return nil, &SkipError{Reason: "the vpcd driver " + DriverPath + " is not installed (make deps installs vsmartcard-vpcd)"}
	}
	running, err := pcscdRunning()
	if err != nil || running {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, &SkipError{Reason: "pcscd is not running, and only root can start it"}
	}
	return startPCSCD(bin, timeout)
}

// pcscdRunning reports whether pcscd answers on its socket. It deletes the
// socket and PID file that a pcscd killed with SIGKILL leaves behind, since
// they keep a new pcscd from starting.
func pcscdRunning() (bool, error) {
	if _, err := os.Stat(socketPath); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if c, err := net.Dial("unix", socketPath); err == nil {
		c.Close()
		return true, nil
	}
	if b, err := os.ReadFile(pidPath); err == nil {
		pid, err := strconv.Atoi(strings.TrimRight(string(b), "\x00\n"))
		if err == nil && pid > 0 && syscall.Kill(pid, 0) != syscall.ESRCH {
			return false, fmt.Errorf("pcscd (pid %d) is running but does not answer on %s", pid, socketPath)
		}
	}
	for _, p := range []string{socketPath, pidPath} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("remove stale pcscd file: %w", err)
		}
	}
	return false, nil
}

// startPCSCD starts pcscd in the foreground, in a session of its own, and
// waits until it listens on its socket.
func startPCSCD(bin string, timeout time.Duration) (*daemon, error) {
	dir, err := os.MkdirTemp("", "vcardtest-")
	if err != nil {
		return nil, fmt.Errorf("start pcscd: %w", err)
	}
	d := &daemon{dir: dir, log: filepath.Join(dir, "pcscd.log"), exited: make(chan struct{})}
	logFile, err := os.Create(d.log)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start pcscd: %w", err)
	}
	defer logFile.Close()
	d.cmd = exec.Command(bin, "-f")
	d.cmd.Stdout = logFile
	d.cmd.Stderr = logFile
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := d.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start pcscd: %w", err)
	}
	go func() {
		d.cmd.Wait()
		close(d.exited)
	}()

	deadline := time.After(timeout)
	for {
		if _, err := os.Stat(socketPath); err == nil {
			return d, nil
		}
		select {
		case <-d.exited:
			err := fmt.Errorf("pcscd exited at start (%v); log:\n%s", d.cmd.ProcessState, d.logText())
			os.RemoveAll(dir)
			return nil, err
		case <-deadline:
			err := fmt.Errorf("pcscd did not create %s within %v; log:\n%s", socketPath, timeout, d.logText())
			return nil, errors.Join(err, d.stop(timeout))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stop stops pcscd with SIGTERM (SIGKILL would leave a stale socket behind)
// and deletes its log.
func (d *daemon) stop(timeout time.Duration) error {
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop pcscd: %w", err)
	}
	select {
	case <-d.exited:
	case <-time.After(timeout):
		return fmt.Errorf("stop pcscd: pid %d still runs %v after SIGTERM; log: %s", d.cmd.Process.Pid, timeout, d.log)
	}
	if err := os.RemoveAll(d.dir); err != nil {
		return fmt.Errorf("stop pcscd: %w", err)
	}
	return nil
}

// logText returns pcscd's log for an error message.
func (d *daemon) logText() string {
	b, err := os.ReadFile(d.log)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
