//! RFC 7016 section 2 rules that cut across structures: reserved bits (section 2)
//! and which chunk types each packet mode may carry (section 2.2.4).
//!
//! Expected values are worked out by hand from the RFC's structure diagrams
//! and chunk lists, not taken from the encoder.

use rtmfp::wire::chunk::next_user_data::NextUserData;
use rtmfp::wire::chunk::packet_fragment::PacketFragment;
use rtmfp::wire::chunk::user_data::{FragmentControl, UserData, UserDataFlags};
use rtmfp::wire::chunk::{self, ChunkPayload};
use rtmfp::wire::packet::{Header, Mode, PlainPacket};
use rtmfp::wire::{Address, AddressOrigin, Reader};

// RFC 7016 section 2: a sender sets reserved fields to zero. Values built with
// the constructors and defaults a sender uses encode with every reserved bit clear.
// spec: 7016-2-c
#[test]
fn senders_leave_reserved_bits_zero() {
    // Packet header: TC TCR rsv rsv TS TSE MOD MOD; the rsv bits are 0x30.
    for mode in [Mode::Initiator, Mode::Responder, Mode::Startup] {
        let mut h = Header::new(mode);
        h.time_critical = true;
        h.time_critical_reverse = true;
        h.timestamp = Some(0xffff);
        h.timestamp_echo = Some(0xffff);
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(out[0] & 0x30, 0, "header flags {:#04x}", out[0]);
    }

    // User Data flags: OPT rsv FRA FRA rsv rsv ABN FIN; the rsv bits are 0x4c.
    for fragment_control in [
        FragmentControl::Whole,
        FragmentControl::Begin,
        FragmentControl::End,
        FragmentControl::Middle,
    ] {
        let flags = UserDataFlags {
            fragment_control,
            abandon: true,
            fin: true,
            ..UserDataFlags::default()
        };
        let ud = UserData {
            flow_id: 1,
            sequence_number: 1,
            fsn_offset: 1,
            flags,
            options: Some(vec![]),
            data: vec![0xaa],
        };
        let mut out = Vec::new();
        ud.encode(&mut out);
        assert_eq!(out[0] & 0x4c, 0, "User Data flags {:#04x}", out[0]);
        let nud = NextUserData {
            flags,
            options: Some(vec![]),
            data: vec![0xaa],
        };
        let mut out = Vec::new();
        nud.encode(&mut out);
        assert_eq!(out[0] & 0x4c, 0, "Next User Data flags {:#04x}", out[0]);
    }

    // Address flags: IP6 rsv rsv rsv rsv rsv ORIGIN ORIGIN; the rsv bits are 0x7c.
    for socket in ["192.0.2.1:1", "[2001:db8::1]:2"] {
        for origin in [
            AddressOrigin::Unknown,
            AddressOrigin::Local,
            AddressOrigin::Reflexive,
            AddressOrigin::Relay,
        ] {
            let mut out = Vec::new();
            Address::new(socket.parse().unwrap(), origin).encode(&mut out);
            assert_eq!(out[0] & 0x7c, 0, "address flags {:#04x}", out[0]);
        }
    }
}

