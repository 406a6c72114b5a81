//! Fuzzes every decoder of the groups engine that reads untrusted bytes: the
//! daemon's hello parser, the client's auth-offer and accept parsers, both
//! roles of the frame codec, message classification, and the daemon core fed
//! whatever frames decode.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use tidepool::engine::groups::codec::{self, FrameCodec, Hello, Role};
use tidepool::engine::groups::protocol::{self, DaemonCore, Limits};
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let _ = codec::decode_hello(data);
    let _ = codec::decode_auth_offer(data);
    let _ = codec::decode_accept(data);
    let _ = codec::decode_auth_choice(data);

    let mut buf = BytesMut::from(data);
    let mut client = FrameCodec::new(Role::Client);
    while let Ok(Some(f)) = client.decode(&mut buf) {
        let _ = protocol::classify(f);
    }

    let mut core = DaemonCore::new("localhost", 1, 2, Limits::default()).expect("valid name");
    let hello = Hello {
        version: (5, 0, 1),
        membership: true,
        priority: 0,
        name: Bytes::from_static(b"pa"),
    };
    let _ = core.admit(1, &hello, 0);
    let mut out: Vec<(u64, Bytes)> = Vec::new();
    let mut buf = BytesMut::from(data);
    let mut daemon = FrameCodec::new(Role::Daemon);
    while let Ok(Some(f)) = daemon.decode(&mut buf) {
        if core.handle(1, f, &mut out).is_err() {
            core.disconnect(1, &mut out);
            break;
        }
    }
});
