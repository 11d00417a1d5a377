//! The clickstream dataset: `clickstream.jsonl`, one JSON event per line in sessions. Every
//! clean sale line has its purchase session (page view, product view, add to cart, checkout,
//! purchase); around it, browsing sessions that drop off along the funnel, some anonymous,
//! a few with an event type the contract does not know. Written in fixed-size chunks on
//! worker threads, byte-identical whatever the number of threads.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError, mpsc};

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::clock::Clock;
use super::data::{
    BAD_EVENT_TYPES, CATEGORIES, DEVICES, LANDING_PAGES, PURCHASE_DEVICES, REFERRERS,
};
use super::error::io_error;
use super::format::{
    CUSTOMER_ID_WIDTH, EVENT_ID_WIDTH, PRODUCT_ID_WIDTH, SESSION_ID_WIDTH, push_id,
};
use super::products::ProductPlan;
use super::random::{Stream, Weighted, defect_counts, pick, rng_for};
use super::transactions::{TX_CLEAN, TxPlan, TxRow};
use super::{GenerateConfig, GenerateError};

/// Transactions per clickstream work unit (fixed, so output never depends on scheduling).
const CLICK_CHUNK_ROWS: usize = 4_096;
/// At most this many unknown-type events are injected into one browsing session.
const MAX_DEFECTS_PER_SESSION: u8 = 15;

/// Browsing-session shape, one byte: bits 0-1 funnel depth - 1 (page view, product view, add to
/// cart, checkout), bit 2 a search event, bit 3 a remove-from-cart event, bits 4-7 the number
/// of unknown-type events injected.
type Shape = u8;

const SHAPE_SEARCH: u8 = 1 << 2;
const SHAPE_REMOVE: u8 = 1 << 3;
const SHAPE_DEFECT_UNIT: u8 = 1 << 4;
/// Events in a purchase session: page view, product view, add to cart, checkout, purchase.
const PURCHASE_EVENTS: u64 = 5;

/// Events in a browsing session of this shape.
fn shape_events(shape: Shape) -> u64 {
    u64::from(shape & 3)
        + 1
        + u64::from((shape & SHAPE_SEARCH) >> 2)
        + u64::from((shape & SHAPE_REMOVE) >> 3)
        + u64::from(shape >> 4)
}

/// The clickstream's sessions, planned before anything is written so that every chunk knows
/// its first session and event number.
pub(super) struct ClickPlan {
    /// Browsing sessions per base transaction row.
    browse_counts: Vec<u8>,
    /// Shapes of all browsing sessions, in row order.
    shapes: Vec<Shape>,
    /// Where each chunk of [`CLICK_CHUNK_ROWS`] rows starts: (session number, event number,
    /// shape index), all 0-based.
    chunk_starts: Vec<(u64, u64, usize)>,
    /// Events the file will hold.
    total_events: u64,
    /// Unknown-type events injected.
    pub(super) defects: u64,
}

