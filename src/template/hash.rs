//! The deterministic hashes template functions promise: `uniqueString` (ARM's MurmurHash64 variant,
//! base32-encoded to 13 characters), `guid` (an RFC 4122 version-5 UUID over ARM's fixed namespace
//! `11fb06fb-712d-4ddd-98c7-e71bbd588830`, SHA-1 of the arguments joined with '-') and the template hash.
//! Pure: no I/O.

/// ARM's MurmurHash64: two interleaved 32-bit Murmur3 lanes, seed 0.
pub fn murmur64(data: &[u8]) -> u64 {
    const C1: u32 = 0x239b_961b;
    const C2: u32 = 0xab0e_9789;
    const C3: u32 = 0x38b3_4ae5;
    const C4: u32 = 0xa1e3_8b93;
    let len = data.len();
    let (mut h1, mut h2) = (0u32, 0u32);
    let word = |b: &[u8]| -> u32 {
        b.iter()
            .enumerate()
            .fold(0u32, |acc, (i, x)| acc | (u32::from(*x) << (8 * i)))
    };
    let mut i = 0;
    while i + 8 <= len {
        let mut k1 = word(&data[i..i + 4]);
        let mut k2 = word(&data[i + 4..i + 8]);
        k1 = k1.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h1 ^= k1;
        h1 = h1
            .rotate_left(19)
            .wrapping_add(h2)
            .wrapping_mul(5)
            .wrapping_add(0x561c_cd1b);
        k2 = k2.wrapping_mul(C2).rotate_left(17).wrapping_mul(C1);
        h2 ^= k2;
        h2 = h2
            .rotate_left(13)
            .wrapping_add(h1)
            .wrapping_mul(5)
            .wrapping_add(0x0bca_a747);
        i += 8;
    }
    let tail = len - i;
    if tail > 0 {
        let k1 = word(&data[i..i + tail.min(4)]);
        h1 ^= k1.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        if tail > 4 {
            let k2 = word(&data[i + 4..len]);
            h2 ^= k2.wrapping_mul(C2).rotate_left(17).wrapping_mul(C1);
        }
    }
    let _ = (C3, C4);
    h1 ^= len as u32;
    h2 ^= len as u32;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    (u64::from(h2) << 32) | u64::from(h1)
}

fn fmix(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// `uniqueString(a, b, …)`: the arguments joined with '-', hashed, 13 base32 characters.
pub fn unique_string(parts: &[String]) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut h = murmur64(parts.join("-").as_bytes());
    let mut out = String::with_capacity(13);
    for _ in 0..13 {
        out.push(ALPHABET[(h >> 59) as usize] as char);
        h <<= 5;
    }
    out
}

/// `guid(a, b, …)`: UUID v5 of the arguments joined with '-' in ARM's namespace.
pub fn guid(parts: &[String]) -> String {
    const NS: [u8; 16] = [
        0x11, 0xfb, 0x06, 0xfb, 0x71, 0x2d, 0x4d, 0xdd, 0x98, 0xc7, 0xe7, 0x1b, 0xbd, 0x58, 0x88,
        0x30,
    ];
    let mut data = NS.to_vec();
    data.extend_from_slice(parts.join("-").as_bytes());
    let h = sha1(&data);
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b).hyphenated().to_string()
}

/// The deployment's `templateHash`: a decimal rendering of the template's hash.
pub fn template_hash(template_json: &str) -> String {
    murmur64(template_json.as_bytes()).to_string()
}

/// SHA-1 (FIPS 180-4), for UUID v5 only.
pub fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xefcd_ab89,
        0x98ba_dcfe,
        0x1032_5476,
        0xc3d2_e1f0,
    ];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for chunk in msg.chunks(64) {
        let mut w = [0u32; 80];
        for (i, word) in chunk.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let (mut a, mut b, mut c, mut d, mut e) = (h[0], h[1], h[2], h[3], h[4]);
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5a82_7999),
                20..=39 => (b ^ c ^ d, 0x6ed9_eba1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8f1b_bcdc),
                _ => (b ^ c ^ d, 0xca62_c1d6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        h[0] = h[0].wrapping_add(a);
        h[1] = h[1].wrapping_add(b);
        h[2] = h[2].wrapping_add(c);
        h[3] = h[3].wrapping_add(d);
        h[4] = h[4].wrapping_add(e);
    }
    let mut out = [0u8; 20];
    for (i, v) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&v.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn sha1_vectors() {
        assert_eq!(
            hex(&sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(hex(&sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    }

    #[test]
    fn unique_string_is_13_base32_characters() {
        // The algorithm follows Azure.Deployments.Expression's MurmurHash64 (decompiled in public
        // repositories); no value observed from live ARM is available offline to pin it further.
        let u = unique_string(&["/subscriptions/s/resourceGroups/rg".into()]);
        assert_eq!(u.len(), 13);
        assert!(u
            .chars()
            .all(|c| c.is_ascii_lowercase() || ('2'..='7').contains(&c)));
        assert_eq!(
            u,
            unique_string(&["/subscriptions/s/resourceGroups/rg".into()])
        );
        assert_ne!(
            u,
            unique_string(&["/subscriptions/s/resourceGroups/RG".into()])
        );
        assert_eq!(
            unique_string(&["a".into(), "b".into()]),
            unique_string(&["a-b".into()])
        );
    }

    #[test]
    fn guid_is_uuid_v5_in_arms_namespace() {
        let g = guid(&["Relecloud Managed Services".into()]);
        // Python: uuid.uuid5(UUID('11fb06fb-712d-4ddd-98c7-e71bbd588830'), 'Relecloud Managed Services')
        assert_eq!(g, "a284898a-fc04-581d-aca0-047861d06160");
        assert_eq!(
            guid(&["a".into(), "b".into()]),
            "2d796349-8c7e-55ec-9624-54ece82ed031"
        );
        assert_ne!(g, guid(&["Relecloud".into(), "Managed Services".into()]));
    }
}
