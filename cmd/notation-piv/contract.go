package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"
)

// pluginName is the name notation knows the plugin by: the binary must be
// called notation-piv.
const pluginName = "piv"

// maxRequestSize bounds a contract request. Real requests carry a small
// payload descriptor and a few config strings.
const maxRequestSize = 1 << 20

// run executes one invocation and returns the exit status. Only main exits.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 1
	}
	switch cmd := plugin.Command(args[0]); cmd {
	case plugin.CommandGetMetadata, plugin.CommandDescribeKey, plugin.CommandGenerateSignature, plugin.CommandGenerateEnvelope:
		if len(args) > 1 {
			return writeError(stderr, plugin.NewValidationErrorf("%s takes no arguments, only a JSON request on stdin", cmd))
		}
		log := openLog()
		defer log.Close()
		resp, err := runContract(ctx, cmd, stdin, log)
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
	case "version", "--version":
		fmt.Fprintf(stdout, "notation-piv %s\n", pluginVersion())
		return 0
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		if uc, ok := userCommands[args[0]]; ok {
			return uc.run(ctx, args[1:], stdin, stdout, stderr)
		}
		fmt.Fprintf(stderr, "notation-piv: error: unknown command %q\nhint: run \"notation-piv --help\" for the commands\n", args[0])
		return 1
	}
}

// usage is the help text of the plugin binary.
var usage = `notation-piv: a Notation plugin that signs with a key on a PIV card

Usage:
  notation-piv get-plugin-metadata   < request.json
  notation-piv describe-key          < request.json
  notation-piv generate-signature    < request.json
  notation-piv generate-envelope     < request.json
  notation-piv version

` + userCommandsHelp() + `
Notation runs the contract commands itself; install the plugin with
  notation plugin install --file notation-piv
and add a key by its PIV slot:
  notation key add mykey --plugin piv --id 9c --plugin-config serial=12345678

The PIN comes from NOTATION_PIV_PIN, the file named by pluginConfig pin_file,
the pinentry program named by pluginConfig pinentry, or a prompt on the
terminal, in that order. NOTATION_PIV_LOG=FILE writes a debug log.
`

// runContract decodes, checks and answers one contract request.
func runContract(ctx context.Context, cmd plugin.Command, stdin io.Reader, log *debugLog) (any, error) {
	body, err := io.ReadAll(io.LimitReader(stdin, maxRequestSize+1))
	if err != nil {
		return nil, plugin.NewGenericErrorf("cannot read the request from stdin: %v", err)
	}
	if len(body) > maxRequestSize {
		return nil, plugin.NewValidationErrorf("the request is larger than %d bytes; notation sends small requests, so check what is calling the plugin", maxRequestSize)
	}
	switch cmd {
	case plugin.CommandGetMetadata:
		var req plugin.GetMetadataRequest
		if err := decode(body, &req, true); err != nil {
			return nil, err
		}
		cfg, err := parseConfig(req.PluginConfig)
		if err != nil {
			return nil, err
		}
		return metadata(cfg), nil
	case plugin.CommandDescribeKey:
		var req plugin.DescribeKeyRequest
		if err := decodeContract(body, &req); err != nil {
			return nil, err
		}
		cfg, err := requestConfig(req.PluginConfig, &req, log)
		if err != nil {
			return nil, err
		}
		return describeKey(ctx, req, cfg, log)
	case plugin.CommandGenerateSignature:
		var req plugin.GenerateSignatureRequest
		if err := decodeContract(body, &req); err != nil {
			return nil, err
		}
		cfg, err := requestConfig(req.PluginConfig, &req, log)
		if err != nil {
			return nil, err
		}
		return generateSignature(ctx, req, cfg, log)
	case plugin.CommandGenerateEnvelope:
		var req plugin.GenerateEnvelopeRequest
		if err := decodeContract(body, &req); err != nil {
			return nil, err
		}
		cfg, err := requestConfig(req.PluginConfig, &req, log)
		if err != nil {
			return nil, err
		}
		return generateEnvelope(ctx, req, cfg, log)
	}
	return nil, plugin.NewValidationErrorf("unknown command %q", cmd)
}

// contractRequest is a request that carries a contract version.
type contractRequest interface {
	Validate() error
}

// decodeContract decodes a request, then checks its contract version and
// its required fields.
func decodeContract(body []byte, req contractRequest) error {
	if err := decode(body, req, false); err != nil {
		return err
	}
	var v struct {
		ContractVersion string `json:"contractVersion"`
	}
	if err := json.Unmarshal(body, &v); err == nil && v.ContractVersion != "" && v.ContractVersion != plugin.ContractVersion {
		return plugin.NewUnsupportedContractVersionError(v.ContractVersion)
	}
	return req.Validate()
}

// decode parses a JSON request. Unknown fields are ignored, as the contract
// asks; anything else that is not the expected shape is a validation error.
// get-plugin-metadata accepts an empty body, which is how notation asks
// when it installs or lists plugins.
func decode(body []byte, req any, emptyOK bool) error {
	if emptyOK && strings.TrimSpace(string(body)) == "" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(req); err != nil {
		return plugin.NewValidationErrorf("%s: %v", plugin.ErrorMsgMalformedInput, err)
	}
	if dec.More() {
		return plugin.NewValidationErrorf("%s: more than one JSON value on stdin", plugin.ErrorMsgMalformedInput)
	}
	return nil
}

// requestConfig parses the pluginConfig of a request and logs the request.
func requestConfig(m map[string]string, req any, log *debugLog) (config, error) {
	cfg, err := parseConfig(m)
	if err != nil {
		return config{}, err
	}
	log.Printf("request %T: config %s", req, cfg)
	return cfg, nil
}

// metadata answers get-plugin-metadata. It never touches the card.
func metadata(cfg config) plugin.GetMetadataResponse {
	return plugin.GetMetadataResponse{
		Name:                      pluginName,
		Description:               "Signs with a key on a PIV smart card (YubiKey or any PIV card)",
		Version:                   pluginVersion(),
		URL:                       "https://github.com/notation-piv/notation-piv",
		SupportedContractVersions: []string{plugin.ContractVersion},
		Capabilities:              []plugin.Capability{cfg.capability()},
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

// asPluginError returns err as a contract error if it already is one.
func asPluginError(err error) (*plugin.Error, bool) {
	var perr *plugin.Error
	if errors.As(err, &perr) {
		return perr, true
	}
	return nil, false
}