/// Plans about two browsing sessions per sale line, with the funnel's drop-off, and where the
/// unknown-type events go.
pub(super) fn plan_clickstream(config: &GenerateConfig, tx: &TxPlan) -> ClickPlan {
    let mut rng = rng_for(config.seed, Stream::ClickPlan, 0);
    let n = tx.rows.len();
    let mut browse_counts = Vec::with_capacity(n);
    let mut shapes = Vec::with_capacity(n * 2);
    for _ in 0..n {
        // About two browsing sessions per transaction.
        let count = match rng.random::<f64>() {
            u if u < 0.10 => 0,
            u if u < 0.35 => 1,
            u if u < 0.65 => 2,
            u if u < 0.85 => 3,
            _ => 4,
        };
        browse_counts.push(count);
        for _ in 0..count {
            // Funnel drop-off: 55% view a product, 30% of those add to cart, 40% of those
            // start checkout; browsing sessions never purchase.
            let mut depth = 0u8;
            if rng.random_bool(0.55) {
                depth = 1;
                if rng.random_bool(0.30) {
                    depth = 2;
                    if rng.random_bool(0.40) {
                        depth = 3;
                    }
                }
            }
            let mut shape = depth;
            if rng.random_bool(0.25) {
                shape |= SHAPE_SEARCH;
            }
            if depth >= 2 && rng.random_bool(0.15) {
                shape |= SHAPE_REMOVE;
            }
            shapes.push(shape);
        }
    }

    let clean_rows = tx.rows.iter().filter(|r| r.kind == TX_CLEAN).count() as u64;
    let clean_events =
        PURCHASE_EVENTS * clean_rows + shapes.iter().map(|&s| shape_events(s)).sum::<u64>();
    let mut defects = 0u64;
    if !shapes.is_empty() {
        let budget = defect_counts(clean_events as usize, config.defect_rate, &[1.0])[0]
            .min(u64::from(MAX_DEFECTS_PER_SESSION) * shapes.len() as u64);
        while defects < budget {
            let i = rng.random_range(0..shapes.len());
            if shapes[i] >> 4 < MAX_DEFECTS_PER_SESSION {
                shapes[i] += SHAPE_DEFECT_UNIT;
                defects += 1;
            }
        }
    }

    let mut chunk_starts = Vec::with_capacity(n / CLICK_CHUNK_ROWS + 1);
    let (mut sessions, mut events, mut shape_index) = (0u64, 0u64, 0usize);
    for (index, (row, &count)) in tx.rows.iter().zip(&browse_counts).enumerate() {
        if index % CLICK_CHUNK_ROWS == 0 {
            chunk_starts.push((sessions, events, shape_index));
        }
        if row.kind == TX_CLEAN {
            sessions += 1;
            events += PURCHASE_EVENTS;
        }
        let count = usize::from(count);
        sessions += count as u64;
        events += shapes[shape_index..shape_index + count]
            .iter()
            .map(|&s| shape_events(s))
            .sum::<u64>();
        shape_index += count;
    }
    ClickPlan {
        browse_counts,
        shapes,
        chunk_starts,
        total_events: events,
        defects,
    }
}

/// What every chunk of the clickstream reads: the seed and the other datasets' plans.
pub(super) struct ClickContext<'a> {
    /// The generator's seed (each chunk derives its own stream from it).
    pub(super) seed: u64,
    /// Whom anonymous-or-not browsing sessions belong to: the customers' purchase propensity.
    pub(super) customers: &'a Weighted,
    /// What is browsed, and in which category.
    pub(super) products: &'a ProductPlan,
    /// How times are written.
    pub(super) clock: &'a Clock,
}

#[derive(Clone, Copy)]
enum Page {
    Fixed(&'static str),
    Category(u8),
    Search(u8),
    Product(u32),
}

#[derive(Clone, Copy)]
struct Event {
    event_type: &'static str,
    page: Page,
    product: Option<u32>,
    t: i64,
}

/// Per-chunk generator state: random stream, counters, reusable buffers.
struct ChunkWriter<'a> {
    ctx: &'a ClickContext<'a>,
    tables: &'a ClickTables,
    rng: ChaCha8Rng,
    session: u64,
    event: u64,
    events: Vec<Event>,
    /// `","session_id":"S…","customer_id":…,"event_type":"` for the current session.
    session_part: Vec<u8>,
    /// `","device":"…","referrer":"…","timestamp":"` for the current session.
    device_part: Vec<u8>,
}

/// Weighted tables shared by all chunks.
struct ClickTables {
    devices: Weighted,
    purchase_devices: Weighted,
    referrers: Weighted,
}

