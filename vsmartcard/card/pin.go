package card

import "crypto/subtle"

// reference is a PIN or PUK with its retry counter.
type reference struct {
	value      *[]byte
	retries    *int
	maxRetries *int
}

func (c *Card) reference(ref byte) (reference, bool) {
	st := c.state
	switch ref {
	case refPIN:
		return reference{&st.PIN, &st.PINRetries, &st.PINMaxRetries}, true
	case refPUK:
		return reference{&st.PUK, &st.PUKRetries, &st.PUKMaxRetries}, true
	}
	return reference{}, false
}

// check compares a candidate with the reference value. A mismatch spends a
// retry; a match restores the counter. It returns the status word to send
// on failure, or swOK.
func (c *Card) check(r reference, candidate []byte) uint16 {
	if *r.retries == 0 {
		return swAuthBlocked
	}
	if subtle.ConstantTimeCompare(*r.value, candidate) != 1 {
		*r.retries--
		if _, sw := c.changed(nil, swOK); sw != swOK {
			return sw
		}
		return retriesLeft(*r.retries)
	}
	if *r.retries != *r.maxRetries {
		*r.retries = *r.maxRetries
		if _, sw := c.changed(nil, swOK); sw != swOK {
			return sw
		}
	}
	return swOK
}

// verificationFailed is the status word for a wrong or blocked PIN or PUK
// in CHANGE REFERENCE DATA or RESET RETRY COUNTER, given the one check
// answered: a trussed card answers 6300 and does not say how many retries
// are left.
func (c *Card) verificationFailed(sw uint16) uint16 {
	if c.profile == ProfileTrussed && sw != swMemoryFailure {
		return swVerificationFailed
	}
	return sw
}

// retriesLeft is the 63Cx status word for x retries left.
func retriesLeft(n int) uint16 {
	if n > 15 {
		n = 15
	}
	return 0x63C0 | uint16(n)
}

// validPIN reports whether b is a well-formed 8-byte PIN or PUK: 6 to 8
// characters, none of them FF, then FF padding.
func validPIN(b []byte) bool {
	if len(b) != 8 {
		return false
	}
	n := 0
	for n < 8 && b[n] != 0xFF {
		n++
	}
	for _, x := range b[n:] {
		if x != 0xFF {
			return false
		}
	}
	return n >= 6
}

// verify handles VERIFY (SP 800-73-4 part 2, §3.2.1): check the PIN, query
// its status with empty data, or reset it with P1 FF. The reset clears the
// PIN's security status only, not the management key's.
func (c *Card) verify(cmd command) ([]byte, uint16) {
	if cmd.p2 != refPIN {
		return nil, swRefNotFound
	}
	s := &c.session
	switch cmd.p1 {
	case 0xFF:
		if len(cmd.data) != 0 {
			return nil, swWrongLength
		}
		if !c.keepPIN {
			s.pinVerified, s.pinVerifiedForAlways = false, false
		}
		return nil, swOK
	case 0x00:
	default:
		return nil, swWrongP1P2
	}
	pin, _ := c.reference(refPIN)
	if len(cmd.data) == 0 {
		switch {
		case s.pinVerified:
			return nil, swOK
		case *pin.retries == 0 && c.profile != ProfileTrussed: // trussed answers 63C0
			return nil, swAuthBlocked
		}
		return nil, retriesLeft(*pin.retries)
	}
	if len(cmd.data) != 8 {
		return nil, swWrongData
	}
	s.pinVerified, s.pinVerifiedForAlways = false, false
	if sw := c.check(pin, cmd.data); sw != swOK {
		if sw == retriesLeft(0) && c.profile == ProfileTrussed {
			// piv-authenticator answers the try that blocks the PIN
			// with 6983, not 63C0.
			return nil, swAuthBlocked
		}
		return nil, sw
	}
	s.pinVerified, s.pinVerifiedForAlways = true, true
	return nil, swOK
}

// changeReference handles CHANGE REFERENCE DATA for the PIN or PUK: data is
// the current value followed by the new one.
func (c *Card) changeReference(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0x00 {
		return nil, swWrongP1P2
	}
	r, ok := c.reference(cmd.p2)
	if !ok {
		return nil, swRefNotFound
	}
	if len(cmd.data) != 16 || !validPIN(cmd.data[8:]) {
		return nil, swWrongData
	}
	if sw := c.check(r, cmd.data[:8]); sw != swOK {
		return nil, c.verificationFailed(sw)
	}
	*r.value = append([]byte(nil), cmd.data[8:]...)
	if cmd.p2 == refPIN {
		c.session.pinVerified = true
	}
	return c.changed(nil, swOK)
}

// resetRetryCounter handles RESET RETRY COUNTER: data is the PUK followed
// by the new PIN, which also unblocks the PIN.
func (c *Card) resetRetryCounter(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0x00 {
		return nil, swWrongP1P2
	}
	if cmd.p2 != refPIN {
		return nil, swRefNotFound
	}
	if len(cmd.data) != 16 || !validPIN(cmd.data[8:]) {
		return nil, swWrongData
	}
	puk, _ := c.reference(refPUK)
	if sw := c.check(puk, cmd.data[:8]); sw != swOK {
		return nil, c.verificationFailed(sw)
	}
	st := c.state
	st.PIN = append([]byte(nil), cmd.data[8:]...)
	st.PINRetries = st.PINMaxRetries
	return c.changed(nil, swOK)
}

// setPINRetries handles the YubiKey SET PIN RETRIES: P1 and P2 are the new
// PIN and PUK retry counts. It needs the management key and the PIN, and
// resets the PIN and PUK to their defaults, as a YubiKey does.
func (c *Card) setPINRetries(cmd command) ([]byte, uint16) {
	if !c.session.mgmtAuthenticated || !c.session.pinVerified {
		return nil, swSecurityStatus
	}
	if cmd.p1 == 0 || cmd.p2 == 0 {
		return nil, swWrongP1P2
	}
	st := c.state
	st.PIN, st.PUK = padPIN(DefaultPIN), padPIN(DefaultPUK)
	st.PINRetries, st.PINMaxRetries = int(cmd.p1), int(cmd.p1)
	st.PUKRetries, st.PUKMaxRetries = int(cmd.p2), int(cmd.p2)
	c.session.pinVerified, c.session.pinVerifiedForAlways = false, false
	return c.changed(nil, swOK)
}

// reset handles the YubiKey RESET, allowed only once both the PIN and the
// PUK are blocked. The attestation key and certificate survive it.
func (c *Card) reset(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0 || cmd.p2 != 0 {
		return nil, swWrongP1P2
	}
	if c.state.PINRetries != 0 || c.state.PUKRetries != 0 {
		return nil, swConditionsNotMet
	}
	if err := c.state.resetCredentials(c.rand); err != nil {
		return nil, swMemoryFailure
	}
	c.session = newSession()
	return c.changed(nil, swOK)
}
