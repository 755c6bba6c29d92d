//! Unix specifics: group ownership of the secret file and the socket, and binding the socket so
//! that it is never, even for an instant, more open than asked.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The id of group `name` (or a number).
pub(crate) fn group_id(name: &str) -> Result<libc::gid_t, String> {
    if let Ok(gid) = name.parse::<libc::gid_t>() {
        return Ok(gid);
    }
    let c_name = CString::new(name).map_err(|_| format!("group name '{name}' has a NUL"))?;
    // SAFETY: `libc::group` is plain C data (integers and pointers); all zeros is a valid value,
    // and getgrnam_r overwrites it.
    let mut group: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::group = std::ptr::null_mut();
    // SAFETY: every pointer refers to live memory of the stated size; getgrnam_r writes only
    // into `group` and `buf`, and sets `result` to `&mut group` or NULL.
    let rc = unsafe {
        libc::getgrnam_r(
            c_name.as_ptr(),
            &mut group,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return Err(format!(
            "there is no group '{name}' (create it: groupadd {name}; add users: usermod -aG {name} USER)"
        ));
    }
    Ok(group.gr_gid)
}

/// Gives `path` to `uid` and `gid` (a file that replaces another keeps its owner), when they are
/// not already its owner and group.
pub(crate) fn chown(path: &Path, uid: u32, gid: u32) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let current = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if current.uid() == uid && current.gid() == gid {
        return Ok(());
    }
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("the path {} has a NUL", path.display()))?;
    // SAFETY: a valid NUL-terminated path.
    let rc = unsafe { libc::chown(c_path.as_ptr(), uid, gid) };
    if rc != 0 {
        return Err(format!(
            "cannot give {} to the owner of the file it replaces (uid {uid}): {} (run this as \
             root or as the broker's account)",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Gives `path` to group `group`, keeping its owner.
pub(crate) fn chown_group(path: &Path, group: &str) -> Result<(), String> {
    let gid = group_id(group)?;
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("the path {} has a NUL", path.display()))?;
    // SAFETY: a valid NUL-terminated path; uid -1 leaves the owner unchanged.
    let rc = unsafe { libc::chown(c_path.as_ptr(), libc::uid_t::MAX, gid) };
    if rc != 0 {
        return Err(format!(
            "cannot give {} to group '{group}': {} (the broker's account must be a member of it)",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Binds the Unix socket at `path` with `mode` (and `group`): created under a umask that lets
/// nobody but the owner in, then opened up to `mode`. A stale socket left by a broker that died
/// is replaced; a live one (another broker answering) is an error.
pub(crate) fn bind_socket(
    path: &Path,
    mode: u32,
    group: Option<&str>,
) -> Result<tokio::net::UnixListener, String> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        if !meta.file_type().is_socket() {
            return Err(format!(
                "{} exists and is not a socket; refusing to replace it",
                path.display()
            ));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(format!(
                "another broker already answers on {}: stop it first",
                path.display()
            ));
        }
        std::fs::remove_file(path)
            .map_err(|e| format!("cannot remove the stale socket {}: {e}", path.display()))?;
    }
    // SAFETY: umask only changes this process's file-creation mask; it is restored at once.
    let old = unsafe { libc::umask(0o177) };
    let bound = tokio::net::UnixListener::bind(path);
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    let listener = bound.map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
    if let Some(group) = group {
        chown_group(path, group)?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("cannot set the mode of {}: {e}", path.display()))?;
    Ok(listener)
}

/// `uid 1000, pid 4242` of the process at the other end of a socket connection, for logs.
pub(crate) fn peer(stream: &tokio::net::UnixStream) -> String {
    match stream.peer_cred() {
        Ok(cred) => match cred.pid() {
            Some(pid) => format!("unix socket, uid {}, pid {pid}", cred.uid()),
            None => format!("unix socket, uid {}", cred.uid()),
        },
        Err(_) => "unix socket".to_string(),
    }
}