impl ChunkWriter<'_> {
    fn landing(&mut self, product: u32) -> Page {
        if self.rng.random_bool(0.4) {
            Page::Category(self.ctx.products.category[product as usize - 1])
        } else {
            let page = *pick(&mut self.rng, LANDING_PAGES);
            Page::Fixed(page)
        }
    }

    fn purchase_session(&mut self, out: &mut Vec<u8>, row: &TxRow) {
        let t = i64::from(row.t);
        let checkout = t - self.rng.random_range(20..=240);
        let cart = checkout - self.rng.random_range(15..=300);
        let view = cart - self.rng.random_range(10..=400);
        let landing_t = view - self.rng.random_range(5..=120);
        let product = row.product;
        let landing = self.landing(product);
        let p = Page::Product(product);
        self.events.clear();
        self.events.extend_from_slice(&[
            Event {
                event_type: "page_view",
                page: landing,
                product: None,
                t: landing_t,
            },
            Event {
                event_type: "product_view",
                page: p,
                product: Some(product),
                t: view,
            },
            Event {
                event_type: "add_to_cart",
                page: p,
                product: Some(product),
                t: cart,
            },
            Event {
                event_type: "checkout",
                page: Page::Fixed("/checkout"),
                product: Some(product),
                t: checkout,
            },
            Event {
                event_type: "purchase",
                page: Page::Fixed("/checkout/confirmation"),
                product: Some(product),
                t,
            },
        ]);
        let device = PURCHASE_DEVICES[self.tables.purchase_devices.sample_index(&mut self.rng)].0;
        let referrer = REFERRERS[self.tables.referrers.sample_index(&mut self.rng)].0;
        self.emit(out, Some(row.customer), device, referrer);
    }

    fn browsing_session(&mut self, out: &mut Vec<u8>, row: &TxRow, shape: Shape) {
        let window = self.ctx.clock.window_secs;
        let start = (i64::from(row.t) + self.rng.random_range(-14_400..=14_400))
            .clamp(0, (window - 3_600).max(0));
        let customer = if self.rng.random_bool(0.4) {
            None
        } else {
            Some(self.ctx.customers.sample(&mut self.rng))
        };
        let product = self.ctx.products.table.sample(&mut self.rng) + 1;
        let category = self.ctx.products.category[product as usize - 1];
        let landing = self.landing(product);
        let depth = shape & 3;
        let p = Page::Product(product);
        self.events.clear();
        let mut push = |event_type, page, product| {
            self.events.push(Event {
                event_type,
                page,
                product,
                t: 0,
            });
        };
        push("page_view", landing, None);
        if shape & SHAPE_SEARCH != 0 {
            push("search", Page::Search(category), None);
        }
        if depth >= 1 {
            push("product_view", p, Some(product));
        }
        if depth >= 2 {
            push("add_to_cart", p, Some(product));
            if shape & SHAPE_REMOVE != 0 {
                push("remove_from_cart", Page::Fixed("/cart"), Some(product));
            }
        }
        if depth >= 3 {
            push("checkout", Page::Fixed("/checkout"), Some(product));
        }
        for _ in 0..shape >> 4 {
            // A tracking bug: an unknown event type on the page the visitor is on.
            let at = self.rng.random_range(1..=self.events.len());
            let before = self.events[at - 1];
            let event_type = *pick(&mut self.rng, BAD_EVENT_TYPES);
            self.events.insert(
                at,
                Event {
                    event_type,
                    ..before
                },
            );
        }
        let mut t = start;
        for event in &mut self.events {
            event.t = t;
            t += self.rng.random_range(5..=150);
        }
        let device = DEVICES[self.tables.devices.sample_index(&mut self.rng)].0;
        let referrer = REFERRERS[self.tables.referrers.sample_index(&mut self.rng)].0;
        self.emit(out, customer, device, referrer);
    }

    /// Writes the buffered events as one session, one JSON object per line. Every value is
    /// built from ids, digits and the fixed lists in `data`, none of which needs escaping.
    fn emit(&mut self, out: &mut Vec<u8>, customer: Option<u32>, device: &str, referrer: &str) {
        self.session += 1;
        let part = &mut self.session_part;
        part.clear();
        part.extend_from_slice(b"\",\"session_id\":\"");
        push_id(part, b'S', self.session, SESSION_ID_WIDTH);
        part.extend_from_slice(b"\",\"customer_id\":");
        match customer {
            Some(c) => {
                part.push(b'"');
                push_id(part, b'C', u64::from(c), CUSTOMER_ID_WIDTH);
                part.push(b'"');
            }
            None => part.extend_from_slice(b"null"),
        }
        part.extend_from_slice(b",\"event_type\":\"");
        let part = &mut self.device_part;
        part.clear();
        part.extend_from_slice(b"\",\"device\":\"");
        part.extend_from_slice(device.as_bytes());
        part.extend_from_slice(b"\",\"referrer\":\"");
        part.extend_from_slice(referrer.as_bytes());
        part.extend_from_slice(b"\",\"timestamp\":\"");

        for event in &self.events {
            self.event += 1;
            out.extend_from_slice(b"{\"event_id\":\"");
            push_id(out, b'E', self.event, EVENT_ID_WIDTH);
            out.extend_from_slice(&self.session_part);
            out.extend_from_slice(event.event_type.as_bytes());
            out.extend_from_slice(b"\",\"product_id\":");
            match event.product {
                Some(p) => {
                    out.push(b'"');
                    push_id(out, b'P', u64::from(p), PRODUCT_ID_WIDTH);
                    out.push(b'"');
                }
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(b",\"page\":\"");
            match event.page {
                Page::Fixed(path) => out.extend_from_slice(path.as_bytes()),
                Page::Category(c) => {
                    out.extend_from_slice(b"/category/");
                    out.extend_from_slice(CATEGORIES[usize::from(c)].slug.as_bytes());
                }
                Page::Search(c) => {
                    out.extend_from_slice(b"/search?q=");
                    out.extend_from_slice(CATEGORIES[usize::from(c)].slug.as_bytes());
                }
                Page::Product(p) => {
                    out.extend_from_slice(b"/product/");
                    push_id(out, b'P', u64::from(p), PRODUCT_ID_WIDTH);
                }
            }
            out.extend_from_slice(&self.device_part);
            self.ctx.clock.push(out, event.t, b'T');
            out.extend_from_slice(b"Z\"}\n");
        }
    }
}

