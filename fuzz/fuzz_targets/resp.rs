//! Fuzzes the hive's RESP request decoder (hive spec section 8.2) and reply
//! decoder: no input may panic, and decoded requests re-encode to an equal
//! request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidepool::engine::hive::codec::{decode_reply, decode_requests, request_bytes};

fuzz_target!(|data: &[u8]| {
    let requests = match decode_requests(data, 1 << 16, 1024) {
        Ok(r) => r,
        Err(_) => Vec::new(),
    };
    for req in requests.into_iter().filter(|r| !r.inline) {
        let again = request_bytes(&req.args);
        let back = decode_requests(&again, 1 << 16, 1024).expect("re-encoded request decodes");
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].args, req.args);
    }
    let _ = decode_reply(data, 1 << 16);
});
