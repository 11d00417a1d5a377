//! The products dataset: `products.json` (one DummyJSON-style catalogue page, a few prices
//! zero or negative) and `products_updates.json` (the clean products repriced during the
//! window's last days), list prices rounded like a shop's, and the popularity sales follow.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::clock::{Clock, SECONDS_PER_DAY};
use super::data::CATEGORIES;
use super::error::io_error;
use super::format::{PRODUCT_ID_WIDTH, cents_to_f64, format_id};
use super::random::{Stream, TopK, Weighted, defect_counts, mark_random, pick, rng_for, shrink_to};
use super::{DefectKind, GenerateConfig, GenerateError, PriceChange};

/// Price changes happen within this many last days of the window.
const PRICE_CHANGE_DAYS: i64 = 14;

/// What the later datasets need from the products written: what sells, at which price and
/// when, in which category, and what was injected.
pub(super) struct ProductPlan {
    /// List price in cents by product index (clean products only are ever referenced).
    price_cents: Vec<i64>,
    /// Category index (into `data::CATEGORIES`) by product index.
    pub(super) category: Vec<u8>,
    /// Popularity-weighted choice over clean products; yields product indices.
    pub(super) table: Weighted,
    /// Rows injected per defect kind.
    pub(super) defects: Vec<(DefectKind, u64)>,
    /// Price changes, by product index.
    pub(super) changes: Vec<PlannedPriceChange>,
}

/// A product's new price from a time on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct PlannedPriceChange {
    /// Product index (0-based).
    index: u32,
    /// Seconds since the window start when the new price takes effect.
    t: u32,
    new_cents: i64,
}

impl ProductPlan {
    /// The price of product `index` at time `t` (seconds since the window start).
    pub(super) fn price_at(&self, index: usize, t: u32) -> i64 {
        if !self.changes.is_empty()
            && let Ok(at) = self
                .changes
                .binary_search_by_key(&(index as u32), |c| c.index)
            && t >= self.changes[at].t
        {
            return self.changes[at].new_cents;
        }
        self.price_cents[index]
    }

    /// The price changes as the generation report lists them, by product id.
    pub(super) fn reported_changes(&self, clock: &Clock) -> Vec<PriceChange> {
        self.changes
            .iter()
            .map(|c| PriceChange {
                product_id: format_id(b'P', u64::from(c.index) + 1, PRODUCT_ID_WIDTH),
                old_price: cents_to_f64(self.price_cents[c.index as usize]),
                new_price: cents_to_f64(c.new_cents),
                updated_at: clock.rfc3339(i64::from(c.t)),
            })
            .collect()
    }
}

#[derive(Serialize, Clone)]
struct ProductMeta {
    #[serde(rename = "updatedAt")]
    updated_at: String,
}

#[derive(Serialize, Clone)]
struct ProductRecord {
    id: String,
    title: String,
    description: String,
    category: &'static str,
    price: f64,
    #[serde(rename = "discountPercentage")]
    discount_percentage: f64,
    rating: f64,
    stock: u32,
    brand: &'static str,
    sku: String,
    supplier: &'static str,
    /// DummyJSON keeps `createdAt` / `updatedAt` here; the contract maps `meta.updatedAt`.
    meta: ProductMeta,
}

#[derive(Serialize)]
struct ProductPage<'a> {
    products: &'a [ProductRecord],
    total: usize,
    skip: usize,
    limit: usize,
}

fn list_price(rng: &mut ChaCha8Rng, min_cents: i64, max_cents: i64) -> i64 {
    let (lo, hi) = ((min_cents as f64).ln(), (max_cents as f64).ln());
    let raw = (lo + rng.random::<f64>() * (hi - lo)).exp() as i64;
    let price = if raw >= 1_000 {
        // Whole units ending .99 (mostly), .49 or .00.
        let ending = match rng.random_range(0..10) {
            0..=6 => 99,
            7 | 8 => 49,
            _ => 0,
        };
        raw / 100 * 100 + ending
    } else {
        raw / 10 * 10 + 9
    };
    price.clamp(1, max_cents.max(1))
}

