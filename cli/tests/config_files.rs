//! `--config` reads appsettings.json as .NET writes and reads it, and refuses, at once and by
//! name, a path that is not a regular file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use certless_emulator::RunningEmulator;

mod common;
use common::*;

/// The identity template's appsettings.json for the emulator, as Visual Studio saves it (CRLF).
fn template(emu: &RunningEmulator) -> String {
    emu.identity_template_appsettings().replace('\n', "\r\n")
}

fn token(emu: &RunningEmulator, config: &Path) -> Output {
    certless()
        .args(["token", "--config"])
        .arg(config)
        .args(["--scope", "https://contoso.sharepoint.com/.default"])
        .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", emu.imds_host())
        .output()
        .unwrap()
}

#[test]
fn token_reads_the_identity_template_as_visual_studio_and_notepad_save_it() {
    let emu = emulator();
    let dir = scratch_dir("template");
    let text = template(&emu);
    let utf8_bom = [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat();
    let mut utf16_le = vec![0xFF, 0xFE];
    utf16_le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    for (name, bytes) in [("vs.json", utf8_bom), ("notepad.json", utf16_le)] {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = token(&emu, &path);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let token = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            emu.verify_access_token(token.trim()).unwrap()["roles"][0],
            "Sites.Selected",
            "{name}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_config_path_that_is_not_a_regular_file_is_refused_by_name() {
    let emu = emulator();
    let dir = scratch_dir("special");
    let mut paths = vec![(dir.clone(), "is a directory")];
    if cfg!(unix) {
        let fifo = dir.join("fifo");
        assert!(
            Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        paths.push((fifo, "is a FIFO (named pipe)"));
        paths.push((PathBuf::from("/dev/zero"), "is a character device"));
    }
    for (path, what) in paths {
        let out = token(&emu, &path);
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("{} {what}, not a regular file", path.display())),
            "{stderr}"
        );

        let out = certless()
            .args(["doctor", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        assert_ne!(out.status.code(), Some(0));
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(all.contains("not a regular file"), "{all}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
