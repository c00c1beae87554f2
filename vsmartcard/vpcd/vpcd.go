// Package vpcd plugs a virtual smart card into pcscd through the vpcd reader
// driver of the vsmartcard project (Debian package vsmartcard-vpcd).
//
// The driver, libifdvpcd.so, listens on TCP port 35963 for the reader's
// first slot and 35964 for the second; the card is the TCP client. Messages
// go both ways as a 2-byte big-endian length followed by the payload. A
// 1-byte payload from the driver is a control message: 00 power off, 01
// power on, 02 reset (none of them answered), 04 get ATR (answered with the
// ATR). Any longer payload is a command APDU, answered with the response
// APDU (data and status word).
//
// pcscd asks for the ATR about every 400 ms, forever, to learn whether the
// card is still there; closing the connection removes the card.
//
// Reference: https://github.com/frankmorgner/vsmartcard/blob/master/virtualsmartcard/src/vpcd/vpcd.c
package vpcd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
)

// DefaultAddr is where the vpcd driver listens for the card in its first
// slot (reader "Virtual PCD 00 00"); the second slot is on port 35964.
const DefaultAddr = "127.0.0.1:35963"

// Control messages from the driver: a payload of exactly one byte.
const (
	ctrlPowerOff = 0x00
	ctrlPowerOn  = 0x01
	ctrlReset    = 0x02
	ctrlATR      = 0x04
)

// maxPayload is the largest payload a 2-byte length can announce.
const maxPayload = 0xFFFF

// ErrCardRemoved is returned by [Conn.Serve] when the card answered a
// command with nil, meaning it left the reader in the middle of the command.
var ErrCardRemoved = errors.New("card removed")

// Card is the card behind a connection, as package card implements it.
type Card interface {
	// ATR returns the Answer To Reset.
	ATR() []byte
	// Process answers a command APDU with a response APDU (data and
	// status word). A nil or empty answer removes the card: the
	// connection is closed.
	Process(apdu []byte) []byte
	// PowerOn, PowerOff and Reset handle the reader's power events.
	PowerOn()
	PowerOff()
	Reset()
}

// Conn is a card's connection to the vpcd driver.
type Conn struct {
	conn  *net.TCPConn
	r     io.Reader // reads from conn, acknowledging every read at once
	card  Card
	ready chan struct{}
}

// Connect connects card c to the vpcd driver listening at addr (host:port).
// The card is inserted once [Conn.Serve] runs.
func Connect(ctx context.Context, addr string, c Card) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to vpcd: %w", err)
	}
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		nc.Close()
		return nil, fmt.Errorf("connect to vpcd at %s: not a TCP connection", addr)
	}
	// vpcd sends many small messages and waits for each answer: never
	// hold an answer back to coalesce it (Nagle's algorithm).
	if err := tc.SetNoDelay(true); err != nil {
		tc.Close()
		return nil, fmt.Errorf("connect to vpcd: set TCP_NODELAY: %w", err)
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		tc.Close()
		return nil, fmt.Errorf("connect to vpcd: %w", err)
	}
	return &Conn{
		conn:  tc,
		r:     &quickAckReader{conn: tc, raw: rc},
		card:  c,
		ready: make(chan struct{}),
	}, nil
}

// Ready returns a channel that is closed once pcscd has the card present.
// pcscd powers a card up as soon as it sees it (a power-on followed by an
// ATR request) and marks it present right after; the next message from
// the driver, usually the next presence poll some 400 ms later or a
// client's first command, therefore proves that clients can connect. The
// channel stays open if Serve returns before that.
func (c *Conn) Ready() <-chan struct{} { return c.ready }

