package cli

// envelopeCommand is "notation-piv envelope": inspect, verify and sign
// signature envelopes without notation.
var envelopeCommand = &command{
	name:    "envelope",
	summary: "show, check offline or sign a signature envelope, without notation",
	about: `Works on Notary Project signature envelopes, JWS (application/jose+json) or
COSE (application/cose), without notation or a registry. "inspect" shows
what an envelope holds, "verify" checks it offline against a trust root,
"sign" signs an artifact with the PIV card. Run "notation-piv envelope
COMMAND --help" for the options of each.
`,
	subs: []*command{inspectCommand, verifyCommand, signCommand},
}
