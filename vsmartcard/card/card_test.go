package card

import (
	"bytes"
	"crypto/des"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"
	"time"
)

// newTestCard returns a factory-fresh card.
func newTestCard(t testing.TB) *Card {
	t.Helper()
	c, err := New(Config{Serial: 4242})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// send transmits a command given in hex (spaces allowed) and splits the
// answer into data and status word.
func send(t testing.TB, c *Card, apdu string) ([]byte, uint16) {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(apdu, " ", ""))
	if err != nil {
		t.Fatalf("bad test APDU %q: %v", apdu, err)
	}
	return sendBytes(t, c, b)
}

func sendBytes(t testing.TB, c *Card, b []byte) ([]byte, uint16) {
	t.Helper()
	resp := c.Process(b)
	if len(resp) < 2 {
		t.Fatalf("answer %x to %x has no status word", resp, b)
	}
	n := len(resp) - 2
	return resp[:n], uint16(resp[n])<<8 | uint16(resp[n+1])
}

func expectSW(t testing.TB, c *Card, apdu string, want uint16) []byte {
	t.Helper()
	data, sw := send(t, c, apdu)
	if sw != want {
		t.Fatalf("%s: status %04X, want %04X", apdu, sw, want)
	}
	return data
}

// apdu builds a short command APDU without Le.
func apdu(ins, p1, p2 byte, data []byte) []byte {
	b := []byte{0x00, ins, p1, p2}
	if len(data) > 0 {
		b = append(b, byte(len(data)))
		b = append(b, data...)
	}
	return b
}

// authenticate3DES runs mutual authentication with the default management
// key, as piv-go and yubico-piv-tool do.
func authenticate3DES(t testing.TB, c *Card) {
	t.Helper()
	block, err := des.NewTripleDESCipher(DefaultManagementKey)
	if err != nil {
		t.Fatal(err)
	}
	data, sw := send(t, c, "00 87 03 9B 04 7C 02 80 00")
	if sw != swOK || len(data) != 12 || !bytes.Equal(data[:4], []byte{0x7C, 0x0A, 0x80, 0x08}) {
		t.Fatalf("witness: %x %04X", data, sw)
	}
	w := make([]byte, 8)
	block.Decrypt(w, data[4:])
	chal := []byte("chalenge")
	req := append([]byte{0x7C, 0x14, 0x80, 0x08}, w...)
	req = append(req, 0x81, 0x08)
	req = append(req, chal...)
	data, sw = sendBytes(t, c, apdu(0x87, 0x03, 0x9B, req))
	if sw != swOK {
		t.Fatalf("mutual auth: %04X", sw)
	}
	want := make([]byte, 8)
	block.Encrypt(want, chal)
	if !bytes.Equal(data, append([]byte{0x7C, 0x0A, 0x82, 0x08}, want...)) {
		t.Fatalf("card's answer to our challenge: %x", data)
	}
}

func TestSelect(t *testing.T) {
	c := newTestCard(t)
	want := "61114f060000100001007907" + "4f05a000000308"
	for _, aid := range []string{"A000000308", "A0000003080000100001", "A000000308000010000100"} {
		data := expectSW(t, c, "00A40400"+hex.EncodeToString([]byte{byte(len(aid) / 2)})+aid, swOK)
		if got := hex.EncodeToString(data); got != strings.ToLower(want) {
			t.Errorf("SELECT %s: %s, want %s", aid, got, want)
		}
	}
	expectSW(t, c, "00A4040008A000000527471117", swFileNotFound)
	// PIV stays selected after a foreign SELECT.
	if v := expectSW(t, c, "00FD000000", swOK); !bytes.Equal(v, []byte{5, 7, 1}) {
		t.Errorf("version %x", v)
	}
}

