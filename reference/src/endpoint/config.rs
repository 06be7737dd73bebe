//! Endpoint configuration: every RFC 7016 timer and limit, with the RFC's defaults.
//!
//! Each field names the section it comes from. Tests shorten or lengthen them;
//! nothing else in the implementation hard-codes these numbers.

use core::time::Duration;

use crate::congestion::CongestionChoice;
use crate::congestion::rto::RtoConfig;
use crate::flow::FlowConfig;
use crate::session::close::CloseConfig;
use crate::session::fragmentation::{RateLimit, ReassemblyLimits};
use crate::session::keepalive::KeepaliveConfig;
use crate::session::mobility::MobilityConfig;
use crate::session::mtu::MtuConfig;
use crate::session::startup::Backoff;

/// What a responder does with a Forwarded IHello whose Endpoint Discriminator
/// selects it (RFC 7016 3.5.1.1.2, 3.5.1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FIHelloPolicy {
    /// Ignore it (the default, as rtmfp-cpp; AMB-7016-09: an FIHello makes the
    /// responder send to an arbitrary address).
    #[default]
    Ignore,
    /// Answer with an RHello to the reply address, as if the IHello had come from there.
    RHello,
    /// Answer with an Implied Redirect (an empty Redirect) to the reply address.
    ImpliedRedirect,
}

/// The introduction service of RFC 7016 3.5.1.6: Redirector and Forwarder on
/// behalf of endpoints holding an S_OPEN session with this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IntroductionService {
    /// Answer an IHello naming a connected endpoint with a Redirect listing
    /// its DESTADDR and the addresses it registered (3.5.1.4, 3.5.1.6).
    pub redirect: bool,
    /// Forward such an IHello to the connected endpoint as an FIHello over its session (3.5.1.5).
    pub forward: bool,
}

impl IntroductionService {
    /// Both Redirector and Forwarder.
    pub fn enabled() -> Self {
        IntroductionService {
            redirect: true,
            forward: true,
        }
    }
}

/// An endpoint's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointConfig {
    /// 3.5.1.1.1: an opening session not S_OPEN by then fails: 95 s.
    pub open_timeout: Duration,
    /// 3.5.1.1.1: IHello retransmission schedule, per candidate (AMB-7016-03).
    pub ihello_backoff: Backoff,
    /// 3.5.1.1.1: IIKeying retransmission schedule (AMB-7016-03).
    pub iikeying_backoff: Backoff,
    /// 3.5.1.1.1: candidate addresses a Redirect may grow the set to: 24.
    pub redirect_threshold: usize,
    /// 3.5.1.1.1: tag length; at least 8 is recommended: 16 (as rtmfp-cpp).
    pub tag_len: usize,
    /// 3.5.1.1.2: cookie lifetime, at least 95 s: 120 s.
    pub cookie_lifetime: Duration,
    /// 3.5.1.1.2, 3.5.1.5: answering Forwarded IHellos.
    pub fihello_policy: FIHelloPolicy,
    /// 3.5.1.6: introduction service for connected endpoints.
    pub introduction: IntroductionService,
    /// Section 5: sessions held at once (opening, open and closing); more are refused.
    pub max_sessions: usize,
    /// 3.4: the largest startup datagram sent whole (UDP payload); larger
    /// startup packets are fragmented. 1472 by default: a 1500-byte Ethernet
    /// path over IPv4. rtmfp-cpp does not reassemble Packet Fragments, so this
    /// should stay above the startup packets of its peers.
    pub max_startup_datagram: usize,
    /// 3.4: startup rate limit per destination.
    pub startup_rate: RateLimit,
    /// 3.4: reassembly limits.
    pub reassembly: ReassemblyLimits,
    /// 3.5.2.2: retransmission timeout constants.
    pub rto: RtoConfig,
    /// 3.5.4.1: keepalive and dead-peer detection.
    pub keepalive: KeepaliveConfig,
    /// 3.5.4.2: address change verification.
    pub mobility: MobilityConfig,
    /// 3.5.4.3: packet size and probing.
    pub mtu: MtuConfig,
    /// 3.5.5: close timers.
    pub close: CloseConfig,
    /// 3.5.2.1: a TC packet received within this window sets TCR on the other sessions: 800 ms.
    pub time_critical_window: Duration,
    /// 3.5.4: Ping Replies waiting per session; more Pings go unanswered.
    pub max_pending_ping_replies: usize,
    /// Closed sessions kept for [`crate::endpoint::Endpoint::session`] queries.
    pub closed_sessions_remembered: usize,
    /// 3.6: limits and defaults of every S_OPEN session's flows (see
    /// [`EndpointConfig::default_flow_config`]). `max_packet_size` is
    /// replaced by the session's packet size (3.5.4.3).
    pub flow: FlowConfig,
    /// 3.5.2: the congestion controller of every S_OPEN session (Appendix A by default).
    pub congestion: CongestionChoice,
    /// Events waiting for [`crate::endpoint::Endpoint::poll_event`] beyond
    /// which arriving datagrams are dropped (counted as `event_queue_full`)
    /// until the application polls: 65536. Received messages also stay
    /// counted against their flow's receive window until polled, so an
    /// application that stops polling first closes its windows.
    pub max_pending_events: usize,
}

impl EndpointConfig {
    /// The flow settings of [`EndpointConfig::default`]: those of
    /// [`FlowConfig::default`] with room for bulk transfers. A new receiving
    /// flow advertises 1 MiB (BUFFER_CAPACITY; the sender assumes 65536
    /// until the first acknowledgement, 3.6.2) and the application may raise
    /// that to 16 MiB (rtmfp-cpp's echo server uses 16 MiB); all flows of a
    /// session together hold at most 16 MiB received and 8 MiB to send, 4 MiB
    /// per sending flow. An endpoint's worst case is `max_sessions` times
    /// those per-session limits.
    pub fn default_flow_config() -> FlowConfig {
        FlowConfig {
            max_send_buffer_per_flow: 4 << 20,
            max_send_buffer_per_session: 8 << 20,
            default_receive_buffer: 1 << 20,
            max_receive_buffer_per_flow: 16 << 20,
            max_receive_buffer_per_session: 16 << 20,
            ..FlowConfig::default()
        }
    }
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            open_timeout: Duration::from_secs(95),
            ihello_backoff: Backoff::default(),
            iikeying_backoff: Backoff::default(),
            redirect_threshold: 24,
            tag_len: 16,
            cookie_lifetime: Duration::from_secs(120),
            fihello_policy: FIHelloPolicy::Ignore,
            introduction: IntroductionService::default(),
            max_sessions: 4096,
            max_startup_datagram: 1472,
            startup_rate: RateLimit::default(),
            reassembly: ReassemblyLimits::default(),
            rto: RtoConfig::default(),
            keepalive: KeepaliveConfig::default(),
            mobility: MobilityConfig::default(),
            mtu: MtuConfig::default(),
            close: CloseConfig::default(),
            time_critical_window: Duration::from_millis(800),
            max_pending_ping_replies: 8,
            closed_sessions_remembered: 64,
            flow: EndpointConfig::default_flow_config(),
            congestion: CongestionChoice::AppendixA,
            max_pending_events: 65_536,
        }
    }
}
