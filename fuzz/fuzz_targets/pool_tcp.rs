//! Fuzz the pool TCP codec in every mode: it must never panic, and a decoded
//! message must re-encode into something that decodes again.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tidepool::engine::pool_tcp::codec::{Codec, Inbound, Mode, Outbound};
use tokio_util::codec::{Decoder, Encoder};

fuzz_target!(|data: &[u8]| {
    for mode in [Mode::Greeting, Mode::TlsGreeting, Mode::Hello, Mode::Messages] {
        let mut codec = Codec::new(mode);
        codec.max_message_bytes = 1 << 20;
        let mut buf = BytesMut::from(data);
        for _ in 0..64 {
            match codec.decode(&mut buf) {
                Ok(Some(Inbound::Message(m))) => {
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