// RFC 7016 section 2: a receiver ignores reserved fields. Each structure is
// decoded with its reserved bits clear and set; everything else must match.
// spec: 7016-2-d
#[test]
fn receivers_ignore_reserved_bits() {
    // Packet header, mode 1 with TS and TSE, then a Ping chunk.
    let clear = [0x0d, 0x12, 0x34, 0x56, 0x78, 0x01, 0x00, 0x01, 0x99];
    let mut set = clear;
    set[0] |= 0x30;
    let a = PlainPacket::decode(&clear).unwrap();
    let b = PlainPacket::decode(&set).unwrap();
    assert_eq!(b.header.reserved, 3);
    let mut bh = b.header;
    bh.reserved = 0;
    assert_eq!(bh, a.header);
    assert_eq!(a.to_packet().unwrap().chunks, b.to_packet().unwrap().chunks);

    // User Data and Next User Data: every combination of the 0x4c bits.
    for rsv in [0x04, 0x08, 0x40, 0x4c] {
        let ud = UserData::decode(&[0x13, 0x05, 0x07, 0x02, 0xab]).unwrap();
        let ud_rsv = UserData::decode(&[0x13 | rsv, 0x05, 0x07, 0x02, 0xab]).unwrap();
        assert_eq!(ud_rsv.flags.reserved, rsv);
        assert_eq!(
            (ud_rsv.flow_id, ud_rsv.sequence_number, ud_rsv.fsn_offset),
            (ud.flow_id, ud.sequence_number, ud.fsn_offset)
        );
        assert_eq!(
            (
                ud_rsv.flags.fragment_control,
                ud_rsv.flags.abandon,
                ud_rsv.flags.fin
            ),
            (FragmentControl::Begin, true, true)
        );
        assert_eq!((&ud_rsv.options, &ud_rsv.data), (&ud.options, &ud.data));

        let nud = NextUserData::decode(&[0x23, 0xcd]).unwrap();
        let nud_rsv = NextUserData::decode(&[0x23 | rsv, 0xcd]).unwrap();
        assert_eq!(
            (
                nud_rsv.flags.fragment_control,
                nud_rsv.flags.abandon,
                nud_rsv.flags.fin
            ),
            (FragmentControl::End, true, true)
        );
        assert_eq!((&nud_rsv.options, &nud_rsv.data), (&nud.options, &nud.data));
    }

    // Packet Fragment: M then seven reserved bits.
    let f = PacketFragment::decode(&[0x80, 0x03, 0x01, 0xee]).unwrap();
    let f_rsv = PacketFragment::decode(&[0xff, 0x03, 0x01, 0xee]).unwrap();
    assert_eq!(f_rsv.reserved, 0x7f);
    assert_eq!(
        (
            f_rsv.more_fragments,
            f_rsv.packet_id,
            f_rsv.fragment_num,
            &f_rsv.fragment
        ),
        (f.more_fragments, f.packet_id, f.fragment_num, &f.fragment)
    );

    // Address: every reserved bit set, for each origin and both families.
    for (flags, len) in [(0x00u8, 4usize), (0x80, 16)] {
        for origin in 0..4u8 {
            let mut bytes = vec![flags | origin];
            bytes.extend((1..=len as u8).collect::<Vec<u8>>());
            bytes.extend([0x07, 0x8f]);
            let a = Address::decode(&mut Reader::new(&bytes, "t")).unwrap();
            bytes[0] |= 0x7c;
            let b = Address::decode(&mut Reader::new(&bytes, "t")).unwrap();
            assert_eq!(a, b);
            assert_eq!(b.origin, AddressOrigin::from_bits(origin));
            assert_eq!(b.socket.port(), 1935);
        }
    }
}

// RFC 7016 2.2.4: the startup chunks (IHello 0x30, RHello 0x70, Redirect 0x71,
// RHello Cookie Change 0x79, IIKeying 0x38, RIKeying 0x78) belong in mode 3
// packets only; every other chunk RFC 7016 defines belongs in modes 1 and 2
// only. Packet Fragment (0x7f) and padding (0x00, 0xff) are not restricted
// (spec/ambiguities.md AMB-7016-12). Checked for all 256 type codes.
// spec: 7016-2.2.4-o, 7016-2.2.4-p
#[test]
fn chunk_types_by_packet_mode() {
    let startup = [0x30u8, 0x70, 0x71, 0x79, 0x38, 0x78];
    let session = [
        0x0fu8, // FIHello travels inside an established session (2.3.3)
        0x01, 0x41, 0x10, 0x11, 0x50, 0x51, 0x18, 0x5e, 0x0c, 0x4c,
    ];
    let any_mode = [0x7fu8, 0x00, 0xff];
    for t in 0..=255u8 {
        let want: [bool; 3] = if startup.contains(&t) {
            [false, false, true]
        } else if session.contains(&t) {
            [true, true, false]
        } else {
            // Packet Fragment, padding, and codes RFC 7016 does not define
            // (ignored in any mode, section 2.3).
            assert!(any_mode.contains(&t) || !chunk::is_known(t), "{t:#04x}");
            [true, true, true]
        };
        let got =
            [Mode::Initiator, Mode::Responder, Mode::Startup].map(|m| chunk::allowed_in(t, m));
        assert_eq!(got, want, "chunk type {t:#04x}");
        assert_eq!(chunk::is_startup(t), startup.contains(&t), "{t:#04x}");
    }
}
