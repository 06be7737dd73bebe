//! Session startup, RFC 7016 section 3.5.1: the four-way handshake and its variants.
//!
//! | RFC | here |
//! |---|---|
//! | 3.5.1.1.1 initiator | `Opening`, `Endpoint::on_rhello`, `Endpoint::on_redirect`, `Endpoint::on_rikeying`, `Session::opening_timeout` |
//! | 3.5.1.1.2 responder | `Endpoint::on_ihello`, `Endpoint::on_iikeying`, `Core::on_fihello` |
//! | 3.5.1.2 cookie change | `Endpoint::on_iikeying` (responder), `Endpoint::on_cookie_change` (initiator) |
//! | 3.5.1.3 glare | `Endpoint::on_iikeying` |
//! | 3.5.1.4 redirector, 3.5.1.5 forwarder, 3.5.1.6 introduction | `Endpoint::on_ihello` |
//!
//! The responder keeps no state for an IHello (3.5.1.1.2): the RHello's
//! cookie (`super::cookie`) carries all it needs to accept the IIKeying.

use core::net::SocketAddr;
use core::time::Duration;

use crate::crypto::InitiatorKeying;
use crate::endpoint::config::FIHelloPolicy;
use crate::endpoint::event::{Event, OpenFailure};
use crate::endpoint::stats::DropReason;
use crate::endpoint::{Core, Endpoint};
use crate::session::cookie::CookieCheck;
use crate::time::Instant;
use crate::wire::chunk::{
    FIHello, IHello, IIKeying, RHello, RHelloCookieChange, RIKeying, Redirect,
};
use crate::wire::{Address, AddressOrigin, Chunk};

use super::{Answered, Role, Session, SessionHandle, SessionState};

/// A retransmission schedule (RFC 7016 3.5.1.1.1; AMB-7016-03): each interval
/// is the larger of `factor` times the previous one and the previous one plus
/// `add`. The default, 1 s then x1.5 or +1.5 s, gives 1, 2.5, 4, 6, 9, 13.5 s...
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The first interval: 1 s.
    pub initial: Duration,
    /// The multiplicative growth: 1.5.
    pub factor: f64,
    /// The additive growth: 1.5 s.
    pub add: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            factor: 1.5,
            add: Duration::from_millis(1500),
        }
    }
}

impl Backoff {
    /// The interval after `previous`.
    pub fn next(&self, previous: Duration) -> Duration {
        super::timing::scale(previous, self.factor).max(previous.saturating_add(self.add))
    }
}

/// One candidate address of an opening session, with its own IHello schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub(crate) addr: SocketAddr,
    pub(crate) next: Instant,
    pub(crate) interval: Duration,
}

/// An initiator's opening state, from connect until S_OPEN (RFC 7016 3.5.1.1.1).
pub(crate) struct Opening {
    pub(crate) tag: Vec<u8>,
    pub(crate) candidates: Vec<Candidate>,
    pub(crate) cookie: Vec<u8>,
    pub(crate) cookie_changed: bool,
    pub(crate) keying: Option<Box<dyn InitiatorKeying>>,
    pub(crate) iikeying_packet: Option<Vec<u8>>,
    pub(crate) iikeying_packet_id: u64,
    pub(crate) iikeying_next: Option<Instant>,
    pub(crate) iikeying_interval: Duration,
}

impl Opening {
    pub(crate) fn new(tag: Vec<u8>) -> Self {
        Opening {
            tag,
            candidates: Vec::new(),
            cookie: Vec::new(),
            cookie_changed: false,
            keying: None,
            iikeying_packet: None,
            iikeying_packet_id: 0,
            iikeying_next: None,
            iikeying_interval: Duration::ZERO,
        }
    }

    /// The next IHello or IIKeying (re)transmission.
    pub(crate) fn next_retransmission(&self) -> Option<Instant> {
        if self.keying.is_some() {
            self.iikeying_next
        } else {
            self.candidates.iter().map(|c| c.next).min()
        }
    }
}

/// Encodes one startup chunk as a whole mode-3 plain packet.
pub(crate) fn startup_packet(chunk: Chunk) -> Option<Vec<u8>> {
    let mut packet = crate::wire::Packet::new(crate::wire::Header::new(crate::wire::Mode::Startup));
    packet.chunks.push(chunk);
    let mut out = Vec::with_capacity(packet.encoded_len());
    packet.encode(&mut out).ok()?;
    Some(out)
}

