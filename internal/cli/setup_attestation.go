package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/notation-piv/notation-piv/piv"
)

// attestationSuffix ends the default name of the attestation bundle,
// which setup writes beside the request or the certificate.
const attestationSuffix = ".attestation.pem"

// besideFile names the attestation bundle that goes beside path:
// path without its extension, then attestationSuffix.
func besideFile(path string) string {
	return strings.TrimSuffix(path, filepath.Ext(path)) + attestationSuffix
}

// planAttestation checks the file that will take the attestation bundle,
// as the other outputs are checked: --attestation-out, else beside the
// request, else beside the certificate at certPath. With none of them
// known yet ("" certPath: the default certificate name needs the card's
// serial number), it waits to be called again.
func (s *setupOutputs) planAttestation(o *setupOptions, certPath string) error {
	if s.attestation != nil {
		return nil
	}
	path := o.attestationOut
	switch {
	case path != "":
	case o.csr != "":
		path = besideFile(o.csr)
	case certPath != "":
		path = besideFile(certPath)
	default:
		return nil
	}
	for _, other := range []struct{ flag, path string }{{"--csr", o.csr}, {"--cert-out", certPath}} {
		if other.path != "" && samePath(other.path, path) {
			return failure(fmt.Sprintf("%s and %s both name %s", other.flag, "--attestation-out", path), "write the attestation bundle to a file of its own with --attestation-out")
		}
	}
	var err error
	s.attestation, err = newOutput("--attestation-out", path, false)
	return err
}

// writeAttestation writes the attestation bundle of the new key and
// returns the file's absolute path, or "" with a warning when the card
// gave no attestation: the key and certificate are made, and a bundle is
// needed only by a CA that asks for one.
func (s *setupOutputs) writeAttestation(u *ui, made *setupResult, o *setupOptions) (string, error) {
	if made.attestation == nil {
		if errors.Is(made.attestationErr, piv.ErrNoAttestation) {
			u.warn("card %d cannot attest keys, so setup wrote no attestation bundle; a CA that asks for one needs a card that can attest, such as a YubiKey with firmware 4.3 or later", made.serial)
		} else {
			u.warn("setup wrote no attestation bundle: %v", made.attestationErr)
		}
		return "", nil
	}
	path, err := s.attestation.commit(made.attestation.PEM())
	if err != nil {
		return "", failure(fmt.Sprintf("slot %s of card %d holds the new key and its certificate, but the attestation bundle could not be written: %v", o.slot, made.serial, err),
			"name a file you can write with --attestation-out, and run setup again with --force")
	}
	return path, nil
}
