//! `certless::Credential` for Python: `SyncCredential` and `AsyncCredential`, the native bases of
//! `certless.Credential` and `certless.aio.Credential`.
//!
//! A cache hit is answered by `Credential::cached_token_with` (core decides whether the request may
//! use the cache, and which tenant's) with the GIL held and without entering any runtime; a miss
//! waits on core's runtime with the GIL released (sync) or bridges to the caller's event loop
//! (async, `runtime.rs`).

use std::sync::{Arc, Mutex};

use certless::{AccessToken, Credential, TokenRequestOptions};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::error::to_pyerr;
use crate::{exit, glue, options, runtime, scope};

/// Which azure-core type a token is handed out as.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `AccessToken(token, expires_on)` for `get_token`.
    AccessToken,
    /// `AccessTokenInfo(token, expires_on, token_type=, refresh_on=)` for `get_token_info`.
    AccessTokenInfo,
}

/// The core credential plus the Python objects last handed out for its tokens.
pub(crate) struct Shared {
    pub credential: Credential,
    objects: Mutex<Vec<TokenObjects>>,
}

/// The Python objects made for one core token. Building an azure-core `AccessToken` costs more than
/// the whole cache lookup, so a token that core serves again from its cache is handed out as the
/// same (immutable) object. Whether a token is still valid is core's decision alone: this is only
/// a conversion memo keyed by the identity of core's token.
struct TokenObjects {
    token: AccessToken,
    access_token: Option<Py<PyAny>>,
    access_token_info: Option<Py<PyAny>>,
}

impl TokenObjects {
    fn slot(&mut self, shape: Shape) -> &mut Option<Py<PyAny>> {
        match shape {
            Shape::AccessToken => &mut self.access_token,
            Shape::AccessTokenInfo => &mut self.access_token_info,
        }
    }
}

/// Tokens of distinct (tenant, scope) pairs whose objects are kept; older ones are rebuilt on use.
const OBJECTS_KEPT: usize = 16;

/// Core hands out clones of one `AccessToken` while it is cached; the token text sits behind one
/// `Arc`, so its address identifies the cached token. `objects` holds a clone, so the address
/// cannot be reused by another token while the entry exists.
fn same_token(a: &AccessToken, b: &AccessToken) -> bool {
    std::ptr::eq(a.token.expose().as_ptr(), b.token.expose().as_ptr())
        && a.token.len() == b.token.len()
        && a.expires_on == b.expires_on
}

impl Shared {
    fn new(credential: Credential) -> Self {
        Shared {
            credential,
            objects: Mutex::new(Vec::new()),
        }
    }

    /// The Python object for `token`. The lock is never held while Python code runs (building the
    /// object, dropping old ones), so another thread that holds the GIL cannot wait on it.
    pub(crate) fn token_object(
        &self,
        py: Python<'_>,
        token: AccessToken,
        shape: Shape,
    ) -> PyResult<Py<PyAny>> {
        {
            let mut objects = self.objects.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(o) = objects
                .iter_mut()
                .find(|o| same_token(&o.token, &token))
                .and_then(|o| o.slot(shape).as_ref())
            {
                return Ok(o.clone_ref(py));
            }
        }
        let object = build_token_object(py, &token, shape)?;
        let evicted = {
            let mut objects = self.objects.lock().unwrap_or_else(|e| e.into_inner());
            match objects.iter_mut().find(|o| same_token(&o.token, &token)) {
                Some(entry) => {
                    entry
                        .slot(shape)
                        .get_or_insert_with(|| object.clone_ref(py));
                    None
                }
                None => {
                    let evicted = (objects.len() >= OBJECTS_KEPT).then(|| objects.remove(0));
                    let mut entry = TokenObjects {
                        token,
                        access_token: None,
                        access_token_info: None,
                    };
                    *entry.slot(shape) = Some(object.clone_ref(py));
                    objects.push(entry);
                    evicted
                }
            }
        };
        drop(evicted);
        Ok(object)
    }

    fn forget_objects(&self) {
        let old = std::mem::take(&mut *self.objects.lock().unwrap_or_else(|e| e.into_inner()));
        drop(old);
    }

