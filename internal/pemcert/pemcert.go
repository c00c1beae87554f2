// Package pemcert reads X.509 certificates from PEM files: a CA bundle, the
// root certificate of a timestamp authority, trust roots. The file is read
// through inputfile.ReadAll, so that no file can hang the reader or make
// it read without bound, and every PEM block must be a certificate: a
// private key or any other block is refused rather than skipped. Text
// around the blocks is ignored.
//
// Errors name the file and the PEM block, counted from 1. What the
// certificates must be, and what to do about a wrong file, is for the
// caller to say.
package pemcert

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/notation-piv/notation-piv/internal/inputfile"
)

// MaxFileSize bounds a PEM file of certificates: a chain of ten RSA-4096
// certificates takes about 20 KiB.
const MaxFileSize = 1 << 20

// TooManyError says that a file holds more certificates than its reader
// takes.
type TooManyError struct {
	// Path is the path as given.
	Path string
	// Max is how many certificates the reader takes.
	Max int
}

// Error names the file and the bound.
func (e *TooManyError) Error() string {
	if e.Max == 1 {
		return e.Path + " holds more than one certificate"
	}
	return fmt.Sprintf("%s holds more than %d certificates", e.Path, e.Max)
}

// Load reads the PEM file at path, a regular file of at most MaxFileSize
// bytes, and returns its certificates in the order of the file: at least
// one, and at most max if max is positive (more give a *TooManyError).
// Errors of the file itself are those of inputfile.ReadAll.
func Load(path string, max int) ([]*x509.Certificate, error) {
	b, err := inputfile.ReadAll(path, MaxFileSize)
	if err != nil {
		return nil, err
	}
	return parse(path, b, max)
}

// parse returns the certificates of the PEM text b, read from the file
// at path (which names it in errors), as Load does.
func parse(path string, b []byte, max int) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := b
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		n := len(certs) + 1
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s: PEM block %d is a %q, not a certificate", path, n, block.Type)
		}
		if max > 0 && n > max {
			return nil, &TooManyError{Path: path, Max: max}
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %v", path, n, err)
		}
		certs = append(certs, cert)
	}
	if bytes.Contains(rest, []byte("-----BEGIN")) {
		return nil, fmt.Errorf("%s: PEM block %d is damaged", path, len(certs)+1)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return certs, nil
}
