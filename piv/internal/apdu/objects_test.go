package apdu

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"testing"
)

func TestParseTLVs(t *testing.T) {
	// 7F49 with a long-form length, a one-byte tag, 5FC102 as a
	// three-byte tag.
	b := append([]byte{0x7F, 0x49, 0x81, 0x80}, make([]byte, 0x80)...)
	b = append(b, 0x86, 0x01, 0xAA, 0x5F, 0xC1, 0x02, 0x00)
	objs, err := ParseTLVs(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 3 || objs[0].Tag != 0x7F49 || len(objs[0].Value) != 0x80 || objs[1].Tag != 0x86 || objs[2].Tag != 0x5FC102 {
		t.Fatalf("ParseTLVs: %+v", objs)
	}
	if v, ok := Find(objs, 0x86); !ok || !bytes.Equal(v, []byte{0xAA}) {
		t.Errorf("Find(86): % x, %t", v, ok)
	}
	for _, bad := range [][]byte{
		{0x53},                         // no length
		{0x53, 0x05, 0x01},             // value cut short
		{0x53, 0x84, 0, 0, 0, 1, 0},    // four-byte length
		{0x53, 0x80},                   // indefinite length
		{0x5F},                         // tag cut short
		{0x5F, 0xC1, 0x82, 0x01, 0x00}, // four-byte tag
	} {
		if _, err := ParseTLVs(bad); err == nil {
			t.Errorf("ParseTLVs(% x) accepted", bad)
		}
	}
}

func TestAppendTLV(t *testing.T) {
	for _, n := range []int{0, 0x7F, 0x80, 0xFF, 0x100, 0x1234} {
		b := AppendTLV(nil, 0x7C, make([]byte, n))
		objs, err := ParseTLVs(b)
		if err != nil || len(objs) != 1 || objs[0].Tag != 0x7C || len(objs[0].Value) != n {
			t.Errorf("AppendTLV(%d bytes) does not parse back: %v", n, err)
		}
	}
}

// certObject builds a certificate object `53 {70 cert, 71 info, FE 00}`.
func certObject(cert []byte, info ...byte) []byte {
	inner := AppendTLV(nil, 0x70, cert)
	if len(info) > 0 {
		inner = AppendTLV(inner, 0x71, info)
	}
	inner = AppendTLV(inner, 0xFE, nil)
	return AppendTLV(nil, 0x53, inner)
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func zl(b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestParseCertificateObject(t *testing.T) {
	der := bytes.Repeat([]byte("certificate "), 100)
	for _, tc := range []struct {
		name       string
		obj        []byte
		compressed bool
	}{
		{"plain", certObject(der, 0x00), false},
		{"plain without CertInfo", certObject(der), false},
		{"gzip", certObject(gz(der), 0x01), true},
		{"gzip, old CertInfo", certObject(gz(der), 0x80), true},
		{"zlib", certObject(zl(der), 0x01), true},
		{"padding after the object", append(certObject(der, 0x00), 0x00, 0x00), false},
	} {
		got, err := ParseCertificateObject(tc.obj)
		if err != nil || !bytes.Equal(got.DER, der) || got.Compressed != tc.compressed {
			t.Errorf("%s: %d bytes, compressed %t, %v", tc.name, len(got.DER), got.Compressed, err)
		}
	}
	if got, err := ParseCertificateObject(certObject(nil, 0x00)); err != nil || got.DER != nil {
		t.Errorf("empty object: %+v, %v; want no certificate and no error", got, err)
	}
	bomb := gz(make([]byte, MaxCertificate+1))
	for name, obj := range map[string][]byte{
		"bomb":          certObject(bomb, 0x01),
		"not gzip":      certObject(der, 0x01),
		"truncated":     certObject(gz(der)[:40], 0x01),
		"no 53":         AppendTLV(nil, 0x54, nil),
		"empty":         nil,
		"53 cut short":  {0x53, 0x10, 0x70},
		"inner garbled": AppendTLV(nil, 0x53, []byte{0x70, 0x05}),
	} {
		if got, err := ParseCertificateObject(obj); err == nil {
			t.Errorf("%s: accepted, %d bytes", name, len(got.DER))
		}
	}
}

func TestParseCHUIDGUID(t *testing.T) {
	guid := bytes.Repeat([]byte{0x42}, GUIDSize)
	chuid := func(g []byte) []byte {
		inner := AppendTLV(nil, 0x30, make([]byte, 25))
		inner = AppendTLV(inner, 0x34, g)
		inner = AppendTLV(inner, 0x35, []byte("20301231"))
		inner = AppendTLV(inner, 0x3E, nil)
		inner = AppendTLV(inner, 0xFE, nil)
		return AppendTLV(nil, 0x53, inner)
	}
	got, err := ParseCHUIDGUID(chuid(guid))
	if err != nil || !bytes.Equal(got[:], guid) {
		t.Fatalf("ParseCHUIDGUID: % x, %v", got, err)
	}
	for name, b := range map[string][]byte{
		"zero GUID":  chuid(make([]byte, GUIDSize)),
		"short GUID": chuid(guid[:8]),
		"no 53":      guid,
	} {
		if _, err := ParseCHUIDGUID(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzParseObjects: no answer makes the parsers panic, and a certificate
// never comes out larger than MaxCertificate.
func FuzzParseObjects(f *testing.F) {
	f.Add(certObject(gz([]byte("cert")), 0x01))
	f.Add(certObject([]byte("cert"), 0x00))
	f.Add([]byte{0x53, 0x82, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseTLVs(b)
		ParseCHUIDGUID(b)
		obj, err := ParseCertificateObject(b)
		if err == nil && len(obj.DER) > MaxCertificate && obj.Compressed {
			t.Fatalf("decompressed to %d bytes", len(obj.DER))
		}
	})
}