/// Whether a price in cents is rounded the way [`list_price`] rounds: whole units ending in
/// .99, .49 or .00 from 10.00 on, else ending in 9 cents.
fn catalog_rounded(cents: i64) -> bool {
    if cents >= 1_000 {
        matches!(cents % 100, 0 | 49 | 99)
    } else {
        cents > 0 && cents % 10 == 9
    }
}

/// A new list price for a product listed at `old` cents: up 3–25 % or down 5–30 %, rounded
/// the way [`list_price`] rounds (keeping the old ending from 10.00 on), never equal to `old`,
/// in the direction asked and within 70–125 % of `old`.
fn changed_price(rng: &mut ChaCha8Rng, old: i64, up: bool) -> i64 {
    let percent = if up {
        rng.random_range(3..=25)
    } else {
        -rng.random_range(5..=30)
    };
    let raw = old * (100 + percent) / 100;
    let candidate = if raw >= 1_000 {
        let ending = match old % 100 {
            e @ (0 | 49 | 99) if old >= 1_000 => e,
            _ => 99,
        };
        raw / 100 * 100 + ending
    } else {
        raw / 10 * 10 + 9
    };
    let acceptable = |p: i64| {
        p != old
            && (p > old) == up
            && p * 100 >= old * 70
            && p * 100 <= old * 125
            && catalog_rounded(p)
    };
    // Rounding can overshoot a bound or undo a small change: then the acceptable price nearest
    // the candidate (one always exists within a unit of `old`).
    (0..=old)
        .flat_map(|d| [candidate - d, candidate + d])
        .find(|&p| acceptable(p))
        .unwrap_or(if up { old + 1 } else { old - 1 })
}

