package card

// ISO 7816-4 status words the card answers.
const (
	swOK                   = 0x9000
	swVerificationFailed   = 0x6300 // trussed: wrong PIN or PUK, retries not told
	swMemoryFailure        = 0x6581
	swWrongLength          = 0x6700
	swSecurityStatus       = 0x6982 // security status not satisfied
	swAuthBlocked          = 0x6983 // authentication method blocked
	swConditionsNotMet     = 0x6985 // conditions of use not satisfied
	swLastCommandExpected  = 0x6883 // a command chain was broken off
	swWrongData            = 0x6A80
	swFunctionNotSupported = 0x6A81
	swNotEnoughMemory      = 0x6A84
	swFileNotFound         = 0x6A82
	swWrongP1P2            = 0x6A86
	swRefNotFound          = 0x6A88
	swINSNotSupported      = 0x6D00
	swCLANotSupported      = 0x6E00
)

// Instructions (SP 800-73-4 part 2 and the YubiKey extensions).
const (
	insVerify          = 0x20
	insChangeReference = 0x24
	insResetRetry      = 0x2C
	insGenerate        = 0x47
	insAuthenticate    = 0x87
	insSelect          = 0xA4
	insGetResponse     = 0xC0
	insGetData         = 0xCB
	insPutData         = 0xDB
	insGetMetadata     = 0xF7 // YubiKey
	insGetSerial       = 0xF8 // YubiKey
	insAttest          = 0xF9 // YubiKey
	insSetPINRetries   = 0xFA // YubiKey
	insReset           = 0xFB // YubiKey
	insGetVersion      = 0xFD // YubiKey
	insImportKey       = 0xFE // YubiKey
	insSetMgmtKey      = 0xFF // YubiKey
)

var insNames = map[byte]string{
	insVerify:          "VERIFY",
	insChangeReference: "CHANGE REFERENCE DATA",
	insResetRetry:      "RESET RETRY COUNTER",
	insGenerate:        "GENERATE ASYMMETRIC KEY PAIR",
	insAuthenticate:    "GENERAL AUTHENTICATE",
	insSelect:          "SELECT",
	insGetResponse:     "GET RESPONSE",
	insGetData:         "GET DATA",
	insPutData:         "PUT DATA",
	insGetMetadata:     "GET METADATA",
	insGetSerial:       "GET SERIAL",
	insAttest:          "ATTEST",
	insSetPINRetries:   "SET PIN RETRIES",
	insReset:           "RESET",
	insGetVersion:      "GET VERSION",
	insImportKey:       "IMPORT KEY",
	insSetMgmtKey:      "SET MANAGEMENT KEY",
}

// CommandName returns the name of an instruction byte, or "UNKNOWN".
func CommandName(ins byte) string {
	if n, ok := insNames[ins]; ok {
		return n
	}
	return "UNKNOWN"
}

// command is a decoded command APDU (ISO 7816-4 §5.1).
type command struct {
	cla, ins, p1, p2 byte
	data             []byte
	// le is the maximum response length: 256 for a short APDU and 65536
	// for an extended one when Le is absent or zero.
	le int
	// extended is set for an APDU with extended length fields.
	extended bool
}

// parseCommand decodes the four cases of short and extended APDUs.
func parseCommand(b []byte) (command, uint16) {
	if len(b) < 4 {
		return command{}, swWrongLength
	}
	cmd := command{cla: b[0], ins: b[1], p1: b[2], p2: b[3], le: 256}
	body := b[4:]
	switch {
	case len(body) == 0: // case 1
	case len(body) == 1: // case 2 short
		cmd.le = shortLe(body[0])
	case body[0] != 0: // case 3 or 4 short
		lc := int(body[0])
		switch len(body) {
		case 1 + lc:
		case 2 + lc:
			cmd.le = shortLe(body[1+lc])
		default:
			return command{}, swWrongLength
		}
		cmd.data = body[1 : 1+lc]
	default: // extended: body[0] == 0 and at least 3 bytes
		cmd.le, cmd.extended = 65536, true
		if len(body) < 3 {
			return command{}, swWrongLength
		}
		n := int(body[1])<<8 | int(body[2])
		if len(body) == 3 { // case 2 extended
			cmd.le = extendedLe(n)
			break
		}
		if n == 0 {
			return command{}, swWrongLength
		}
		switch len(body) {
		case 3 + n:
		case 5 + n:
			cmd.le = extendedLe(int(body[3+n])<<8 | int(body[4+n]))
		default:
			return command{}, swWrongLength
		}
		cmd.data = body[3 : 3+n]
	}
	return cmd, 0
}

