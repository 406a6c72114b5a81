//! `tidepool slaw decode|encode` through the real binary: YAML ↔ binary round
//! trips, JSON and hex output, and errors with exit codes on stderr.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn tidepool(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tidepool"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tidepool");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin).expect("write stdin");
    drop(input);
    child.wait_with_output().expect("wait")
}

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/slaw")
}

fn unhex(s: &str) -> Vec<u8> {
    let s = s.trim();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn row(name: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(vectors().join("slaw-v2.tsv")).expect("tsv");
    let line = text
        .lines()
        .find(|l| l.split('\t').next() == Some(name))
        .expect("row");
    unhex(line.split('\t').nth(2).expect("hex column"))
}

#[test]
fn yaml_to_binary_and_back_is_stable() {
    let yaml = std::fs::read(vectors().join("slaw-yaml/obmap.yaml")).expect("yaml");
    let enc = tidepool(&["slaw", "encode", "-"], &yaml);
    assert!(
        enc.status.success(),
        "{}",
        String::from_utf8_lossy(&enc.stderr)
    );
    assert_eq!(&enc.stdout[..8], &[0xff, 0xff, 0x0b, 0x10, 2, 1, 0, 0]);
    let want = unhex(&std::fs::read_to_string(vectors().join("slaw-yaml/obmap.hex")).expect("hex"));
    assert_eq!(&enc.stdout[8..], &want[..]);

    let dec = tidepool(&["slaw", "decode", "-"], &enc.stdout);
    assert!(
        dec.status.success(),
        "{}",
        String::from_utf8_lossy(&dec.stderr)
    );
    let text = String::from_utf8(dec.stdout).expect("utf-8");
    assert!(
        text.starts_with("%YAML 1.1\n%TAG ! tag:oblong.com,2009:slaw/\n--- !!omap\n"),
        "{text}"
    );

    let again = tidepool(&["slaw", "encode", "--raw", "-"], text.as_bytes());
    assert!(again.status.success());
    assert_eq!(again.stdout, want);
}

#[test]
fn big_endian_files_and_raw_proteins_decode() {
    let yaml = b"--- !protein\ndescrips: [a, b]\ningests: {k: !u16 7}\nrude_data: !!binary AQID\n";
    let be = tidepool(&["slaw", "encode", "--big-endian", "-"], yaml);
    assert!(
        be.status.success(),
        "{}",
        String::from_utf8_lossy(&be.stderr)
    );
    assert_eq!(&be.stdout[6..8], &[0, 1], "big-endian flag");
    let raw = tidepool(&["slaw", "encode", "--raw", "-"], yaml);
    for input in [&be.stdout, &raw.stdout] {
        let dec = tidepool(&["slaw", "decode", "--json", "-"], input);
        assert!(
            dec.status.success(),
            "{}",
            String::from_utf8_lossy(&dec.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&dec.stdout),
            "{\"descrips\":[\"a\",\"b\"],\"ingests\":{\"k\":7},\"rude_data\":\"AQID\"}\n"
        );
    }
}

#[test]
fn hex_dump_annotates_every_oct() {
    let bytes = row("file-kp-enter");
    let out = tidepool(&["slaw", "decode", "--hex", "-"], &bytes);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), bytes.len() / 8, "{text}");
    assert!(text
        .lines()
        .next()
        .is_some_and(|l| l.contains("slaw file header")));
    assert!(text.contains("protein (little-endian)"), "{text}");
}

#[test]
fn legacy_v1_file_decodes_to_yaml() {
    let out = tidepool(&["slaw", "decode", "-"], &row("v1-file-pool-conf-legacy"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("- pool-version: !i32 4"), "{text}");
}

#[test]
fn truncated_input_fails_with_offset_and_exit_1() {
    let mut bytes = row("endian-test-protein");
    bytes.truncate(200);
    let out = tidepool(&["slaw", "decode", "-"], &bytes);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: standard input: offset 0: truncated protein"),
        "{err}"
    );
    assert!(err.contains("SLAW_"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_yaml_fails_with_line_and_exit_1() {
    let out = tidepool(&["slaw", "encode", "--raw", "-"], b"--- !i8 300\n");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 1") && err.contains("i8"), "{err}");
}