/// Writes `products.json` (a few prices zero or negative) and, when products are repriced,
/// `products_updates.json`; plans popularity and the prices sales are made at.
pub(super) fn write_products(
    config: &GenerateConfig,
    clock: &Clock,
    path: &Path,
    updates_path: &Path,
) -> Result<ProductPlan, GenerateError> {
    let n = config.products;
    let mut rng = rng_for(config.seed, Stream::Products, 0);
    let meta = ProductMeta {
        updated_at: clock.before_window(),
    };

    let mut counts = defect_counts(n, config.defect_rate, &[1.0]);
    shrink_to(&mut counts, (n / 2) as u64);
    let mut defective = vec![0u8; n];
    let bad_prices = mark_random(&mut rng, &mut defective, counts[0], 1);

    let categories = Weighted::new(
        CATEGORIES
            .iter()
            .enumerate()
            .map(|(i, c)| (i as u32, c.weight)),
    );
    let mut records = Vec::with_capacity(n);
    let mut price_cents = Vec::with_capacity(n);
    let mut category = Vec::with_capacity(n);
    for (i, &bad) in defective.iter().enumerate() {
        let number = i as u64 + 1;
        let cat_index = categories.sample_index(&mut rng);
        let cat = &CATEGORIES[cat_index];
        let adjective = *pick(&mut rng, cat.adjectives);
        let noun = *pick(&mut rng, cat.nouns);
        let brand = *pick(&mut rng, cat.brands);
        let supplier = *pick(&mut rng, cat.suppliers);
        let title = format!("{adjective} {noun}");
        let price = list_price(&mut rng, cat.min_cents, cat.max_cents);
        let listed = if bad == 0 {
            price
        } else {
            match rng.random_range(0..3) {
                0 => 0,
                1 => -price,
                _ => -1,
            }
        };
        let discount = f64::from(rng.random_range(50..=2_500u32)) / 100.0;
        let u: f64 = rng.random();
        let rating = (500.0 - 250.0 * u * u).round() / 100.0;
        let stock = if rng.random_bool(0.05) {
            0
        } else {
            rng.random_range(1..=300)
        };
        let brand_code: String = brand
            .chars()
            .filter(char::is_ascii_alphabetic)
            .take(3)
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let id = format_id(b'P', number, PRODUCT_ID_WIDTH);
        records.push(ProductRecord {
            sku: format!("SKU-{}-{brand_code}-{}", cat.code, &id[1..]),
            id,
            description: format!("{title} by {brand}. {}", cat.blurb),
            title,
            category: cat.slug,
            price: listed as f64 / 100.0,
            discount_percentage: discount,
            rating,
            stock,
            brand,
            supplier,
            meta: meta.clone(),
        });
        price_cents.push(price);
        category.push(cat_index as u8);
    }

    write_product_page(&records, path)?;

    // Popularity: Zipf over a random ranking, nudged towards cheaper products.
    let mut ranks: Vec<u32> = (0..n as u32).collect();
    for i in (1..ranks.len()).rev() {
        let j = rng.random_range(0..=i);
        ranks.swap(i, j);
    }
    let popularity = |i: usize| {
        let zipf = 1.0 / (f64::from(ranks[i]) + 1.0).powf(0.85);
        let cheapness = (5_000.0 / (price_cents[i] as f64 + 5_000.0)).powf(0.35);
        zipf * cheapness
    };
    let table = Weighted::new(
        (0..n)
            .filter(|&i| defective[i] == 0)
            .map(|i| (i as u32, popularity(i))),
    );

    // Price changes: clean products only (the update rows must pass the contract), popular
    // ones more likely, from a separate stream.
    let mut change_rng = rng_for(config.seed, Stream::PriceChanges, 0);
    let mut repriced: TopK<()> = TopK::new(config.price_changes);
    for i in (0..n).filter(|&i| defective[i] == 0) {
        if let Some(key) = repriced.draw(&mut change_rng, popularity(i)) {
            repriced.push(key, i as u32, ());
        }
    }
    let chosen = repriced.into_sorted();
    let mut ups: Vec<bool> = chosen.iter().map(|_| change_rng.random_bool(0.5)).collect();
    if ups.len() >= 2 && ups.iter().all(|&up| up == ups[0]) {
        let last = ups.len() - 1;
        ups[last] = !ups[last];
    }
    let window = clock.window_secs;
    let first_change = (window - PRICE_CHANGE_DAYS * SECONDS_PER_DAY).max(0);
    let mut changes = Vec::with_capacity(chosen.len());
    let mut updates = Vec::with_capacity(chosen.len());
    for (&(index, ()), &up) in chosen.iter().zip(&ups) {
        let i = index as usize;
        let new_cents = changed_price(&mut change_rng, price_cents[i], up);
        let t = change_rng.random_range(first_change..window);
        let mut record = records[i].clone();
        record.price = cents_to_f64(new_cents);
        record.meta.updated_at = clock.rfc3339(t);
        updates.push(record);
        changes.push(PlannedPriceChange {
            index,
            t: t as u32,
            new_cents,
        });
    }
    if !updates.is_empty() {
        write_product_page(&updates, updates_path)?;
    }
    Ok(ProductPlan {
        price_cents,
        category,
        table,
        defects: vec![(DefectKind::NonPositivePrice, bad_prices)],
        changes,
    })
}

