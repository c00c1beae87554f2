package card

import (
	"bytes"
	"compress/gzip"
	"crypto/des"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/big"
	"strings"
	"testing"
	"time"
)

const (
	verifyPIN    = "0020008008313233343536FFFF"
	verifyWrong  = "0020008008393939393939FFFF"
	pinStatus    = "0020008000"
	getCHUID     = "00CB3FFF055C035FC10200"
	getCCC       = "00CB3FFF055C035FC10700"
	getDiscovery = "00CB3FFF035C017E00"
)

// newProfileCard returns a factory-fresh card of a profile.
func newProfileCard(t testing.TB, cfg Config) *Card {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testImport makes a P-256 key and a self-signed certificate for it.
func testImport(t testing.TB, slot byte) (Import, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(int64(slot)),
		Subject:      pkix.Name{CommonName: "import " + hex.EncodeToString([]byte{slot})},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return Import{Slot: slot, Key: key, Certificate: der}, key
}

// signAPDU is GENERAL AUTHENTICATE with a P-256 key: sign digest in slot.
func signAPDU(slot byte, digest []byte) []byte {
	return apdu(0x87, algECP256, slot, encodeTLV(0x7C, encodeTLV(0x82, nil), encodeTLV(0x81, digest)))
}

// content returns the value of the one TLV object in data with the given
// tag, failing the test if there is none.
func content(t testing.TB, data []byte, tag uint32) []byte {
	t.Helper()
	objs, err := parseTLVs(data)
	if err != nil {
		t.Fatalf("%x: %v", data, err)
	}
	v, ok := find(objs, tag)
	if !ok {
		t.Fatalf("%x has no tag %X", data, tag)
	}
	return v
}

func TestParseProfile(t *testing.T) {
	for in, want := range map[string]Profile{"": ProfileYubiKey, "yubikey": ProfileYubiKey, "generic": ProfileGeneric, "trussed": ProfileTrussed} {
		if got, err := ParseProfile(in); err != nil || got != want {
			t.Errorf("ParseProfile(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseProfile("YubiKey"); err == nil || !strings.Contains(err.Error(), "yubikey, generic or trussed") {
		t.Errorf("unknown profile: %v", err)
	}
	if _, err := New(Config{Profile: "nitrokey"}); err == nil {
		t.Error("New accepted an unknown profile")
	}
}

// TestYubiKeyProfileUnchanged pins what the default profile answered
// before cards had profiles: its ATR, and a snapshot without a profile.
func TestYubiKeyProfileUnchanged(t *testing.T) {
	for _, p := range []Profile{"", ProfileYubiKey} {
		c := newProfileCard(t, Config{Serial: 5, Profile: p})
		if got := hex.EncodeToString(c.ATR()); got != "3b888001765049566361726424" {
			t.Errorf("profile %q: ATR %s", p, got)
		}
		if c.Profile() != ProfileYubiKey || c.Firmware() != DefaultFirmware {
			t.Errorf("profile %q: Profile %q, Firmware %q", p, c.Profile(), c.Firmware())
		}
		var st map[string]any
		if err := json.Unmarshal(snapshotOf(t, c), &st); err != nil {
			t.Fatal(err)
		}
		if _, ok := st["profile"]; ok {
			t.Errorf("profile %q: the snapshot names a profile", p)
		}
		expectSW(t, c, getCHUID, swFileNotFound)
		if d := expectSW(t, c, getDiscovery, swOK); hex.EncodeToString(d) != "7e124f0ba0000003080000100001005f2f024000" {
			t.Errorf("discovery %x", d)
		}
	}
}

func TestGenericRefusesYubiKeyExtensions(t *testing.T) {
	c := newProfileCard(t, Config{Serial: 1234, Profile: ProfileGeneric})
	authenticate := "0087039B047C028000"
	expectSW(t, c, authenticate, swOK) // a standard command
	for _, cmd := range []string{
		"00FD000000",       // GET VERSION
		"00F8000000",       // GET SERIAL
		"00F7008000",       // GET METADATA, PIN
		"00F7009B00",       // GET METADATA, management key
		"00F7009A00",       // GET METADATA, slot
		"00F99A0000",       // ATTEST
		"00FA0303",         // SET PIN RETRIES
		"00FB0000",         // RESET
		"00FE119A03060100", // IMPORT KEY
		"00FFFFFF03039B00", // SET MANAGEMENT KEY
		"00CADF3000",       // OpenSC's probe
		"0012000000",       // unknown
	} {
		expectSW(t, c, cmd, swINSNotSupported)
	}
	if got := c.Firmware(); got != "" {
		t.Errorf("firmware %q", got)
	}
	if _, err := New(Config{Profile: ProfileGeneric, Firmware: "5.7.1"}); err == nil {
		t.Error("a firmware version was accepted for a generic card")
	}
}

// TestGenericManagementKeyUnknown shows that the default management key
// fails on a generic card, so GENERATE and PUT DATA are refused, and
// that every card has a management key of its own.
func TestGenericManagementKeyUnknown(t *testing.T) {
	c := newProfileCard(t, Config{Serial: 1, Profile: ProfileGeneric})
	block, err := des.NewTripleDESCipher(DefaultManagementKey)
	if err != nil {
		t.Fatal(err)
	}
	data := expectSW(t, c, "0087039B047C028000", swOK)
	w := make([]byte, 8)
	block.Decrypt(w, content(t, content(t, data, 0x7C), 0x80))
	req := encodeTLV(0x7C, encodeTLV(0x80, w), encodeTLV(0x81, []byte("chalenge")))
	if _, sw := sendBytes(t, c, apdu(0x87, alg3DES, refManagement, req)); sw != swSecurityStatus {
		t.Fatalf("mutual authentication with the default key: %04X, want 6982", sw)
	}
	expectSW(t, c, "0047009A05AC03800111", swSecurityStatus)
	expectSW(t, c, "00DB3FFF0B5C035FC1055304"+"70020102", swSecurityStatus)

	keys := map[string]bool{}
	for i := 0; i < 3; i++ {
		var st state
		if err := json.Unmarshal(snapshotOf(t, newProfileCard(t, Config{Serial: 1, Profile: ProfileGeneric})), &st); err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(st.MgmtKey, DefaultManagementKey) || len(st.MgmtKey) != 24 {
			t.Fatalf("management key %x", st.MgmtKey)
		}
		keys[string(st.MgmtKey)] = true
	}
	if len(keys) != 3 {
		t.Errorf("3 cards share management keys: %d distinct", len(keys))
	}
}

func TestGenericDataObjects(t *testing.T) {
	const serial = 987654321
	c := newProfileCard(t, Config{Serial: serial, Profile: ProfileGeneric})
	ch := content(t, expectSW(t, c, getCHUID, swOK), 0x53)
	guid := GUIDOf(serial)
	want := "3019" + hex.EncodeToString(genericFASCN(serial)) +
		"3410" + hex.EncodeToString(guid[:]) +
		"3508" + hex.EncodeToString([]byte("20401231")) + "3e00fe00"
	if got := hex.EncodeToString(ch); got != want {
		t.Errorf("CHUID\n got %s\nwant %s", got, want)
	}
	ccc := content(t, expectSW(t, c, getCCC, swOK), 0x53)
	if id := content(t, ccc, 0xF0); len(id) != 21 || !bytes.HasPrefix(id, []byte{0xA0, 0x00, 0x00, 0x01, 0x16, 0xFF, 0x02, 0x3A, 0xDE, 0x68, 0xB1}) {
		t.Errorf("CCC card identifier %x", id)
	}
	if d := expectSW(t, c, getDiscovery, swOK); hex.EncodeToString(d) != "7e124f0ba0000003080000100001005f2f024000" {
		t.Errorf("discovery %x", d)
	}
	atr := c.ATR()
	if bytes.Contains(atr, []byte("vPIVcard")) || !bytes.Contains(atr, []byte("vGENERIC")) || atr[3] != 0x01 {
		t.Errorf("ATR %x", atr)
	}
}

func TestFASCN(t *testing.T) {
	// piv-authenticator's default FASC-N (src/piv_types.rs): agency 9999,
	// zeros, OC 1, POA 1.
	if got := hex.EncodeToString(trussedFASCN); got != "d4e739d821086c1084210d8360d8210842108421804210c3f3" {
		t.Errorf("FASC-N %s", got)
	}
	if a, b := genericFASCN(1), genericFASCN(2); len(a) != 25 || bytes.Equal(a, b) {
		t.Errorf("FASC-Ns of cards 1 and 2: %x, %x", a, b)
	}
}

func TestGUIDOf(t *testing.T) {
	a, b := GUIDOf(7), GUIDOf(8)
	if a == b || a != GUIDOf(7) {
		t.Fatalf("GUIDOf(7) = %x, GUIDOf(8) = %x", a, b)
	}
	if a[6]>>4 != 8 || a[8]>>6 != 2 {
		t.Errorf("GUID %x: not an RFC 9562 version 8 UUID", a)
	}
}

// TestFixedPINPolicies signs with keys imported into each slot of a
// generic and a trussed card: 9A and 9D need the PIN once, 9C right
// before each signature, 9E never.
func TestFixedPINPolicies(t *testing.T) {
	digest := sha256.Sum256([]byte("policy"))
	for _, p := range []Profile{ProfileGeneric, ProfileTrussed} {
		t.Run(string(p), func(t *testing.T) {
			var imports []Import
			keys := map[byte]*ecdsa.PrivateKey{}
			for _, slot := range []byte{0x9A, 0x9C, 0x9D, 0x9E, 0x82} {
				imp, key := testImport(t, slot)
				imports = append(imports, imp)
				keys[slot] = key
			}
			c := newProfileCard(t, Config{Serial: 3, Profile: p, Imports: imports})
			sign := func(slot byte, want uint16) {
				t.Helper()
				data, sw := sendBytes(t, c, signAPDU(slot, digest[:]))
				if sw != want {
					t.Fatalf("sign with %02X: %04X, want %04X", slot, sw, want)
				}
				if sw == swOK && !ecdsa.VerifyASN1(&keys[slot].PublicKey, digest[:], responseOf(data)) {
					t.Fatalf("signature of %02X does not verify", slot)
				}
			}
			sign(0x9E, swOK)
			for _, slot := range []byte{0x9A, 0x9C, 0x9D, 0x82} {
				sign(slot, swSecurityStatus)
			}
			expectSW(t, c, verifyPIN, swOK)
			sign(0x9C, swOK)
			sign(0x9C, swSecurityStatus)
			for _, slot := range []byte{0x9A, 0x9D, 0x82, 0x9E} {
				sign(slot, swOK)
			}
			expectSW(t, c, verifyPIN, swOK)
			sign(0x9C, swOK)
		})
	}
}

// TestStandardPINCommands runs VERIFY, CHANGE REFERENCE DATA and RESET
// RETRY COUNTER on a generic card as SP 800-73-4 part 2, §3.2, has them.
func TestStandardPINCommands(t *testing.T) {
	c := newProfileCard(t, Config{Serial: 3, Profile: ProfileGeneric})
	expectSW(t, c, pinStatus, 0x63C3)
	expectSW(t, c, verifyWrong, 0x63C2)
	expectSW(t, c, verifyPIN, swOK)
	expectSW(t, c, pinStatus, swOK)
	expectSW(t, c, "0020FF8000", swOK) // P1 FF: the PIN is no longer verified
	expectSW(t, c, pinStatus, 0x63C3)
	expectSW(t, c, "0024008010"+"313233343536FFFF"+"3635343332317878", swOK)
	expectSW(t, c, "0024008110"+"3132333435363738"+"3837363534333231", swOK)
	for _, sw := range []uint16{0x63C2, 0x63C1, 0x63C0, swAuthBlocked} {
		expectSW(t, c, verifyPIN, sw)
	}
	expectSW(t, c, pinStatus, swAuthBlocked)
	expectSW(t, c, "002C008010"+"3132333435363738"+"313233343536FFFF", 0x63C2) // the old PUK
	expectSW(t, c, "002C008010"+"3837363534333231"+"313233343536FFFF", swOK)
	expectSW(t, c, verifyPIN, swOK)
}

func TestTrussedProfile(t *testing.T) {
	imp, _ := testImport(t, 0x9E)
	c := newProfileCard(t, Config{Serial: 31337, Profile: ProfileTrussed, Imports: []Import{imp}})
	if atr := hex.EncodeToString(c.ATR()); atr != "3b8f01805d4e6974726f6b657900000000006a" {
		t.Errorf("ATR %s, want a Nitrokey 3's", atr)
	}
	if v := expectSW(t, c, "00FD000000", swOK); !bytes.Equal(v, []byte{6, 6, 6}) {
		t.Errorf("version %x", v)
	}
	if s := expectSW(t, c, "00F8000000", swOK); !bytes.Equal(s, []byte{0x00, 0x52, 0xF7, 0x43}) {
		t.Errorf("serial %x", s)
	}
	for _, ref := range []string{"80", "81", "9B", "9A", "9C"} {
		if m := expectSW(t, c, "00F700"+ref+"00", swOK); len(m) != 0 {
			t.Errorf("metadata of %s: %x, want nothing", ref, m)
		}
	}
	if m := expectSW(t, c, "00F7009E00", swOK); hex.EncodeToString(m) != "02020100" {
		t.Errorf("metadata of 9E: %x", m)
	}
	for _, cmd := range []string{"00F99A0000", "00FA0303", "00FD010000", "0012000000", "00CADF3000", "00A4040C05A000000308"} {
		expectSW(t, c, cmd, swFunctionNotSupported)
	}
	expectSW(t, c, "00CB3FFF055C035FFF0100", swWrongData) // not an SP 800-73-4 object
	sel := expectSW(t, c, "00A4040005A000000308", swOK)
	if !bytes.Contains(sel, []byte(trussedLabel)) {
		t.Errorf("SELECT answered %x", sel)
	}
	guid := GUIDOf(31337)
	if ch := content(t, expectSW(t, c, getCHUID, swOK), 0x53); !bytes.Equal(content(t, ch, 0x34), guid[:]) || !bytes.Equal(content(t, ch, 0x35), []byte("99991231")) {
		t.Errorf("CHUID %x", ch)
	}
	if d := expectSW(t, c, getDiscovery, swOK); hex.EncodeToString(d) != "7e124f0ba0000003080000100001005f2f024010" {
		t.Errorf("discovery %x", d)
	}

	// The default management key works; GENERATE ignores Yubico's PIN
	// policy tag.
	authenticate3DES(t, c)
	expectSW(t, c, "0047009A05AC038001E0", swWrongData) // no Ed25519
	expectSW(t, c, "0047009A08AC06800111AA0101", swOK)
	digest := sha256.Sum256([]byte("trussed"))
	expectSW(t, c, hex.EncodeToString(signAPDU(0x9A, digest[:])), swSecurityStatus)
	// ECDSA digests must be as long as the curve.
	expectSW(t, c, verifyPIN, swOK)
	expectSW(t, c, hex.EncodeToString(signAPDU(0x9A, digest[:20])), swWrongData)
	expectSW(t, c, hex.EncodeToString(signAPDU(0x9A, digest[:])), swOK)
	// An empty slot: first the PIN policy, then "conditions not met".
	expectSW(t, c, hex.EncodeToString(signAPDU(0x9C, digest[:])), swSecurityStatus)
	expectSW(t, c, verifyPIN, swOK)
	expectSW(t, c, hex.EncodeToString(signAPDU(0x9C, digest[:])), swConditionsNotMet)
	// "Always" lasts for the one command after VERIFY.
	expectSW(t, c, "0047009C05AC03800111", swOK)
	expectSW(t, c, verifyPIN, swOK)
	expectSW(t, c, pinStatus, swOK)
	expectSW(t, c, hex.EncodeToString(signAPDU(0x9C, digest[:])), swSecurityStatus)
	expectSW(t, c, verifyPIN, swOK)
	expectSW(t, c, hex.EncodeToString(signAPDU(0x9C, digest[:])), swOK)

	// A wrong PIN in CHANGE REFERENCE DATA costs a retry but answers 6300.
	expectSW(t, c, "0024008010"+"393939393939FFFF"+"3635343332317878", swVerificationFailed)
	expectSW(t, c, "0020FF8000", swOK)
	expectSW(t, c, pinStatus, 0x63C2)
	expectSW(t, c, "002C008010"+"3939393939393939"+"313233343536FFFF", swVerificationFailed)
	// A wrong management key answers 6A80, a wrong algorithm 6A86.
	expectSW(t, c, "0087089B047C028000", swWrongP1P2)
	expectSW(t, c, "0087039B047C028000", swOK)
	expectSW(t, c, "0087039B167C14 8008 0000000000000000 8108 0000000000000000", swWrongData)

	// RESET needs the PIN blocked, not the PUK; the try that blocks the
	// PIN answers 6983, and a blocked PIN's status is 63C0.
	expectSW(t, c, "00FB000000", swConditionsNotMet)
	for _, sw := range []uint16{0x63C1, swAuthBlocked, swAuthBlocked} {
		expectSW(t, c, verifyWrong, sw)
	}
	expectSW(t, c, pinStatus, 0x63C0)
	expectSW(t, c, "00FB000000", swOK)
	expectSW(t, c, pinStatus, 0x63C3)
	expectSW(t, c, "00F7009E00", swOK)
	expectSW(t, c, "00CB3FFF055C035FC10100", swFileNotFound)
	expectSW(t, c, getCHUID, swOK)
	authenticate3DES(t, c)
}

func TestTrussedImportsOnlyRSAInto9A(t *testing.T) {
	c := newProfileCard(t, Config{Serial: 1, Profile: ProfileTrussed})
	authenticate3DES(t, c)
	expectSW(t, c, "00FE119A0306 0101", swFunctionNotSupported)
	expectSW(t, c, "00FE079C0301 0101", swFunctionNotSupported)
	expectSW(t, c, "00FE079A0301 0101", swWrongData)
}

func TestCompressedImports(t *testing.T) {
	imp, key := testImport(t, 0x9C)
	for _, compress := range []bool{false, true} {
		c := newProfileCard(t, Config{Serial: 9, Profile: ProfileGeneric, Imports: []Import{imp}, CompressCerts: compress})
		obj := content(t, expectAll(t, c, "00CB3FFF055C035FC10A00"), 0x53)
		cert, info := content(t, obj, 0x70), content(t, obj, 0x71)
		if compress {
			if !bytes.Equal(info, []byte{0x01}) {
				t.Fatalf("CertInfo %x, want 01", info)
			}
			r, err := gzip.NewReader(bytes.NewReader(cert))
			if err != nil {
				t.Fatal(err)
			}
			if cert, err = io.ReadAll(r); err != nil {
				t.Fatal(err)
			}
		} else if !bytes.Equal(info, []byte{0x00}) {
			t.Fatalf("CertInfo %x, want 00", info)
		}
		if !bytes.Equal(cert, imp.Certificate) {
			t.Fatalf("compress %t: stored certificate differs", compress)
		}
		content(t, obj, 0xFE)

		if err := c.CheckImports([]Import{imp}, compress); err != nil {
			t.Errorf("CheckImports of the card's own imports: %v", err)
		}
		if err := c.CheckImports([]Import{imp}, !compress); err == nil || !strings.Contains(err.Error(), "compressed") {
			t.Errorf("CheckImports with the other compression: %v", err)
		}
		other, _ := testImport(t, 0x9C)
		if err := c.CheckImports([]Import{other}, compress); err == nil || !strings.Contains(err.Error(), "slot 9c holds another key") {
			t.Errorf("CheckImports of another key: %v", err)
		}
		if err := c.CheckImports([]Import{{Slot: 0x9C, Key: key, Certificate: other.Certificate}}, compress); err == nil || !strings.Contains(err.Error(), "another certificate") {
			t.Errorf("CheckImports of another certificate: %v", err)
		}
		if err := c.CheckImports([]Import{{Slot: 0x9A, Key: key}}, compress); err == nil || !strings.Contains(err.Error(), "slot 9a holds no key") {
			t.Errorf("CheckImports of an empty slot: %v", err)
		}
	}
}

func TestImportErrors(t *testing.T) {
	a, _ := testImport(t, 0x9A)
	b, _ := testImport(t, 0x9A)
	for _, tc := range []struct {
		imp  Import
		want string
	}{
		{Import{Slot: 0x9B, Key: a.Key}, "not a key slot"},
		{Import{Slot: 0xF9, Key: a.Key}, "not a key slot"},
		{Import{Slot: 0x9A, Key: a.Key, Certificate: b.Certificate}, "not for the key"},
		{Import{Slot: 0x9A, Key: "key"}, "unsupported key type"},
	} {
		if _, err := New(Config{Profile: ProfileGeneric, Imports: []Import{tc.imp}}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("import %+v: %v, want %q", tc.imp.Slot, err, tc.want)
		}
	}
	// A certificate that does not parse is stored as given.
	c := newProfileCard(t, Config{Profile: ProfileGeneric, Imports: []Import{{Slot: 0x9D, Certificate: []byte{1, 2, 3}}}})
	if obj := expectSW(t, c, "00CB3FFF055C035FC10B00", swOK); !bytes.Contains(obj, []byte{0x70, 0x03, 1, 2, 3}) {
		t.Errorf("certificate object %x", obj)
	}
}

func TestProfileSnapshots(t *testing.T) {
	imp, _ := testImport(t, 0x9C)
	for _, p := range []Profile{ProfileGeneric, ProfileTrussed} {
		c := newProfileCard(t, Config{Serial: 11, Profile: p, Imports: []Import{imp}})
		snap := snapshotOf(t, c)
		d, err := Load(Config{Profile: ProfileYubiKey}, snap)
		if err != nil {
			t.Fatal(err)
		}
		if d.Profile() != p || d.Serial() != 11 {
			t.Errorf("loaded %s card %d, want %s card 11", d.Profile(), d.Serial(), p)
		}
		if err := d.CheckImports([]Import{imp}, false); err != nil {
			t.Error(err)
		}
		if !bytes.Equal(snapshotOf(t, d), snap) {
			t.Error("a loaded card's snapshot differs")
		}
		yk := newProfileCard(t, Config{Serial: 11})
		if err := yk.Restore(snap); err == nil || !strings.Contains(err.Error(), string(p)) {
			t.Errorf("a yubikey restored a %s snapshot: %v", p, err)
		}
	}
}

func TestT0Only(t *testing.T) {
	c := newProfileCard(t, Config{Serial: 5, Profile: ProfileGeneric, T0Only: true})
	if atr := hex.EncodeToString(c.ATR()); atr != "3b08"+hex.EncodeToString([]byte("vGENERIC")) {
		t.Errorf("ATR %s", atr)
	}
	// A command with data gets its answer through GET RESPONSE.
	if data := expectSW(t, c, "00A4040005A000000308", 0x6113); len(data) != 0 {
		t.Errorf("SELECT answered %x with 6113", data)
	}
	if data := expectSW(t, c, "00C0000013", swOK); data[0] != 0x61 || len(data) != 0x13 {
		t.Errorf("GET RESPONSE %x", data)
	}
	if data := expectAll(t, c, getCHUID); content(t, data, 0x53) == nil {
		t.Errorf("CHUID %x", data)
	}
	// Commands without data, and status words without data, come at once.
	expectSW(t, c, pinStatus, 0x63C3)
	expectSW(t, c, verifyPIN, swOK)
	// T=0 has no extended APDUs.
	expectSW(t, c, "00CB3FFF0000055C035FC1020000", swWrongLength)

	yk := newProfileCard(t, Config{Serial: 5, T0Only: true})
	if v := expectSW(t, yk, "00FD000000", swOK); !bytes.Equal(v, []byte{5, 7, 1}) {
		t.Errorf("version %x", v)
	}
	if atr := hex.EncodeToString(yk.ATR()); atr != "3b08"+hex.EncodeToString([]byte("vPIVcard")) {
		t.Errorf("ATR %s", atr)
	}
}
