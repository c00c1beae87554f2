package apdu

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
)

// MaxCertificate bounds a certificate once decompressed, so that a
// compressed object cannot expand without limit.
const MaxCertificate = 32 << 10

// CertificateObject is the content of a certificate data object (SP
// 800-73-4 part 1, appendix A): `53 L {70 L certificate, 71 01 CertInfo,
// FE 00}`.
type CertificateObject struct {
	// DER is the certificate, decompressed if it was stored compressed;
	// nil if the object holds none.
	DER []byte
	// Compressed says that the card stored it compressed: CertInfo bit 0
	// (or 0x80, as some older cards set it).
	Compressed bool
}

// ParseCertificateObject decodes the answer to GET DATA of a certificate
// object, gunzipping a compressed certificate. Whether DER is a valid
// certificate is for the caller to find out.
func ParseCertificateObject(b []byte) (CertificateObject, error) {
	objs, err := Unwrap(b, 0x53)
	if err != nil {
		return CertificateObject{}, fmt.Errorf("malformed certificate object: %w", err)
	}
	der, _ := Find(objs, 0x70)
	if len(der) == 0 {
		return CertificateObject{}, nil
	}
	info, _ := Find(objs, 0x71)
	if len(info) != 1 || info[0]&0x81 == 0 {
		return CertificateObject{DER: der}, nil
	}
	plain, err := decompress(der)
	if err != nil {
		return CertificateObject{}, fmt.Errorf("compressed certificate: %w", err)
	}
	return CertificateObject{DER: plain, Compressed: true}, nil
}

// decompress inflates b, gzip as SP 800-73-4 names it, or zlib as some
// cards write it, up to MaxCertificate bytes.
func decompress(b []byte) ([]byte, error) {
	var (
		r   io.ReadCloser
		err error
	)
	if len(b) >= 2 && b[0] == 0x1F && b[1] == 0x8B {
		r, err = gzip.NewReader(bytes.NewReader(b))
	} else {
		r, err = zlib.NewReader(bytes.NewReader(b))
	}
	if err != nil {
		return nil, errors.New("neither gzip nor zlib data")
	}
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, MaxCertificate+1))
	switch {
	case err != nil:
		return nil, err
	case len(out) > MaxCertificate:
		return nil, fmt.Errorf("larger than %d bytes once decompressed", MaxCertificate)
	}
	return out, nil
}

// GUIDSize is the size of the GUID in a CHUID.
const GUIDSize = 16

// ParseCHUIDGUID returns the GUID (tag 34) of the answer to GET DATA of
// the Card Holder Unique Identifier, 5FC102. A CHUID without a GUID, or
// with an all-zero one, gives an error: the card has no identifier.
func ParseCHUIDGUID(b []byte) ([GUIDSize]byte, error) {
	var guid [GUIDSize]byte
	objs, err := Unwrap(b, 0x53)
	if err != nil {
		return guid, fmt.Errorf("malformed CHUID: %w", err)
	}
	v, ok := Find(objs, 0x34)
	if !ok || len(v) != GUIDSize {
		return guid, errors.New("the CHUID holds no 16-byte GUID")
	}
	copy(guid[:], v)
	if guid == ([GUIDSize]byte{}) {
		return guid, errors.New("the CHUID's GUID is all zeros")
	}
	return guid, nil
}