/// Writes one DummyJSON-style page holding every record.
fn write_product_page(records: &[ProductRecord], path: &Path) -> Result<(), GenerateError> {
    let file = File::create(path).map_err(io_error(path))?;
    let mut out = BufWriter::new(file);
    let page = ProductPage {
        products: records,
        total: records.len(),
        skip: 0,
        limit: records.len(),
    };
    serde_json::to_writer_pretty(&mut out, &page).map_err(|source| GenerateError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    out.write_all(b"\n").map_err(io_error(path))?;
    out.flush().map_err(io_error(path))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::Value;

    use super::*;
    use crate::generate::PRODUCT_UPDATES_FILE;
    use crate::generate::tests::{
        cents_of, config, read_page, read_products, run, utc, window_end,
    };

    #[test]
    fn price_updates_change_every_listed_price() {
        let (dir, report) = run(&config());
        let base_page = read_products(dir.path());
        let base: BTreeMap<&str, &Value> = base_page["products"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["id"].as_str().unwrap(), p))
            .collect();
        let page = read_page(dir.path(), PRODUCT_UPDATES_FILE);
        let updates = page["products"].as_array().unwrap();
        assert_eq!(updates.len(), 12);
        assert_eq!(page["total"], 12);
        assert_eq!(report.price_changes.len(), 12);
        let last_days = window_end() - chrono::Duration::days(PRICE_CHANGE_DAYS);
        let (mut ups, mut downs) = (0, 0);
        let mut previous = "";
        for (product, change) in updates.iter().zip(&report.price_changes) {
            let id = product["id"].as_str().unwrap();
            assert!(id > previous, "ordered by id");
            previous = id;
            assert_eq!(id, change.product_id);
            let old = base[id];
            let (old_cents, new_cents) = (cents_of(&old["price"]), cents_of(&product["price"]));
            assert!(old_cents > 0, "only clean products are repriced");
            assert_eq!(old_cents, cents_of(&serde_json::json!(change.old_price)));
            assert_eq!(new_cents, cents_of(&serde_json::json!(change.new_price)));
            assert_ne!(new_cents, old_cents);
            assert!(
                new_cents * 100 >= old_cents * 70 && new_cents * 100 <= old_cents * 125,
                "{old_cents} -> {new_cents}"
            );
            assert!(catalog_rounded(new_cents), "{new_cents}");
            if new_cents > old_cents {
                ups += 1;
            } else {
                downs += 1;
            }
            let at = product["meta"]["updatedAt"].as_str().unwrap();
            assert_eq!(at, change.updated_at);
            assert!(utc(at) >= last_days && utc(at) < window_end(), "{at}");
            // A full record: everything else as in the catalogue.
            let mut same = product.clone();
            same["price"] = old["price"].clone();
            same["meta"] = old["meta"].clone();
            assert_eq!(&same, old);
        }
        assert!(ups > 0 && downs > 0, "{ups} up, {downs} down");
    }

    #[test]
    fn changed_prices_are_realistic_for_every_kind_of_list_price() {
        let mut rng = rng_for(1, Stream::PriceChanges, 99);
        let mut olds: Vec<i64> = vec![99, 109, 989, 999, 1_000, 1_049, 1_099, 1_399, 249_900];
        for _ in 0..2_000 {
            let category = pick(&mut rng, CATEGORIES);
            olds.push(list_price(&mut rng, category.min_cents, category.max_cents));
        }
        for old in olds {
            assert!(catalog_rounded(old), "{old}");
            for up in [true, false] {
                for _ in 0..20 {
                    let new = changed_price(&mut rng, old, up);
                    assert_eq!(new > old, up, "{old} -> {new}");
                    assert!(
                        new != old && new * 100 >= old * 70 && new * 100 <= old * 125,
                        "{old} -> {new}"
                    );
                    assert!(catalog_rounded(new), "{old} -> {new}");
                }
            }
        }
    }

    #[test]
    fn two_or_more_price_changes_go_both_ways() {
        for seed in 0..20 {
            let (_, report) = run(&GenerateConfig {
                seed,
                price_changes: 2,
                customer_moves: 0,
                transactions: 0,
                customers: 10,
                ..config()
            });
            let ups = report
                .price_changes
                .iter()
                .filter(|c| c.new_price > c.old_price)
                .count();
            assert_eq!(report.price_changes.len(), 2);
            assert_eq!(ups, 1, "seed {seed}: {:?}", report.price_changes);
        }
    }
}
