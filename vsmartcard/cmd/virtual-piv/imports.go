package main

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strconv"
	"strings"

	"github.com/notation-piv/notation-piv/internal/inputfile"
	"github.com/notation-piv/notation-piv/internal/pemcert"
	"github.com/notation-piv/notation-piv/vsmartcard/card"
)

// maxKeyFile bounds a PEM private key file; an RSA-4096 key takes about
// 3.3 KB.
const maxKeyFile = 64 << 10

// importFlags collects the values of the repeatable --import flag.
type importFlags []string

// String returns the values given so far.
func (f *importFlags) String() string { return strings.Join(*f, " ") }

// Set adds one value.
func (f *importFlags) Set(v string) error {
	*f = append(*f, v)
	return nil
}

// parseImport reads one --import value, SLOT=KEY.pem,CERT.pem: the slot in
// hex (9a, 9c, 9d, 9e, 82-95), a PEM private key (PKCS #8, SEC 1 or
// PKCS #1) and a PEM certificate for it.
func parseImport(v string) (card.Import, error) {
	slotText, files, ok := strings.Cut(v, "=")
	keyPath, certPath, ok2 := strings.Cut(files, ",")
	if !ok || !ok2 || keyPath == "" || certPath == "" {
		return card.Import{}, fmt.Errorf("--import %q: want SLOT=KEY.pem,CERT.pem, e.g. 9c=key.pem,cert.pem", v)
	}
	slot, err := strconv.ParseUint(slotText, 16, 8)
	if err != nil {
		return card.Import{}, fmt.Errorf("--import %q: slot %q is not a hex key reference such as 9a or 9c", v, slotText)
	}
	key, err := readPrivateKey(keyPath)
	if err != nil {
		return card.Import{}, fmt.Errorf("--import %q: %w", v, err)
	}
	certs, err := pemcert.Load(certPath, 1)
	if err != nil {
		return card.Import{}, fmt.Errorf("--import %q: %w", v, err)
	}
	return card.Import{Slot: byte(slot), Key: key, Certificate: certs[0].Raw}, nil
}

// readPrivateKey reads the one private key in a PEM file. EC parameter
// blocks, which openssl ecparam writes before the key, are skipped.
func readPrivateKey(path string) (crypto.PrivateKey, error) {
	data, err := inputfile.ReadAll(path, maxKeyFile)
	if err != nil {
		return nil, err
	}
	var key crypto.PrivateKey
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type == "EC PARAMETERS" {
			continue
		}
		if key != nil {
			return nil, fmt.Errorf("%s holds more than one private key", path)
		}
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			return nil, fmt.Errorf("%s: PEM block %q is not an unencrypted private key", path, block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if key == nil {
		return nil, fmt.Errorf("%s holds no PEM private key", path)
	}
	return key, nil
}
