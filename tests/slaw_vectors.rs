//! Every vector of tests/vectors/slaw/ (copied from shared/vectors, plasma spec §12):
//! each v2 row decodes and re-encodes to the identical bytes, each YAML file
//! parses to its bytes, and the legacy v1 files decode.

use std::path::PathBuf;

use tidepool::engine::slaw::{self, file, Endian, Slaw};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/slaw")
}

fn unhex(s: &str) -> Vec<u8> {
    let s = s.trim();
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

struct Row {
    name: String,
    bytes: Vec<u8>,
}

fn rows() -> Vec<Row> {
    let text = std::fs::read_to_string(dir().join("slaw-v2.tsv")).expect("slaw-v2.tsv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 3, "row {l}");
            Row {
                name: cols[0].to_string(),
                bytes: unhex(cols[2]),
            }
        })
        .collect()
}

fn reencode(s: &Slaw, e: Endian) -> Vec<u8> {
    let mut out = Vec::new();
    slaw::encode_into(s, e, &mut out);
    out
}

#[test]
fn every_v2_row_round_trips_byte_for_byte() {
    let mut checked = 0;
    for row in rows() {
        let n = &row.name;
        if n.starts_with("wire-") || n.starts_with("v1-") {
            continue;
        }
        if let Some(_rest) = n.strip_prefix("file-") {
            let slawx = file::read(&row.bytes).unwrap_or_else(|e| panic!("{n}: {e}"));
            let h = file::read_header(&row.bytes).expect("header");
            assert_eq!(
                file::write(&slawx, h.endian),
                row.bytes,
                "{n}: file re-encode"
            );
            checked += 1;
            continue;
        }
        let e = if n.starts_with("be-") {
            Endian::Big
        } else {
            Endian::Little
        };
        let s = slaw::decode(&row.bytes, e).unwrap_or_else(|err| panic!("{n}: {err}"));
        assert_eq!(reencode(&s, e), row.bytes, "{n}: re-encode");
        // The other byte order must decode to the same value.
        let other = if e == Endian::Big {
            Endian::Little
        } else {
            Endian::Big
        };
        let swapped = reencode(&s, other);
        assert_eq!(
            slaw::decode(&swapped, other).as_ref(),
            Ok(&s),
            "{n}: swapped"
        );
        // The view agrees with the tree.
        let v = slaw::SlawView::new(&row.bytes, e).expect("view");
        assert_eq!(v.to_slaw(), s, "{n}: view");
        checked += 1;
    }
    assert!(checked >= 50, "only {checked} rows checked");
}

#[test]
fn proteins_decode_in_either_byte_order() {
    let rows = rows();
    let get = |name: &str| {
        rows.iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("row {name}"))
            .bytes
            .clone()
    };
    let le = slaw::decode_protein(&get("endian-test-protein")).expect("le protein");
    let be = slaw::decode_protein(&get("be-endian-test-protein")).expect("be protein");
    assert_eq!(le, be);
    assert_eq!(slaw::encode_protein(&le), get("endian-test-protein"));
    let be_bytes = get("be-endian-test-protein");
    let v = slaw::validate_protein(&be_bytes).expect("view");
    assert_eq!(v.endian(), Endian::Big);
    assert_eq!(v.to_protein(), le);

    let p = slaw::decode_protein(&get("protein-wee-rude")).expect("wee rude");
    assert_eq!(p.rude, [1, 2, 3]);
    assert_eq!(p.ingest("k").and_then(Slaw::as_i64), Some(1));
    let p = slaw::decode_protein(&get("protein-very-rude")).expect("very rude");
    assert_eq!(p.rude, (1..=9).collect::<Vec<u8>>());
    let p = slaw::decode_protein(&get("tcp-req-newest-index")).expect("tcp");
    assert_eq!(p.ingest("op").and_then(Slaw::as_i64), Some(9));
}

#[test]
fn every_yaml_pair_parses_to_its_bytes() {
    let ydir = dir().join("slaw-yaml");
    let mut names: Vec<_> = std::fs::read_dir(&ydir)
        .expect("slaw-yaml dir")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 37);
    for path in names {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("?")
            .to_string();
        let text = std::fs::read_to_string(&path).expect("yaml");
        let hex = std::fs::read_to_string(path.with_extension("hex")).expect("hex");
        let want = unhex(&hex);
        let s = slaw::from_yaml(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(slaw::encode(&s), want, "{name}: yaml → bytes");
        // And our own YAML of the decoded bytes reads back to the same bytes.
        let decoded = slaw::decode(&want, Endian::Little).expect("decode");
        let ours = slaw::to_yaml(&decoded);
        let again = slaw::from_yaml(&ours).unwrap_or_else(|e| panic!("{name}: ours {e}\n{ours}"));
        assert_eq!(slaw::encode(&again), want, "{name}: our yaml\n{ours}");
    }
}

#[test]
fn legacy_v1_files_decode() {
    for row in rows().iter().filter(|r| r.name.starts_with("v1-")) {
        let slawx = file::read(&row.bytes).unwrap_or_else(|e| panic!("{}: {e}", row.name));
        assert_eq!(slawx.len(), 1, "{}", row.name);
        let p = slawx[0].as_protein().expect("protein");
        let ingests = p.ingests.as_ref().expect("ingests");
        if row.name.contains("pool-conf") {
            assert_eq!(ingests.get("type").and_then(Slaw::as_str), Some("mmap"));
            assert_eq!(ingests.get("pool-version").and_then(Slaw::as_i64), Some(4));
        } else {
            assert_eq!(
                ingests.get("file-size").and_then(Slaw::as_u64),
                Some(1_048_576)
            );
        }
    }
}

#[test]
fn tcp_greeting_is_a_big_endian_v1_protein() {
    let row = rows()
        .into_iter()
        .find(|r| r.name == "wire-tcp-client-greeting-pv3-sv2")
        .expect("greeting row");
    assert_eq!(row.bytes.len(), 88);
    let (s, n) = slaw::v1::decode_prefix(&row.bytes[8..], Endian::Big).expect("v1 protein");
    assert_eq!(n, 80);
    let p = s.as_protein().expect("protein");
    assert_eq!(p.ingest("op").and_then(Slaw::as_i64), Some(1));
    assert_eq!(
        p.ingest("args").and_then(Slaw::as_list).map(|l| l.len()),
        Some(1)
    );
    assert_eq!(&p.rude[..2], &[3, 2], "protocol and slaw versions");
}
