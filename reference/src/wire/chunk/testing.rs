//! Proptest strategies for every chunk type (test builds only).

use core::net::{IpAddr, SocketAddr};

use proptest::collection::vec;
use proptest::prelude::*;

use super::range_ack::AckRange;
use super::user_data::{FragmentControl, RESERVED_MASK, UserDataFlags, UserDataOption};
use super::*;
use crate::wire::address::{Address, AddressOrigin};
use crate::wire::option::RtmfpOption;
use crate::wire::vlu;

/// Round-trip and never-panic properties for one payload type.
macro_rules! payload_props {
    ($ty:ty, $strategy:expr) => {
        proptest::proptest! {
            #![proptest_config(proptest::prelude::ProptestConfig::with_cases(96))]

            #[test]
            fn payload_round_trip(value in $strategy) {
                let mut out = Vec::new();
                value.encode(&mut out);
                proptest::prop_assert_eq!(out.len(), value.encoded_len());
                proptest::prop_assert_eq!(<$ty>::decode(&out).unwrap(), value);
            }

            #[test]
            fn arbitrary_payload_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..48)) {
                match <$ty>::decode_at(&bytes, 1000) {
                    Ok(v) => proptest::prop_assert!(v.encoded_len() <= 3 * bytes.len() + 16),
                    Err(e) => proptest::prop_assert!(e.offset >= 1000 && e.offset <= 1000 + bytes.len()),
                }
            }
        }
    };
}
pub(crate) use payload_props;

pub fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

/// VLU values biased towards the edges of the encoding sizes.
pub fn arb_vlu() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..300,
        any::<u64>(),
        Just(u64::MAX),
        (0u32..64).prop_map(|b| 1u64 << b)
    ]
}

pub fn arb_address() -> impl Strategy<Value = Address> {
    (
        prop_oneof![
            any::<[u8; 4]>().prop_map(IpAddr::from),
            any::<[u8; 16]>().prop_map(IpAddr::from)
        ],
        any::<u16>(),
        0u8..4,
    )
        .prop_map(|(ip, port, origin)| {
            Address::new(SocketAddr::new(ip, port), AddressOrigin::from_bits(origin))
        })
}

pub fn arb_packet_fragment() -> impl Strategy<Value = PacketFragment> {
    (
        any::<bool>(),
        0u8..128,
        arb_vlu(),
        arb_vlu(),
        vec(any::<u8>(), 1..40),
    )
        .prop_map(
            |(more_fragments, reserved, packet_id, fragment_num, fragment)| PacketFragment {
                more_fragments,
                reserved,
                packet_id,
                fragment_num,
                fragment,
            },
        )
}

pub fn arb_ihello() -> impl Strategy<Value = IHello> {
    (bytes(40), bytes(20)).prop_map(|(endpoint_discriminator, tag)| IHello {
        endpoint_discriminator,
        tag,
    })
}

pub fn arb_fihello() -> impl Strategy<Value = FIHello> {
    (bytes(40), arb_address(), bytes(20)).prop_map(
        |(endpoint_discriminator, reply_address, tag)| FIHello {
            endpoint_discriminator,
            reply_address,
            tag,
        },
    )
}

pub fn arb_rhello() -> impl Strategy<Value = RHello> {
    (bytes(20), bytes(70), bytes(40)).prop_map(|(tag_echo, cookie, responder_certificate)| RHello {
        tag_echo,
        cookie,
        responder_certificate,
    })
}

pub fn arb_redirect() -> impl Strategy<Value = Redirect> {
    (bytes(20), vec(arb_address(), 0..4)).prop_map(|(tag_echo, destinations)| Redirect {
        tag_echo,
        destinations,
    })
}

pub fn arb_rhello_cookie_change() -> impl Strategy<Value = RHelloCookieChange> {
    (bytes(70), bytes(70)).prop_map(|(old_cookie, new_cookie)| RHelloCookieChange {
        old_cookie,
        new_cookie,
    })
}

pub fn arb_iikeying() -> impl Strategy<Value = IIKeying> {
    (any::<u32>(), bytes(70), bytes(40), bytes(200), bytes(40)).prop_map(
        |(initiator_session_id, cookie_echo, initiator_certificate, skic, signature)| IIKeying {
            initiator_session_id,
            cookie_echo,
            initiator_certificate,
            session_key_initiator_component: skic,
            signature,
        },
    )
}

pub fn arb_rikeying() -> impl Strategy<Value = RIKeying> {
    (any::<u32>(), bytes(200), bytes(40)).prop_map(|(responder_session_id, skrc, signature)| {
        RIKeying {
            responder_session_id,
            session_key_responder_component: skrc,
            signature,
        }
    })
}

pub fn arb_ping() -> impl Strategy<Value = Ping> {
    bytes(40).prop_map(|message| Ping { message })
}

pub fn arb_ping_reply() -> impl Strategy<Value = PingReply> {
    bytes(40).prop_map(|message_echo| PingReply { message_echo })
}

pub fn arb_flags() -> impl Strategy<Value = UserDataFlags> {
    (0u8..4, any::<bool>(), any::<bool>(), any::<u8>()).prop_map(|(fra, abandon, fin, rsv)| {
        UserDataFlags {
            fragment_control: FragmentControl::from_bits(fra),
            abandon,
            fin,
            reserved: rsv & RESERVED_MASK,
        }
    })
}

