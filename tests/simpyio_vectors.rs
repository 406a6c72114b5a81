//! Every vector of tests/vectors/simpyio/simpyio.tsv: decoded, re-encoded
//! byte for byte, and the RPC exchanges replayed against our server.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::Decoder;

use tidepool::engine::simpyio::codec::{Kind, Message, MessageCodec, PacketCodec};
use tidepool::engine::simpyio::{io, mock, protocol, Json};
use tidepool::net::shutdown::Shutdown;
use tidepool::net::transport::{memory_pair, Peer, Stream};

fn vectors() -> HashMap<String, Vec<u8>> {
    vector_file("simpyio.tsv")
}

fn vector_file(file: &str) -> HashMap<String, Vec<u8>> {
    let path = format!(
        "{}/tests/vectors/simpyio/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).expect("vector file");
    let mut out = HashMap::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 3, "bad vector line {line:?}");
        out.insert(cols[0].to_owned(), hex(cols[2]));
    }
    out
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn reencode(m: &Message) -> Vec<u8> {
    let mut out = BytesMut::new();
    PacketCodec::default()
        .encode_payload(m.to_text().as_bytes(), &mut out)
        .unwrap();
    out.to_vec()
}

#[test]
fn every_vector_decodes_and_reencodes_byte_for_byte() {
    let v = vectors();
    assert_eq!(v.len(), 22);
    for (name, bytes) in &v {
        if name.starts_with("packet_") {
            let mut buf = BytesMut::from(&bytes[..]);
            let payload = PacketCodec::default().decode(&mut buf).unwrap().unwrap();
            assert!(buf.is_empty());
            let mut out = BytesMut::new();
            PacketCodec::default()
                .encode_payload(&payload, &mut out)
                .unwrap();
            assert_eq!(&out[..], &bytes[..], "{name}");
            continue;
        }
        let mut buf = BytesMut::from(&bytes[..]);
        let m = MessageCodec::default()
            .decode(&mut buf)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .unwrap();
        assert!(buf.is_empty(), "{name}");
        assert_eq!(reencode(&m), *bytes, "{name} re-encoded differs");
    }
}

#[test]
fn vectors_mean_what_their_names_say() {
    let v = vectors();
    let msg = |name: &str| Message::from_payload(&v[name][4..]).unwrap();
    assert_eq!(v["packet_bytes_ohai"][4..], *b"ohai");
    assert_eq!(v["packet_empty"].len(), 4);
    let m = msg("msg_request_nonascii");
    assert_eq!(m.content, Json::str("h\u{e9} \u{2603}"));
    let m = msg("msg_request_nan_inf");
    let Json::Array(items) = m.content else {
        panic!()
    };
    assert!(matches!(items[0], Json::Float(f) if f.is_nan()));
    assert_eq!(items[1], Json::Float(f64::INFINITY));
    assert_eq!(items[2], Json::Float(f64::NEG_INFINITY));
    let m = msg("msg_failure_traceback");
    assert_eq!(m.kind, Kind::Failure);
    assert!(m
        .content
        .as_str()
        .unwrap()
        .ends_with("ValueError: bad input\n"));
    let m = msg("rpc_request_proxy_arg");
    assert_eq!(
        m.content.to_text(),
        "[\"echo\", [{\"__type__\": [0, \"math\"]}], {}]"
    );
    let m = msg("rpc_success_exposed_obj");
    assert!(matches!(m.content, Json::Custom { typeid: 1, .. }));
}

async fn server() -> Stream {
    let (ours, theirs) = memory_pair(1 << 16);
    let sd = Shutdown::new();
    tokio::spawn(io::serve_connection(
        theirs,
        Peer::Memory("vectors".into()),
        Arc::new(mock::server()),
        io::Options::default(),
        sd,
    ));
    ours
}

async fn expect(s: &mut Stream, want: &[u8], what: &str) {
    let mut got = vec![0u8; want.len()];
    tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut got))
        .await
        .unwrap_or_else(|_| panic!("{what}: no reply"))
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&got[4..]),
        String::from_utf8_lossy(&want[4..]),
        "{what}"
    );
    assert_eq!(got, want, "{what}");
}

