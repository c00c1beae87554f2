// Package piv signs with a key on a PIV smart card through PC/SC (pcscd):
// a YubiKey, or any card that follows NIST SP 800-73-4. It is the only
// package of notation-piv that talks to cards; the rest of the plugin sees
// a [crypto.Signer], certificates and typed errors.
//
// # Cards
//
// The package speaks the standard PIV commands itself, over T=0 or T=1
// (package piv/internal/apdu): select, read data objects, including
// compressed certificates, verify and change the PIN and PUK, and sign. It
// tells three kinds of card apart ([Kind]) by their answer to YubiKey's
// GET VERSION, and uses YubiKey's extensions only on cards that have them:
// serial numbers, metadata and attestation. Cards without a serial number
// are named by the GUID of their CHUID. Card management (generating keys,
// storing certificates, changing the management key, reset) goes through
// github.com/go-piv/piv-go, on YubiKeys only; other cards get an
// [*UnsupportedError] before anything is sent to them.
//
// # Use
//
//	card, err := piv.Open(ctx, piv.Selector{Serial: 12345678})
//	if err != nil { ... }                     // ErrNoCard, *SelectionError, ...
//	defer card.Close()
//	slot, err := piv.ParseSlot("9c")
//	cert, err := card.Certificate(ctx, slot)  // ErrSlotEmpty
//	pin := piv.DefaultPINSource(pinFile, pinentryProgram)
//	signer, err := card.Signer(slot, cert, pin, piv.SignerOptions{})
//	sig, err := signer.Sign(rand.Reader, digest, &rsa.PSSOptions{...})
//
// The certificate's chain, and whether the Notary Project rules accept
// it, are for package envelope/certchain: this package knows the card.
//
// # Errors
//
// Errors say what happened, never what to do: the program that shows them
// knows its commands and settings and adds that. A PIN, PUK or management
// key the card refused, or that was not sent, is a [*CredentialError]
// naming the secret and the retries left; a card that did not answer in
// time, or that another program held, a [*TimeoutError]; any other
// failed card command a [*CardError] with the card's status word. When
// PCSCLITE_CSOCK_NAME points pcsc-lite at another pcscd socket (a signing
// station's, through an SSH tunnel), a failure of that socket is a
// [*SocketError] naming it. An operation the card cannot do is an
// [*UnsupportedError].
//
// # PIN
//
// A [PINSource] is called only when the card refuses to sign without the
// PIN, and at most once per signature; a wrong PIN is never retried. The
// sources are the environment ([FromEnv]), a file readable by its owner
// only ([FromFile]), a pinentry program ([Pinentry]) and the terminal
// ([TTY]), tried in that order by [DefaultPINSource]. PINs never appear in
// errors or logs, and byte slices holding them are wiped after use.
//
// # Time limits
//
// A PC/SC command cannot be cancelled. Card calls therefore run in a
// goroutine; when the context's deadline (or [SignerOptions.Timeout])
// passes first, the call returns a [*TimeoutError] at once while the goroutine finishes in
// the background and keeps the card busy until then: later calls on the
// same [Card] wait for it, and [Card.Close] releases the card once it
// returns.
//
// # Output
//
// The package never writes to stdout or stderr, which belong to notation
// while a plugin command runs. A touch notice goes through the
// [SignerOptions.TouchNotice] hook; the terminal prompt of [TTY] and
// pinentry use /dev/tty and the pinentry program.
package piv
