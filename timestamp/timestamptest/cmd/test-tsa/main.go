// Command test-tsa serves the local test timestamp authority of package
// timestamptest on 127.0.0.1, for make demo and manual tests. It writes the
// TSA's root certificate to the file named by -root, prints one line
// "test-tsa: serving <URL>", and serves until interrupted.
//
// It is a test authority with a throwaway PKI: never trust its root outside
// a test.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/notation-piv/notation-piv/timestamp/timestamptest"
)

func main() {
	root := flag.String("root", "", "write the TSA root certificate (PEM) to this `file` (required)")
	flag.Parse()
	if *root == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: test-tsa -root FILE")
		os.Exit(2)
	}
	tsa, err := timestamptest.New()
	if err != nil {
		fmt.Fprintf(os.Stderr, "test-tsa: error: %v\n", err)
		os.Exit(1)
	}
	defer tsa.Close()
	if err := tsa.WriteRoot(*root); err != nil {
		fmt.Fprintf(os.Stderr, "test-tsa: error: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("test-tsa: serving %s\n", tsa.URL)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
}
