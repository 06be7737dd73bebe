//! Session close, RFC 7016 section 3.5.5.
//!
//! | state | Close Request received | Close Ack received | timer |
//! |---|---|---|---|
//! | S_OPEN | Close Ack, to S_FARCLOSE_LINGER | to S_CLOSED | keepalive |
//! | S_NEARCLOSE | Close Ack | to S_CLOSED | Close Request every 5 s; S_CLOSED after 90 s |
//! | S_FARCLOSE_LINGER | Close Ack | to S_CLOSED | S_CLOSED after 19 s |
//!
//! An orderly close moves S_OPEN to S_NEARCLOSE and sends a Close Request at
//! once; an abrupt close sends a Close Ack and moves to S_CLOSED. Every way
//! out of S_OPEN ends the session's flows.

use core::time::Duration;

use crate::endpoint::Core;
use crate::endpoint::event::{ApiError, CloseKind, CloseReason, OpenFailure};
use crate::time::Instant;

use super::{Closing, Session, SessionState};

/// Close timers (RFC 7016 3.5.5), overridable for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseConfig {
    /// Close Request repeated this often in S_NEARCLOSE: 5 s.
    pub retransmit: Duration,
    /// S_NEARCLOSE gives up after this: 90 s.
    pub nearclose_timeout: Duration,
    /// S_FARCLOSE_LINGER lasts this long: 19 s.
    pub farclose_linger: Duration,
}

impl Default for CloseConfig {
    fn default() -> Self {
        CloseConfig {
            retransmit: Duration::from_secs(5),
            nearclose_timeout: Duration::from_secs(90),
            farclose_linger: Duration::from_secs(19),
        }
    }
}

/// The next timer of a closing state.
pub(crate) fn deadline(state: SessionState, c: &Closing, cfg: &CloseConfig) -> Instant {
    match state {
        SessionState::S_NEARCLOSE => {
            let give_up = c.since + cfg.nearclose_timeout;
            c.next_close.map_or(give_up, |n| n.min(give_up))
        }
        _ => c.since + cfg.farclose_linger,
    }
}

impl Session {
    /// The application closes the session.
    pub(crate) fn close(
        &mut self,
        core: &mut Core,
        now: Instant,
        kind: CloseKind,
    ) -> Result<(), ApiError> {
        match (self.state, kind) {
            (SessionState::S_IHELLO_SENT | SessionState::S_KEYING_SENT, _) => {
                // AMB-7016-35: the application gives up on an opening session.
                self.fail(core, OpenFailure::Cancelled);
            }
            (SessionState::S_OPEN, CloseKind::Orderly) => {
                self.leave_open(
                    core,
                    now,
                    SessionState::S_NEARCLOSE,
                    CloseReason::LocalOrderly,
                );
                self.close_due = true;
                if let Some(c) = self.closing.as_mut() {
                    c.next_close = Some(now + core.config.close.retransmit);
                }
            }
            (SessionState::S_OPEN, CloseKind::Abrupt) => {
                self.leave_open(core, now, SessionState::S_CLOSED, CloseReason::LocalAbrupt);
                self.close_ack_due = true;
            }
            (SessionState::S_NEARCLOSE | SessionState::S_FARCLOSE_LINGER, CloseKind::Abrupt) => {
                self.close_due = false;
                self.close_ack_due = true;
                self.enter(core, SessionState::S_CLOSED);
            }
            (SessionState::S_NEARCLOSE | SessionState::S_FARCLOSE_LINGER, CloseKind::Orderly) => {}
            (SessionState::S_CLOSED | SessionState::S_OPEN_FAILED, _) => {}
        }
        Ok(())
    }

    /// A Close Request arrived (3.5.5).
    pub(crate) fn on_close_request(&mut self, core: &mut Core, now: Instant) {
        match self.state {
            SessionState::S_OPEN => {
                self.leave_open(
                    core,
                    now,
                    SessionState::S_FARCLOSE_LINGER,
                    CloseReason::FarClose,
                );
                self.close_ack_due = true;
            }
            SessionState::S_NEARCLOSE | SessionState::S_FARCLOSE_LINGER => {
                self.close_ack_due = true;
            }
            _ => {}
        }
    }

    /// A Close Ack arrived (3.5.5).
    pub(crate) fn on_close_ack(&mut self, core: &mut Core, now: Instant) {
        match self.state {
            SessionState::S_OPEN => {
                self.leave_open(core, now, SessionState::S_CLOSED, CloseReason::FarAbrupt);
            }
            SessionState::S_NEARCLOSE | SessionState::S_FARCLOSE_LINGER => {
                self.close_due = false;
                self.close_ack_due = false;
                self.enter(core, SessionState::S_CLOSED);
            }
            _ => {}
        }
    }

    /// The S_NEARCLOSE and S_FARCLOSE_LINGER timers.
    pub(crate) fn closing_timeout(&mut self, core: &mut Core, now: Instant) {
        let cfg = core.config.close;
        let Some(c) = self.closing.as_mut() else {
            return;
        };
        match self.state {
            SessionState::S_NEARCLOSE => {
                if now >= c.since + cfg.nearclose_timeout {
                    self.close_due = false;
                    self.close_ack_due = false;
                    self.enter(core, SessionState::S_CLOSED);
                } else if let Some(n) = c.next_close
                    && now >= n
                {
                    // Every 5 s after entering S_NEARCLOSE, without drifting.
                    self.close_due = true;
                    c.next_close = Some((n + cfg.retransmit).max(now));
                }
            }
            SessionState::S_FARCLOSE_LINGER if now >= c.since + cfg.farclose_linger => {
                self.close_ack_due = false;
                self.enter(core, SessionState::S_CLOSED);
            }
            _ => {}
        }
    }
}
