//! The console's view of reference proteins (tests/vectors/tui/slaw-v2.tsv, copied
//! unchanged from the shared vectors): what the tail row, detail YAML and
//! annotated hex show for each.

use tidepool::tui::local::{annotated_hex, item_from_entry};
use tidepool::tui::source::TailRow;

fn vector(name: &str) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/tui/slaw-v2.tsv");
    let text = std::fs::read_to_string(path).expect("vectors");
    let hex = text
        .lines()
        .find_map(|l| {
            let mut f = l.split('\t');
            (f.next() == Some(name)).then(|| f.nth(1).unwrap_or("").to_string())
        })
        .unwrap_or_else(|| panic!("no vector {name}"));
    (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn wee_rude_protein_shows_descrips_ingests_and_rude_data() {
    let bytes = vector("protein-wee-rude");
    let row = TailRow::new(item_from_entry("p", 7, 0.0, bytes.clone()));
    assert_eq!(row.descrips, "a");
    assert_eq!(row.ingest_count, 1);
    assert!(row.ingests.starts_with("{k: "), "{}", row.ingests);
    assert!(row.ingests.contains('1'), "{}", row.ingests);
    assert_eq!(row.item.protein.rude, vec![1, 2, 3]);
    assert_eq!(row.size, bytes.len());
    assert!(
        row.item.yaml_text().contains("!protein"),
        "{}",
        row.item.yaml_text()
    );
    let hex = annotated_hex(&bytes).expect("valid protein");
    assert!(hex.lines().count() >= bytes.len() / 8);
}

#[test]
fn empty_and_very_rude_proteins_decode() {
    let row = TailRow::new(item_from_entry("p", 0, 0.0, vector("protein-empty")));
    assert_eq!(row.descrips, "");
    assert_eq!(row.ingest_count, 0);
    let row = TailRow::new(item_from_entry("p", 1, 0.0, vector("protein-very-rude")));
    assert_eq!(row.item.protein.rude, (1..=9).collect::<Vec<u8>>());
}

#[test]
fn garbage_bytes_show_as_undecodable_not_a_panic() {
    let row = TailRow::new(item_from_entry("p", 2, 0.0, vec![0xff; 24]));
    assert!(
        row.descrips.starts_with("(undecodable: "),
        "{}",
        row.descrips
    );
    assert!(annotated_hex(&[0xff; 24]).is_none());
}
