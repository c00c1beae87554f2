package cli

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/notation-piv/notation-piv/envelope"
	"github.com/notation-piv/notation-piv/envelope/inspect"
	"github.com/notation-piv/notation-piv/internal/inputfile"
)

// envelopeSource names an input for messages.
func envelopeSource(path string) string {
	if path == "-" {
		return "stdin"
	}
	return path
}

// readEnvelope reads an envelope from a regular file, or from stdin for
// "-", of at most envelope.MaxEnvelopeSize bytes. A file that is no
// regular file is refused before it is opened; stdin is given up once ctx
// is done (SIGINT or SIGTERM), even when nothing ever closes it.
func readEnvelope(ctx context.Context, path string, stdin io.Reader) ([]byte, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = readStdin(ctx, stdin)
	} else {
		b, err = inputfile.ReadAll(path, envelope.MaxEnvelopeSize)
	}
	var large *inputfile.TooLargeError
	switch {
	case errors.As(err, &large):
		return nil, failure(fmt.Sprintf("%s is more than %d bytes: that is no signature envelope", envelopeSource(path), envelope.MaxEnvelopeSize),
			"Notary signature envelopes are a few KiB; check that you gave the envelope and not the artifact")
	case err != nil:
		return nil, inputFailure("", err, `give the envelope's file, or "-" and the envelope on stdin`)
	case len(b) == 0:
		return nil, failure(fmt.Sprintf("%s is empty", envelopeSource(path)), "give a JWS or COSE signature envelope")
	}
	return b, nil
}

// errInterrupted says that a signal stopped the wait for stdin.
var errInterrupted = errors.New("stopped by a signal before the envelope on stdin was complete")

// readStdin reads at most envelope.MaxEnvelopeSize+1 bytes of stdin, and
// gives up when ctx is done. The read then goes on in the background until
// the program exits: stdin cannot be unblocked.
func readStdin(ctx context.Context, stdin io.Reader) ([]byte, error) {
	type answer struct {
		b   []byte
		err error
	}
	done := make(chan answer, 1)
	go func() {
		b, err := io.ReadAll(io.LimitReader(stdin, envelope.MaxEnvelopeSize+1))
		done <- answer{b, err}
	}()
	select {
	case a := <-done:
		if a.err != nil {
			return nil, fmt.Errorf("read stdin: %w", a.err)
		}
		if len(a.b) > envelope.MaxEnvelopeSize {
			return nil, &inputfile.TooLargeError{Path: "stdin", Limit: envelope.MaxEnvelopeSize}
		}
		return a.b, nil
	case <-ctx.Done():
		return nil, errInterrupted
	}
}

// inputFailure explains why an input cannot be read, prefixed by the
// option that names it ("--artifact"; empty for the envelope). A file of
// the wrong type gets the hint instead, which says what to give.
func inputFailure(option string, err error, instead string) error {
	var nr *inputfile.NotRegularError
	switch {
	case errors.As(err, &nr):
		return failure(notRegular(option, nr.Path, inputfile.Type(nr.Mode)), instead)
	case errors.Is(err, errInterrupted):
		return failure(err.Error(), `pipe a complete envelope into "-", or give the envelope's file`)
	case option != "":
		return failure(option + ": " + err.Error())
	}
	return failure(err.Error())
}

// hashArtifact reads an artifact, a regular file of any size, and returns
// its sha256 and sha512 digests and its size. A FIFO, a device or a
// directory is refused before it is opened. Once ctx is done (SIGINT or
// SIGTERM) hashing stops.
func hashArtifact(ctx context.Context, path string) (*inspect.Artifact, error) {
	f, _, err := inputfile.Open(path)
	if err != nil {
		return nil, inputFailure("--artifact", err, "give the artifact's own file; to sign or check what a pipe or a device delivers, save it to a file first")
	}
	defer f.Close()
	h256, h512 := sha256.New(), sha512.New()
	n, err := io.CopyBuffer(io.MultiWriter(h256, h512), ctxReader{ctx, f}, make([]byte, 1<<20))
	switch {
	case ctx.Err() != nil:
		return nil, failure(fmt.Sprintf("--artifact %s: stopped by a signal while reading it", path))
	case err != nil:
		return nil, failure(fmt.Sprintf("--artifact %s: %v", path, err))
	}
	return &inspect.Artifact{
		Name:    path,
		Digests: []string{"sha256:" + hex.EncodeToString(h256.Sum(nil)), "sha512:" + hex.EncodeToString(h512.Sum(nil))},
		Size:    n,
	}, nil
}

// ctxReader reads from r until ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
