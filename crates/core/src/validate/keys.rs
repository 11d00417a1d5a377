//! The set of business keys seen in one file, in bounded memory.
//!
//! The validator keeps the first valid row of each key and must recognise every later row with
//! that key, however far apart they are in the file. A file of 16 million rows holds 16 million
//! keys; kept as strings they cost about 1.5 GB. This set keeps a 128-bit hash of each key (two
//! independently keyed SipHashes, fresh random keys per file) with the 64-bit hash of the row's
//! content, at most [`KeyBudget::memory_entries`] of them in memory. When the budget is reached
//! the entries are sorted by key hash and written to a run file in the spill directory; each
//! run keeps in memory a sparse index (one key hash per [`BLOCK`] entries) and a blocked Bloom
//! filter (about 10 bits per key, one cache line per probe), so a lookup reads a run's block
//! only when the filter says the key may be there (about 1 % of misses). Once there are more
//! than [`MAX_RUNS`] runs they are merged into one, so a lookup probes at most that many
//! filters. What stays in memory grows by about 1.3 bytes per spilled key instead of ~90, up to
//! [`KeyBudget::filter_bytes`]: past it the merged run's filter keeps that size with fewer bits
//! per key, so memory stays flat and a larger file pays with more false hits (block reads from
//! the page cache) instead.
//!
//! Two different keys with equal 128-bit hashes would be taken for one key; for a file of
//! 10^9 keys the chance is about 10^-21.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fs::File;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

/// Entries per block of a run file: what one lookup reads (12 KiB), and the spacing of the
/// run's in-memory index.
const BLOCK: usize = 512;

/// Runs kept before they are merged into one (a lookup probes at most this many filters).
pub const MAX_RUNS: usize = 4;

/// Bytes of one entry in a run file: the key hash (16) and the content hash (8).
const ENTRY: usize = 24;

/// Filter bits per spilled key while the filters fit their budget (with 7 probes in one
/// 512-bit block: about 1 % false hits).
const BLOOM_BITS_PER_KEY: usize = 10;

/// The most bits a key sets in its filter block (9-bit positions from one 64-bit word).
const BLOOM_MAX_PROBES: usize = 7;

/// The smallest filter: one block.
const BLOOM_MIN_BYTES: usize = 64;

/// How much of the key set may live in memory, and where the rest goes.
#[derive(Debug, Clone)]
pub struct KeyBudget {
    /// Keys held in memory before they are spilled to a run file. The default (450,000) fits
    /// a hash table of 2^19 slots: about 13 MiB.
    pub memory_entries: usize,
    /// Where run files go; `None`: the system's temporary directory.
    pub spill_dir: Option<PathBuf>,
    /// Bytes the spilled runs' filters may hold in memory together. The default (16 MiB) gives
    /// 10 bits per key up to about 11 million spilled keys; a file with more keys keeps the
    /// same 16 MiB (32 million keys: about 4 bits per key, 12 % false hits, each one read of a
    /// 12 KiB block that the page cache serves).
    pub filter_bytes: usize,
}

impl Default for KeyBudget {
    fn default() -> Self {
        Self {
            memory_entries: 450_000,
            spill_dir: None,
            filter_bytes: 16 << 20,
        }
    }
}

impl KeyBudget {
    /// Filter bytes of a run of `keys` freshly spilled from memory: 10 bits per key.
    fn spill_filter_bytes(&self, keys: usize) -> usize {
        (keys * BLOOM_BITS_PER_KEY).div_ceil(8).max(BLOOM_MIN_BYTES)
    }

    /// Filter bytes of a run of `keys` merged from every run: 10 bits per key, at most what
    /// the budget leaves once the [`MAX_RUNS`] spills that may follow have theirs.
    fn merged_filter_bytes(&self, keys: usize) -> usize {
        let reserved = MAX_RUNS * self.spill_filter_bytes(self.memory_entries.max(1));
        let cap = self.filter_bytes.saturating_sub(reserved);
        self.spill_filter_bytes(keys).min(cap).max(BLOOM_MIN_BYTES)
    }
}

