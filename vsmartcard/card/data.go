package card

// Data object tags (SP 800-73-4 part 1, table 3, and YubiKey's).
const (
	objDiscovery   = 0x7E
	objCHUID       = 0x5FC102
	objCCC         = 0x5FC107
	objPrintedInfo = 0x5FC109
	objFingerprint = 0x5FC103
	objFacialImage = 0x5FC108
	objIris        = 0x5FC121
	objAttestation = 0x5FFF01 // YubiKey attestation certificate
)

// maxObjectSize is the largest data object a YubiKey 5 stores.
const maxObjectSize = 3052

// pinProtectedObjects can be read only after VERIFY (SP 800-73-4 part 1,
// table 3, access rule "PIN").
var pinProtectedObjects = map[uint32]bool{
	objPrintedInfo: true,
	objFingerprint: true,
	objFacialImage: true,
	objIris:        true,
}

// certObject maps a key slot to the data object holding its certificate.
func certObject(slot byte) (uint32, bool) {
	switch {
	case slot == 0x9A:
		return 0x5FC105, true
	case slot == 0x9C:
		return 0x5FC10A, true
	case slot == 0x9D:
		return 0x5FC10B, true
	case slot == 0x9E:
		return 0x5FC101, true
	case slot >= 0x82 && slot <= 0x95:
		return 0x5FC10D + uint32(slot-0x82), true
	case slot == slotAttestation:
		return objAttestation, true
	}
	return 0, false
}

// objectTag decodes the tag list `5C L tag` of GET DATA and PUT DATA.
func objectTag(objs []tlv) (uint32, bool) {
	v, ok := find(objs, 0x5C)
	if !ok || len(v) == 0 || len(v) > 3 {
		return 0, false
	}
	var tag uint32
	for _, b := range v {
		tag = tag<<8 | uint32(b)
	}
	return tag, true
}

// getData handles GET DATA (SP 800-73-4 part 2, §3.1.2).
func (c *Card) getData(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0x3F || cmd.p2 != 0xFF {
		return nil, swWrongP1P2
	}
	objs, err := parseTLVs(cmd.data)
	if err != nil {
		return nil, swWrongData
	}
	tag, ok := objectTag(objs)
	if !ok {
		return nil, swWrongData
	}
	if tag == objDiscovery {
		return c.discovery(), swOK
	}
	content, ok := c.state.Objects[tag]
	if !ok {
		return nil, swFileNotFound
	}
	if pinProtectedObjects[tag] && !c.session.pinVerified {
		return nil, swSecurityStatus
	}
	return encodeTLV(0x53, content), swOK
}

// putData handles PUT DATA: `5C L tag 53 L content`. Empty content deletes
// the object. It needs the management key.
func (c *Card) putData(cmd command) ([]byte, uint16) {
	objs, sw := c.authorizedObjects(cmd, cmd.p1 == 0x3F && cmd.p2 == 0xFF)
	if sw != swOK {
		return nil, sw
	}
	tag, ok := objectTag(objs)
	content, hasContent := find(objs, 0x53)
	if !ok || !hasContent || tag>>8 != 0x5FC1 && tag>>8 != 0x5FFF {
		return nil, swWrongData
	}
	if len(content) > maxObjectSize {
		return nil, swNotEnoughMemory
	}
	if len(content) == 0 {
		delete(c.state.Objects, tag)
	} else {
		c.state.Objects[tag] = append([]byte(nil), content...)
	}
	return c.changed(nil, swOK)
}

// metadata handles the YubiKey GET METADATA (firmware 5.3 and later) for the
// PIN, the PUK, the management key and key slots.
func (c *Card) metadata(cmd command) ([]byte, uint16) {
	if !c.atLeast(5, 3, 0) {
		return nil, swINSNotSupported
	}
	if cmd.p1 != 0 {
		return nil, swWrongP1P2
	}
	st := c.state
	switch cmd.p2 {
	case refPIN, refPUK:
		r, _ := c.reference(cmd.p2)
		def := padPIN(DefaultPIN)
		if cmd.p2 == refPUK {
			def = padPIN(DefaultPUK)
		}
		return concat(
			encodeTLV(0x01, []byte{0xFF}),
			encodeTLV(0x05, []byte{boolByte(string(*r.value) == string(def))}),
			encodeTLV(0x06, []byte{byte(*r.maxRetries), byte(*r.retries)}),
		), swOK
	case refManagement:
		touch := byte(touchPolicyNever)
		if st.MgmtTouch {
			touch = touchPolicyAlways
		}
		isDefault := st.MgmtAlgorithm == alg3DES && string(st.MgmtKey) == string(DefaultManagementKey)
		return concat(
			encodeTLV(0x01, []byte{st.MgmtAlgorithm}),
			encodeTLV(0x02, []byte{pinPolicyDefault, touch}),
			encodeTLV(0x05, []byte{boolByte(isDefault)}),
		), swOK
	}
	k, ok := st.Keys[cmd.p2]
	if !ok {
		if _, isSlot := certObject(cmd.p2); isSlot {
			return nil, swRefNotFound
		}
		return nil, swWrongP1P2
	}
	pub, err := encodePublicKey(k)
	if err != nil {
		return nil, swMemoryFailure
	}
	return concat(
		encodeTLV(0x01, []byte{k.Algorithm}),
		encodeTLV(0x02, []byte{k.PINPolicy, k.TouchPolicy}),
		encodeTLV(0x03, []byte{k.Origin}),
		encodeTLV(0x04, pub),
	), swOK
}

// atLeast reports whether the card's firmware is at least major.minor.patch.
func (c *Card) atLeast(major, minor, patch byte) bool {
	v := c.version
	if v[0] != major {
		return v[0] > major
	}
	if v[1] != minor {
		return v[1] > minor
	}
	return v[2] >= patch
}

func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}
