package card

// maxLogEntries bounds the APDU log; older entries are dropped.
const maxLogEntries = 10000

// LogEntry describes one command APDU and its answer. It holds names and
// sizes only, never data bytes, so PINs and keys cannot leak through it.
type LogEntry struct {
	Name    string // command name, e.g. "VERIFY" or "GENERAL AUTHENTICATE"
	INS     byte
	P1, P2  byte
	Chained bool   // a non-final part of a command chain
	DataLen int    // command data length (Lc)
	RespLen int    // response data length, status word excluded
	SW      uint16 // status word
}

// Stats counts the APDUs the card has answered since it was created or since
// the last [Card.ResetStats].
type Stats struct {
	Commands int        // command APDUs, GET RESPONSE and chain parts included
	BytesIn  int        // command APDU bytes received
	BytesOut int        // response APDU bytes sent, status words included
	Touches  int        // operations that waited for a (simulated) touch
	Log      []LogEntry // the most recent commands, oldest first
}

// Stats returns a copy of the card's APDU counters and log.
func (c *Card) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Log = append([]LogEntry(nil), c.stats.Log...)
	return s
}

// ResetStats zeroes the APDU counters and empties the log.
func (c *Card) ResetStats() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats = Stats{}
}

// record adds one answered command to the counters. The caller holds c.mu.
func (c *Card) record(e LogEntry, cmdLen, respLen int) {
	c.stats.Commands++
	c.stats.BytesIn += cmdLen
	c.stats.BytesOut += respLen
	if len(c.stats.Log) == maxLogEntries {
		c.stats.Log = append(c.stats.Log[:0], c.stats.Log[1:]...)
	}
	c.stats.Log = append(c.stats.Log, e)
}
