package vpcd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

var testATR = []byte{0x3B, 0x88, 0x80, 0x01, 'v', 'P', 'I', 'V', 'c', 'a', 'r', 'd', 0x24}

// fakeCard records power events and answers a command APDU with the APDU
// reversed followed by 90 00. The APDU "remove" makes it leave the reader
// and "huge" makes it answer more than a vpcd message can carry.
type fakeCard struct {
	mu     sync.Mutex
	events []string
}

func (c *fakeCard) record(e string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, e)
}

func (c *fakeCard) Events() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.events...)
}

func (c *fakeCard) ATR() []byte { return testATR }
func (c *fakeCard) PowerOn()    { c.record("on") }
func (c *fakeCard) PowerOff()   { c.record("off") }
func (c *fakeCard) Reset()      { c.record("reset") }

func (c *fakeCard) Process(apdu []byte) []byte {
	c.record("apdu")
	switch string(apdu) {
	case "remove":
		return nil
	case "huge":
		return make([]byte, maxPayload+1)
	}
	resp := make([]byte, 0, len(apdu)+2)
	for i := len(apdu) - 1; i >= 0; i-- {
		resp = append(resp, apdu[i])
	}
	return append(resp, 0x90, 0x00)
}

// driver is the vpcd side of one connection.
type driver struct {
	t    *testing.T
	conn *net.TCPConn
}

// send writes one message; with split, the length and the payload go in
// two writes, as vpcd 3.3 does.
func (d *driver) send(payload []byte, split bool) {
	d.t.Helper()
	var hdr [2]byte
	binary.BigEndian.PutUint16(hdr[:], uint16(len(payload)))
	if split {
		if _, err := d.conn.Write(hdr[:]); err != nil {
			d.t.Fatalf("write length: %v", err)
		}
		if _, err := d.conn.Write(payload); err != nil {
			d.t.Fatalf("write payload: %v", err)
		}
		return
	}
	if _, err := d.conn.Write(append(hdr[:], payload...)); err != nil {
		d.t.Fatalf("write message: %v", err)
	}
}

// recv reads one message.
func (d *driver) recv() ([]byte, error) {
	d.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hdr [2]byte
	if _, err := io.ReadFull(d.conn, hdr[:]); err != nil {
		return nil, err
	}
	msg := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(d.conn, msg); err != nil {
		return nil, err
	}
	return msg, nil
}

func (d *driver) mustRecv() []byte {
	d.t.Helper()
	msg, err := d.recv()
	if err != nil {
		d.t.Fatalf("read answer: %v", err)
	}
	return msg
}

// start connects card to a fake vpcd driver and serves it until the test
// ends. It returns the driver side, the connection and the channel that
// receives Serve's result.
func start(t *testing.T, ctx context.Context, card Card) (*driver, *Conn, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := Connect(ctx, ln.Addr().String(), card)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		done <- c.Serve(ctx)
		close(finished)
	}()
	t.Cleanup(func() {
		c.Close()
		<-finished
	})
	return &driver{t: t, conn: nc.(*net.TCPConn)}, c, done
}

func serveResult(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
		return nil
	}
}

func TestControlMessages(t *testing.T) {
	card := &fakeCard{}
	d, _, _ := start(t, t.Context(), card)

	// Power events get no answer: the first answer is the ATR.
	d.send([]byte{ctrlPowerOff}, false)
	d.send([]byte{ctrlPowerOn}, false)
	d.send([]byte{ctrlReset}, false)
	d.send([]byte{ctrlATR}, false)
	if got := d.mustRecv(); !bytes.Equal(got, testATR) {
		t.Errorf("ATR answer = % x, want % x", got, testATR)
	}
	want := []string{"off", "on", "reset"}
	if got := card.Events(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("card events = %q, want %q", got, want)
	}
}

func TestAPDUFraming(t *testing.T) {
	card := &fakeCard{}
	d, _, _ := start(t, t.Context(), card)

	long := make([]byte, 300) // needs both length bytes
	for i := range long {
		long[i] = byte(i)
	}
	for _, split := range []bool{false, true} {
		for _, apdu := range [][]byte{{0x00, 0xA4, 0x04, 0x00}, long} {
			d.send(apdu, split)
			got := d.mustRecv()
			if len(got) != len(apdu)+2 {
				t.Fatalf("answer to %d-byte APDU has %d bytes, want %d", len(apdu), len(got), len(apdu)+2)
			}
			for i := range apdu {
				if got[i] != apdu[len(apdu)-1-i] {
					t.Fatalf("answer to %d-byte APDU differs at byte %d", len(apdu), i)
				}
			}
			if sw := got[len(got)-2:]; !bytes.Equal(sw, []byte{0x90, 0x00}) {
				t.Errorf("status word = % x, want 90 00", sw)
			}
		}
	}
}

