//! A shared-cache entry as Redis hands it back: bytes anyone with access to Redis may have
//! written. Properties: no panic; bytes that were not sealed under the key never open (a forged or
//! altered entry is a miss); what is sealed opens to itself, and one flipped bit anywhere in it
//! makes it not open; any plaintext decodes or is refused without panicking.
#![no_main]

use certless::fuzzing::{shared_cache_decode, shared_cache_open, shared_cache_seal};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assert!(
        shared_cache_open(data).is_none(),
        "only what was sealed under the key opens"
    );
    let _ = shared_cache_decode(data);
    let sealed = shared_cache_seal(data);
    assert_eq!(shared_cache_open(&sealed).as_deref(), Some(data));
    if !sealed.is_empty() {
        let at = data.first().map_or(0, |b| usize::from(*b)) % sealed.len();
        let mut altered = sealed.clone();
        altered[at] ^= 0x01;
        assert!(shared_cache_open(&altered).is_none(), "byte {at} altered");
    }
});