pub fn arb_user_data_option() -> impl Strategy<Value = UserDataOption> {
    prop_oneof![
        bytes(30).prop_map(UserDataOption::PerFlowMetadata),
        arb_vlu().prop_map(UserDataOption::ReturnFlowAssociation),
        (arb_vlu(), bytes(10))
            .prop_filter("typed options decode as their own variants", |(t, _)| {
                *t != user_data::OPTION_PER_FLOW_METADATA
                    && *t != user_data::OPTION_RETURN_FLOW_ASSOCIATION
            })
            .prop_map(|(t, v)| UserDataOption::Other(RtmfpOption::new(t, v))),
    ]
}

pub fn arb_options() -> impl Strategy<Value = Option<Vec<UserDataOption>>> {
    proptest::option::of(vec(arb_user_data_option(), 0..4))
}

pub fn arb_user_data() -> impl Strategy<Value = UserData> {
    (
        arb_vlu(),
        arb_vlu(),
        any::<u64>(),
        arb_flags(),
        arb_options(),
        bytes(40),
    )
        .prop_map(
            |(flow_id, sequence_number, fsn, flags, options, data)| UserData {
                flow_id,
                sequence_number,
                fsn_offset: fsn % sequence_number.saturating_add(1).max(1),
                flags,
                options,
                data,
            },
        )
}

pub fn arb_next_user_data() -> impl Strategy<Value = NextUserData> {
    (arb_flags(), arb_options(), bytes(40)).prop_map(|(flags, options, data)| NextUserData {
        flags,
        options,
        data,
    })
}

pub fn arb_bitmap_ack() -> impl Strategy<Value = BitmapAck> {
    (arb_vlu(), arb_vlu(), arb_vlu(), bytes(20)).prop_map(
        |(flow_id, buffer_blocks_available, cumulative_ack, bitmap)| BitmapAck {
            flow_id,
            buffer_blocks_available,
            cumulative_ack,
            bitmap,
        },
    )
}

/// Bytes that do not form a complete (holes, received) VLU pair: nothing, an
/// unfinished VLU, or a complete VLU followed by an unfinished one.
pub fn arb_truncated_tail() -> impl Strategy<Value = Vec<u8>> {
    let unfinished = vec(0x80u8..=0xff, 0..5);
    prop_oneof![
        Just(Vec::new()),
        vec(0x80u8..=0xff, 1..5),
        (arb_vlu(), unfinished).prop_map(|(v, mut tail)| {
            let mut out = vlu::to_vec(v);
            out.append(&mut tail);
            out
        }),
    ]
}

pub fn arb_range_ack() -> impl Strategy<Value = RangeAck> {
    (
        arb_vlu(),
        arb_vlu(),
        arb_vlu(),
        vec((arb_vlu(), arb_vlu()), 0..5),
        arb_truncated_tail(),
    )
        .prop_map(
            |(flow_id, buffer_blocks_available, cumulative_ack, ranges, truncated_tail)| RangeAck {
                flow_id,
                buffer_blocks_available,
                cumulative_ack,
                ranges: ranges
                    .into_iter()
                    .map(|(h, r)| AckRange {
                        holes_minus_one: h,
                        received_minus_one: r,
                    })
                    .collect(),
                truncated_tail,
            },
        )
}

pub fn arb_buffer_probe() -> impl Strategy<Value = BufferProbe> {
    arb_vlu().prop_map(|flow_id| BufferProbe { flow_id })
}

pub fn arb_flow_exception_report() -> impl Strategy<Value = FlowExceptionReport> {
    (arb_vlu(), arb_vlu())
        .prop_map(|(flow_id, exception)| FlowExceptionReport { flow_id, exception })
}

pub fn arb_padding() -> impl Strategy<Value = Padding> {
    (any::<bool>(), bytes(20)).prop_map(|(ff, payload)| Padding {
        chunk_type: if ff {
            PaddingType::Ff
        } else {
            PaddingType::Zero
        },
        payload,
    })
}

pub fn arb_unknown() -> impl Strategy<Value = Unknown> {
    (
        any::<u8>().prop_filter("unknown types only", |t| !is_known(*t)),
        bytes(20),
    )
        .prop_map(|(chunk_type, payload)| Unknown {
            chunk_type,
            payload,
        })
}

/// Any chunk.
pub fn arb_chunk() -> impl Strategy<Value = Chunk> {
    prop_oneof![
        arb_packet_fragment().prop_map(Chunk::PacketFragment),
        arb_ihello().prop_map(Chunk::IHello),
        arb_fihello().prop_map(Chunk::FIHello),
        arb_rhello().prop_map(Chunk::RHello),
        arb_redirect().prop_map(Chunk::Redirect),
        arb_rhello_cookie_change().prop_map(Chunk::RHelloCookieChange),
        arb_iikeying().prop_map(Chunk::IIKeying),
        arb_rikeying().prop_map(Chunk::RIKeying),
        arb_ping().prop_map(Chunk::Ping),
        arb_ping_reply().prop_map(Chunk::PingReply),
        arb_user_data().prop_map(Chunk::UserData),
        arb_next_user_data().prop_map(Chunk::NextUserData),
        arb_bitmap_ack().prop_map(Chunk::BitmapAck),
        arb_range_ack().prop_map(Chunk::RangeAck),
        arb_buffer_probe().prop_map(Chunk::BufferProbe),
        arb_flow_exception_report().prop_map(Chunk::FlowExceptionReport),
        Just(Chunk::Close(Close)),
        Just(Chunk::CloseAck(CloseAck)),
        arb_padding().prop_map(Chunk::Padding),
        arb_unknown().prop_map(Chunk::Unknown),
    ]
}