/// Appends chunk `chunk` of the clickstream (sessions for rows `chunk × CLICK_CHUNK_ROWS ..`)
/// to `out`. Chunks depend only on the seed and the plan, never on which thread builds them.
fn fill_click_chunk(
    ctx: &ClickContext<'_>,
    tables: &ClickTables,
    tx: &TxPlan,
    plan: &ClickPlan,
    chunk: usize,
    out: &mut Vec<u8>,
) {
    let Some(&(session, event, shape_start)) = plan.chunk_starts.get(chunk) else {
        return;
    };
    let first = chunk * CLICK_CHUNK_ROWS;
    let last = (first + CLICK_CHUNK_ROWS).min(tx.rows.len());
    let mut writer = ChunkWriter {
        ctx,
        tables,
        rng: rng_for(ctx.seed, Stream::ClickChunk, chunk as u64),
        session,
        event,
        events: Vec::with_capacity(32),
        session_part: Vec::with_capacity(64),
        device_part: Vec::with_capacity(64),
    };
    let mut shape_index = shape_start;
    for (row, &count) in tx.rows[first..last]
        .iter()
        .zip(&plan.browse_counts[first..last])
    {
        if row.kind == TX_CLEAN {
            writer.purchase_session(out, row);
        }
        for &shape in &plan.shapes[shape_index..shape_index + usize::from(count)] {
            writer.browsing_session(out, row, shape);
        }
        shape_index += usize::from(count);
    }
}

