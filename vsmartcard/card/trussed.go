package card

import "math/big"

// Behaviour of trussed's piv-authenticator (github.com/Nitrokey/piv-authenticator,
// src/commands.rs and src/lib.rs), as far as clients can see it:
//   - every instruction it does not know, and every known one with
//     unexpected P1 or P2, answers 6A81 (function not supported), not 6D00;
//   - YubiKey extensions: GET VERSION 6.6.6, GET SERIAL 0052F743 on every
//     device, GET METADATA empty but for a key in 9E, ATTEST and SET PIN
//     RETRIES 6A81, RESET once the PIN alone is blocked, SET MANAGEMENT
//     KEY (3DES or AES-256), IMPORT only of RSA keys into 9A;
//   - GENERATE makes RSA-2048/3072/4096, P-256 and P-384 keys only;
//   - "PIN always" (9C) means a VERIFY as the command right before;
//   - a wrong PIN or PUK in CHANGE REFERENCE DATA or RESET RETRY COUNTER
//     answers 6300, without the retries left; a wrong PIN in VERIFY that
//     blocks the PIN answers 6983, not 63C0;
//   - a wrong management key answers 6A80, an unexpected algorithm 6A86.

// trussedCommand runs the commands on which a trussed card differs from
// a YubiKey before any of them runs; handled is false for the rest.
func (c *Card) trussedCommand(cmd command) (data []byte, sw uint16, handled bool) {
	p1p2 := uint16(cmd.p1)<<8 | uint16(cmd.p2)
	switch cmd.ins {
	case insGetVersion:
		if p1p2 != 0 {
			return nil, swFunctionNotSupported, true
		}
		return trussedVersion[:], swOK, true
	case insGetSerial:
		return trussedSerial, swOK, true
	case insGetMetadata:
		if cmd.p1 != 0 {
			return nil, swFunctionNotSupported, true
		}
		if _, ok := c.state.Keys[slotCardAuth]; ok && cmd.p2 == slotCardAuth {
			return encodeTLV(0x02, []byte{pinPolicyNever, 0x00}), swOK, true
		}
		return nil, swOK, true
	case insReset:
		if p1p2 != 0 {
			return nil, swFunctionNotSupported, true
		}
		if c.state.PINRetries != 0 {
			return nil, swConditionsNotMet, true
		}
		if err := c.state.resetCredentials(c.rand); err != nil {
			return nil, swMemoryFailure, true
		}
		c.session = newSession()
		data, sw = c.changed(nil, swOK)
		return data, sw, true
	case insImportKey:
		data, sw = c.trussedImport(cmd)
		return data, sw, true
	case insSetMgmtKey:
		if cmd.p1 != 0xFF || cmd.p2 != 0xFE && cmd.p2 != 0xFF {
			return nil, swFunctionNotSupported, true
		}
		if d := cmd.data; len(d) > 0 && d[0] != alg3DES && d[0] != algAES256 {
			return nil, swWrongData, true
		}
		// piv-authenticator ignores the touch policy.
		data, sw = c.setManagementKey(command{ins: cmd.ins, p1: 0xFF, p2: 0xFF, data: cmd.data})
		return data, sw, true
	case insSelect:
		if p1p2 != 0x0400 {
			return nil, swFunctionNotSupported, true
		}
	case insGetData, insPutData:
		if p1p2 != 0x3FFF {
			return nil, swFunctionNotSupported, true
		}
		if tag, ok := requestedTag(cmd.data); ok && !trussedContainer(tag) {
			return nil, swWrongData, true
		}
	case insResetRetry:
		if p1p2 != 0x0080 {
			return nil, swFunctionNotSupported, true
		}
	case insChangeReference, insGenerate:
		if cmd.p1 != 0 {
			return nil, swFunctionNotSupported, true
		}
	case insVerify, insAuthenticate:
	default: // ATTEST, SET PIN RETRIES and every unknown instruction
		return nil, swFunctionNotSupported, true
	}
	return nil, 0, false
}

// requestedTag returns the object tag that GET DATA or PUT DATA names.
func requestedTag(data []byte) (uint32, bool) {
	objs, err := parseTLVs(data)
	if err != nil {
		return 0, false
	}
	return objectTag(objs)
}

// trussedContainer reports whether a trussed card knows the data object:
// those of SP 800-73-4 part 1, table 3, and no YubiKey ones.
func trussedContainer(tag uint32) bool {
	return tag == objDiscovery || tag == 0x7F61 || tag >= 0x5FC101 && tag <= 0x5FC123
}

// trussedImport handles IMPORT KEY as piv-authenticator does: only RSA
// keys, only into 9A, with the public exponent in tag 03 (where Yubico has
// dP); anything else answers 6A81.
func (c *Card) trussedImport(cmd command) ([]byte, uint16) {
	if !c.session.mgmtAuthenticated {
		return nil, swSecurityStatus
	}
	switch cmd.p1 {
	case algRSA2048, algRSA3072, algRSA4096:
	default:
		return nil, swFunctionNotSupported
	}
	if cmd.p2 != 0x9A {
		return nil, swFunctionNotSupported
	}
	objs, err := parseTLVs(cmd.data)
	if err != nil {
		return nil, swWrongData
	}
	p, okP := find(objs, 0x01)
	q, okQ := find(objs, 0x02)
	e, okE := find(objs, 0x03)
	if !okP || !okQ || !okE {
		return nil, swWrongData
	}
	key, err := rsaFromPrimes(new(big.Int).SetBytes(p), new(big.Int).SetBytes(q), new(big.Int).SetBytes(e))
	if err != nil || key.N.BitLen() != rsaBits(cmd.p1) {
		return nil, swWrongData
	}
	if err := c.storeKey(cmd.p2, cmd.p1, defaultPINPolicy(cmd.p2), touchPolicyNever, originImported, key); err != nil {
		return nil, swMemoryFailure
	}
	return c.changed(nil, swOK)
}

// trussedAlgorithm reports whether piv-authenticator generates keys of
// this algorithm.
func trussedAlgorithm(alg byte) bool {
	switch alg {
	case algRSA2048, algRSA3072, algRSA4096, algECP256, algECP384:
		return true
	}
	return false
}