impl Session {
    /// Adds a candidate address (RFC 7016 3.5.1.1.1; AMB-7016-04): a new
    /// distinct address gets an IHello at once and its own schedule.
    /// Returns whether it was added.
    pub(crate) fn add_candidate(
        &mut self,
        core: &mut Core,
        now: Instant,
        addr: SocketAddr,
    ) -> bool {
        if self.state != SessionState::S_IHELLO_SENT {
            return false;
        }
        let threshold = core.config.redirect_threshold;
        let initial = core.config.ihello_backoff.initial;
        let Some(o) = self.opening.as_mut() else {
            return false;
        };
        if o.candidates.iter().any(|c| c.addr == addr) || o.candidates.len() >= threshold {
            return false;
        }
        o.candidates.push(Candidate {
            addr,
            next: now,
            interval: initial,
        });
        let i = o.candidates.len() - 1;
        self.send_ihello(core, now, i);
        true
    }

    fn send_ihello(&mut self, core: &mut Core, now: Instant, i: usize) {
        let backoff = core.config.ihello_backoff;
        let (Some(o), Some(epd)) = (self.opening.as_mut(), self.epd.as_ref()) else {
            return;
        };
        let Some(c) = o.candidates.get_mut(i) else {
            return;
        };
        let chunk = Chunk::IHello(IHello {
            endpoint_discriminator: epd.clone(),
            tag: o.tag.clone(),
        });
        if let Some(plain) = startup_packet(chunk)
            && core.send_startup(now, c.addr, 0, &plain, None)
        {
            core.stats.ihellos_sent += 1;
            self.stats.ihellos_sent += 1;
        }
        c.next = now + c.interval;
        c.interval = backoff.next(c.interval);
    }

    fn send_iikeying(&mut self, core: &mut Core, now: Instant) {
        let Some(dest) = self.destaddr else { return };
        let Some(o) = self.opening.as_mut() else {
            return;
        };
        let Some(plain) = o.iikeying_packet.as_ref() else {
            return;
        };
        // The same packet ID every time: fragments of different attempts combine.
        if core.send_startup(now, dest, 0, plain, Some(o.iikeying_packet_id)) {
            core.stats.iikeyings_sent += 1;
            self.stats.iikeyings_sent += 1;
        }
        o.iikeying_next = Some(now + o.iikeying_interval);
        o.iikeying_interval = core.config.iikeying_backoff.next(o.iikeying_interval);
    }

    /// Builds (and signs) the IIKeying for the current cookie (RFC 7016 3.5.1.1.1 step 2, 3.5.1.2).
    fn build_iikeying(&mut self, core: &mut Core) {
        let (Some(o), Some(far)) = (self.opening.as_mut(), self.far_certificate.as_ref()) else {
            return;
        };
        let Some(keying) = o.keying.as_ref() else {
            return;
        };
        let mut c = IIKeying {
            initiator_session_id: self.receive_id,
            cookie_echo: o.cookie.clone(),
            initiator_certificate: core.profile.near_certificate().to_vec(),
            session_key_initiator_component: keying.skic().to_vec(),
            signature: Vec::new(),
        };
        c.signature = core.profile.sign(&[&c.signed_parameters()], far);
        o.iikeying_packet = startup_packet(Chunk::IIKeying(c));
        o.iikeying_packet_id = core.next_packet_id();
        o.iikeying_interval = core.config.iikeying_backoff.initial;
    }

    /// The opening timers: the ultimate open timeout, then IHello or IIKeying retransmission.
    pub(crate) fn opening_timeout(&mut self, core: &mut Core, now: Instant) {
        if now >= self.created + core.config.open_timeout {
            // 3.5.1.1.1: counted from the session's creation (AMB-7016-02 item 6).
            return self.fail(core, OpenFailure::Timeout);
        }
        match self.state {
            SessionState::S_IHELLO_SENT => {
                let due: Vec<usize> = self
                    .opening
                    .iter()
                    .flat_map(|o| o.candidates.iter().enumerate())
                    .filter(|(_, c)| c.next <= now)
                    .map(|(i, _)| i)
                    .collect();
                for i in due {
                    self.send_ihello(core, now, i);
                }
            }
            SessionState::S_KEYING_SENT
                if self
                    .opening
                    .as_ref()
                    .and_then(|o| o.iikeying_next)
                    .is_some_and(|t| t <= now) =>
            {
                self.send_iikeying(core, now);
            }
            _ => {}
        }
    }
}

