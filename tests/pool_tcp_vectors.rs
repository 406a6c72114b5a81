//! Wire vectors of the pool TCP protocol (plasma spec 7.2, 7.3), read from
//! tests/vectors/pool_tcp/slaw-v2.tsv (a copy of the shared vector file).

use bytes::BytesMut;
use tidepool::engine::pool_tcp::codec::{Codec, Inbound, Message, Mode, Outbound};
use tidepool::engine::pool_tcp::protocol::{mask_of, op, Session, SERVED_OPS};
use tokio_util::codec::{Decoder, Encoder};

fn vector(name: &str) -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/pool_tcp/slaw-v2.tsv"
    );
    let text = std::fs::read_to_string(path).expect("vector file");
    let line = text
        .lines()
        .find(|l| l.split('\t').next() == Some(name))
        .unwrap_or_else(|| panic!("vector {name} missing"));
    let hex = line.rsplit('\t').next().unwrap();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn client_greeting_is_byte_exact() {
    let want = vector("wire-tcp-client-greeting-pv3-sv2");
    let mut out = BytesMut::new();
    Codec::new(Mode::Hello)
        .encode(Outbound::Greeting { pv: 3, sv: 2 }, &mut out)
        .unwrap();
    assert_eq!(&out[..], &want[..]);
    let mut buf = BytesMut::from(&want[..]);
    assert_eq!(
        Codec::new(Mode::Greeting).decode(&mut buf).unwrap(),
        Some(Inbound::Greeting { pv: 3, sv: 2 })
    );
}

#[test]
fn server_hellos_decode() {
    let mut buf = BytesMut::from(&vector("wire-tcp-server-hello-3-2-no-tls")[..]);
    assert_eq!(
        Codec::new(Mode::Hello).decode(&mut buf).unwrap(),
        Some(Inbound::Hello {
            pv: 3,
            sv: 2,
            mask: 0x3bff_9fff
        })
    );
    let mut buf = BytesMut::from(&vector("wire-tcp-server-hello-doc-example")[..]);
    assert_eq!(
        Codec::new(Mode::Hello).decode(&mut buf).unwrap(),
        Some(Inbound::Hello {
            pv: 1,
            sv: 2,
            mask: 0x019fff
        })
    );
}

#[test]
fn our_hello_is_the_reference_servers_hello_byte_exact() {
    // libPlasma's pool_tcp_server without TLS: every op it serves, ADVANCE_OLDEST
    // (24) included, and nothing more.
    let want = vector("wire-tcp-server-hello-3-2-no-tls");
    assert_eq!(mask_of(SERVED_OPS), 0x3bff_9fff);
    let mask = Session::new(3, false, false).mask();
    assert!(mask & (1 << op::ADVANCE_OLDEST) != 0);
    let mut out = BytesMut::new();
    Codec::new(Mode::Messages)
        .encode(Outbound::Hello { pv: 3, sv: 2, mask }, &mut out)
        .unwrap();
    assert_eq!(&out[..], &want[..]);
}

#[test]
fn newest_index_request_is_byte_exact() {
    let want = vector("tcp-req-newest-index");
    assert_eq!(Message::new(op::NEWEST_INDEX, vec![]).to_bytes(), want);
    let mut buf = BytesMut::from(&want[..]);
    assert_eq!(
        Codec::new(Mode::Messages).decode(&mut buf).unwrap(),
        Some(Inbound::Message(Message::new(op::NEWEST_INDEX, vec![])))
    );
}
