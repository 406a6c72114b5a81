//! Fuzzes every slaw decoder on arbitrary bytes: v2 in both byte orders (tree and
//! zero-copy view), proteins, slaw files (v1 and v2), and the YAML parser. None may
//! panic; whatever decodes must re-encode and decode to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidepool::engine::slaw::{self, file, Endian};

fuzz_target!(|data: &[u8]| {
    for e in [Endian::Little, Endian::Big] {
        if let Ok(s) = slaw::decode(data, e) {
            // Bytes, not values: NaN payloads make value equality useless.
            let mut out = Vec::new();
            slaw::encode_into(&s, e, &mut out);
            let again = slaw::decode(&out, e).expect("our own encoding decodes");
            let mut out2 = Vec::new();
            slaw::encode_into(&again, e, &mut out2);
            assert_eq!(out, out2);
        }
        if let Ok(v) = slaw::SlawView::new(data, e) {
            let _ = v.to_slaw();
        }
        let _ = slaw::v1::decode_stream(data, e);
    }
    if let Ok(p) = slaw::validate_protein(data) {
        let _ = (p.descrips(), p.ingests(), p.rude(), p.ingest("op"));
    }
    let _ = file::read(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(docs) = slaw::from_yaml_docs(text) {
            let _ = slaw::to_yaml_docs(&docs, &slaw::EmitOptions::default());
        }
    }
});