func shortLe(b byte) int {
	if b == 0 {
		return 256
	}
	return int(b)
}

func extendedLe(n int) int {
	if n == 0 {
		return 65536
	}
	return n
}

// withSW appends a status word to response data.
func withSW(data []byte, sw uint16) []byte {
	out := make([]byte, 0, len(data)+2)
	out = append(out, data...)
	return append(out, byte(sw>>8), byte(sw))
}

// Process answers one command APDU with a response APDU (data and status
// word). It returns nil when an injected fault removes the card in the
// middle of the command; the transport must then drop its connection.
func (c *Card) Process(apdu []byte) []byte {
	var ins byte
	if len(apdu) > 1 {
		ins = apdu[1]
	}
	c.mu.Lock()
	fault, release := c.matchFault(ins)
	c.mu.Unlock()
	if fault != nil {
		wait(fault.Delay, release)
		c.mu.Lock()
		defer c.mu.Unlock()
		entry := LogEntry{Name: CommandName(ins), INS: ins}
		switch {
		case fault.Disconnect:
			c.session = newSession()
			c.record(entry, len(apdu), 0)
			return nil
		case fault.SW != 0:
			entry.SW = fault.SW
			resp := withSW(nil, fault.SW)
			c.record(entry, len(apdu), len(resp))
			return resp
		}
	} else {
		c.mu.Lock()
		defer c.mu.Unlock()
	}
	resp, entry := c.processLocked(apdu)
	c.record(entry, len(apdu), len(resp))
	return resp
}

// processLocked decodes a command, handles chaining and GET RESPONSE, and
// dispatches the rest. The caller holds c.mu.
func (c *Card) processLocked(apdu []byte) ([]byte, LogEntry) {
	cmd, sw := parseCommand(apdu)
	entry := LogEntry{Name: CommandName(cmd.ins), INS: cmd.ins, P1: cmd.p1, P2: cmd.p2, DataLen: len(cmd.data)}
	reply := func(data []byte, sw uint16) ([]byte, LogEntry) {
		entry.RespLen, entry.SW = len(data), sw
		return withSW(data, sw), entry
	}
	if sw == 0 && cmd.extended && c.cfg.T0Only {
		sw = swWrongLength // T=0 carries short APDUs only
	}
	if sw != 0 {
		return reply(nil, sw)
	}
	if cmd.cla&^0x10 != 0 {
		return reply(nil, swCLANotSupported)
	}
	if cmd.ins == insGetResponse {
		data, sw := c.getResponse(cmd.le)
		return reply(data, sw)
	}
	c.session.pending = nil

	if cmd.cla&0x10 != 0 { // a non-final part of a chain (ISO 7816-4 §5.1.1.1)
		entry.Chained = true
		s := &c.session
		if s.chain != nil && (s.chain.ins != cmd.ins || s.chain.p1 != cmd.p1 || s.chain.p2 != cmd.p2) {
			s.chain = nil
			return reply(nil, swLastCommandExpected)
		}
		if s.chain == nil {
			s.chain = &command{ins: cmd.ins, p1: cmd.p1, p2: cmd.p2}
		}
		if len(s.chain.data)+len(cmd.data) > maxChainedData {
			s.chain = nil
			return reply(nil, swWrongLength)
		}
		s.chain.data = append(s.chain.data, cmd.data...)
		return reply(nil, swOK)
	}
	if ch := c.session.chain; ch != nil {
		c.session.chain = nil
		if ch.ins != cmd.ins || ch.p1 != cmd.p1 || ch.p2 != cmd.p2 {
			return reply(nil, swLastCommandExpected)
		}
		cmd.data = append(ch.data, cmd.data...)
	}

	data, sw := c.dispatch(cmd)
	if c.cfg.T0Only && sw == swOK && len(cmd.data) > 0 && len(data) > 0 {
		// Over T=0 a command with data gets its answer with GET RESPONSE
		// (ISO 7816-3 §12.2.4).
		c.session.pending = data
		return reply(nil, moreData(len(data)))
	}
	if sw != swOK || len(data) <= cmd.le {
		return reply(data, sw)
	}
	c.session.pending = data[cmd.le:]
	return reply(data[:cmd.le], moreData(len(c.session.pending)))
}

// maxChainedData bounds the data a command chain may accumulate.
const maxChainedData = 16 * 1024

// moreData is the 61xx status word announcing n more response bytes.
func moreData(n int) uint16 {
	if n > 0xFF {
		n = 0
	}
	return 0x6100 | uint16(n)
}

