//! The options object of `new Credential(options)`, handed to core's `CredentialOptions` by name
//! (core's `config/options.rs`): names (`tenantId`, `connectTimeoutMs`, ...), values and
//! combinations are checked there, so an option added to core is an option here with core's rules
//! and error text. This file only converts JS values: a string is text, a number a number, a
//! boolean a flag, `undefined` and `null` leave the option unset, and `environment`, an object of
//! strings, replaces the process's environment.

use certless::{CredentialOptions, Error, ErrorCode, OptionValue};
use napi::bindgen_prelude::{Object, Unknown};
use napi::{JsValue, ValueType};

/// Core's options from a JS object. `Err` is a JS-level failure (a throwing getter); `Ok(Err)` is
/// what core refused.
pub(crate) fn credential_options(
    object: &Object<'_>,
) -> napi::Result<certless::Result<CredentialOptions>> {
    let mut options = CredentialOptions::new();
    for name in Object::keys(object)? {
        let Some(value) = object.get::<Unknown>(&name)? else {
            continue;
        };
        let set = match value.get_type()? {
            ValueType::Undefined | ValueType::Null => continue,
            _ if name == "environment" => environment(&mut options, &value)?,
            kind => {
                let value = option_value(&value, kind)?;
                options.set(&name, value)
            }
        };
        if let Err(e) = set {
            return Ok(Err(e));
        }
    }
    Ok(Ok(options))
}

fn option_value(value: &Unknown<'_>, kind: ValueType) -> napi::Result<OptionValue> {
    Ok(match kind {
        ValueType::String => {
            // SAFETY: `get_type` reported a string, the type this cast converts from.
            OptionValue::Text(unsafe { value.cast::<String>() }?)
        }
        ValueType::Number => {
            // SAFETY: `get_type` reported a number.
            OptionValue::Number(unsafe { value.cast::<f64>() }?)
        }
        ValueType::Boolean => {
            // SAFETY: `get_type` reported a boolean.
            OptionValue::Flag(unsafe { value.cast::<bool>() }?)
        }
        ValueType::Object if value.is_array()? => OptionValue::Other("an array".to_string()),
        ValueType::Object => OptionValue::Other("an object".to_string()),
        ValueType::Function => OptionValue::Other("a function".to_string()),
        ValueType::Symbol => OptionValue::Other("a symbol".to_string()),
        _ => OptionValue::Other("a bigint".to_string()),
    })
}

/// `environment: { NAME: 'value' }`: these variables, and none of the process's, are what the
/// credential reads.
fn environment(
    options: &mut CredentialOptions,
    value: &Unknown<'_>,
) -> napi::Result<certless::Result<()>> {
    let not_strings = || {
        Error::new(
            ErrorCode::InvalidArgument,
            "environment takes an object of strings (like process.env), or undefined for the \
             process's environment",
        )
    };
    if value.get_type()? != ValueType::Object || value.is_array()? {
        return Ok(Err(not_strings()));
    }
    // SAFETY: `get_type` reported an object.
    let object = unsafe { value.cast::<Object>() }?;
    options.isolate_environment();
    for name in Object::keys(&object)? {
        match object.get::<Unknown>(&name)? {
            Some(v) if v.get_type()? == ValueType::String => {
                // SAFETY: `get_type` reported a string.
                let v = unsafe { v.cast::<String>() }?;
                if let Err(e) = options.set_environment_variable(&name, &v) {
                    return Ok(Err(e));
                }
            }
            _ => return Ok(Err(not_strings())),
        }
    }
    Ok(Ok(()))
}
