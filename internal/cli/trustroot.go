package cli

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/notation-piv/notation-piv/envelope/inspect"
	"github.com/notation-piv/notation-piv/internal/inputfile"
	"github.com/notation-piv/notation-piv/internal/pemcert"
)

// parseFingerprint turns --trust-root-sha256 into the lower case hex of
// inspect.VerifyOptions.TrustRootSHA256. It takes 64 hex digits in either
// case, bare or in pairs joined by colons, as "openssl x509 -fingerprint
// -sha256" prints them.
func parseFingerprint(s string) (string, error) {
	text := s
	if len(text) == 3*sha256.Size-1 {
		colons := true
		for i := 2; i < len(text); i += 3 {
			colons = colons && text[i] == ':'
		}
		if colons {
			text = strings.ReplaceAll(text, ":", "")
		}
	}
	b, err := hex.DecodeString(text)
	if err != nil || len(b) != sha256.Size {
		return "", failure(fmt.Sprintf("--trust-root-sha256 %q is no SHA-256 fingerprint", terminalSafe(s)),
			"give the 64 hex digits of the published fingerprint, bare (3f9c…) or with colons (3F:9C:…)")
	}
	return hex.EncodeToString(b), nil
}

// checkPin checks that the pinned fingerprint is that of a certificate of
// the --trust-root file, and otherwise lists the file's.
func checkPin(path string, roots []*x509.Certificate, pin string) error {
	if pin == "" {
		return nil
	}
	var held []string
	for _, c := range roots {
		fp := inspect.Fingerprint(c)
		if fp == pin {
			return nil
		}
		held = append(held, fmt.Sprintf("%s (%q)", fp, terminalSafe(leafSubject(c))))
	}
	return failure(fmt.Sprintf("--trust-root %s holds no certificate with the SHA-256 fingerprint %s of --trust-root-sha256; it holds %s",
		path, pin, strings.Join(held, ", ")),
		"this is not the trust root that was published, or the fingerprint is wrong: compare with the published fingerprint, and do not trust what this file vouches for")
}

// loadTrustRoots reads the PEM certificates of --trust-root, a regular
// file. As notation's trust stores do, it accepts only CA and self-signed
// certificates.
func loadTrustRoots(path string) ([]*x509.Certificate, error) {
	roots, err := pemcert.Load(path, 0)
	var (
		large      *inputfile.TooLargeError
		notRegular *inputfile.NotRegularError
	)
	switch {
	case errors.As(err, &large):
		return nil, failure(fmt.Sprintf("--trust-root %s is more than %d bytes", path, pemcert.MaxFileSize), "give a PEM file with the root certificates only")
	case errors.As(err, &notRegular), errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
		return nil, inputFailure("--trust-root", err, "give the PEM file of the trust root itself")
	case err != nil:
		return nil, failure("--trust-root "+err.Error(), "give the root CA certificate in PEM form (-----BEGIN CERTIFICATE-----), and only CERTIFICATE blocks")
	}
	for i, c := range roots {
		if !(c.BasicConstraintsValid && c.IsCA) && string(c.RawIssuer) != string(c.RawSubject) {
			return nil, failure(fmt.Sprintf("--trust-root %s: certificate %d (%q) is neither a CA nor self-signed", path, i+1, leafSubject(c)),
				"as in notation's trust stores, give the root CA certificate, or the signer's own certificate if it is self-signed")
		}
	}
	return roots, nil
}
