// Package contract answers the commands of the Notation plugin contract,
// which notation runs with the command as the only argument and a JSON
// request on stdin: get-plugin-metadata, describe-key, generate-signature
// and generate-envelope to sign, and verify-signature, which notation
// verify runs for a signature whose envelope names this plugin as its
// verification plugin (an attested signature, see internal/attestation). The answer is one JSON document on stdout and exit
// status 0, or a JSON error on stderr and exit status 1; nothing else is
// ever written to either.
//
// A request is decoded and checked whole before the card is touched
// (checkRequest): its size and shape, the contract version, pluginConfig,
// and the signing plan (signing.NewPlan), which loads every file
// pluginConfig names. Errors are mapped to the contract's codes in one
// place, toPluginError, which also names the settings as pluginConfig and
// the request do and says what to do.
package contract

import (
	"context"
	"encoding/json"
	"io"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/notation-piv/notation-piv/internal/attestation"
	"github.com/notation-piv/notation-piv/internal/debuglog"
)

// IsCommand reports whether name is a contract command.
func IsCommand(name string) bool {
	switch plugin.Command(name) {
	case plugin.CommandGetMetadata, plugin.CommandDescribeKey, plugin.CommandGenerateSignature, plugin.CommandGenerateEnvelope, plugin.CommandVerifySignature:
		return true
	}
	return false
}

// Run answers the contract command args[0] (see IsCommand) with the request
// on stdin and returns the exit status. version is the plugin's version,
// for get-plugin-metadata and the envelopes' signing agent.
func Run(ctx context.Context, version string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := plugin.Command(args[0])
	if len(args) > 1 {
		return writeError(stderr, plugin.NewValidationErrorf("%s takes no arguments, only a JSON request on stdin", cmd))
	}
	log := debuglog.Open()
	defer log.Close()
	if err := log.Err(); err != nil {
		return writeError(stderr, toPluginError(err))
	}
	resp, err := answer(ctx, cmd, version, stdin, log)
	if err != nil {
		perr := toPluginError(err)
		log.Printf("%s failed: %s: %s", cmd, perr.ErrCode, perr.Message)
		return writeError(stderr, perr)
	}
	out, err := json.Marshal(resp)
	if err != nil {
		return writeError(stderr, plugin.NewGenericErrorf(plugin.ErrorMsgMalformedOutputFmt, err.Error()))
	}
	if _, err := stdout.Write(out); err != nil {
		return 1
	}
	log.Printf("%s succeeded", cmd)
	return 0
}

// Fail reports msg as a contract error on stderr, for main when the
// command could not run, and returns exit status 1.
func Fail(stderr io.Writer, msg string) int {
	return writeError(stderr, toPluginError(plugin.NewGenericError(msg)))
}

// answer decodes, checks and answers one contract request.
func answer(ctx context.Context, cmd plugin.Command, version string, stdin io.Reader, log *debuglog.Log) (any, error) {
	body, err := io.ReadAll(io.LimitReader(stdin, MaxRequestSize+1))
	if err != nil {
		return nil, plugin.NewGenericErrorf("cannot read the request from stdin: %v", err)
	}
	req, err := checkRequest(cmd, body, version)
	if err != nil {
		return nil, err
	}
	defer req.close()
	log.Printf("request %T: config %s", req.body, req.config)
	switch body := req.body.(type) {
	case *plugin.DescribeKeyRequest:
		return describeKey(ctx, body, req.plan, log)
	case *plugin.GenerateSignatureRequest:
		return generateSignature(ctx, body, req.plan, log)
	case *plugin.GenerateEnvelopeRequest:
		return generateEnvelope(ctx, body, req.plan, log)
	case *plugin.VerifySignatureRequest:
		return verifySignature(body, req.config, log)
	}
	return metadata(version, req.config), nil // get-plugin-metadata
}

// metadata answers get-plugin-metadata. It never touches the card. Beside
// the generator capability of the config, it always declares
// SIGNATURE_VERIFIER.TRUSTED_IDENTITY: notation verify then routes
// attested signatures to verify-signature with the trust policy's
// trustedIdentities, and leaves revocation to notation.
func metadata(version string, cfg config) plugin.GetMetadataResponse {
	return plugin.GetMetadataResponse{
		Name:                      attestation.VerificationPlugin, // the binary must be called notation-piv
		Description:               "Signs with a key on a PIV smart card (YubiKey or any PIV card)",
		Version:                   version,
		URL:                       "https://github.com/notation-piv/notation-piv",
		SupportedContractVersions: []string{plugin.ContractVersion},
		Capabilities:              []plugin.Capability{cfg.capability(), plugin.CapabilityTrustedIdentityVerifier},
	}
}

// writeError writes a contract error to stderr and returns exit status 1.
func writeError(stderr io.Writer, perr *plugin.Error) int {
	b, err := json.Marshal(perr)
	if err != nil {
		b = []byte(`{"errorCode":"ERROR","errorMessage":"cannot encode the error"}`)
	}
	stderr.Write(b)
	return 1
}