impl Core {
    /// An RHello for `tag`, with a cookie bound to `to`, sent to `to` (3.5.1.1.2).
    fn send_rhello(&mut self, now: Instant, to: SocketAddr, tag: Vec<u8>) {
        let chunk = Chunk::RHello(RHello {
            tag_echo: tag,
            cookie: self.cookies.make(now, to),
            responder_certificate: self.profile.near_certificate().to_vec(),
        });
        if let Some(plain) = startup_packet(chunk)
            && self.send_startup(now, to, 0, &plain, None)
        {
            self.stats.rhellos_sent += 1;
        }
    }

    fn send_redirect(
        &mut self,
        now: Instant,
        to: SocketAddr,
        tag: Vec<u8>,
        destinations: Vec<Address>,
    ) {
        if let Some(plain) = startup_packet(Chunk::Redirect(Redirect {
            tag_echo: tag,
            destinations,
        })) && self.send_startup(now, to, 0, &plain, None)
        {
            self.stats.redirects_sent += 1;
        }
    }

    /// An FIHello received over an S_OPEN session (RFC 7016 3.5.1.1.2, 3.5.1.5).
    pub(crate) fn on_fihello(&mut self, now: Instant, policy: FIHelloPolicy, f: FIHello) {
        if policy == FIHelloPolicy::Ignore {
            return self.stats.drops.count(DropReason::FIHelloIgnored);
        }
        match self.profile.epd_selects_near(&f.endpoint_discriminator) {
            Ok(true) => {}
            Ok(false) => return self.stats.drops.count(DropReason::FIHelloIgnored),
            Err(_) => return self.stats.drops.count(DropReason::BadEndpointDiscriminator),
        }
        let to = f.reply_address.socket;
        match policy {
            // As though the IHello came from the reply address: cookie bound to it.
            FIHelloPolicy::RHello => self.send_rhello(now, to, f.tag),
            // No addresses: the initiator uses this packet's source.
            FIHelloPolicy::ImpliedRedirect => self.send_redirect(now, to, f.tag, Vec::new()),
            FIHelloPolicy::Ignore => {}
        }
    }
}

impl Endpoint {
    /// An IHello (RFC 7016 3.5.1.1.2; as Redirector 3.5.1.4, Forwarder 3.5.1.5,
    /// introduction service 3.5.1.6).
    pub(crate) fn on_ihello(&mut self, now: Instant, from: SocketAddr, c: IHello) {
        let core = &mut self.core;
        match core.profile.epd_selects_near(&c.endpoint_discriminator) {
            Ok(true) => return core.send_rhello(now, from, c.tag),
            Ok(false) => {}
            Err(_) => return core.stats.drops.count(DropReason::BadEndpointDiscriminator),
        }
        let mut destinations: Vec<Address> = Vec::new();
        let mut forwarded = false;
        let intro = core.config.introduction;
        if intro.redirect || intro.forward {
            for s in self.table.live.values_mut() {
                if s.state != SessionState::S_OPEN {
                    continue;
                }
                let Some(cert) = s.far_certificate.as_ref() else {
                    continue;
                };
                if core
                    .profile
                    .epd_selects_certificate(&c.endpoint_discriminator, cert)
                    != Ok(true)
                {
                    continue;
                }
                if intro.redirect {
                    destinations.extend(s.introduction_addresses());
                }
                if intro.forward {
                    // AMB-7016-09: the reply address is tagged as observed.
                    forwarded |= s.forward_fihello(FIHello {
                        endpoint_discriminator: c.endpoint_discriminator.clone(),
                        reply_address: Address::new(from, AddressOrigin::Reflexive),
                        tag: c.tag.clone(),
                    });
                }
            }
        }
        if let Some(table) = core.redirects.get(&c.endpoint_discriminator) {
            destinations.extend(table.iter().map(|a| Address::new(*a, AddressOrigin::Relay)));
        }
        destinations.dedup_by(|a, b| a.socket == b.socket);
        destinations.truncate(core.config.redirect_threshold);
        if !destinations.is_empty() {
            core.send_redirect(now, from, c.tag, destinations);
        } else if !forwarded {
            core.stats.drops.count(DropReason::IHelloNotForUs);
        }
    }

    fn opening_by_tag(&mut self, tag: &[u8]) -> Option<SessionHandle> {
        self.table.by_tag.get(tag).copied()
    }