// Serve answers the driver until ctx ends, the connection ends or the card
// is removed, and then closes the connection. It returns ctx.Err() if ctx
// ended, ErrCardRemoved if the card left, an error wrapping io.EOF if the
// driver closed the connection, or an error describing a broken message.
// A command that is in progress when ctx ends is finished first.
func (c *Conn) Serve(ctx context.Context) error {
	defer c.conn.Close()
	stop := context.AfterFunc(ctx, func() { c.conn.Close() })
	defer stop()

	// framesSincePowerOn counts the messages after the first power-on: the
	// first is the power-up's ATR request, the second closes c.ready.
	framesSincePowerOn := -1
	buf := make([]byte, maxPayload)
	for {
		msg, err := c.readFrame(buf)
		if err != nil {
			return orEnded(ctx, err)
		}
		if framesSincePowerOn >= 0 && framesSincePowerOn < 2 {
			framesSincePowerOn++
			if framesSincePowerOn == 2 {
				close(c.ready)
			}
		}
		var reply []byte
		switch {
		case len(msg) == 1 && msg[0] == ctrlPowerOff:
			c.card.PowerOff()
			continue
		case len(msg) == 1 && msg[0] == ctrlPowerOn:
			c.card.PowerOn()
			if framesSincePowerOn < 0 {
				framesSincePowerOn = 0
			}
			continue
		case len(msg) == 1 && msg[0] == ctrlReset:
			c.card.Reset()
			continue
		case len(msg) == 1 && msg[0] == ctrlATR:
			reply = c.card.ATR()
		case len(msg) == 1:
			return fmt.Errorf("unknown vpcd control message %02x", msg[0])
		case len(msg) == 0:
			return errors.New("empty message from vpcd")
		default:
			reply = c.card.Process(msg)
			if len(reply) == 0 {
				return ErrCardRemoved
			}
		}
		if err := c.writeFrame(reply); err != nil {
			return orEnded(ctx, err)
		}
	}
}

// ConfirmRemoval makes sure that pcscd has seen the slot at addr empty. It
// connects to the driver as a card that is not there: the driver's first
// presence poll gets an empty answer, which it takes as "no card", and
// ConfirmRemoval returns. Call it after a card left (its connection was
// closed) and before the next card connects: pcscd notices a card that
// left in the middle of a command only at the next poll, and one that is
// back by then is never announced to clients as removed and inserted.
func ConfirmRemoval(ctx context.Context, addr string) error {
	c, err := Connect(ctx, addr, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.conn.Close() })
	defer stop()
	buf := make([]byte, maxPayload)
	for {
		msg, err := c.readFrame(buf)
		if err != nil {
			return orEnded(ctx, fmt.Errorf("confirm card removal: %w", err))
		}
		if len(msg) == 1 && msg[0] != ctrlATR {
			continue // power events get no answer
		}
		if err := c.writeFrame(nil); err != nil {
			return fmt.Errorf("confirm card removal: %w", err)
		}
		return nil
	}
}

// orEnded returns ctx.Err() once ctx has ended, else err: ending ctx
// closes the connection, and the read or write that this broke fails with
// an error that says less.
func orEnded(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// Close closes the connection, which removes the card from the reader and
// makes a running Serve return.
func (c *Conn) Close() error {
	return c.conn.Close()
}

// readFrame reads one message into buf and returns it.
func (c *Conn) readFrame(buf []byte) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		return nil, fmt.Errorf("read from vpcd: %w", err)
	}
	n := binary.BigEndian.Uint16(hdr[:])
	if _, err := io.ReadFull(c.r, buf[:n]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read from vpcd: %w", err)
	}
	return buf[:n], nil
}

// writeFrame sends one message in a single write.
func (c *Conn) writeFrame(payload []byte) error {
	if len(payload) > maxPayload {
		return fmt.Errorf("answer of %d bytes exceeds the vpcd limit of %d", len(payload), maxPayload)
	}
	frame := make([]byte, 2+len(payload))
	binary.BigEndian.PutUint16(frame, uint16(len(payload)))
	copy(frame[2:], payload)
	if _, err := c.conn.Write(frame); err != nil {
		return fmt.Errorf("write to vpcd: %w", err)
	}
	return nil
}

// quickAckReader acknowledges every read at once. vpcd may send a message's
// length and payload in two writes; with Nagle's algorithm on its side and
// delayed acknowledgements on ours, the payload would wait about 40 ms for
// the acknowledgement of the length. Linux leaves quick-ACK mode on its
// own, so it is set again after every read.
type quickAckReader struct {
	conn *net.TCPConn
	raw  syscall.RawConn
}

func (r *quickAckReader) Read(p []byte) (int, error) {
	n, err := r.conn.Read(p)
	if err != nil {
		return n, err
	}
	if err := quickAck(r.raw); err != nil {
		return n, fmt.Errorf("set TCP_QUICKACK: %w", err)
	}
	return n, nil
}
