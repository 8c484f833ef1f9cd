//! flakehound's exit statuses, one name each. The shell's conventions where a command was run
//! (126, 127, 128 + signal); flakehound's own otherwise.

/// Everything went as asked: no findings, no failed tests, the claim holds.
pub const OK: u8 = 0;
/// Findings: tests failed (`run`), `--fail-on` matched (`report`, `hunt`), a file was
/// rejected (`parse`, `ingest`), a fix did not hold (`verify`), no polluter was found.
pub const FINDINGS: u8 = 1;
/// flakehound's own error: a usage error, an unreadable store or file, a bad location.
pub const ERROR: u8 = 2;
/// `verify`: no failure, but too few runs for the claim (the runs it would need are printed).
pub const NOT_ENOUGH_EVIDENCE: u8 = 3;
/// The test command was found but could not be executed (permission, not an executable).
pub const CANNOT_EXECUTE: u8 = 126;
/// The test command was not found.
pub const NOT_FOUND: u8 = 127;
/// Base of the status of a process ended by a signal: 128 + the signal's number.
pub const SIGNAL_BASE: i32 = 128;
/// Interrupted by Ctrl-C: 128 + SIGINT.
pub const INTERRUPTED: u8 = 130;

/// The status of a process ended by `signal` (128 + its number), as a shell reports it.
pub const fn signalled(signal: i32) -> i32 {
    SIGNAL_BASE + signal
}

#[cfg(test)]
mod tests {
    #[test]
    fn signals_as_a_shell_reports_them() {
        assert_eq!(super::signalled(2), i32::from(super::INTERRUPTED));
        assert_eq!(super::signalled(15), 143);
    }
}
