// Package piv signs with a key on a PIV smart card, such as a YubiKey,
// through PC/SC (pcscd) and github.com/go-piv/piv-go. It is the only
// package of notation-piv that talks to cards; the rest of the plugin sees
// a [crypto.Signer], certificates and typed errors.
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
// failed card command a [*CardError] with the card's status word.
//
// # PIN
//
// A [PINSource] is called only when the card refuses to sign without the
// PIN, and at most once per signature; a wrong PIN is never retried. The
// sources are the environment ([FromEnv]), a file readable by its owner
// only ([FromFile]), a pinentry program ([Pinentry]) and the terminal
// ([TTY]), tried in that order by [DefaultPINSource]. PINs never appear in
// errors or logs, and byte slices holding them are wiped after use; piv-go
// takes the PIN as a string, so one copy lives on in memory until the
// garbage collector reclaims it.
//
// # Time limits
//
// piv-go has no cancellation. Card calls therefore run in a goroutine; when
// the context's deadline (or [SignerOptions.Timeout]) passes first, the
// call returns a [*TimeoutError] at once while the goroutine finishes in
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