    /// Sync: a cached token with the GIL held, else a wait on core's runtime with the GIL released.
    fn get_token_sync(
        &self,
        py: Python<'_>,
        scopes: &Bound<'_, PyTuple>,
        options: TokenRequestOptions,
        shape: Shape,
    ) -> PyResult<Py<PyAny>> {
        let token = scope::with_scopes(scopes, |scopes| {
            // Core decides whether the request may be answered from the cache (not with claims)
            // and from which tenant's.
            if let Some(token) = self.credential.cached_token_with(scopes, &options)? {
                return Ok(token);
            }
            let credential = &self.credential;
            py.detach(|| credential.get_token_blocking_after_miss(scopes, &options))
        })?
        .map_err(|e| to_pyerr(py, &e))?;
        self.token_object(py, token, shape)
    }

    /// Async: a cached token as an already-completed awaitable, else an asyncio future of the
    /// running loop that core's runtime completes.
    fn get_token_async(
        self: &Arc<Self>,
        py: Python<'_>,
        scopes: &Bound<'_, PyTuple>,
        options: TokenRequestOptions,
        shape: Shape,
    ) -> PyResult<Py<PyAny>> {
        if exit::begun() {
            // An `atexit` hook awaiting a token: the runtime may no longer call into Python,
            // so the request is answered here, on this thread.
            let value = self.get_token_sync(py, scopes, options, shape)?;
            return Ok(Py::new(py, runtime::Ready::new(value))?.into_any());
        }
        scope::with_scopes(scopes, |scopes| {
            if let Some(token) = self
                .credential
                .cached_token_with(scopes, &options)
                .map_err(|e| to_pyerr(py, &e))?
            {
                let value = self.token_object(py, token, shape)?;
                return Ok(Py::new(py, runtime::Ready::new(value))?.into_any());
            }
            runtime::start(
                py,
                Arc::clone(self),
                scope::to_owned(scopes),
                options,
                shape,
            )
        })?
    }
}

fn build_token_object(py: Python<'_>, token: &AccessToken, shape: Shape) -> PyResult<Py<PyAny>> {
    let glue = glue::get(py)?;
    let object = match shape {
        Shape::AccessToken => glue
            .access_token
            .bind(py)
            .call1((token.token.expose(), token.expires_on))?,
        Shape::AccessTokenInfo => {
            let kwargs = PyDict::new(py);
            kwargs.set_item("token_type", &*token.token_type)?;
            kwargs.set_item("refresh_on", token.refresh_on)?;
            glue.access_token_info
                .bind(py)
                .call((token.token.expose(), token.expires_on), Some(&kwargs))?
        }
    };
    Ok(object.unbind())
}

/// `get_token_info`'s `options`: azure-core's `TokenRequestOptions` mapping (`claims`,
/// `tenant_id`, `enable_cae`).
fn info_options(options: Option<&Bound<'_, PyAny>>) -> PyResult<TokenRequestOptions> {
    let mut out = TokenRequestOptions::default();
    if let Some(o) = options.filter(|o| !o.is_none()) {
        let get = |key: &str| -> PyResult<Option<String>> {
            match o.call_method1("get", (key,)) {
                Ok(v) if v.is_none() => Ok(None),
                Ok(v) => v.extract().map(Some),
                Err(e) => Err(e),
            }
        };
        out.claims = get("claims")?;
        out.tenant_id = get("tenant_id")?;
    }
    Ok(out)
}

fn request_options(
    claims: Option<String>,
    tenant_id: Option<String>,
    traceparent: Option<String>,
) -> TokenRequestOptions {
    TokenRequestOptions {
        claims,
        tenant_id,
        traceparent,
        ..TokenRequestOptions::default()
    }
}