/// Builds the clickstream's chunks on worker threads and writes them in order; returns the
/// events written.
pub(super) fn write_clickstream(
    ctx: &ClickContext<'_>,
    tx: &TxPlan,
    plan: &ClickPlan,
    path: &Path,
) -> Result<u64, GenerateError> {
    let mut file = File::create(path).map_err(io_error(path))?;
    let tables = ClickTables {
        devices: Weighted::from_table(DEVICES),
        purchase_devices: Weighted::from_table(PURCHASE_DEVICES),
        referrers: Weighted::from_table(REFERRERS),
    };
    let chunks = plan.chunk_starts.len();
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, 8)
        .min(chunks.max(1));
    let next_chunk = AtomicUsize::new(0);
    // Buffers go round: workers fill them, this thread writes them out and hands them back.
    let spare_buffers: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::sync_channel::<(usize, Vec<u8>)>(workers * 2);
        for _ in 0..workers {
            let sender = sender.clone();
            let (tables, next_chunk, spare_buffers) = (&tables, &next_chunk, &spare_buffers);
            scope.spawn(move || {
                loop {
                    let chunk = next_chunk.fetch_add(1, Ordering::Relaxed);
                    if chunk >= chunks {
                        break;
                    }
                    let mut buffer = spare_buffers
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .pop()
                        .unwrap_or_default();
                    buffer.clear();
                    fill_click_chunk(ctx, tables, tx, plan, chunk, &mut buffer);
                    if sender.send((chunk, buffer)).is_err() {
                        break; // the writer stopped on an error
                    }
                }
            });
        }
        drop(sender);
        // Dropping `receiver` on an early return makes the workers stop.
        let mut waiting = BTreeMap::new();
        let mut next_to_write = 0;
        for (chunk, buffer) in receiver {
            waiting.insert(chunk, buffer);
            while let Some(buffer) = waiting.remove(&next_to_write) {
                file.write_all(&buffer).map_err(io_error(path))?;
                spare_buffers
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(buffer);
                next_to_write += 1;
            }
        }
        Ok::<(), GenerateError>(())
    })?;
    file.flush().map_err(io_error(path))?;
    Ok(plan.total_events)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::NaiveDate;
    use serde_json::Value;

    use super::*;
    use crate::generate::tests::{check, config, end_date, read_clicks, read_csv, run};
    use crate::generate::{CLICKSTREAM, CLICKSTREAM_FILE, TRANSACTIONS_FILE};

    #[test]
    fn purchase_sessions_match_transactions() {
        let (dir, _) = run(&config());
        let checked = check(dir.path());
        let (accepted, rejected) = (
            &checked.accepted,
            &checked.files[TRANSACTIONS_FILE].rejected,
        );
        let (_, rows) = read_csv(&dir.path().join(TRANSACTIONS_FILE));
        // Clean transactions: first occurrence of the id, not rejected by the validator, known
        // customer and product.
        let mut expected: BTreeMap<(String, String, String), u64> = BTreeMap::new();
        let mut ids = BTreeSet::new();
        for (index, row) in rows.iter().enumerate() {
            let clean = ids.insert(row[0].clone())
                && !rejected.contains_key(&(index as i64 + 1))
                && accepted.customers.contains(&row[1])
                && accepted.products.contains(&row[2]);
            if clean {
                let time = format!("{}Z", row[6].replace(' ', "T"));
                *expected
                    .entry((row[1].clone(), row[2].clone(), time))
                    .or_default() += 1;
            }
        }
        assert!(expected.values().sum::<u64>() > 4_800);

        let mut sessions: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for event in read_clicks(dir.path()) {
            let session = event["session_id"].as_str().unwrap().to_string();
            sessions.entry(session).or_default().push(event);
        }
        let mut purchases: BTreeMap<(String, String, String), u64> = BTreeMap::new();
        for events in sessions.values() {
            let types: Vec<&str> = events
                .iter()
                .map(|e| e["event_type"].as_str().unwrap())
                .collect();
            if !types.contains(&"purchase") {
                continue;
            }
            assert_eq!(
                types,
                [
                    "page_view",
                    "product_view",
                    "add_to_cart",
                    "checkout",
                    "purchase"
                ]
            );
            let customer = events[0]["customer_id"].as_str().unwrap();
            let product = events[1]["product_id"].as_str().unwrap();
            for event in events {
                assert_eq!(event["customer_id"], customer);
            }
            for event in &events[1..] {
                assert_eq!(event["product_id"], product);
            }
            let times: Vec<&str> = events
                .iter()
                .map(|e| e["timestamp"].as_str().unwrap())
                .collect();
            assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
            *purchases
                .entry((
                    customer.to_string(),
                    product.to_string(),
                    times[4].to_string(),
                ))
                .or_default() += 1;
        }
        assert_eq!(purchases, expected);
    }

    #[test]
    fn clickstream_has_unique_ids_anonymous_nulls_and_a_funnel() {
        let (dir, report) = run(&config());
        let events = read_clicks(dir.path());
        assert_eq!(events.len() as u64, report.file(CLICKSTREAM).unwrap().rows);
        let ids: BTreeSet<&str> = events
            .iter()
            .map(|e| e["event_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), events.len());
        let anonymous = events.iter().filter(|e| e["customer_id"].is_null()).count();
        assert!(anonymous > events.len() / 10, "{anonymous}");
        assert!(
            events
                .iter()
                .all(|e| e["customer_id"].is_null() || e["customer_id"].is_string())
        );
        let count = |t: &str| events.iter().filter(|e| e["event_type"] == t).count();
        let (views, products, carts, checkouts, purchases) = (
            count("page_view"),
            count("product_view"),
            count("add_to_cart"),
            count("checkout"),
            count("purchase"),
        );
        assert!(views > products && products > carts && carts > checkouts && checkouts > purchases);
        assert!(count("search") > 0 && count("remove_from_cart") > 0);
        // Unknown event types only in sessions without a purchase.
        let mut purchase_sessions = BTreeSet::new();
        for event in &events {
            if event["event_type"] == "purchase" {
                purchase_sessions.insert(event["session_id"].as_str().unwrap());
            }
        }
        let unknown = check(dir.path()).files[CLICKSTREAM_FILE].rejected.clone();
        assert!(!unknown.is_empty());
        for (row, rule) in &unknown {
            assert_eq!(rule, "clickstream.event_type.allowed");
            let event = &events[*row as usize - 1];
            assert!(!purchase_sessions.contains(event["session_id"].as_str().unwrap()));
        }
        let first = NaiveDate::from_ymd_opt(2025, 11, 2).unwrap();
        for event in &events {
            let t = chrono::DateTime::parse_from_rfc3339(event["timestamp"].as_str().unwrap())
                .unwrap()
                .date_naive();
            assert!(t >= first && t <= end_date(), "{event}");
        }
    }
}