func TestVersionAndSerial(t *testing.T) {
	c, err := New(Config{Serial: 0x01020304, Firmware: "4.3.5"})
	if err != nil {
		t.Fatal(err)
	}
	if v := expectSW(t, c, "00FD0000", swOK); !bytes.Equal(v, []byte{4, 3, 5}) {
		t.Errorf("version %x", v)
	}
	// A YubiKey 4 has no GET SERIAL: its OTP application gives the
	// serial, and PIV answers again once selected.
	expectSW(t, c, "00F8000000", swINSNotSupported)
	expectSW(t, c, "00A4040008A000000527200101", swOK)
	if s := expectSW(t, c, "0001100000", swOK); !bytes.Equal(s, []byte{1, 2, 3, 4}) {
		t.Errorf("serial %x", s)
	}
	expectSW(t, c, "00FD000000", swINSNotSupported)
	expectSW(t, c, "00A4040005A000000308", swOK)
	if v := expectSW(t, c, "00FD000000", swOK); !bytes.Equal(v, []byte{4, 3, 5}) {
		t.Errorf("version after SELECT PIV %x", v)
	}
	// Firmware before 5.3 has no GET METADATA.
	expectSW(t, c, "00F7008000", swINSNotSupported)
	if _, err := New(Config{Firmware: "5.x"}); err == nil {
		t.Error("bad firmware version accepted")
	}
}

func TestMalformedCommands(t *testing.T) {
	c := newTestCard(t)
	for _, tc := range []struct {
		apdu string
		sw   uint16
	}{
		{"00", swWrongLength},
		{"00A404", swWrongLength},
		{"00A4040005A0000003", swWrongLength},              // Lc says 5, 3 bytes follow
		{"00A4040002A000000308", swWrongLength},            // Lc says 2, 5 bytes follow
		{"000000000001", swWrongLength},                    // extended with 2 body bytes
		{"00CB3FFF00000500", swWrongLength},                // extended Lc 5 with 1 byte
		{"80FD000000", swCLANotSupported},                  // proprietary class
		{"0012000000", swINSNotSupported},                  // unknown instruction
		{"00CA DF30 00", swINSNotSupported},                // OpenSC's probe
		{"00CB3FFF035C055F", swWrongData},                  // tag list longer than its object
		{"00CB3FFF025300", swWrongData},                    // no tag list
		{"00CB3F0005 5C035FC105", swWrongP1P2},             // wrong P2
		{"0087119A037C0282", swWrongData},                  // truncated TLV in GA
		{"0087119A027C00", swRefNotFound},                  // empty slot
		{"008711FF047C028200", swWrongP1P2},                // not a key slot
		{"00200080045FFFFFFF", swWrongData},                // PIN of 4 bytes
		{"0020008108" + "3132333435363738", swRefNotFound}, // VERIFY the PUK
		{"002400800831323334353637FF", swWrongData},        // CHANGE with one PIN only
		{"00FB000000", swConditionsNotMet},                 // RESET while PIN and PUK work
		{"00C0000000", swConditionsNotMet},                 // GET RESPONSE with nothing pending
	} {
		if _, sw := send(t, c, tc.apdu); sw != tc.sw {
			t.Errorf("%s: status %04X, want %04X", tc.apdu, sw, tc.sw)
		}
	}
}