/// The constructor both classes share; see `certless/_certless.pyi` for the documentation.
macro_rules! credential_class {
    ($name:ident, $py_name:literal, $doc:literal, { $($methods:tt)* }) => {
        #[doc = $doc]
        #[pyclass(module = "certless._certless", name = $py_name, subclass, frozen)]
        pub struct $name {
            shared: Arc<Shared>,
        }

        #[pymethods]
        impl $name {
            /// Keyword arguments only: each is an option of core's `CredentialOptions`
            /// (`options.rs` converts the values).
            #[new]
            #[pyo3(signature = (**options))]
            fn new(py: Python<'_>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
                let credential = options::credential_options(py, options)?
                    .build()
                    .map_err(|e| to_pyerr(py, &e))?;
                Ok($name { shared: Arc::new(Shared::new(credential)) })
            }

            /// The app registration's tenant.
            #[getter]
            fn tenant_id(&self) -> &str {
                self.shared.credential.tenant_id()
            }

            /// The app registration's client id.
            #[getter]
            fn client_id(&self) -> &str {
                self.shared.credential.client_id()
            }

            /// The login host tokens come from.
            #[getter]
            fn authority_host(&self) -> &str {
                self.shared.credential.authority_host()
            }

            /// The entries of the credential list, in order (`SignedAssertionFromManagedIdentity`, ...).
            #[getter]
            fn sources(&self) -> Vec<&'static str> {
                self.shared.credential.sources().into_iter().map(|k| k.as_str()).collect()
            }

            /// Where managed-identity tokens come from (`imds`, `app_service`), if any entry uses one.
            #[getter]
            fn managed_identity_source(&self) -> Option<&'static str> {
                self.shared.credential.managed_identity_source().map(|s| s.source.as_str())
            }

            /// The shared cache's target, breaker state and counters (`hit`, `miss`, ...), or
            /// `None` when the credential has none (docs/shared-cache.md).
            fn shared_cache_stats<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
                let Some(stats) = self.shared.credential.shared_cache_stats() else {
                    return Ok(None);
                };
                let dict = PyDict::new(py);
                dict.set_item("target", &stats.target)?;
                dict.set_item("state", stats.state.as_str())?;
                for (name, value) in stats.all_counters() {
                    dict.set_item(name, value)?;
                }
                Ok(Some(dict))
            }

            /// Forgets the token objects kept for quick answers; the credential stays usable.
            fn _forget_objects(&self) {
                self.shared.forget_objects();
            }

            fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
                let c = &slf.get().shared.credential;
                let class = slf.get_type().qualname()?;
                Ok(format!("<{class} tenant_id={:?} client_id={:?} sources={:?}>", c.tenant_id(), c.client_id(), c.sources()))
            }

            $($methods)*
        }
    };
}

credential_class!(
    SyncCredential,
    "SyncCredential",
    "The native base of `certless.Credential`.",
    {
        /// azure-core `TokenCredential.get_token`.
        // azure-core's keywords, one parameter each (stubtest and the protocol checks read them).
        #[allow(clippy::too_many_arguments)]
        #[pyo3(signature = (*scopes, claims=None, tenant_id=None, enable_cae=false, traceparent=None, **kwargs))]
        fn get_token(
            &self,
            py: Python<'_>,
            scopes: &Bound<'_, PyTuple>,
            claims: Option<String>,
            tenant_id: Option<String>,
            enable_cae: bool,
            traceparent: Option<String>,
            kwargs: Option<&Bound<'_, PyDict>>,
        ) -> PyResult<Py<PyAny>> {
            // CAE only changes what Entra may put in the token; app-only tokens are requested the same.
            let _ = (enable_cae, kwargs);
            self.shared.get_token_sync(
                py,
                scopes,
                request_options(claims, tenant_id, traceparent),
                Shape::AccessToken,
            )
        }

        /// azure-core `SupportsTokenInfo.get_token_info`.
        #[pyo3(signature = (*scopes, options=None))]
        fn get_token_info(
            &self,
            py: Python<'_>,
            scopes: &Bound<'_, PyTuple>,
            options: Option<&Bound<'_, PyAny>>,
        ) -> PyResult<Py<PyAny>> {
            self.shared
                .get_token_sync(py, scopes, info_options(options)?, Shape::AccessTokenInfo)
        }
    }
);

credential_class!(
    AsyncCredential,
    "AsyncCredential",
    "The native base of `certless.aio.Credential`.",
    {
        /// An awaitable of `get_token`'s result; `certless.aio.Credential.get_token` awaits it.
        #[pyo3(signature = (scopes, claims=None, tenant_id=None, traceparent=None))]
        fn _get_token(
            &self,
            py: Python<'_>,
            scopes: &Bound<'_, PyTuple>,
            claims: Option<String>,
            tenant_id: Option<String>,
            traceparent: Option<String>,
        ) -> PyResult<Py<PyAny>> {
            self.shared.get_token_async(
                py,
                scopes,
                request_options(claims, tenant_id, traceparent),
                Shape::AccessToken,
            )
        }

        /// An awaitable of `get_token_info`'s result.
        #[pyo3(signature = (scopes, options=None))]
        fn _get_token_info(
            &self,
            py: Python<'_>,
            scopes: &Bound<'_, PyTuple>,
            options: Option<&Bound<'_, PyAny>>,
        ) -> PyResult<Py<PyAny>> {
            self.shared
                .get_token_async(py, scopes, info_options(options)?, Shape::AccessTokenInfo)
        }
    }
);