// getResponse returns the next chunk of pending response data.
func (c *Card) getResponse(le int) ([]byte, uint16) {
	p := c.session.pending
	if p == nil {
		return nil, swConditionsNotMet
	}
	if len(p) <= le {
		c.session.pending = nil
		return p, swOK
	}
	c.session.pending = p[le:]
	return p[:le], moreData(len(c.session.pending))
}

// dispatch runs one complete command.
func (c *Card) dispatch(cmd command) ([]byte, uint16) {
	switch c.profile {
	case ProfileGeneric:
		if yubikeyExtension(cmd.ins) {
			return nil, swINSNotSupported
		}
	case ProfileTrussed:
		// A PIN verified for a key whose policy is "always" lasts for
		// the one command that follows the VERIFY.
		if cmd.ins == insAuthenticate {
			defer func() { c.session.pinVerifiedForAlways = false }()
		} else {
			c.session.pinVerifiedForAlways = false
		}
		if data, sw, handled := c.trussedCommand(cmd); handled {
			return data, sw
		}
	}
	if cmd.ins == insSelect {
		return c.selectApplication(cmd)
	}
	if c.session.otpSelected {
		return c.otpCommand(cmd)
	}
	switch cmd.ins {
	case insGetVersion:
		return c.version[:], swOK
	case insGetSerial:
		if c.version[0] < 5 {
			// GET SERIAL came with firmware 5; a YubiKey 4 gives its
			// serial through its OTP application.
			return nil, swINSNotSupported
		}
		return c.serialBytes(), swOK
	case insGetMetadata:
		return c.metadata(cmd)
	case insVerify:
		return c.verify(cmd)
	case insChangeReference:
		return c.changeReference(cmd)
	case insResetRetry:
		return c.resetRetryCounter(cmd)
	case insSetPINRetries:
		return c.setPINRetries(cmd)
	case insGetData:
		return c.getData(cmd)
	case insPutData:
		return c.putData(cmd)
	case insGenerate:
		return c.generate(cmd)
	case insImportKey:
		return c.importKey(cmd)
	case insAuthenticate:
		return c.generalAuthenticate(cmd)
	case insSetMgmtKey:
		return c.setManagementKey(cmd)
	case insAttest:
		return c.attest(cmd)
	case insReset:
		return c.reset(cmd)
	}
	return nil, swINSNotSupported
}

// pivAID is the full PIV application identifier with version (SP 800-73-4
// part 1, §2.2).
var pivAID = []byte{0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00}

// selectApplication answers SELECT by AID. A right truncation of at least
// the RID-and-PIX prefix A000000308 selects PIV; any other AID is not found
// and PIV stays selected, as OpenSC expects.
func (c *Card) selectApplication(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0x04 || (cmd.p2 != 0x00 && cmd.p2 != 0x0C) {
		return nil, swWrongP1P2
	}
	if c.profile == ProfileYubiKey && c.version[0] < 5 && string(cmd.data) == string(otpAID) {
		c.session.otpSelected = true
		return append(c.version[:], 0, 0, 0), swOK
	}
	c.session.otpSelected = false
	if len(cmd.data) < 5 || len(cmd.data) > len(pivAID) || string(cmd.data) != string(pivAID[:len(cmd.data)]) {
		return nil, swFileNotFound
	}
	if cmd.p2 == 0x0C {
		return nil, swOK
	}
	return c.applicationProperties(), swOK
}

// otpAID is the identifier of YubiKey's OTP application, which a YubiKey
// before firmware 5 selects to give its serial number.
var otpAID = []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x20, 0x01, 0x01}

// otpCommand answers a command to the OTP application of a YubiKey before
// firmware 5: only its serial number, `00 01 10 00`.
func (c *Card) otpCommand(cmd command) ([]byte, uint16) {
	if cmd.ins == 0x01 && cmd.p1 == 0x10 {
		return c.serialBytes(), swOK
	}
	return nil, swINSNotSupported
}

// serialBytes returns the serial number, big-endian.
func (c *Card) serialBytes() []byte {
	s := c.state.Serial
	return []byte{byte(s >> 24), byte(s >> 16), byte(s >> 8), byte(s)}
}

// changed persists state after a command changed it, and turns a failure
// to persist into a memory-failure status word.
func (c *Card) changed(data []byte, sw uint16) ([]byte, uint16) {
	if err := c.persistLocked(); err != nil {
		return nil, swMemoryFailure
	}
	return data, sw
}
