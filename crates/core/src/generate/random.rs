//! Randomness: one seeded ChaCha stream per purpose ([`Stream`], [`rng_for`]), weighted choice
//! ([`Weighted`], [`pick`]), weighted sampling without replacement ([`TopK`]), and how defect
//! budgets are split over kinds and placed on rows ([`apportion`], [`defect_counts`],
//! [`shrink_to`], [`mark_random`]).

use std::collections::BinaryHeap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Independent random streams, one per purpose, derived from the seed.
#[derive(Clone, Copy)]
pub(super) enum Stream {
    Customers = 1,
    Products = 2,
    Transactions = 3,
    ClickPlan = 4,
    ClickChunk = 5,
    PriceChanges = 6,
    CustomerMoves = 7,
}

/// SplitMix64's mixing step: nearby seeds and indices give unrelated stream keys.
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The random stream for one purpose (and, for per-chunk streams, one chunk `index`): the same
/// seed gives the same numbers whatever else was drawn or which thread draws them.
pub(super) fn rng_for(seed: u64, stream: Stream, index: u64) -> ChaCha8Rng {
    let key = splitmix64(splitmix64(seed) ^ ((stream as u64) << 48) ^ index);
    ChaCha8Rng::seed_from_u64(key)
}

/// Weighted choice by cumulative weights and binary search.
pub(super) struct Weighted {
    items: Vec<u32>,
    cumulative: Vec<f64>,
}

impl Weighted {
    /// Items with their weights (negative weights count as zero).
    pub(super) fn new(pairs: impl IntoIterator<Item = (u32, f64)>) -> Self {
        let mut items = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0.0;
        for (item, weight) in pairs {
            total += weight.max(0.0);
            items.push(item);
            cumulative.push(total);
        }
        Self { items, cumulative }
    }

    /// Indices `0..weights.len()`, each with its weight.
    pub(super) fn from_weights(weights: &[f64]) -> Self {
        Self::new(weights.iter().enumerate().map(|(i, &w)| (i as u32, w)))
    }

    /// Indices into a `(value, weight)` table such as those in `data`.
    pub(super) fn from_table<T>(table: &[(T, f64)]) -> Self {
        Self::new(table.iter().enumerate().map(|(i, (_, w))| (i as u32, *w)))
    }

    /// One item, chosen with probability proportional to its weight.
    pub(super) fn sample(&self, rng: &mut ChaCha8Rng) -> u32 {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let u = rng.random::<f64>() * total;
        let i = self.cumulative.partition_point(|&c| c <= u);
        let last = self.items.len().saturating_sub(1);
        self.items.get(i.min(last)).copied().unwrap_or(0)
    }

    /// [`Weighted::sample`] as an index into a slice.
    pub(super) fn sample_index(&self, rng: &mut ChaCha8Rng) -> usize {
        self.sample(rng) as usize
    }
}

/// A uniformly chosen element of `items` (never empty: the word lists in `data`).
pub(super) fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// Splits `total` over `weights` by largest remainder (deterministic, sums exactly).
pub(super) fn apportion(total: u64, weights: &[f64]) -> Vec<u64> {
    let sum: f64 = weights.iter().sum();
    if total == 0 || sum <= 0.0 {
        return vec![0; weights.len()];
    }
    let exact: Vec<f64> = weights.iter().map(|w| total as f64 * w / sum).collect();
    let mut counts: Vec<u64> = exact.iter().map(|e| e.floor() as u64).collect();
    let assigned: u64 = counts.iter().sum();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| {
        let ra = exact[a] - exact[a].floor();
        let rb = exact[b] - exact[b].floor();
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    for &i in order.iter().take(total.saturating_sub(assigned) as usize) {
        counts[i] += 1;
    }
    counts
}

/// The defect budget `round(rows × rate)` split over kinds by weight, each kind at least one
/// when the rate is above zero.
pub(super) fn defect_counts(rows: usize, rate: f64, weights: &[f64]) -> Vec<u64> {
    if rows == 0 || rate <= 0.0 {
        return vec![0; weights.len()];
    }
    let budget = (rows as f64 * rate).round() as u64;
    let mut counts = apportion(budget, weights);
    for count in &mut counts {
        *count = (*count).max(1);
    }
    counts
}

/// Lowers the largest counts until they sum to at most `cap` (only binds for tiny data sets).
pub(super) fn shrink_to(counts: &mut [u64], cap: u64) {
    while counts.iter().sum::<u64>() > cap {
        let mut largest = 0;
        for (i, &c) in counts.iter().enumerate() {
            if c >= counts[largest] {
                largest = i;
            }
        }
        counts[largest] -= 1;
    }
}

/// Marks `count` random unmarked cells with `code`; returns how many it marked (fewer only if
/// too few cells were free).
pub(super) fn mark_random(rng: &mut ChaCha8Rng, marks: &mut [u8], count: u64, code: u8) -> u64 {
    let free = marks.iter().filter(|&&m| m == 0).count() as u64;
    let count = count.min(free);
    let mut placed = 0;
    while placed < count {
        let i = rng.random_range(0..marks.len());
        if marks[i] == 0 {
            marks[i] = code;
            placed += 1;
        }
    }
    placed
}

/// Weighted sampling without replacement in one pass (Efraimidis and Spirakis): every offered
/// item gets the key `ln(u) / weight` and the `k` largest keys win. Holds at most `k` items.
pub(super) struct TopK<T> {
    k: usize,
    /// A min-heap on the key: the root is the weakest item kept.
    heap: BinaryHeap<Keyed<T>>,
}

struct Keyed<T> {
    key: f64,
    index: u32,
    item: T,
}

impl<T> PartialEq for Keyed<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl<T> Eq for Keyed<T> {}

impl<T> PartialOrd for Keyed<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Keyed<T> {
    /// Reversed, so that [`BinaryHeap`] keeps the smallest key (then the largest index) on top.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other
            .key
            .total_cmp(&self.key)
            .then(self.index.cmp(&other.index))
    }
}

impl<T> TopK<T> {
    /// An empty sample that will keep at most `k` items.
    pub(super) fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k.min(1 << 16) + 1),
        }
    }

    /// Draws the key of an item of `weight` (above zero); `Some(key)` if it would be kept.
    pub(super) fn draw(&self, rng: &mut ChaCha8Rng, weight: f64) -> Option<f64> {
        if self.k == 0 {
            return None;
        }
        let u: f64 = rng.random();
        let key = (1.0 - u).ln() / weight;
        match self.heap.peek() {
            Some(weakest) if self.heap.len() >= self.k && key <= weakest.key => None,
            _ => Some(key),
        }
    }

    /// Keeps an item whose key [`TopK::draw`] accepted.
    pub(super) fn push(&mut self, key: f64, index: u32, item: T) {
        self.heap.push(Keyed { key, index, item });
        if self.heap.len() > self.k {
            self.heap.pop();
        }
    }

    /// The kept items in index order.
    pub(super) fn into_sorted(self) -> Vec<(u32, T)> {
        let mut kept: Vec<(u32, T)> = self
            .heap
            .into_vec()
            .into_iter()
            .map(|k| (k.index, k.item))
            .collect();
        kept.sort_by_key(|(index, _)| *index);
        kept
    }
}