/// A key's 128-bit hash, as two words (8-byte aligned, so a table entry is 24 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyHash([u64; 2]);

impl Hash for KeyHash {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Already a uniform hash: one word is a good table hash.
        state.write_u64(self.0[0]);
    }
}

/// A hasher for [`KeyHash`]: passes the word it is given through.
#[derive(Debug, Default)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Hashes a key's parts (in order; `("a","bc")` and `("ab","c")` differ) for one [`KeySet`].
#[derive(Debug, Clone)]
pub struct KeyHasher {
    a: RandomState,
    b: RandomState,
}

impl KeyHasher {
    fn new() -> Self {
        Self {
            a: RandomState::new(),
            b: RandomState::new(),
        }
    }

    /// The hash of a key made of `parts`.
    pub fn hash<'p>(&self, parts: impl Iterator<Item = &'p str> + Clone) -> KeyHash {
        let mut a = self.a.build_hasher();
        let mut b = self.b.build_hasher();
        for p in parts {
            // `str::hash` ends each part with a terminator byte: the split is part of the key.
            p.hash(&mut a);
            p.hash(&mut b);
        }
        KeyHash([a.finish(), b.finish()])
    }
}

/// One spilled run: a file of entries sorted by key hash, its index and its filter.
#[derive(Debug)]
struct Run {
    file: File,
    entries: usize,
    /// The first key hash of each block.
    index: Vec<KeyHash>,
    bloom: Bloom,
}

impl Run {
    fn get(&mut self, key: KeyHash, buf: &mut Vec<u8>) -> io::Result<Option<u64>> {
        if !self.bloom.may_contain(key) {
            return Ok(None);
        }
        // The last block whose first key is <= key.
        let block = match self.index.binary_search(&key) {
            Ok(b) => b,
            Err(0) => return Ok(None),
            Err(b) => b - 1,
        };
        let start = block * BLOCK;
        let n = BLOCK.min(self.entries - start);
        buf.resize(n * ENTRY, 0);
        self.file.seek(SeekFrom::Start((start * ENTRY) as u64))?;
        self.file.read_exact(buf)?;
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let (k, v) = decode(&buf[mid * ENTRY..(mid + 1) * ENTRY]);
            match k.cmp(&key) {
                std::cmp::Ordering::Equal => return Ok(Some(v)),
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        Ok(None)
    }
}

fn encode(out: &mut impl Write, key: KeyHash, content: u64) -> io::Result<()> {
    let mut e = [0u8; ENTRY];
    e[..8].copy_from_slice(&key.0[0].to_le_bytes());
    e[8..16].copy_from_slice(&key.0[1].to_le_bytes());
    e[16..].copy_from_slice(&content.to_le_bytes());
    out.write_all(&e)
}

fn decode(e: &[u8]) -> (KeyHash, u64) {
    let word = |r: std::ops::Range<usize>| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&e[r]);
        u64::from_le_bytes(w)
    };
    (KeyHash([word(0..8), word(8..16)]), word(16..24))
}

/// A blocked Bloom filter: each key sets `probes` bits inside one 512-bit block.
#[derive(Debug)]
struct Bloom {
    blocks: Vec<[u64; 8]>,
    /// Bits a key sets: the number that minimises false hits for the filter's bits per key
    /// (ln 2 of them), at most [`BLOOM_MAX_PROBES`].
    probes: usize,
}

impl Bloom {
    /// A filter of about `bytes` bytes (whole blocks, at least one) for `keys` keys.
    fn with_bytes(bytes: usize, keys: usize) -> Self {
        let blocks = bytes.div_ceil(64).max(1);
        let bits_per_key = (blocks * 512) as f64 / keys.max(1) as f64;
        let probes = (bits_per_key * std::f64::consts::LN_2).round() as usize;
        Self {
            blocks: vec![[0; 8]; blocks],
            probes: probes.clamp(1, BLOOM_MAX_PROBES),
        }
    }

