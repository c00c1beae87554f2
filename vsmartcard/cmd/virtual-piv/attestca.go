package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/notation-piv/notation-piv/vsmartcard/card"
)

// maxAttestationCAFile bounds the size of an --attestation-ca file; one
// holds a certificate and a key of about 1 KB together.
const maxAttestationCAFile = 64 << 10

// vendorRootName is the common name of the test vendor roots virtual-piv
// creates.
const vendorRootName = "notation-piv test vendor attestation root"

// attestationCA reads the test vendor root in path, or creates one there
// (mode 0600) if there is no file. Several virtual-piv processes may start
// at once with the same missing path: one creates the file, in one step,
// and the others read it.
func attestationCA(path string, stderr io.Writer) (*card.AttestationCA, error) {
	ca, err := readAttestationCA(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return ca, err
	}
	ca, err = card.NewAttestationCA(rand.Reader, vendorRootName)
	if err != nil {
		return nil, fmt.Errorf("create attestation CA: %w", err)
	}
	data, err := ca.MarshalPEM()
	if err != nil {
		return nil, fmt.Errorf("create attestation CA: %w", err)
	}
	created, err := createFile(path, data)
	if err != nil {
		return nil, fmt.Errorf("create attestation CA file: %w", err)
	}
	if !created {
		return readAttestationCA(path)
	}
	fmt.Fprintf(stderr, "virtual-piv: created test vendor root %s\n", path)
	return ca, nil
}

// readAttestationCA reads the attestation CA file in path. It refuses a
// symbolic link, which could point the card at a key file it was not
// given, and anything but a regular file.
func readAttestationCA(path string) (*card.AttestationCA, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("attestation CA file %s is a symbolic link; give the file itself", path)
	}
	if err != nil {
		return nil, fmt.Errorf("read attestation CA: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read attestation CA: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("attestation CA file %s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxAttestationCAFile+1))
	if err != nil {
		return nil, fmt.Errorf("read attestation CA: %w", err)
	}
	if len(data) > maxAttestationCAFile {
		return nil, fmt.Errorf("attestation CA file %s is more than %d bytes", path, maxAttestationCAFile)
	}
	ca, err := card.ParseAttestationCA(data)
	if err != nil {
		return nil, fmt.Errorf("attestation CA file %s: %w", path, err)
	}
	return ca, nil
}

// createFile creates path with data, mode 0600, unless something is there
// already (then it reports false): data goes to a temporary file in the
// same directory, which is synced and then linked to path, so that path
// never holds part of data and is never replaced.
func createFile(path string, data []byte) (created bool, err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return false, err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return false, err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Close(); err != nil {
		return false, err
	}
	if err := os.Link(f.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, err
	}
	d, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return false, fmt.Errorf("sync %s: %w", dir, err)
	}
	return true, nil
}
