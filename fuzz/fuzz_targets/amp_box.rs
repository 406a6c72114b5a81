//! Fuzz the AMP box decoder (amp spec section 1) with arbitrary bytes, check
//! that decoded boxes re-encode to a stream that decodes the same, and run
//! the typed decoders (section 3) on every value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidepool::engine::amp::codec::{decode_all, AmpBox};
use tidepool::engine::amp::types::{self, ArgType, Field};

fuzz_target!(|data: &[u8]| {
    // Whole boxes only: decode_all fails on a trailing partial box, which is
    // fine; the incremental splits are covered by the proptests.
    let Ok(boxes) = decode_all(data) else {
        return;
    };
    let row = ArgType::AmpList(vec![
        Field::new("name", ArgType::Unicode),
        Field::optional("value", ArgType::Integer),
    ]);
    let kinds = [
        ArgType::Integer,
        ArgType::Float,
        ArgType::Decimal,
        ArgType::DateTime,
        ArgType::Boolean,
        ArgType::ListOf(Box::new(ArgType::Unicode)),
        row,
    ];
    for b in &boxes {
        let wire = b.to_bytes().expect("a decoded box re-encodes");
        let again: Vec<AmpBox> = decode_all(&wire).expect("round trip");
        assert_eq!(&again, &[b.clone()]);
        for (_, v) in b.iter() {
            for ty in &kinds {
                let _ = types::decode(ty, v);
            }
        }
    }
});
