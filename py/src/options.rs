//! The constructors' keyword arguments, handed to core's `CredentialOptions` by name (core's
//! `config/options.rs`): every name, value and combination is checked there, so an option added
//! to core is a keyword here with core's rules and error text. This file only converts Python
//! values: `str` and `os.PathLike` are text, `int` and `float` numbers, `bool` a flag (never a
//! number, though Python's `bool` is an `int`), `None` leaves the option unset, and
//! `environment`, a mapping, replaces the process's environment.

use std::path::PathBuf;

use certless::{CredentialOptions, OptionValue};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyMapping, PyString};

use crate::error::{invalid_argument, to_pyerr};

static PATH_LIKE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Core's options from the keyword arguments of `Credential(...)` or `diagnose(...)`. A name or
/// value core refuses raises its `ConfigurationError` (an unknown name with the one probably
/// meant).
pub(crate) fn credential_options(
    py: Python<'_>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<CredentialOptions> {
    let mut options = CredentialOptions::new();
    let Some(kwargs) = kwargs else {
        return Ok(options);
    };
    for (name, value) in kwargs.iter() {
        let name: String = name.extract()?;
        if value.is_none() {
            continue;
        }
        let set = if name == "environment" {
            environment(&mut options, &value)?
        } else {
            let value = option_value(py, &value)?;
            options.set(&name, value)
        };
        set.map_err(|e| to_pyerr(py, &e))?;
    }
    Ok(options)
}

fn option_value(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<OptionValue> {
    // `bool` first: it is a subclass of `int`.
    if let Ok(flag) = value.cast::<PyBool>() {
        return Ok(OptionValue::Flag(flag.is_true()));
    }
    if value.is_instance_of::<PyInt>() || value.is_instance_of::<PyFloat>() {
        return Ok(OptionValue::Number(value.extract()?));
    }
    if value.is_instance_of::<PyString>() {
        return Ok(OptionValue::Text(value.extract()?));
    }
    if value.is_instance(PATH_LIKE.import(py, "os", "PathLike")?)? {
        let path: PathBuf = value.extract()?;
        return Ok(match path.into_os_string().into_string() {
            Ok(text) => OptionValue::Text(text),
            Err(_) => OptionValue::Other("a path that is not valid UTF-8".to_string()),
        });
    }
    Ok(OptionValue::Other(format!(
        "a value of type {}",
        value.get_type().name()?
    )))
}

/// `environment={...}`: these variables, and none of the process's, are what the credential reads.
fn environment(
    options: &mut CredentialOptions,
    value: &Bound<'_, PyAny>,
) -> PyResult<certless::Result<()>> {
    let not_a_mapping = || {
        invalid_argument(
            "environment takes a mapping of str to str (like os.environ), or None for the \
             process's environment",
        )
    };
    let Ok(mapping) = value.cast::<PyMapping>() else {
        return Ok(Err(not_a_mapping()));
    };
    options.isolate_environment();
    for item in mapping.items()?.iter() {
        let Ok((name, value)) = item.extract::<(String, String)>() else {
            return Ok(Err(not_a_mapping()));
        };
        if let Err(e) = options.set_environment_variable(&name, &value) {
            return Ok(Err(e));
        }
    }
    Ok(Ok(()))
}