func TestPINLifecycle(t *testing.T) {
	c := newTestCard(t)
	pin := "00200080083132333435" + "36FFFF"
	wrong := "0020008008" + "3939393939" + "39FFFF"
	expectSW(t, c, "0020008000", 0x63C3)
	expectSW(t, c, wrong, 0x63C2)
	expectSW(t, c, "00200080", 0x63C2) // 4-byte status query, as OpenSC sends it
	expectSW(t, c, pin, swOK)
	expectSW(t, c, "0020008000", swOK)
	expectSW(t, c, "0020FF8000", swOK)
	expectSW(t, c, "0020008000", 0x63C3)

	// Metadata shows the default PIN and its counters.
	if m := expectSW(t, c, "00F7008000", swOK); hex.EncodeToString(m) != "0101ff050101060203"+"03" {
		t.Errorf("PIN metadata %x", m)
	}
	expectSW(t, c, wrong, 0x63C2)
	expectSW(t, c, wrong, 0x63C1)
	expectSW(t, c, wrong, 0x63C0)
	expectSW(t, c, wrong, swAuthBlocked)
	expectSW(t, c, pin, swAuthBlocked)
	expectSW(t, c, "0020008000", swAuthBlocked)

	// Unblock with the PUK and a new PIN; a wrong PUK costs a PUK retry.
	expectSW(t, c, "002C008010"+"3131313131313131"+"3635343332317878", 0x63C2)
	expectSW(t, c, "002C008010"+"3132333435363738"+"36353433323178FF", swOK)
	expectSW(t, c, "00F7008100", swOK)
	expectSW(t, c, pin, 0x63C2)
	expectSW(t, c, "0020008008"+"36353433323178FF", swOK)

	// Change the PIN back; a malformed new PIN costs nothing.
	expectSW(t, c, "0024008010"+"36353433323178FF"+"31323334FFFFFFFF", swWrongData)
	expectSW(t, c, "0024008010"+"36353433323178FF"+"313233343536FFFF", swOK)
	if m := expectSW(t, c, "00F7008000", swOK); m[5] != 1 {
		t.Errorf("PIN not reported as default after changing it back: %x", m)
	}
}

func TestResetNeedsBlockedPINAndPUK(t *testing.T) {
	c := newTestCard(t)
	authenticate3DES(t, c)
	expectSW(t, c, "00DB3FFF0B 5C035FC102 5304 01020304", swOK)
	for i := 0; i < 3; i++ {
		send(t, c, "0020008008"+"3939393939393939")
		send(t, c, "002C008010"+"3939393939393939"+"3939393939393939")
	}
	expectSW(t, c, "00FB0000", swOK)
	expectSW(t, c, "00CB3FFF055C035FC102", swFileNotFound)
	expectSW(t, c, "0020008000", 0x63C3)
	// The attestation certificate survives RESET.
	expectSW(t, c, "00CB3FFF0000055C035FFF010000", swOK)
}

func TestChainingAndGetResponse(t *testing.T) {
	c := newTestCard(t)
	authenticate3DES(t, c)
	content := bytes.Repeat([]byte{0xAB}, 700)
	obj := encodeTLV(0x53, content)
	put := append([]byte{0x5C, 0x03, 0x5F, 0xC1, 0x05}, obj...)
	for len(put) > 255 {
		chunk := append([]byte{0x10, 0xDB, 0x3F, 0xFF, 0xFF}, put[:255]...)
		if _, sw := sendBytes(t, c, chunk); sw != swOK {
			t.Fatalf("chained part: %04X", sw)
		}
		put = put[255:]
	}
	if _, sw := sendBytes(t, c, apdu(0xDB, 0x3F, 0xFF, put)); sw != swOK {
		t.Fatalf("last part: %04X", sw)
	}

	// Short APDU: 256-byte chunks and 61xx.
	data, sw := send(t, c, "00CB3FFF055C035FC10500")
	got := append([]byte(nil), data...)
	for sw&0xFF00 == 0x6100 {
		data, sw = send(t, c, "00C0000000")
		got = append(got, data...)
	}
	if sw != swOK || !bytes.Equal(got, obj) {
		t.Fatalf("reassembled %d bytes with %04X, want %d bytes", len(got), sw, len(obj))
	}
	// Le smaller than the answer: Le bytes, then the announced rest.
	data, sw = send(t, c, "00CB3FFF055C035FC10510")
	if len(data) != 16 || sw != 0x6100 {
		t.Fatalf("Le 16: %d bytes, %04X", len(data), sw)
	}
	// Extended APDU: the whole answer at once.
	data, sw = send(t, c, "00CB3FFF0000055C035FC1050000")
	if sw != swOK || !bytes.Equal(data, obj) {
		t.Fatalf("extended: %d bytes, %04X", len(data), sw)
	}
	// A chain broken by another instruction is refused.
	expectSW(t, c, "10DB3FFF025C03", swOK)
	expectSW(t, c, "00CB3FFF055C035FC105", swLastCommandExpected)
}

