//! How generated values are written as text, straight into byte buffers: ids (a letter and
//! zero-padded digits, e.g. `C000042`), integers, and amounts in cents as two-decimal numbers.
//! Wider numbers than an id's width are written in full, never cut.

/// Appends `n` in decimal, left-padded with zeros to `width` digits.
pub(super) fn push_padded(buf: &mut Vec<u8>, mut n: u64, width: usize) {
    let digits = n
        .checked_ilog10()
        .map_or(1, |log| log as usize + 1)
        .max(width);
    let start = buf.len();
    buf.resize(start + digits, b'0');
    for slot in buf[start..].iter_mut().rev() {
        if n == 0 {
            break;
        }
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Appends a number below 100 as two digits.
pub(super) fn push_two(buf: &mut Vec<u8>, n: u64) {
    buf.extend_from_slice(&[b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8]);
}

/// Appends a signed integer in decimal, without padding.
pub(super) fn push_int(buf: &mut Vec<u8>, n: i64) {
    if n < 0 {
        buf.push(b'-');
    }
    push_padded(buf, n.unsigned_abs(), 1);
}

/// Appends an amount in cents as a decimal with two places (`-12.5` cents never occur).
pub(super) fn push_cents(buf: &mut Vec<u8>, cents: i64) {
    if cents < 0 {
        buf.push(b'-');
    }
    let abs = cents.unsigned_abs();
    push_padded(buf, abs / 100, 1);
    buf.push(b'.');
    push_padded(buf, abs % 100, 2);
}

/// Appends an id: `prefix` then `n` zero-padded to `width` digits (`C000042`).
pub(super) fn push_id(buf: &mut Vec<u8>, prefix: u8, n: u64, width: usize) {
    buf.push(prefix);
    push_padded(buf, n, width);
}

/// An amount in cents as the JSON number the files and the report carry (`1999` → `19.99`).
pub(super) fn cents_to_f64(cents: i64) -> f64 {
    cents as f64 / 100.0
}

/// [`push_id`] into a new string.
pub(super) fn format_id(prefix: u8, n: u64, width: usize) -> String {
    let mut buf = Vec::with_capacity(width + 1);
    push_id(&mut buf, prefix, n, width);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Digits after the `C` of a customer id (`C000042`).
pub(super) const CUSTOMER_ID_WIDTH: usize = 6;
/// Digits after the `P` of a product id (`P00042`).
pub(super) const PRODUCT_ID_WIDTH: usize = 5;
/// Digits after the `T` of a transaction id (`T0000042`).
pub(super) const TRANSACTION_ID_WIDTH: usize = 7;
/// Digits after the `S` of a clickstream session id.
pub(super) const SESSION_ID_WIDTH: usize = 8;
/// Digits after the `E` of a clickstream event id.
pub(super) const EVENT_ID_WIDTH: usize = 9;