    fn bits(&self, key: KeyHash) -> (usize, [(usize, u64); BLOOM_MAX_PROBES]) {
        // The block from the second word, the bit positions from the first (9 bits each).
        let block = ((u128::from(key.0[1]) * self.blocks.len() as u128) >> 64) as usize;
        let mut h = key.0[0];
        let mut bits = [(0, 0); BLOOM_MAX_PROBES];
        for b in &mut bits[..self.probes] {
            let bit = (h & 511) as usize;
            *b = (bit / 64, 1u64 << (bit % 64));
            h >>= 9;
        }
        (block, bits)
    }

    fn insert(&mut self, key: KeyHash) {
        let (block, bits) = self.bits(key);
        for (word, mask) in &bits[..self.probes] {
            self.blocks[block][*word] |= mask;
        }
    }

    fn may_contain(&self, key: KeyHash) -> bool {
        let (block, bits) = self.bits(key);
        bits[..self.probes]
            .iter()
            .all(|(word, mask)| self.blocks[block][*word] & mask != 0)
    }

    fn bytes(&self) -> usize {
        self.blocks.len() * 64
    }
}

/// The keys seen so far in one file, each with its row's content hash.
#[derive(Debug)]
pub struct KeySet {
    hasher: KeyHasher,
    budget: KeyBudget,
    memory: HashMap<KeyHash, u64, BuildHasherDefault<PassThrough>>,
    runs: Vec<Run>,
    buf: Vec<u8>,
    spilled: usize,
}

impl KeySet {
    /// An empty set within `budget`.
    pub fn new(budget: KeyBudget) -> Self {
        Self {
            hasher: KeyHasher::new(),
            budget,
            memory: HashMap::default(),
            runs: Vec::new(),
            buf: Vec::new(),
            spilled: 0,
        }
    }

    /// The hasher for this set's keys.
    pub fn hasher(&self) -> &KeyHasher {
        &self.hasher
    }

