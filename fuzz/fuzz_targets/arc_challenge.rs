//! The Azure Arc agent's 401 `WWW-Authenticate: Basic realm=<path>` challenge, which comes from
//! whatever listens on the endpoint. Properties: no panic; the only key ever read is a `.key`
//! file directly in the agent's key directory and within the size limit — never a file beside
//! it, below it or too large (CVE-2024-35255) — and no error repeats a key's contents.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use certless::fuzzing::arc_key_from_challenge;
use certless_fuzz::check_error;
use libfuzzer_sys::fuzz_target;

const INSIDE: &str = "inside-key-contents";
const BESIDE: &str = "BESIDE-THE-DIRECTORY";
const BELOW: &str = "BELOW-THE-DIRECTORY";

/// `<tmp>/certless-fuzz-arc/tokens` holding `agent.key`; `beside.key` next to that directory,
/// `sub/below.key` under it, and `large.key` over the size limit. Written afresh by every run.
fn key_directory() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = std::env::temp_dir().join("certless-fuzz-arc");
        let tokens = root.join("tokens");
        std::fs::create_dir_all(tokens.join("sub")).unwrap();
        std::fs::write(tokens.join("agent.key"), INSIDE).unwrap();
        std::fs::write(tokens.join("large.key"), "L".repeat(5000)).unwrap();
        std::fs::write(tokens.join("sub").join("below.key"), BELOW).unwrap();
        std::fs::write(root.join("beside.key"), BESIDE).unwrap();
        tokens
    })
}

fuzz_target!(|data: &[u8]| {
    match arc_key_from_challenge(data, key_directory()) {
        Ok(key) => assert_eq!(
            key.expose(),
            INSIDE,
            "a key was read from outside the directory"
        ),
        Err(e) => {
            // The challenge itself may spell them: only contents it does not name must not show.
            let header = String::from_utf8_lossy(data);
            let contents = [INSIDE, BESIDE, BELOW, "LLLLLLLL"];
            let unnamed: Vec<&str> = contents
                .into_iter()
                .filter(|c| !header.contains(c))
                .collect();
            check_error(&e, &unnamed);
        }
    }
});
