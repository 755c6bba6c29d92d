//! AADSTS codes quoted in an Entra description (`certless::aadsts` extraction and lookup).
//! Properties: no panic; exactly the codes quoted, in order of first appearance, each once; a
//! known code's entry is that code's and says what to do.
#![no_main]

use certless::aadsts::lookup;
use certless::fuzzing::aadsts_codes_in_text;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let codes = aadsts_codes_in_text(&text);
    // The same reading, written another way: the digits after each "AADSTS".
    let mut expected: Vec<u32> = Vec::new();
    for (at, marker) in text.match_indices("AADSTS") {
        let digits: String = text[at + marker.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(code) = digits.parse::<u32>()
            && !expected.contains(&code)
        {
            expected.push(code);
        }
    }
    assert_eq!(codes, expected);
    for code in codes {
        if let Some(info) = lookup(code) {
            assert_eq!(info.code, code);
            assert!(!info.meaning.is_empty() && !info.remedy.is_empty());
        }
    }
});
