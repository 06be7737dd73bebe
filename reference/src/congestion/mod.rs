//! Congestion control, RFC 7016 section 3.5.2: the controller interface, burst avoidance and the retransmission timeout.
//!
//! A session keeps one transmission budget for all its flows (section 3.5.2).
//! The flow layer ([`crate::flow::FlowSet`]) tells a [`CongestionController`]
//! what happened (acknowledged bytes, negative acknowledgements, losses,
//! timeouts, the packet boundaries of received packets, time critical
//! notifications) and asks it whether more user data may go out. The one real
//! controller is [`AppendixA`], the RFC's example algorithm. [`BurstAvoidance`]
//! (3.5.2.3) and [`rto::Rto`] (3.5.2.2) are the other two timing pieces a
//! sender needs.

pub mod appendix_a;
pub mod burst;
pub mod rto;

pub use appendix_a::AppendixA;
pub use burst::BurstAvoidance;
pub use rto::Rto;

use std::sync::Arc;

use crate::time::Instant;

/// How long a Time Critical (Reverse) Notification keeps its effect (3.5.2.1, Appendix A.2).
pub const TIME_CRITICAL_WINDOW: core::time::Duration = core::time::Duration::from_millis(800);

/// A session's congestion control and avoidance algorithm (RFC 7016 3.5.2).
///
/// The flow layer calls these in this order for each received packet of an
/// S_OPEN session: [`on_packet_begin`](Self::on_packet_begin), then for its
/// acknowledgement chunks any number of [`on_ack`](Self::on_ack), then (after
/// all acknowledgements, 3.6.2.5) [`on_nak`](Self::on_nak) and
/// [`on_loss`](Self::on_loss), then [`on_packet_end`](Self::on_packet_end).
/// Timeouts (3.6.2.6) and time critical notifications come at any time.
/// Implementations must be deterministic: time only from the arguments.
pub trait CongestionController: core::fmt::Debug + Send {
    /// Before the chunks of a received packet are processed; `outstanding` is
    /// S_OUTSTANDING_BYTES, the session's bytes in flight.
    fn on_packet_begin(&mut self, now: Instant, outstanding: u64);
    /// `bytes` of in-flight user data were acknowledged (3.6.2.4 step 5).
    fn on_ack(&mut self, bytes: u64);
    /// A negative acknowledgement was inferred for an in-flight fragment (3.6.2.5).
    fn on_nak(&mut self);
    /// A fragment of `bytes` was declared lost after three negative acknowledgements (3.6.2.5).
    fn on_loss(&mut self, bytes: u64);
    /// After every chunk of the received packet was processed.
    fn on_packet_end(&mut self, now: Instant);
    /// The TIMEOUT_ALARM fired (3.6.2.6); `was_loss` when fragments were still in flight.
    fn on_timeout(&mut self, now: Instant, was_loss: bool);
    /// A packet with the Time Critical Forward Notification flag was sent, on
    /// this session (`this_session`) or on another session of the endpoint.
    fn on_time_critical_sent(&mut self, now: Instant, this_session: bool);
    /// A packet with the Time Critical Reverse Notification flag arrived on this session (3.5.2.1).
    fn on_time_critical_reverse(&mut self, now: Instant);
    /// Whether `bytes` more bytes of user data may be sent now, with
    /// `outstanding` (S_OUTSTANDING_BYTES) already in flight.
    fn may_send(&self, now: Instant, outstanding: u64, bytes: u64) -> bool;
    /// The current transmission budget in bytes (the congestion window), for statistics.
    fn window(&self) -> u64;
}

/// Makes a new session's congestion controller.
pub type MakeController = dyn Fn() -> Box<dyn CongestionController> + Send + Sync;

/// Which congestion controller each new S_OPEN session gets (an endpoint setting).
#[derive(Clone, Default)]
pub enum CongestionChoice {
    /// The example algorithm of Appendix A ([`AppendixA`]).
    #[default]
    AppendixA,
    /// Another algorithm, made fresh for every session.
    Custom(Arc<MakeController>),
}

impl CongestionChoice {
    /// A custom controller made by `make` for each session.
    pub fn custom(
        make: impl Fn() -> Box<dyn CongestionController> + Send + Sync + 'static,
    ) -> Self {
        CongestionChoice::Custom(Arc::new(make))
    }

    /// A new controller for a session.
    pub fn make(&self) -> Box<dyn CongestionController> {
        match self {
            CongestionChoice::AppendixA => Box::new(AppendixA::new()),
            CongestionChoice::Custom(make) => make(),
        }
    }
}

impl core::fmt::Debug for CongestionChoice {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CongestionChoice::AppendixA => f.write_str("AppendixA"),
            CongestionChoice::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// Two choices are equal when both are Appendix A or both the same custom maker.
impl PartialEq for CongestionChoice {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (CongestionChoice::AppendixA, CongestionChoice::AppendixA) => true,
            (CongestionChoice::Custom(a), CongestionChoice::Custom(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}