func TestManagementKeyAuthentication(t *testing.T) {
	c := newTestCard(t)
	expectSW(t, c, "00DB3FFF075C035FC1025300", swSecurityStatus)
	// A wrong witness fails and leaves the card unauthenticated.
	expectSW(t, c, "0087039B047C028000", swOK)
	expectSW(t, c, "0087039B167C14 8008 0000000000000000 8108 0000000000000000", swSecurityStatus)
	expectSW(t, c, "00DB3FFF075C035FC1025300", swSecurityStatus)
	// The wrong algorithm is refused.
	expectSW(t, c, "0087089B047C028000", swWrongData)
	// External authentication: the host encrypts the card's challenge.
	ch := expectSW(t, c, "0087039B047C028100", swOK)
	block, _ := des.NewTripleDESCipher(DefaultManagementKey)
	resp := make([]byte, 8)
	block.Encrypt(resp, ch[4:])
	sendBytes(t, c, apdu(0x87, 0x03, 0x9B, append([]byte{0x7C, 0x0A, 0x82, 0x08}, resp...)))
	expectSW(t, c, "00DB3FFF075C035FC1025300", swOK)

	// Switch to AES-128 and authenticate with it.
	aesKey := "000102030405060708090a0b0c0d0e0f"
	expectSW(t, c, "00FFFFFF13 089B10"+aesKey, swOK)
	if m := expectSW(t, c, "00F7009B00", swOK); hex.EncodeToString(m) != "010108020200010501"+"00" {
		t.Errorf("management key metadata %x", m)
	}
	expectSW(t, c, "0087039B047C028000", swWrongData)
	expectSW(t, c, "0087089B047C028000", swOK)
}

func TestGenerateSignAndPolicies(t *testing.T) {
	c := newTestCard(t)
	expectSW(t, c, "0047009A05AC03800111", swSecurityStatus)
	authenticate3DES(t, c)
	// Slot 9C with the default PIN policy "always".
	pubTLV := expectSW(t, c, "0047009C05AC03800111", swOK)
	objs, err := parseTLVs(pubTLV)
	if err != nil {
		t.Fatal(err)
	}
	inner, _ := find(objs, 0x7F49)
	points, _ := parseTLVs(inner)
	point, _ := find(points, 0x86)
	x, y := elliptic.Unmarshal(elliptic.P256(), point)
	if x == nil {
		t.Fatalf("bad public point %x", point)
	}
	pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}

	digest := sha256.Sum256([]byte("hello"))
	sign := apdu(0x87, 0x11, 0x9C, encodeTLV(0x7C, encodeTLV(0x82, nil), encodeTLV(0x81, digest[:])))
	if _, sw := sendBytes(t, c, sign); sw != swSecurityStatus {
		t.Fatalf("sign without PIN: %04X", sw)
	}
	expectSW(t, c, "0020008008313233343536FFFF", swOK)
	data, sw := sendBytes(t, c, sign)
	if sw != swOK {
		t.Fatalf("sign: %04X", sw)
	}
	if !ecdsa.VerifyASN1(pub, digest[:], responseOf(data)) {
		t.Fatal("signature does not verify")
	}
	// "Always" needs a fresh VERIFY for every signature.
	if _, sw := sendBytes(t, c, sign); sw != swSecurityStatus {
		t.Fatalf("second sign without VERIFY: %04X", sw)
	}
	// Wrong algorithm for the slot and a digest longer than the curve.
	expectSW(t, c, "0020008008313233343536FFFF", swOK)
	bad := apdu(0x87, 0x14, 0x9C, encodeTLV(0x7C, encodeTLV(0x82, nil), encodeTLV(0x81, digest[:])))
	if _, sw := sendBytes(t, c, bad); sw != swWrongData {
		t.Fatalf("wrong algorithm: %04X", sw)
	}
	long := apdu(0x87, 0x11, 0x9C, encodeTLV(0x7C, encodeTLV(0x82, nil), encodeTLV(0x81, make([]byte, 48))))
	if _, sw := sendBytes(t, c, long); sw != swWrongData {
		t.Fatalf("long digest: %04X", sw)
	}
	// A malformed request did not consume the verification.
	if _, sw := sendBytes(t, c, sign); sw != swOK {
		t.Fatalf("sign after refused requests: %04X", sw)
	}

	// Metadata reports algorithm, policies and origin; empty slots are 6A88.
	m := expectSW(t, c, "00F7009C00", swOK)
	if !bytes.HasPrefix(m, []byte{0x01, 0x01, 0x11, 0x02, 0x02, 0x03, 0x01, 0x03, 0x01, 0x01, 0x04}) {
		t.Errorf("slot metadata %x", m)
	}
	expectSW(t, c, "00F7009D00", swRefNotFound)
}

