//! Fuzz the pool TCP codec in every mode: it must never panic, a decoded
//! message must re-encode into something that decodes again, and the direct
//! encoder must write the same bytes as the slaw-tree one. Also the zeroconf
//! record parsers on the same input as text.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tidepool::engine::pool_tcp::codec::{Codec, Inbound, Mode, Outbound};
use tidepool::engine::pool_tcp::zeroconf::{parse_subtypes, Service};
use tokio_util::codec::{Decoder, Encoder};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let txt = text.split(',').map(str::to_string);
        let _ = Service::from_record(text, text, 1, [], txt);
        let _ = parse_subtypes(text);
    }
    for mode in [Mode::Greeting, Mode::TlsGreeting, Mode::Hello, Mode::Messages] {
        let mut codec = Codec::new(mode);
        codec.max_message_bytes = 1 << 20;
        let mut buf = BytesMut::from(data);
        for _ in 0..64 {
            match codec.decode(&mut buf) {
                Ok(Some(Inbound::Message(m))) => {
                    let (mut direct, mut tree) = (Vec::new(), Vec::new());
                    m.encode_into(&mut direct);
                    m.encode_tree_into(&mut tree);
                    assert_eq!(direct, tree);
                    let mut out = BytesMut::new();
                    let _ = codec.encode(Outbound::Message(m.clone()), &mut out);
                    let again = codec.decode(&mut out);
                    assert!(matches!(again, Ok(Some(Inbound::Message(_)))));
                }
                Ok(Some(Inbound::NotGreeting)) | Ok(None) | Err(_) => break,
                Ok(Some(_)) => codec.mode = Mode::Messages,
            }
        }
    }
});
