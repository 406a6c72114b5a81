//! Arbitrary bytes into the simpy.io packet + message decoder and the RPC
//! state machine: must never panic, whatever the split.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

use tidepool::engine::simpyio::codec::MessageCodec;
use tidepool::engine::simpyio::protocol::Peer;

fuzz_target!(|data: &[u8]| {
    let now = std::time::Instant::now();
    let mut codec = MessageCodec::new(4096);
    let mut peer = Peer::new(8);
    let split = data.first().map(|b| *b as usize).unwrap_or(0).min(data.len());
    let mut buf = BytesMut::new();
    for chunk in [&data[..split], &data[split..]] {
        buf.extend_from_slice(chunk);
        while let Ok(Some(msg)) = codec.decode(&mut buf) {
            let _ = msg.to_text();
            let _ = peer.receive(msg, now);
        }
    }
});
