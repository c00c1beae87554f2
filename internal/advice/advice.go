// Package advice says what to do about the errors of the libraries, which
// say only what happened. Both edges use it: the contract appends the
// advice to its error message, the commands for people print it as a
// hint. Advice that names a setting (a pluginConfig key, a flag) or a
// secret's source belongs to the edge that knows its name, not here.
package advice

import (
	"errors"
	"fmt"

	"github.com/notation-piv/notation-piv/envelope/certchain"
	"github.com/notation-piv/notation-piv/internal/inputfile"
	"github.com/notation-piv/notation-piv/internal/keyspec"
	"github.com/notation-piv/notation-piv/piv"
)

// For says what to do about err, or returns "" when it has nothing to
// add.
func For(err error) string {
	var (
		notRegular  *inputfile.NotRegularError
		tooLarge    *inputfile.TooLargeError
		notPrivate  *inputfile.NotPrivateError
		selection   *piv.SelectionError
		timeout     *piv.TimeoutError
		card        *piv.CardError
		socket      *piv.SocketError
		unsupported *keyspec.UnsupportedKeyError
		extKeyUsage *certchain.ExtKeyUsageError
		cardLacks   *piv.UnsupportedError
	)
	switch {
	case errors.As(err, &notRegular) && notRegular.Mode.IsDir():
		return "give the path of the file itself"
	case errors.As(err, &notRegular):
		return "give the path of a regular file"
	case errors.As(err, &tooLarge):
		return "check that it names the right file"
	case errors.As(err, &notPrivate) && notPrivate.Owner != notPrivate.User:
		return fmt.Sprintf("keep the file in your own name (chown it to user %d, or write it anew)", notPrivate.User)
	case errors.As(err, &notPrivate):
		return fmt.Sprintf(`run "chmod 600 %s"`, notPrivate.Path)
	case errors.Is(err, piv.ErrPINCancelled):
		return "sign again and enter the PIN"
	case (errors.Is(err, piv.ErrNoCard) || errors.As(err, &selection) && len(selection.Cards) == 0) && piv.Socket() != "":
		return fmt.Sprintf(`insert a card into the signing station, whose pcscd this machine reaches through the socket %s (%s), and run "notation-piv list"`,
			piv.Socket(), piv.EnvSocket)
	case errors.Is(err, piv.ErrNoCard), errors.As(err, &selection) && len(selection.Cards) == 0:
		return `insert a card and run "notation-piv list"`
	case errors.Is(err, piv.ErrSlotEmpty):
		return "generate a key in it and store the key's certificate there"
	case errors.As(err, &cardLacks) && errors.Is(err, piv.ErrNoAttestation):
		return "sign with a card that attests its keys, such as a YubiKey 5; this card signs, but cannot prove that its key was generated on it"
	case errors.As(err, &cardLacks):
		return "this card signs with the keys its issuer put on it: have the issuer provision or renew them with its own tools; " +
			`notation-piv setup, cert import, management-key set and reset need a YubiKey`
	case errors.Is(err, piv.ErrKeyImported):
		return "generate the key on the card (notation-piv setup) to sign with its attestation"
	case errors.Is(err, piv.ErrNoAttestation):
		return "sign with a card that attests its keys, such as a YubiKey 5"
	case errors.Is(err, piv.ErrKeyMismatch):
		return "store the certificate issued for this key, or generate a new key and certificate"
	case errors.As(err, &timeout) && timeout.Busy:
		return "close that program or wait for it to finish, then try again"
	case errors.As(err, &timeout) && piv.Socket() != "":
		return "if it is waiting for a touch, touch it; otherwise check the tunnel to the signing station, whose end is the pcscd socket " +
			piv.Socket() + " (" + piv.EnvSocket + "), and try again"
	case errors.As(err, &timeout):
		return "if it is waiting for a touch, touch it; otherwise remove and reinsert it and try again"
	case errors.As(err, &socket):
		return forSocket(socket)
	case errors.As(err, &card):
		return forCard(card)
	case errors.As(err, &unsupported):
		return "generate a key of one of these types"
	case errors.As(err, &extKeyUsage):
		return `sign with a card whose certificate allows code signing (extended key usage codeSigning, or none), such as one you set up with "notation-piv setup"`
	}
	return ""
}

// forCard says what to do after a card command failed.
func forCard(e *piv.CardError) string {
	switch {
	case e.Gone():
		return "reinsert the card and try again"
	case e.SW == 0:
		return "check that pcscd runs, that the card is inserted and that no other program uses it, then try again"
	case e.SW == 0x6982:
		return "check the slot's PIN policy"
	case e.SW == 0x6d00 || e.SW == 0x6e00:
		return "use a PIV card such as a YubiKey 5"
	}
	return `run "notation-piv list" to check the card, then try again`
}

// forSocket says what to do when the pcscd socket that
// PCSCLITE_CSOCK_NAME names failed: typically the runner's end of an SSH
// tunnel to a signing station.
func forSocket(e *piv.SocketError) string {
	tunnel := fmt.Sprintf("ssh -N -o StreamLocalBindUnlink=yes -L %s:/run/pcscd/pcscd.comm", e.Path)
	if e.Problem == piv.SocketDropped {
		return fmt.Sprintf("check the tunnel to the signing station (%s) and that pcscd runs on the station, then try again", tunnel)
	}
	return fmt.Sprintf("check the tunnel to the signing station: start it again (%s <station>), or unset %s to use this machine's pcscd", tunnel, piv.EnvSocket)
}

// Append returns the message of err followed by what to do about it, if
// For knows.
func Append(err error) string {
	if a := For(err); a != "" {
		return err.Error() + ": " + a
	}
	return err.Error()
}
