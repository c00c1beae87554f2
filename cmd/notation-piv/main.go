// Command notation-piv is a Notation plugin (name "piv") that signs with a
// key held on a PIV smart card, such as a YubiKey, through PC/SC.
//
// Notation runs it with a contract command as the only argument and a JSON
// request on stdin: get-plugin-metadata, describe-key, generate-signature
// or generate-envelope. The answer is one JSON document on stdout and exit
// status 0, or a JSON error on stderr and exit status 1.
//
// The key is chosen by its PIV slot (keyId 9a, 9c, 9d, 9e or 82-95) and the
// card by pluginConfig; see README.md for every pluginConfig key and for the
// PIN sources.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/cose"
	"github.com/notation-piv/notation-piv/envelope/jws"
)

func main() {
	envelope.Register(jws.Format{})
	envelope.Register(cose.Format{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