func TestPowerEventsDropAuthentication(t *testing.T) {
	c := newTestCard(t)
	authenticate3DES(t, c)
	expectSW(t, c, "0020008008313233343536FFFF", swOK)
	for _, event := range []func(){c.PowerOff, c.PowerOn, c.Reset} {
		event()
		expectSW(t, c, "0020008000", 0x63C3)
		expectSW(t, c, "00DB3FFF075C035FC1025300", swSecurityStatus)
		authenticate3DES(t, c)
		expectSW(t, c, "0020008008313233343536FFFF", swOK)
	}
	// A pending chain does not survive a reset either.
	expectSW(t, c, "10DB3FFF025C03", swOK)
	c.Reset()
	authenticate3DES(t, c)
	expectSW(t, c, "00DB3FFF075C035FC1025300", swOK)
}

func TestSnapshotRoundTrip(t *testing.T) {
	var saved []byte
	c, err := New(Config{Serial: 77, Persist: func(b []byte) error { saved = b; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	authenticate3DES(t, c)
	pub := expectSW(t, c, "0047009A05AC03800111", swOK)
	expectSW(t, c, "0020008008393939393939FFFF", 0x63C2)

	d, err := Load(Config{}, saved)
	if err != nil {
		t.Fatal(err)
	}
	if d.Serial() != 77 {
		t.Errorf("serial %d", d.Serial())
	}
	expectSW(t, d, "0020008000", 0x63C2)
	m := expectSW(t, d, "00F7009A00", swOK)
	if !bytes.HasSuffix(m, pub[3:]) {
		t.Errorf("restored key differs: %x vs %x", m, pub)
	}
	if _, err := Load(Config{}, []byte(`{"serial":1}`)); err == nil {
		t.Error("incomplete state accepted")
	}
}

func TestPersistFailureIsReported(t *testing.T) {
	fail := false
	c, err := New(Config{Persist: func([]byte) error {
		if fail {
			return bytes.ErrTooLarge
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	fail = true
	expectSW(t, c, "0020008008393939393939FFFF", swMemoryFailure)
}

func TestFaults(t *testing.T) {
	c := newTestCard(t)
	c.InjectFault(Fault{INS: insGetVersion, Skip: 1, Times: 1, SW: 0x6F00})
	expectSW(t, c, "00FD000000", swOK)
	expectSW(t, c, "00FD000000", 0x6F00)
	expectSW(t, c, "00FD000000", swOK)

	// A card removed during VERIFY spends no retry.
	c.InjectFault(Fault{INS: insVerify, Disconnect: true})
	if resp := c.Process([]byte{0, insVerify, 0, 0x80, 8, '9', '9', '9', '9', '9', '9', 0xFF, 0xFF}); resp != nil {
		t.Fatalf("disconnect fault answered %x", resp)
	}
	c.ClearFaults()
	expectSW(t, c, "0020008000", 0x63C3)

	c.InjectFault(Fault{INS: insGetSerial, Disconnect: true, Times: 1})
	if resp := c.Process([]byte{0, insGetSerial, 0, 0, 0}); resp != nil {
		t.Fatalf("disconnect fault answered %x", resp)
	}

	fired := make(chan struct{}, 1)
	c.InjectFault(Fault{Delay: time.Hour, Fired: fired})
	done := make(chan []byte)
	go func() { done <- c.Process([]byte{0, insGetVersion, 0, 0, 0}) }()
	select {
	case <-fired:
	case <-time.After(5 * time.Second):
		t.Fatal("the delayed command did not report that the fault fired")
	}
	select {
	case <-done:
		t.Fatal("delayed answer came at once")
	case <-time.After(50 * time.Millisecond):
	}
	c.ClearFaults()
	if resp := <-done; !bytes.Equal(resp, []byte{5, 7, 1, 0x90, 0}) {
		t.Fatalf("after release: %x", resp)
	}
}

func TestStatsCountWithoutData(t *testing.T) {
	c := newTestCard(t)
	c.ResetStats()
	expectSW(t, c, "00A4040005A000000308", swOK)
	expectSW(t, c, "0020008008313233343536FFFF", swOK)
	s := c.Stats()
	if s.Commands != 2 || s.BytesIn != 10+13 || s.BytesOut != 19+2+2 {
		t.Fatalf("stats %+v", s)
	}
	if s.Log[1].Name != "VERIFY" || s.Log[1].DataLen != 8 || s.Log[1].SW != swOK {
		t.Fatalf("log entry %+v", s.Log[1])
	}
}

func TestRawRSA(t *testing.T) {
	c := newTestCard(t)
	authenticate3DES(t, c)
	data := expectSW(t, c, "0047009D05AC03800106", swOK)
	objs, _ := parseTLVs(data)
	inner, _ := find(objs, 0x7F49)
	parts, _ := parseTLVs(inner)
	nBytes, _ := find(parts, 0x81)
	n := new(big.Int).SetBytes(nBytes)
	expectSW(t, c, "0020008008313233343536FFFF", swOK)
	m := big.NewInt(123456789)
	in := m.FillBytes(make([]byte, 128))
	resp, sw := sendBytes(t, c, apdu(0x87, 0x06, 0x9D, encodeTLV(0x7C, encodeTLV(0x82, nil), encodeTLV(0x81, in))))
	if sw != swOK {
		t.Fatalf("raw RSA: %04X", sw)
	}
	if back := new(big.Int).Exp(new(big.Int).SetBytes(responseOf(resp)), big.NewInt(65537), n); back.Cmp(m) != 0 {
		t.Fatal("s^e mod n != m")
	}
	// Input must be exactly the modulus size and below the modulus.
	if _, sw := sendBytes(t, c, apdu(0x87, 0x06, 0x9D, encodeTLV(0x7C, encodeTLV(0x82, nil), encodeTLV(0x81, in[1:])))); sw != swWrongData {
		t.Fatalf("short input: %04X", sw)
	}
}

func FuzzProcess(f *testing.F) {
	for _, seed := range []string{
		"00A4040005A000000308", "00CB3FFF055C035FC10500", "0087039B047C028000",
		"0047009A05AC03800111", "10DB3FFF025C03", "00CB3FFF0000055C035FC1050000",
		"0020008008313233343536FFFF", "00C0000000", "00FE119A0306020000",
	} {
		b, _ := hex.DecodeString(seed)
		f.Add(b)
	}
	var cards []*Card
	for _, p := range Profiles {
		c, err := New(Config{Serial: 1, Profile: p})
		if err != nil {
			f.Fatal(err)
		}
		cards = append(cards, c)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1 && (b[1] == insGenerate || b[1] == insReset) {
			return // slow or destructive, and covered by the tests above
		}
		for _, c := range cards {
			if resp := c.Process(b); len(resp) < 2 {
				t.Fatalf("%s card: no status word for %x", c.Profile(), b)
			}
		}
	})
}

// responseOf returns the response (tag 82) in the dynamic authentication
// template (tag 7C) that GENERAL AUTHENTICATE answers with.
func responseOf(data []byte) []byte {
	outer, _ := parseTLVs(data)
	tmpl, _ := find(outer, 0x7C)
	objs, _ := parseTLVs(tmpl)
	r, _ := find(objs, 0x82)
	return r
}