    /// A Redirect (RFC 7016 3.5.1.1.1, 2.3.5).
    pub(crate) fn on_redirect(&mut self, now: Instant, from: SocketAddr, c: Redirect) {
        let Some(h) = self.opening_by_tag(&c.tag_echo) else {
            return self.core.stats.drops.count(DropReason::UnmatchedTag);
        };
        let Some(s) = self.table.live.get_mut(&h) else {
            return;
        };
        if s.state != SessionState::S_IHELLO_SENT {
            return s.drop(&mut self.core, DropReason::LateStartupReply);
        }
        let destinations: Vec<SocketAddr> = if c.is_implied() {
            vec![from]
        } else {
            c.destinations.iter().map(|a| a.socket).collect()
        };
        for d in destinations {
            // Stops adding at REDIRECT_THRESHOLD candidates.
            s.add_candidate(&mut self.core, now, d);
        }
    }

    /// An RHello (RFC 7016 3.5.1.1.1).
    pub(crate) fn on_rhello(&mut self, now: Instant, from: SocketAddr, c: RHello) {
        let Some(h) = self.opening_by_tag(&c.tag_echo) else {
            return self.core.stats.drops.count(DropReason::UnmatchedTag);
        };
        let core = &mut self.core;
        let Some(s) = self.table.live.get(&h) else {
            return;
        };
        if s.state != SessionState::S_IHELLO_SENT {
            // 3.5.1.1: the first acceptable RHello wins; later ones are ignored.
            return core.stats.drops.count(DropReason::LateStartupReply);
        }
        let cert = &c.responder_certificate;
        let epd = s.epd.clone().unwrap_or_default();
        let selected = core.profile.check_certificate(cert).is_ok()
            && core.profile.epd_selects_certificate(&epd, cert) == Ok(true);
        let canonical = core.profile.canonical_epd(cert);
        let Ok(canonical) = canonical
            .map_err(|_| ())
            .and_then(|c| if selected { Ok(c) } else { Err(()) })
        else {
            if let Some(s) = self.table.live.get_mut(&h) {
                s.drop(core, DropReason::CertificateRejected);
            }
            return;
        };
        // Step 1: a duplicate of a session in S_KEYING_SENT or S_OPEN.
        let duplicate = self.table.live.values().find(|o| {
            o.handle != h
                && matches!(o.state, SessionState::S_KEYING_SENT | SessionState::S_OPEN)
                && o.far_canonical_epd.as_ref() == Some(&canonical)
                && o.far_certificate
                    .as_ref()
                    .is_some_and(|oc| core.profile.epd_selects_certificate(&epd, oc) == Ok(true))
        });
        if let Some(existing) = duplicate.map(|o| o.handle) {
            self.table.by_tag.remove(&c.tag_echo);
            if let Some(s) = self.table.live.get_mut(&h) {
                s.fail(core, OpenFailure::Duplicate { existing });
            }
            return;
        }
        // Step 2: S_KEYING_SENT.
        let keying = match core.profile.initiator_keying(cert, &mut *core.rng) {
            Ok(k) => k,
            Err(_) => {
                if let Some(s) = self.table.live.get_mut(&h) {
                    s.drop(core, DropReason::KeyingFailed);
                }
                return;
            }
        };
        let receive_id = self.table.new_receive_id(&mut *core.rng);
        let Some(s) = self.table.live.get_mut(&h) else {
            return;
        };
        s.receive_id = receive_id;
        self.table.by_receive_id.insert(receive_id, h);
        s.destaddr = Some(from);
        s.far_certificate = Some(c.responder_certificate);
        s.far_canonical_epd = Some(canonical);
        if let Some(o) = s.opening.as_mut() {
            o.cookie = c.cookie;
            o.keying = Some(keying);
        }
        s.enter(core, SessionState::S_KEYING_SENT);
        s.build_iikeying(core);
        s.send_iikeying(core, now);
    }

    /// An RHello Cookie Change for an S_KEYING_SENT session (RFC 7016 3.5.1.2).
    pub(crate) fn on_cookie_change(
        &mut self,
        now: Instant,
        h: SessionHandle,
        c: RHelloCookieChange,
    ) {
        let core = &mut self.core;
        let Some(s) = self.table.live.get_mut(&h) else {
            return;
        };
        let acceptable = s
            .opening
            .as_ref()
            .is_some_and(|o| !o.cookie_changed && o.cookie == c.old_cookie);
        if !acceptable {
            // A second change, or not our cookie: at most one change per session.
            return s.drop(core, DropReason::CookieChangeRefused);
        }
        if let Some(o) = s.opening.as_mut() {
            o.cookie = c.new_cookie;
            o.cookie_changed = true;
        }
        s.build_iikeying(core);
        s.send_iikeying(core, now);
    }