    /// The content hash recorded with `key`, if the key was inserted before.
    pub fn get(&mut self, key: KeyHash) -> io::Result<Option<u64>> {
        if let Some(v) = self.memory.get(&key) {
            return Ok(Some(*v));
        }
        for run in &mut self.runs {
            if let Some(v) = run.get(key, &mut self.buf)? {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    /// Records `key` (not already in the set) with its row's content hash; spills the memory
    /// part to a run file when it reaches the budget.
    pub fn insert(&mut self, key: KeyHash, content: u64) -> io::Result<()> {
        self.memory.insert(key, content);
        if self.memory.len() >= self.budget.memory_entries.max(1) {
            self.spill()?;
        }
        Ok(())
    }

    /// Keys held: in memory and spilled.
    pub fn len(&self) -> usize {
        self.memory.len() + self.spilled
    }

    /// Whether no key was inserted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Run files on disk now (at most [`MAX_RUNS`] after a spill).
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Keys written to run files so far.
    pub fn spilled(&self) -> usize {
        self.spilled
    }

    /// Bytes the spilled runs keep in memory (filters and indexes).
    pub fn resident_run_bytes(&self) -> usize {
        self.runs
            .iter()
            .map(|r| r.bloom.bytes() + r.index.len() * 16)
            .sum()
    }

    /// A new run file: unnamed once created, so it goes away with its handle, also when the
    /// process dies.
    fn run_file(&self) -> io::Result<File> {
        match &self.budget.spill_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                tempfile::tempfile_in(dir)
            }
            None => tempfile::tempfile(),
        }
    }

    fn spill(&mut self) -> io::Result<()> {
        let mut entries: Vec<(KeyHash, u64)> = self.memory.drain().collect();
        entries.sort_unstable_by_key(|(k, _)| *k);
        self.memory.shrink_to(self.budget.memory_entries);
        let file = self.run_file()?;
        let bytes = self.budget.spill_filter_bytes(entries.len());
        let run = write_run(file, entries.len(), bytes, entries.into_iter().map(Ok))?;
        self.spilled += run.entries;
        self.runs.push(run);
        if self.runs.len() > MAX_RUNS {
            self.merge_runs()?;
        }
        tracing::debug!(
            keys = self.len(),
            spilled = self.spilled,
            runs = self.runs.len(),
            resident_run_bytes = self.resident_run_bytes(),
            "in-file key set spilled to disk"
        );
        Ok(())
    }

    /// Merges every run into one (a k-way merge of the sorted files). The old runs' filters
    /// and indexes are dropped before the new filter is made, so the two never add up.
    fn merge_runs(&mut self) -> io::Result<()> {
        let runs = std::mem::take(&mut self.runs);
        let total: usize = runs.iter().map(|r| r.entries).sum();
        let mut readers = Vec::with_capacity(runs.len());
        for run in runs {
            let Run {
                mut file, entries, ..
            } = run;
            file.seek(SeekFrom::Start(0))?;
            readers.push(RunReader {
                input: BufReader::with_capacity(64 * 1024, file),
                left: entries,
            });
        }
        let mut heads: Vec<Option<(KeyHash, u64)>> = Vec::with_capacity(readers.len());
        for r in &mut readers {
            heads.push(r.next()?);
        }
        let merged = std::iter::from_fn(|| {
            let (i, _) = heads
                .iter()
                .enumerate()
                .filter_map(|(i, h)| h.map(|(k, _)| (i, k)))
                .min_by_key(|(_, k)| *k)?;
            let head = heads[i].take()?;
            Some(readers[i].next().map(|next| {
                heads[i] = next;
                head
            }))
        });
        let file = self.run_file()?;
        let bytes = self.budget.merged_filter_bytes(total);
        let run = write_run(file, total, bytes, merged)?;
        self.runs.push(run);
        Ok(())
    }
}

struct RunReader {
    input: BufReader<File>,
    left: usize,
}

impl RunReader {
    fn next(&mut self) -> io::Result<Option<(KeyHash, u64)>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let mut e = [0u8; ENTRY];
        self.input.read_exact(&mut e)?;
        Ok(Some(decode(&e)))
    }
}

