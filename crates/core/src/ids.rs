//! Identifiers and content digests every part of the crate shares (the layers' object ids,
//! the stores' etags, fingerprints): one hex encoding and one truncated SHA-256, with no
//! dependency on a port or an adapter, so the ports and the adapters both use them.

use sha2::{Digest, Sha256};

/// Lower-case hex of `bytes`, two digits a byte.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The first `bytes` bytes (at most 32) of the SHA-256 of `data`, as hex: `2 × bytes` digits.
pub fn sha256_hex(data: &[u8], bytes: usize) -> String {
    let digest = Sha256::digest(data);
    hex(&digest[..bytes.min(digest.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_writes_two_lower_case_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xab, 0xff]), "000fabff");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn a_truncated_digest_is_the_start_of_the_whole_one() {
        let whole = sha256_hex(b"abc", 32);
        assert_eq!(
            whole,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sha256_hex(b"abc", 8), whole[..16]);
        assert_eq!(sha256_hex(b"abc", 99), whole);
    }
}