    /// An RIKeying for an S_KEYING_SENT session (RFC 7016 3.5.1.1.1).
    pub(crate) fn on_rikeying(
        &mut self,
        now: Instant,
        h: SessionHandle,
        c: RIKeying,
        portion: &[u8],
    ) {
        let core = &mut self.core;
        let Some(s) = self.table.live.get_mut(&h) else {
            return;
        };
        if s.state != SessionState::S_KEYING_SENT {
            return s.drop(core, DropReason::UnexpectedRIKeying);
        }
        if c.responder_session_id == 0 {
            // AMB-7016-18.
            return s.drop(core, DropReason::SessionIdZero);
        }
        let (Some(o), Some(far)) = (s.opening.as_ref(), s.far_certificate.as_ref()) else {
            return;
        };
        let Some(keying) = o.keying.as_ref() else {
            return;
        };
        if core
            .profile
            .verify(far, &[portion, keying.skic()], &c.signature)
            .is_err()
        {
            return s.drop(core, DropReason::BadSignature);
        }
        let keys = match keying.complete(&c.session_key_responder_component) {
            Ok(k) => k,
            Err(_) => return s.drop(core, DropReason::KeyingFailed),
        };
        let tag = o.tag.clone();
        self.table.by_tag.remove(&tag);
        s.open(core, now, keys, c.responder_session_id);
        core.stats.sessions_opened += 1;
        core.emit(Event::SessionOpened { session: h });
    }

