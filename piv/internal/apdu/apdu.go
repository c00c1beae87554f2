// Package apdu exchanges ISO/IEC 7816-4 command and response APDUs with a
// PIV card, and decodes the data objects PIV cards answer with. It knows
// nothing of PC/SC: a [Transmitter] carries one APDU at a time, so the
// same code runs over the plugin's own connection and over piv-go's.
//
// Commands are short APDUs, which every PIV card accepts under T=0 and
// T=1: data longer than 255 bytes goes as a command chain (CLA 10), and an
// answer longer than the card sends at once is collected with GET RESPONSE
// (SW 61xx). A card that asks for another Le (6Cxx) gets the command again
// with that Le. No answer, however hostile, makes the package panic or
// read without bound: see [MaxResponse].
package apdu

import (
	"errors"
	"fmt"
)

// Transmitter sends one command APDU to the card and returns its answer:
// the response data followed by the two status bytes.
type Transmitter interface {
	Transmit(command []byte) ([]byte, error)
}

// Command is a command APDU with class byte 00.
type Command struct {
	// Name says what the command does, for errors: "select the PIV
	// application".
	Name string
	// Ins, P1 and P2 are the instruction and its parameters.
	Ins, P1, P2 byte
	// Data is the command data; nil for none.
	Data []byte
	// WantsData says that the card answers with data: the command ends
	// with Le 00 (up to 256 bytes at once).
	WantsData bool
}

// MaxResponse bounds the data of one answer, GET RESPONSE chain included.
// The largest PIV data object a card stores is a few kilobytes.
const MaxResponse = 64 << 10

// maxChainedAnswers bounds the GET RESPONSE and Le corrections of one
// command, so that a card answering 6100 forever ends the exchange.
const maxChainedAnswers = MaxResponse / 256

var (
	// ErrNoAnswer means that the reader passed on an empty answer, which
	// is how some reader drivers report a card gone in the middle of the
	// command.
	ErrNoAnswer = errors.New("the card answered nothing")
	// ErrShortAnswer means that the card answered one byte, too short for
	// a status word.
	ErrShortAnswer = errors.New("the card answered without a status word")
)

// StatusError is an answer whose status word is not 9000.
type StatusError struct {
	// Command is the Name of the command.
	Command string
	// SW is the status word, such as 0x6982.
	SW uint16
}

// Error names the command and the status word.
func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: the card answered %04x", e.Command, e.SW)
}

// Status returns the status word.
func (e *StatusError) Status() uint16 { return e.SW }

// ResponseError is a status word other than 9000 in answer to GET
// RESPONSE, after the card announced more data: the command's answer is
// lost, whatever the status word says.
type ResponseError struct {
	// Command is the Name of the command whose answer was being read.
	Command string
	// SW is the status word, such as 0x6F00.
	SW uint16
}

// Error names the command and the status word.
func (e *ResponseError) Error() string {
	return fmt.Sprintf("%s: the card answered %04x when asked for the rest of its answer", e.Command, e.SW)
}

// Status returns the status word.
func (e *ResponseError) Status() uint16 { return e.SW }

// SW returns the status word of a *StatusError in err's chain, or 0. The
// status word of a *ResponseError is not the command's and gives 0.
func SW(err error) uint16 {
	var se *StatusError
	if errors.As(err, &se) {
		return se.SW
	}
	return 0
}

// Exchange sends cmd, as a command chain if its data does not fit one
// APDU, collects the whole answer and returns its data. A status word
// other than 9000 gives a *StatusError; a failure of t is returned
// wrapped with the command's name.
func Exchange(t Transmitter, cmd Command) ([]byte, error) {
	data := cmd.Data
	for len(data) > 255 {
		apdu := append([]byte{0x10, cmd.Ins, cmd.P1, cmd.P2, 255}, data[:255]...)
		resp, err := transmit(t, cmd.Name, apdu)
		if err != nil {
			return nil, err
		}
		if sw := status(resp); sw != 0x9000 {
			return nil, &StatusError{Command: cmd.Name, SW: sw}
		}
		data = data[255:]
	}
	// An APDU is base, then Le if hasLe.
	base := []byte{0x00, cmd.Ins, cmd.P1, cmd.P2}
	if len(data) > 0 {
		base = append(append(base, byte(len(data))), data...)
	}
	hasLe, le := cmd.WantsData, byte(0x00)
	var (
		out     []byte
		reading bool // the card announced more data: base is GET RESPONSE
	)
	for range maxChainedAnswers {
		apdu := base
		if hasLe {
			apdu = append(apdu[:len(apdu):len(apdu)], le)
		}
		resp, err := transmit(t, cmd.Name, apdu)
		if err != nil {
			return nil, err
		}
		body, sw := resp[:len(resp)-2], status(resp)
		if len(out)+len(body) > MaxResponse {
			return nil, fmt.Errorf("%s: the card's answer exceeds %d bytes", cmd.Name, MaxResponse)
		}
		out = append(out, body...)
		switch {
		case sw == 0x9000:
			return out, nil
		case sw>>8 == 0x61:
			// More data: GET RESPONSE with Le = the bytes announced (00
			// means 256 or more).
			base, hasLe, le, reading = []byte{0x00, 0xC0, 0x00, 0x00}, true, byte(sw), true
		case sw>>8 == 0x6C:
			// Wrong Le: the same command again, with the Le the card
			// asks for. Data sent with this answer is not the answer.
			out = out[:len(out)-len(body)]
			hasLe, le = true, byte(sw)
		case reading:
			return nil, &ResponseError{Command: cmd.Name, SW: sw}
		default:
			return nil, &StatusError{Command: cmd.Name, SW: sw}
		}
	}
	return nil, fmt.Errorf("%s: the card kept announcing more data", cmd.Name)
}

// transmit sends one APDU and checks that the answer holds a status word.
func transmit(t Transmitter, name string, apdu []byte) ([]byte, error) {
	resp, err := t.Transmit(apdu)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	switch len(resp) {
	case 0:
		return nil, fmt.Errorf("%s: %w", name, ErrNoAnswer)
	case 1:
		return nil, fmt.Errorf("%s: %w", name, ErrShortAnswer)
	}
	return resp, nil
}

// status returns the last two bytes of resp as a status word.
func status(resp []byte) uint16 {
	return uint16(resp[len(resp)-2])<<8 | uint16(resp[len(resp)-1])
}
