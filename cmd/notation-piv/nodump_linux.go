package main

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// noCoreDumps keeps the secrets the process holds (PIN, PUK, management
// key) out of core files and away from other processes, as ssh-agent and
// gpg-agent do: a core file size limit of 0, which the programs it starts
// (pinentry) inherit, and PR_SET_DUMPABLE 0, which also stops processes of
// the same user from attaching with ptrace or reading its memory through
// /proc.
func noCoreDumps() error {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return fmt.Errorf("set the core file size limit to 0: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_DUMPABLE, 0): %w", err)
	}
	return nil
}
