//! The caller's scopes as `&str`, borrowed from the Python strings: the cache-hit path reads them
//! without copying or allocating (normalising them is core's job, `certless::normalize_scopes`).

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};

fn borrow_str<'a>(item: &'a Bound<'_, PyAny>) -> PyResult<&'a str> {
    let s = item.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!(
            "scopes must be str, not {}",
            item.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    let mut size: ffi::Py_ssize_t = 0;
    // SAFETY: `s` is a str object kept alive by the borrow `'a`; CPython owns the returned buffer
    // for the object's lifetime and it holds `size` bytes of valid UTF-8.
    unsafe {
        // In the stable ABI since 3.10, the module's floor: the string's UTF-8 form, cached in
        // the object, so the pointer is valid while the string lives.
        let data = ffi::PyUnicode_AsUTF8AndSize(s.as_ptr(), &mut size);
        if data.is_null() {
            return Err(PyErr::fetch(s.py()));
        }
        let bytes = std::slice::from_raw_parts(data.cast::<u8>(), size as usize);
        Ok(std::str::from_utf8_unchecked(bytes))
    }
}

/// Runs `f` with the scopes of `*scopes`. One scope (the usual case) needs no allocation.
pub(crate) fn with_scopes<R>(
    scopes: &Bound<'_, PyTuple>,
    f: impl FnOnce(&[&str]) -> R,
) -> PyResult<R> {
    let items: Vec<Bound<'_, PyAny>> = match scopes.len() {
        1 => {
            let item = scopes.get_item(0)?;
            let one = [borrow_str(&item)?];
            return Ok(f(&one));
        }
        _ => scopes.iter().collect(),
    };
    let borrowed = items
        .iter()
        .map(borrow_str)
        .collect::<PyResult<Vec<&str>>>()?;
    Ok(f(&borrowed))
}

/// Owned copies, for a request that outlives the call (the async path).
pub(crate) fn to_owned(scopes: &[&str]) -> Vec<String> {
    scopes.iter().map(|s| s.to_string()).collect()
}
