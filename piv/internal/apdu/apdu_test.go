package apdu

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// script is a Transmitter that answers from a list and records what it
// was sent.
type script struct {
	answers [][]byte
	sent    [][]byte
}

func (s *script) Transmit(cmd []byte) ([]byte, error) {
	s.sent = append(s.sent, bytes.Clone(cmd))
	if len(s.answers) == 0 {
		return nil, errors.New("no more answers")
	}
	a := s.answers[0]
	s.answers = s.answers[1:]
	return a, nil
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExchangeEncoding(t *testing.T) {
	for _, tc := range []struct {
		name string
		cmd  Command
		want string
	}{
		{"no data, no Le", Command{Ins: 0x20, P2: 0x80}, "00200080"},
		{"no data, Le", Command{Ins: 0xFD, WantsData: true}, "00fd000000"},
		{"data, no Le", Command{Ins: 0x20, P2: 0x80, Data: []byte{1, 2}}, "002000800201 02"},
		{"data and Le", Command{Ins: 0xCB, P1: 0x3F, P2: 0xFF, Data: []byte{0x5C, 0x01, 0x7E}, WantsData: true}, "00cb3fff035c017e00"},
	} {
		s := &script{answers: [][]byte{{0x90, 0x00}}}
		if _, err := Exchange(s, tc.cmd); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want := unhex(t, string(bytes.ReplaceAll([]byte(tc.want), []byte(" "), nil)))
		if len(s.sent) != 1 || !bytes.Equal(s.sent[0], want) {
			t.Errorf("%s: sent % x, want % x", tc.name, s.sent, want)
		}
	}
}

func TestExchangeCommandChain(t *testing.T) {
	data := bytes.Repeat([]byte{0xAB}, 600)
	s := &script{answers: [][]byte{{0x90, 0x00}, {0x90, 0x00}, {0x01, 0x02, 0x90, 0x00}}}
	got, err := Exchange(s, Command{Ins: 0x87, P1: 0x07, P2: 0x9C, Data: data, WantsData: true})
	if err != nil || !bytes.Equal(got, []byte{1, 2}) {
		t.Fatalf("Exchange: % x, %v", got, err)
	}
	if len(s.sent) != 3 {
		t.Fatalf("sent %d APDUs, want 3", len(s.sent))
	}
	for i, want := range []struct {
		cla  byte
		lc   int
		size int
	}{{0x10, 255, 5 + 255}, {0x10, 255, 5 + 255}, {0x00, 90, 5 + 90 + 1}} {
		a := s.sent[i]
		if a[0] != want.cla || int(a[4]) != want.lc || len(a) != want.size {
			t.Errorf("APDU %d: CLA %02x Lc %d, %d bytes; want CLA %02x Lc %d, %d bytes", i+1, a[0], a[4], len(a), want.cla, want.lc, want.size)
		}
	}
	// A refused link of the chain ends the command.
	s = &script{answers: [][]byte{{0x69, 0x82}}}
	if _, err := Exchange(s, Command{Ins: 0x87, Data: data}); SW(err) != 0x6982 || len(s.sent) != 1 {
		t.Errorf("refused chain: %v after %d APDUs, want 6982 after 1", err, len(s.sent))
	}
}

func TestExchangeResponseChain(t *testing.T) {
	s := &script{answers: [][]byte{
		append(bytes.Repeat([]byte{1}, 256), 0x61, 0x00),
		append(bytes.Repeat([]byte{2}, 256), 0x61, 0x10),
		append(bytes.Repeat([]byte{3}, 16), 0x90, 0x00),
	}}
	got, err := Exchange(s, Command{Ins: 0xCB, Data: []byte{0x5C, 0x01, 0x7E}, WantsData: true})
	if err != nil || len(got) != 528 || got[0] != 1 || got[256] != 2 || got[527] != 3 {
		t.Fatalf("Exchange: %d bytes, %v; want 528", len(got), err)
	}
	if !bytes.Equal(s.sent[1], unhex(t, "00c0000000")) || !bytes.Equal(s.sent[2], unhex(t, "00c0000010")) {
		t.Errorf("GET RESPONSE APDUs % x, % x; want 00 c0 00 00 00 and 00 c0 00 00 10", s.sent[1], s.sent[2])
	}
}

func TestExchangeWrongLe(t *testing.T) {
	s := &script{answers: [][]byte{{9, 9, 0x6C, 0x04}, {1, 2, 3, 4, 0x90, 0x00}}}
	got, err := Exchange(s, Command{Ins: 0xF8, WantsData: true})
	if err != nil || !bytes.Equal(got, []byte{1, 2, 3, 4}) {
		t.Fatalf("Exchange: % x, %v", got, err)
	}
	if !bytes.Equal(s.sent[1], unhex(t, "00f8000004")) {
		t.Errorf("resent % x, want 00 f8 00 00 04", s.sent[1])
	}
}

func TestExchangeErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answers [][]byte
		check   func(error) bool
	}{
		{"status", [][]byte{{0x6A, 0x82}}, func(err error) bool { return SW(err) == 0x6A82 }},
		{"empty answer", [][]byte{{}}, func(err error) bool { return errors.Is(err, ErrNoAnswer) }},
		{"one byte", [][]byte{{0x90}}, func(err error) bool { return errors.Is(err, ErrShortAnswer) }},
		{"transport", nil, func(err error) bool { return err != nil && SW(err) == 0 }},
		{"endless 6100", repeat([]byte{0x61, 0x00}, maxChainedAnswers+1), func(err error) bool { return err != nil && SW(err) == 0 }},
		{"too long", repeat(append(make([]byte, 256), 0x61, 0x00), MaxResponse/256+1), func(err error) bool { return err != nil && SW(err) == 0 }},
	} {
		s := &script{answers: tc.answers}
		_, err := Exchange(s, Command{Name: "read", Ins: 0xCB, WantsData: true})
		if !tc.check(err) {
			t.Errorf("%s: %v", tc.name, err)
		}
		if err != nil && !bytes.Contains([]byte(err.Error()), []byte("read")) {
			t.Errorf("%s: error %q does not name the command", tc.name, err)
		}
	}
}

func repeat(b []byte, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

// FuzzExchange: no sequence of answers makes Exchange panic, loop without
// end or return more than MaxResponse bytes.
func FuzzExchange(f *testing.F) {
	f.Add([]byte{0x90, 0x00}, []byte{})
	f.Add([]byte{0x61, 0x10}, []byte{0x01, 0x90, 0x00})
	f.Add([]byte{0x6C, 0x04}, []byte{0x6C})
	f.Fuzz(func(t *testing.T, first, rest []byte) {
		s := &script{answers: [][]byte{first}}
		for len(rest) > 0 {
			n := int(rest[0]) % 8
			rest = rest[1:]
			n = min(n, len(rest))
			s.answers = append(s.answers, rest[:n])
			rest = rest[n:]
		}
		got, _ := Exchange(s, Command{Ins: 0xCB, Data: []byte{1}, WantsData: true})
		if len(got) > MaxResponse {
			t.Fatalf("%d bytes", len(got))
		}
	})
}
