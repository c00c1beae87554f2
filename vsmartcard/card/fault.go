package card

import "time"

// Fault makes the card misbehave on purpose, for reliability tests. A fault
// fires on the commands it matches: it can hold the answer back, answer with
// an error status word instead of running the command, or drop the card from
// the reader in the middle of the command.
type Fault struct {
	// INS selects the instruction the fault applies to; 0 matches every command.
	INS byte
	// Skip lets this many matching commands through before the fault fires.
	Skip int
	// Times is how many matching commands the fault fires for; 0 means until
	// [Card.ClearFaults].
	Times int
	// Delay holds the answer back. A delay is cut short by [Card.ClearFaults].
	Delay time.Duration
	// SW, when nonzero, is answered instead of running the command.
	SW uint16
	// Disconnect drops the card mid-command: Process returns nil and the
	// transport must close its connection.
	Disconnect bool
	// Fired, if not nil, gets a value each time the fault fires, before
	// its delay, so that a test can act while the command is held back. A
	// value that finds the channel full is dropped.
	Fired chan<- struct{}
}

type activeFault struct {
	Fault
	fired int
}

// InjectFault arms a fault. Faults are checked in the order they were armed;
// the first that matches a command fires.
func (c *Card) InjectFault(f Fault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = append(c.faults, &activeFault{Fault: f})
	if c.releaseDelays == nil {
		c.releaseDelays = make(chan struct{})
	}
}

// KeepPINOnReset makes the card answer 9000 to VERIFY with P1=FF (reset
// the PIN's security status) but keep the PIN verified, as a card that
// does not implement that part of SP 800-73-4 might. ClearFaults undoes
// it.
func (c *Card) KeepPINOnReset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keepPIN = true
}

// ClearFaults disarms every fault and releases any answer a fault is holding
// back.
func (c *Card) ClearFaults() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults, c.keepPIN = nil, false
	if c.releaseDelays != nil {
		close(c.releaseDelays)
		c.releaseDelays = nil
	}
}

// matchFault returns the fault that fires for a command with this
// instruction, and the channel that cuts its delay short. The caller holds
// c.mu.
func (c *Card) matchFault(ins byte) (*Fault, <-chan struct{}) {
	for _, f := range c.faults {
		if f.INS != 0 && f.INS != ins {
			continue
		}
		if f.Skip > 0 {
			f.Skip--
			continue
		}
		if f.Times > 0 && f.fired >= f.Times {
			continue
		}
		f.fired++
		fired := f.Fault
		if fired.Fired != nil {
			select {
			case fired.Fired <- struct{}{}:
			default:
			}
		}
		return &fired, c.releaseDelays
	}
	return nil, nil
}

// wait sleeps for d unless release is closed first.
func wait(d time.Duration, release <-chan struct{}) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-release:
	}
}