    /// An IIKeying (RFC 7016 3.5.1.1.2, with 3.5.1.2 Cookie Change and 3.5.1.3 Glare).
    pub(crate) fn on_iikeying(
        &mut self,
        now: Instant,
        from: SocketAddr,
        c: IIKeying,
        signed: &[u8],
    ) {
        let core = &mut self.core;
        match core.cookies.check(now, &c.cookie_echo, from) {
            CookieCheck::NotAuthentic => {
                return core.stats.drops.count(DropReason::CookieNotAuthentic);
            }
            CookieCheck::Expired => return core.stats.drops.count(DropReason::CookieExpired),
            CookieCheck::WrongAddress => {
                if c.initiator_session_id == 0 {
                    return core.stats.drops.count(DropReason::SessionIdZero);
                }
                // 3.5.1.2: a new cookie for the address the IIKeying came from,
                // under the IIKeying's session ID and the Default Session Key.
                let chunk = Chunk::RHelloCookieChange(RHelloCookieChange {
                    old_cookie: c.cookie_echo,
                    new_cookie: core.cookies.make(now, from),
                });
                if let Some(plain) = startup_packet(chunk)
                    && core.send_startup(now, from, c.initiator_session_id, &plain, None)
                {
                    core.stats.cookie_changes_sent += 1;
                }
                return;
            }
            CookieCheck::Valid => {}
        }
        if c.initiator_session_id == 0 {
            return core.stats.drops.count(DropReason::SessionIdZero);
        }
        let cert = &c.initiator_certificate;
        if core.profile.check_certificate(cert).is_err() {
            return core.stats.drops.count(DropReason::CertificateRejected);
        }
        if core.profile.verify(cert, &[signed], &c.signature).is_err() {
            return core.stats.drops.count(DropReason::BadSignature);
        }
        let skic = &c.session_key_initiator_component;

        // Step 1: glare with an opening session to this address (AMB-7016-08).
        let glare: Vec<SessionHandle> = self
            .table
            .live
            .values()
            .filter(|s| match s.state {
                SessionState::S_IHELLO_SENT => s
                    .opening
                    .as_ref()
                    .is_some_and(|o| o.candidates.iter().any(|k| k.addr == from)),
                SessionState::S_KEYING_SENT => s.destaddr == Some(from),
                _ => false,
            })
            .map(|s| s.handle)
            .collect();
        let mut overridden: Vec<SessionHandle> = Vec::new();
        if !glare.is_empty() {
            if core.profile.near_prevails_in_glare(cert) {
                // The far end will give up its session when it gets our IIKeying.
                return core.stats.drops.count(DropReason::GlareNearPrevails);
            }
        } else {
            // Step 2: an S_OPEN session with this address.
            let open: Vec<&Session> = self
                .table
                .live
                .values()
                .filter(|s| s.state == SessionState::S_OPEN && s.destaddr == Some(from))
                .collect();
            for s in &open {
                let retransmission = s.role == Role::Responder
                    && s.send_id == c.initiator_session_id
                    && s.far_certificate.as_ref() == Some(cert)
                    && s.answered.as_ref().is_some_and(|a| &a.skic == skic);
                if retransmission {
                    // 2.1: the RIKeying was lost; send it again.
                    let (to, sid) = (from, s.send_id);
                    if let Some(a) = s.answered.as_ref() {
                        let plain = a.rikeying_packet.clone();
                        if core.send_startup(now, to, sid, &plain, None) {
                            core.stats.rikeyings_sent += 1;
                        }
                    }
                    return;
                }
            }
            for s in &open {
                let existing = s.far_certificate.as_deref().unwrap_or_default();
                if !core.profile.overrides_session(existing, cert) {
                    // 2.2: not from the same identity.
                    return core.stats.drops.count(DropReason::NotOverriding);
                }
                overridden.push(s.handle);
            }
        }
        if self.table.live.len() >= core.config.max_sessions {
            return core.stats.drops.count(DropReason::SessionLimit);
        }
        // Step 3 (the Session Key Initiator Component is checked here).
        let keying = match core.profile.responder_keying(cert, skic, &mut *core.rng) {
            Ok(k) => k,
            Err(_) => return core.stats.drops.count(DropReason::KeyingFailed),
        };
        let h = self.table.new_handle();
        // Glare, far end prevails: abort opening sessions it overrides (3.5.1.3 step 1).
        for g in glare {
            let Some(s) = self.table.live.get_mut(&g) else {
                continue;
            };
            let abort = match s.state {
                // No far certificate yet: abort if it is the endpoint we were
                // trying to reach (AMB-7016-02 item 1).
                SessionState::S_IHELLO_SENT => s
                    .epd
                    .as_ref()
                    .is_some_and(|epd| core.profile.epd_selects_certificate(epd, cert) == Ok(true)),
                _ => s
                    .far_certificate
                    .as_ref()
                    .is_some_and(|far| core.profile.overrides_session(far, cert)),
            };
            if abort {
                if let Some(o) = s.opening.as_ref() {
                    self.table.by_tag.remove(&o.tag);
                }
                s.fail(core, OpenFailure::GlareLost { incoming: h });
            }
        }
        // Session override: the stale S_OPEN session goes (3.5.1.1.2 step 2.3).
        for o in overridden {
            if let Some(s) = self.table.live.get_mut(&o) {
                s.leave_open(
                    core,
                    now,
                    SessionState::S_CLOSED,
                    crate::endpoint::event::CloseReason::Overridden { by: h },
                );
            }
        }
        let receive_id = self.table.new_receive_id(&mut *core.rng);
        let mut r = RIKeying {
            responder_session_id: receive_id,
            session_key_responder_component: keying.skrc,
            signature: Vec::new(),
        };
        r.signature = core
            .profile
            .sign(&[&r.signed_parameters_portion(), skic], cert);
        let Some(plain) = startup_packet(Chunk::RIKeying(r)) else {
            return core.stats.drops.count(DropReason::SendFailed);
        };
        let mut s = Session::new(core, h, Role::Responder, SessionState::S_OPEN, now);
        s.receive_id = receive_id;
        s.destaddr = Some(from);
        s.far_canonical_epd = core.profile.canonical_epd(cert).ok();
        s.far_certificate = Some(c.initiator_certificate.clone());
        s.open(core, now, keying.keys, c.initiator_session_id);
        if core.send_startup(now, from, c.initiator_session_id, &plain, None) {
            core.stats.rikeyings_sent += 1;
        }
        s.answered = Some(Answered {
            skic: c.session_key_initiator_component,
            rikeying_packet: plain,
        });
        self.table.by_receive_id.insert(receive_id, h);
        self.table.live.insert(h, s);
        core.stats.sessions_accepted += 1;
        core.emit(Event::IncomingSession { session: h });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // spec: 7016-3.5.1.1.1-i, 7016-3.5.1.1.1-j, 7016-3.5.1.1.1-t, 7016-3.5.1.1.1-u
    #[test]
    fn default_backoff_is_at_least_x1_5_and_plus_1_5_s() {
        let b = Backoff::default();
        let mut i = b.initial;
        let mut seen = vec![i];
        for _ in 0..6 {
            let n = b.next(i);
            assert!(n >= i.mul_f64(1.5) && n >= i + Duration::from_millis(1500));
            i = n;
            seen.push(i);
        }
        let ms: Vec<u128> = seen.iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, [1000, 2500, 4000, 6000, 9000, 13500, 20250]);
    }
}
