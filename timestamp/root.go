package timestamp

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// maxRootFile bounds the size of a TSA root certificate file.
const maxRootFile = 1 << 20

// LoadRoot reads the trusted root of a timestamp authority: a regular file
// of at most 1 MiB holding exactly one PEM CERTIFICATE block, a
// self-signed certificate (notation's --timestamp-root-cert takes the same
// file). Text around the block is ignored. It returns a pool holding that
// certificate only, for Config.Roots.
func LoadRoot(path string) (*x509.CertPool, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("TSA root certificate: %w", err)
	}
	var der []byte
	rest := b
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("TSA root certificate %s: PEM block %d is a %q; the file must hold the root CA certificate only", path, n, block.Type)
		}
		if n > 1 {
			return nil, fmt.Errorf("TSA root certificate %s holds more than one certificate: keep only the self-signed root CA of the timestamp authority", path)
		}
		der = block.Bytes
	}
	if bytes.Contains(rest, []byte("-----BEGIN")) {
		return nil, fmt.Errorf("TSA root certificate %s: a PEM block is damaged: replace it with the complete PEM text", path)
	}
	if der == nil {
		return nil, fmt.Errorf("TSA root certificate %s holds no PEM certificate: put the root CA certificate of the timestamp authority there, in PEM form", path)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("TSA root certificate %s: %v: replace it with a valid certificate", path, err)
	}
	if !bytes.Equal(cert.RawIssuer, cert.RawSubject) {
		return nil, fmt.Errorf("TSA root certificate %s: %q is issued by %q, so it is no root: give the self-signed root CA at the top of the TSA's chain", path, subject(cert), cert.Issuer.String())
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		return nil, fmt.Errorf("TSA root certificate %s: %q is not validly self-signed (%v): replace it with the TSA's root CA certificate", path, subject(cert), err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool, nil
}

// readFile reads the regular file at path, of at most maxRootFile bytes.
// A directory, a FIFO, a device such as /dev/zero or a huge (even sparse)
// file is refused at once: stat refuses it without opening it (opening
// some devices has effects), and fstat checks again what was opened, with
// O_NONBLOCK, so that a FIFO put in place in between cannot hang the open.
func readFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := checkFile(path, fi); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := checkFile(path, fi); err != nil {
		return nil, err
	}
	// The file may grow after fstat: read one byte more than allowed.
	b, err := io.ReadAll(io.LimitReader(f, maxRootFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > maxRootFile {
		return nil, fmt.Errorf("%s is more than the limit of %d bytes: check that it names the TSA's root certificate", path, maxRootFile)
	}
	return b, nil
}

// checkFile refuses anything but a regular file of at most maxRootFile
// bytes.
func checkFile(path string, fi fs.FileInfo) error {
	switch {
	case fi.IsDir():
		return fmt.Errorf("%s is a directory, not a file: give the path of the PEM file itself", path)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file (%s): give the path of a regular PEM file", path, fileType(fi.Mode()))
	case fi.Size() > maxRootFile:
		return fmt.Errorf("%s is %d bytes, more than the limit of %d: check that it names the TSA's root certificate", path, fi.Size(), maxRootFile)
	}
	return nil
}

// fileType names the type of a file that is not a regular file.
func fileType(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return m.Type().String()
}