func TestCardRemoved(t *testing.T) {
	d, _, done := start(t, t.Context(), &fakeCard{})

	d.send([]byte("remove"), false)
	if err := serveResult(t, done); !errors.Is(err, ErrCardRemoved) {
		t.Errorf("Serve = %v, want ErrCardRemoved", err)
	}
	// The connection is closed without an answer.
	if msg, err := d.recv(); !errors.Is(err, io.EOF) {
		t.Errorf("after removal: read %x, %v; want EOF", msg, err)
	}
}

func TestDriverCloses(t *testing.T) {
	d, _, done := start(t, t.Context(), &fakeCard{})

	d.conn.Close()
	if err := serveResult(t, done); !errors.Is(err, io.EOF) {
		t.Errorf("Serve = %v, want an error wrapping io.EOF", err)
	}
}

func TestDriverClosesMidMessage(t *testing.T) {
	d, _, done := start(t, t.Context(), &fakeCard{})

	d.conn.Write([]byte{0x00, 0x05, 0x00, 0xA4})
	d.conn.Close()
	if err := serveResult(t, done); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Serve = %v, want an error wrapping io.ErrUnexpectedEOF", err)
	}
}

func TestContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	d, _, done := start(t, ctx, &fakeCard{})

	d.send([]byte{ctrlATR}, false)
	d.mustRecv()
	cancel()
	if err := serveResult(t, done); !errors.Is(err, context.Canceled) {
		t.Errorf("Serve = %v, want context.Canceled", err)
	}
	if _, err := d.recv(); !errors.Is(err, io.EOF) {
		t.Errorf("after cancel: read error %v, want EOF", err)
	}
}

func TestClose(t *testing.T) {
	d, c, done := start(t, t.Context(), &fakeCard{})

	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := serveResult(t, done); err == nil {
		t.Error("Serve = nil after Close, want an error")
	}
	if _, err := d.recv(); !errors.Is(err, io.EOF) {
		t.Errorf("after Close: read error %v, want EOF", err)
	}
}

func TestReady(t *testing.T) {
	d, c, _ := start(t, t.Context(), &fakeCard{})

	isReady := func() bool {
		select {
		case <-c.Ready():
			return true
		case <-time.After(50 * time.Millisecond):
			return false
		}
	}
	// Presence polls before pcscd powers the card up.
	for range 2 {
		d.send([]byte{ctrlATR}, false)
		d.mustRecv()
	}
	if isReady() {
		t.Fatal("ready before the card was powered up")
	}
	// pcscd powers the card up: power-on, then an ATR request.
	d.send([]byte{ctrlPowerOn}, false)
	d.send([]byte{ctrlATR}, false)
	d.mustRecv()
	if isReady() {
		t.Fatal("ready before pcscd finished powering the card up")
	}
	// The next message, here the power-off after the grace period.
	d.send([]byte{ctrlPowerOff}, false)
	if !isReady() {
		t.Fatal("not ready after the message that followed the power-up")
	}
}

func TestBadMessages(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  []byte
		want string
	}{
		{"unknown control", []byte{0x03}, "unknown vpcd control message 03"},
		{"empty", nil, "empty message from vpcd"},
		{"answer too long", []byte("huge"), "exceeds the vpcd limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, _, done := start(t, t.Context(), &fakeCard{})
			d.send(tc.msg, false)
			err := serveResult(t, done)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Serve = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestConnectRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := Connect(t.Context(), addr, &fakeCard{}); err == nil {
		t.Fatal("Connect to a closed port succeeded")
	}
}

func TestConfirmRemoval(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() { done <- ConfirmRemoval(t.Context(), ln.Addr().String()) }()
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	d := &driver{t: t, conn: nc.(*net.TCPConn)}

	// A power event gets no answer; the presence poll an empty one.
	d.send([]byte{ctrlPowerOff}, false)
	d.send([]byte{ctrlATR}, false)
	if got := d.mustRecv(); len(got) != 0 {
		t.Errorf("presence poll answered % x, want an empty answer", got)
	}
	if err := serveResult(t, done); err != nil {
		t.Errorf("ConfirmRemoval = %v", err)
	}
	if _, err := d.recv(); !errors.Is(err, io.EOF) {
		t.Errorf("after ConfirmRemoval: read error %v, want EOF", err)
	}
}

func TestConfirmRemovalContextEnds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	// The driver accepts (the backlog does) but never polls.
	if err := ConfirmRemoval(ctx, ln.Addr().String()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ConfirmRemoval = %v, want context.DeadlineExceeded", err)
	}
}