#[tokio::test]
async fn server_answers_the_rpc_vectors_byte_for_byte() {
    let v = vectors();
    let mut s = server().await;
    s.write_all(&v["rpc_request_kwargs"]).await.unwrap();
    expect(&mut s, &v["rpc_success_str"], "greet with kwargs").await;
    s.write_all(&v["rpc_request_nested_path"]).await.unwrap();
    expect(&mut s, &v["rpc_success_int"], "math/mul").await;
    s.write_all(&v["rpc_request_proxy_arg"]).await.unwrap();
    expect(
        &mut s,
        &v["rpc_success_exposed_obj"],
        "proxy in, exposed out",
    )
    .await;
    // callback: the server calls ping on us with its own id 0 first
    s.write_all(&v["rpc_request_callback"]).await.unwrap();
    expect(
        &mut s,
        &v["rpc_server_to_client_request"],
        "server -> client ping",
    )
    .await;
    s.write_all(&v["rpc_client_success"]).await.unwrap();
    expect(&mut s, &v["rpc_callback_success"], "callback result").await;
}

fn decode_message(bytes: &[u8]) -> Message {
    let mut buf = BytesMut::from(bytes);
    let msg = MessageCodec::default()
        .decode(&mut buf)
        .expect("decodes")
        .expect("whole frame");
    assert!(buf.is_empty());
    msg
}

/// The layout of the peer that wrote `custom_types.tsv`: `types = (Point,)`,
/// `converters = (thermo,)`.
fn app_types() -> Arc<protocol::TypeIds> {
    Arc::new(protocol::TypeIds::new(
        vec!["Point".into()],
        vec!["thermo".into()],
    ))
}

fn custom(typeid: u64, data: Json) -> Json {
    Json::Custom {
        typeid,
        data: Box::new(data),
    }
}

#[test]
fn custom_type_request_maps_to_canonical_ids_and_back() {
    let v = vector_file("custom_types.tsv");
    let types = app_types();
    let point = types.canonical_id("Point").expect("registered");
    let bytes = &v["custom_request_point_and_proxy"];
    let mut server = protocol::Peer::with_types(16, types.clone());
    let now = std::time::Instant::now();
    let event = server.receive(decode_message(bytes), now).expect("decodes");
    let protocol::Event::Request { call: Ok(call), .. } = event else {
        panic!("not a request: {event:?}")
    };
    assert_eq!(call.path, "plot");
    assert_eq!(
        call.args,
        vec![
            custom(
                point,
                Json::Array(vec![Json::Int(1.into()), Json::Float(2.5)])
            ),
            custom(protocol::TYPEID_PROXY, Json::Str("math".into())),
        ]
    );
    let mut client = protocol::Peer::with_types(16, types);
    let (_, msg) = client.request(&call, now, None).expect("within limit");
    assert_eq!(reencode(&msg), *bytes, "re-encoded with the wire ids");
}

#[test]
fn custom_type_success_maps_to_canonical_ids_and_back() {
    let v = vector_file("custom_types.tsv");
    let types = app_types();
    let thermo = types.canonical_id("thermo").expect("registered");
    assert_eq!(types.name(thermo), Some("thermo"));
    let bytes = &v["custom_success_converter_and_exposed"];
    let mut client = protocol::Peer::with_types(16, types.clone());
    let now = std::time::Instant::now();
    client
        .request(&protocol::Call::new("thermo", vec![]), now, None)
        .expect("within limit");
    let event = client.receive(decode_message(bytes), now).expect("decodes");
    let protocol::Event::Reply {
        reply: protocol::Reply::Success(value),
        ..
    } = event
    else {
        panic!("not a success: {event:?}")
    };
    let want = Json::Array(vec![
        custom(thermo, Json::Float(21.5)),
        custom(protocol::TYPEID_EXPOSED, Json::Str("math".into())),
    ]);
    assert_eq!(value, want);
    let mut server = protocol::Peer::with_types(16, types);
    let msg = server.reply(Json::Int(0.into()), Ok(value));
    assert_eq!(reencode(&msg), *bytes, "re-encoded with the wire ids");
}

#[test]
fn custom_type_ids_outside_the_table_close_the_connection() {
    let v = vector_file("custom_types.tsv");
    let now = std::time::Instant::now();
    // Without the application's types, id 2 is unknown, as in Python.
    let mut plain = protocol::Peer::new(16);
    plain
        .request(&protocol::Call::new("thermo", vec![]), now, None)
        .expect("within limit");
    let msg = decode_message(&v["custom_success_converter_and_exposed"]);
    assert_eq!(
        plain.receive(msg, now),
        Err(protocol::Violation::UnknownType(2))
    );
    let mut app = protocol::Peer::with_types(16, app_types());
    let msg = Message::from_text("[0, 1, [\"a\", [{\"__type__\": [4, 1]}], {}]]").unwrap();
    assert_eq!(
        app.receive(msg, now),
        Err(protocol::Violation::UnknownType(4))
    );
}
