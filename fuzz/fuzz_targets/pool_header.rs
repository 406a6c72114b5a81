//! Opening corrupt pool backing files: the header parser on raw bytes, then a
//! real open/read of the bytes written as a pool in a temporary directory.
//! Nothing may panic or read past the file. The same bytes also go through the
//! probe matcher (`protein_search`) as a protein, and the hose walks them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidepool::engine::pool::store::inspect_header;
use tidepool::engine::pool::{protocol, Pools};
use tidepool::engine::slaw::Slaw;

fuzz_target!(|data: &[u8]| {
    let _ = inspect_header(data);
    let _ = protocol::protein_search(data, &Slaw::strings(["a", "b"]));
    let _ = protocol::protein_search(data, &Slaw::i64(1));
    let Ok(tmp) = tempfile_dir() else { return };
    let dir = tmp.join("f");
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let _ = std::fs::write(dir.join("mmap-pool"), data);
    let pools = Pools::new(&tmp);
    if let Ok(mut p) = pools.open("f") {
        let _ = p.info();
        if let Ok(Some((o, n))) = p.index_range() {
            for i in o..=n.min(o + 64) {
                let _ = p.nth(i);
            }
            let _ = p.rewind();
            for _ in 0..64 {
                if p.next().is_err() {
                    break;
                }
            }
            let _ = p.prev();
            let _ = p.probe_slaw(o, &Slaw::str("a"), true);
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
});

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!("tidepool-fuzz-pool-{}", std::process::id()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}
