//! Burst avoidance, RFC 7016 section 3.5.2.3: at most six packets with user data between acknowledgements or timeouts.

/// The most packets containing user data a session sends between receiving
/// acknowledgements or retransmission timeouts (3.5.2.3).
pub const MAX_DATA_PACKETS: u32 = 6;

/// DATA_PACKET_COUNT and its rules (the optional method of 3.5.2.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BurstAvoidance {
    data_packet_count: u32,
}

impl BurstAvoidance {
    /// DATA_PACKET_COUNT = 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether another packet with user data may be sent.
    pub fn allows(&self) -> bool {
        self.data_packet_count < MAX_DATA_PACKETS
    }

    /// A packet with at least one User Data chunk was sent.
    pub fn on_data_packet_sent(&mut self) {
        self.data_packet_count = self.data_packet_count.saturating_add(1);
    }

    /// An acknowledgement chunk arrived.
    pub fn on_ack_received(&mut self) {
        self.data_packet_count = 0;
    }

    /// A retransmission timeout happened.
    pub fn on_timeout(&mut self) {
        self.data_packet_count = 0;
    }

    /// DATA_PACKET_COUNT.
    pub fn data_packet_count(&self) -> u32 {
        self.data_packet_count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7016 3.5.2.3: the seventh data packet waits for an acknowledgement or a timeout.
    // spec: 7016-3.5.2.3-c, 7016-3.5.2.3-d, 7016-3.5.2.3-e, 7016-3.5.2.3-f
    #[test]
    fn six_packets_then_wait() {
        let mut b = BurstAvoidance::new();
        for _ in 0..6 {
            assert!(b.allows());
            b.on_data_packet_sent();
        }
        assert!(!b.allows());
        b.on_ack_received();
        assert!(b.allows());
        for _ in 0..6 {
            b.on_data_packet_sent();
        }
        b.on_timeout();
        assert_eq!(b.data_packet_count(), 0);
    }
}