/// Writes `entries` (sorted by key, `n` of them) to `file` and builds the run's index and
/// its filter of `filter_bytes` on the way.
fn write_run(
    file: File,
    n: usize,
    filter_bytes: usize,
    entries: impl Iterator<Item = io::Result<(KeyHash, u64)>>,
) -> io::Result<Run> {
    let mut out = BufWriter::with_capacity(64 * 1024, file);
    let mut bloom = Bloom::with_bytes(filter_bytes, n);
    let mut index = Vec::with_capacity(n.div_ceil(BLOCK));
    let mut written = 0;
    for entry in entries {
        let (key, content) = entry?;
        if written % BLOCK == 0 {
            index.push(key);
        }
        bloom.insert(key);
        encode(&mut out, key, content)?;
        written += 1;
    }
    let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
    Ok(Run {
        file,
        entries: written,
        index,
        bloom,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(set: &KeySet, i: usize) -> KeyHash {
        let s = i.to_string();
        set.hasher().hash([s.as_str(), "line"].into_iter())
    }

    #[test]
    fn every_key_is_found_with_its_content_after_many_spills_and_merges() {
        let dir = tempfile::tempdir().unwrap();
        let mut set = KeySet::new(KeyBudget {
            memory_entries: 700,
            spill_dir: Some(dir.path().to_path_buf()),
            ..KeyBudget::default()
        });
        for i in 0..20_000 {
            let k = key(&set, i);
            assert_eq!(set.get(k).unwrap(), None, "key {i} before insert");
            set.insert(k, i as u64 * 7).unwrap();
        }
        assert_eq!(set.len(), 20_000);
        assert!(set.spilled() > 19_000, "{}", set.spilled());
        assert!(set.runs() <= MAX_RUNS, "{} runs", set.runs());
        for i in 0..20_000 {
            assert_eq!(
                set.get(key(&set, i)).unwrap(),
                Some(i as u64 * 7),
                "key {i}"
            );
        }
        for i in 20_000..30_000 {
            assert_eq!(
                set.get(key(&set, i)).unwrap(),
                None,
                "key {i} never inserted"
            );
        }
    }

    #[test]
    fn the_split_between_key_parts_is_part_of_the_key() {
        let set = KeySet::new(KeyBudget::default());
        let h = set.hasher();
        assert_ne!(
            h.hash(["a", "bc"].into_iter()),
            h.hash(["ab", "c"].into_iter())
        );
        assert_eq!(
            h.hash(["a", "bc"].into_iter()),
            h.hash(["a", "bc"].into_iter())
        );
    }

    #[test]
    fn what_spilled_runs_keep_in_memory_is_a_few_bytes_per_key() {
        let mut set = KeySet::new(KeyBudget {
            memory_entries: 10_000,
            ..KeyBudget::default()
        });
        for i in 0..100_000 {
            let k = key(&set, i);
            set.insert(k, 0).unwrap();
        }
        let per_key = set.resident_run_bytes() as f64 / set.spilled() as f64;
        assert!(per_key < 1.5, "{per_key} bytes per spilled key");
    }

    #[test]
    fn the_filter_turns_away_almost_every_absent_key() {
        let mut bloom = Bloom::with_bytes(10_000 * BLOOM_BITS_PER_KEY / 8, 10_000);
        let set = KeySet::new(KeyBudget::default());
        for i in 0..10_000 {
            bloom.insert(key(&set, i));
        }
        assert!((0..10_000).all(|i| bloom.may_contain(key(&set, i))));
        let false_hits = (10_000..110_000)
            .filter(|i| bloom.may_contain(key(&set, *i)))
            .count();
        assert!(false_hits < 3_000, "{false_hits} of 100,000 absent keys");
    }

    #[test]
    fn the_filters_stay_within_their_budget_however_many_keys_spill_and_every_key_is_still_found() {
        // 8 KiB of filters for 60,000 spilled keys: 10 bits per key would take 73 KiB.
        let budget = KeyBudget {
            memory_entries: 500,
            filter_bytes: 8 << 10,
            ..KeyBudget::default()
        };
        let mut set = KeySet::new(budget);
        let mut peak = 0;
        for i in 0..60_000 {
            let k = key(&set, i);
            assert_eq!(set.get(k).unwrap(), None, "key {i} before insert");
            set.insert(k, i as u64).unwrap();
            let filters: usize = set.runs.iter().map(|r| r.bloom.bytes()).sum();
            peak = peak.max(filters);
        }
        assert!(peak <= 8 << 10, "filters peaked at {peak} bytes");
        assert!(set.spilled() > 59_000, "{}", set.spilled());
        for i in (0..60_000).step_by(7) {
            assert_eq!(set.get(key(&set, i)).unwrap(), Some(i as u64), "key {i}");
        }
        for i in 60_000..62_000 {
            assert_eq!(
                set.get(key(&set, i)).unwrap(),
                None,
                "key {i} never inserted"
            );
        }
    }

    #[test]
    fn a_filter_with_fewer_bits_per_key_uses_fewer_probes_and_still_turns_away_most_misses() {
        let set = KeySet::new(KeyBudget::default());
        // 4 bits per key: 3 probes, about 15 % false hits for a blocked filter.
        let mut bloom = Bloom::with_bytes(10_000 * 4 / 8, 10_000);
        assert_eq!(bloom.probes, 3);
        for i in 0..10_000 {
            bloom.insert(key(&set, i));
        }
        assert!((0..10_000).all(|i| bloom.may_contain(key(&set, i))));
        let false_hits = (10_000..110_000)
            .filter(|i| bloom.may_contain(key(&set, *i)))
            .count();
        assert!(false_hits < 25_000, "{false_hits} of 100,000 absent keys");
    }
}
