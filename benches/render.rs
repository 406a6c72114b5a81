//! Frame render time of each console view into a `TestBackend` (style guide
//! section 8), at the design size 120×36 and the bench size 200×60; plus the cost
//! of taking one protein into the tail (formatting happens on arrival).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use tidepool::tui::app::{App, Settings};
use tidepool::tui::event::AppEvent;
use tidepool::tui::keymap::Keymap;
use tidepool::tui::shots;
use tidepool::tui::source::{Location, PoolEvent, PoolInfo};
use tidepool::tui::theme::Theme;
use tidepool::tui::{demo, ui};

fn render(c: &mut Criterion) {
    for (w, h) in [(120u16, 36u16), (200, 60)] {
        let mut g = c.benchmark_group(format!("render_{w}x{h}"));
        g.throughput(Throughput::Elements(1));
        for (name, script) in shots::SHOTS {
            let app = shots::app_for(Theme::dark(), script, w, h);
            let Ok(mut term) = Terminal::new(TestBackend::new(w, h));
            g.bench_function(*name, |b| {
                b.iter(|| {
                    let _ = term.draw(|f| ui::render(&app, f));
                })
            });
        }
        g.finish();
    }
}

fn ingest(c: &mut Criterion) {
    let mut app = App::new(Theme::dark(), Keymap::default(), Settings::default());
    app.handle(AppEvent::Pool(PoolEvent::List(vec![PoolInfo {
        name: "demo".into(),
        location: Location::Demo,
        capacity: 1 << 30,
        used: 0,
        oldest: None,
        newest: None,
    }])));
    let mut gen = demo::Generator::new(5);
    let items: Vec<_> = (0..1024u64)
        .map(|i| demo::item("demo", i, 0.0, gen.protein()))
        .collect();
    let mut next = 0u64;
    let mut g = c.benchmark_group("tail");
    g.throughput(Throughput::Elements(1));
    g.bench_function("protein_arrival", |b| {
        b.iter(|| {
            let mut it = items[(next % 1024) as usize].clone();
            it.index = next;
            next += 1;
            app.handle(AppEvent::Pool(PoolEvent::Protein(it)));
        })
    });
    g.finish();
}

criterion_group!(benches, render, ingest);
criterion_main!(benches);
