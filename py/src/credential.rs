//! `certless::Credential` for Python: `SyncCredential` and `AsyncCredential`, the native bases of
//! `certless.Credential` and `certless.aio.Credential`.
//!
//! A cache hit is answered by `Credential::cached_token` with the GIL held and without entering any
//! runtime; a miss waits on core's runtime with the GIL released (sync) or bridges to the caller's
//! event loop (async, `runtime.rs`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use certless::env::MapEnv;
use certless::{
    AccessToken, Credential, CredentialBuilder, ManagedIdentityId, ManagedIdentitySource, Timeouts,
    TokenRequestOptions,
};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::error::{invalid_argument, to_pyerr};
use crate::{exit, glue, runtime, scope};

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
            if options.claims.is_none() && options.tenant_id.is_none() {
                if let Some(token) = self.credential.cached_token(scopes)? {
                    return Ok(token);
                }
            }
            let credential = &self.credential;
            py.detach(|| wait_for_token(credential, scopes, options))
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
            if options.claims.is_none() && options.tenant_id.is_none() {
                if let Some(token) = self
                    .credential
                    .cached_token(scopes)
                    .map_err(|e| to_pyerr(py, &e))?
                {
                    let value = self.token_object(py, token, shape)?;
                    return Ok(Py::new(py, runtime::Ready::new(value))?.into_any());
                }
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

/// Waits (GIL released) for a token that was not in the cache.
fn wait_for_token(
    credential: &Credential,
    scopes: &[&str],
    options: TokenRequestOptions,
) -> certless::Result<AccessToken> {
    if options.tenant_id.is_none() {
        return credential.get_token_blocking(scopes, &options);
    }
    // `get_token_blocking` answers from the cache of the configured tenant whatever
    // `options.tenant_id` says; `get_token_with` (behind the callback) looks up the right tenant.
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    let _pending =
        credential.get_token_callback(scope::to_owned(scopes), options, move |result| {
            let _ = sender.send(result);
        })?;
    receiver.recv().unwrap_or_else(|_| {
        Err(certless::Error::new(
            certless::ErrorCode::Internal,
            "the certless runtime dropped a token request",
        ))
    })
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

fn request_options(claims: Option<String>, tenant_id: Option<String>) -> TokenRequestOptions {
    TokenRequestOptions {
        claims,
        tenant_id,
        ..TokenRequestOptions::default()
    }
}

fn seconds(value: Option<f64>, name: &str) -> certless::Result<Option<Duration>> {
    value
        .map(|s| {
            Duration::try_from_secs_f64(s).map_err(|_| {
                invalid_argument(format!(
                    "{name} must be a non-negative number of seconds, not {s}"
                ))
            })
        })
        .transpose()
}

/// The keyword arguments of the constructors, turned into core's builder.
#[allow(clippy::too_many_arguments)]
pub(crate) fn credential_builder(
    tenant_id: Option<String>,
    client_id: Option<String>,
    authority_host: Option<String>,
    managed_identity_client_id: Option<String>,
    managed_identity_object_id: Option<String>,
    managed_identity_resource_id: Option<String>,
    managed_identity_source: Option<String>,
    token_exchange_audience: Option<String>,
    connect_timeout: Option<f64>,
    request_timeout: Option<f64>,
    ca_file: Option<PathBuf>,
    environment: Option<HashMap<String, String>>,
    config_json: Option<String>,
    config_file: Option<PathBuf>,
    from_env: bool,
) -> certless::Result<CredentialBuilder> {
    let identities: Vec<ManagedIdentityId> = [
        managed_identity_client_id.map(ManagedIdentityId::ClientId),
        managed_identity_object_id.map(ManagedIdentityId::ObjectId),
        managed_identity_resource_id.map(ManagedIdentityId::ResourceId),
    ]
    .into_iter()
    .flatten()
    .collect();
    if identities.len() > 1 {
        return Err(invalid_argument(
            "pass at most one of managed_identity_client_id, managed_identity_object_id, managed_identity_resource_id",
        ));
    }
    let environment = environment
        .map(|vars| Arc::new(MapEnv::new().with_vars(vars)) as Arc<dyn certless::env::Environment>);
    let mut builder = match (config_json, config_file, from_env) {
        (None, None, false) => {
            let id = identities
                .into_iter()
                .next()
                .unwrap_or(ManagedIdentityId::SystemAssigned);
            Credential::builder().managed_identity(id)
        }
        (base_json, base_file, base_env) => {
            if [base_json.is_some(), base_file.is_some(), base_env]
                .iter()
                .filter(|b| **b)
                .count()
                > 1
            {
                return Err(invalid_argument(
                    "pass only one of config_json, config_file and from_env",
                ));
            }
            if !identities.is_empty() {
                return Err(invalid_argument(
                    "the managed identity comes from the configuration here: set ManagedIdentityClientId there \
                     (or CERTLESS_MANAGED_IDENTITY_CLIENT_ID) instead of managed_identity_*",
                ));
            }
            match (base_json, base_file) {
                (Some(json), _) => CredentialBuilder::from_config_json(&json)?,
                (None, Some(path)) => CredentialBuilder::from_config_file(path)?,
                (None, None) => match &environment {
                    Some(env) => CredentialBuilder::from_environment(Arc::clone(env))?,
                    None => CredentialBuilder::from_env()?,
                },
            }
        }
    };
    if let Some(v) = tenant_id {
        builder = builder.tenant_id(v);
    }
    if let Some(v) = client_id {
        builder = builder.client_id(v);
    }
    if let Some(v) = authority_host {
        builder = builder.authority_host(v);
    }
    if let Some(v) = managed_identity_source {
        builder = builder.managed_identity_source(ManagedIdentitySource::parse(&v)?);
    }
    if let Some(v) = token_exchange_audience {
        builder = builder.token_exchange_audience(v);
    }
    let (connect, request) = (
        seconds(connect_timeout, "connect_timeout")?,
        seconds(request_timeout, "request_timeout")?,
    );
    if connect.is_some() || request.is_some() {
        let default = Timeouts::default();
        builder = builder.timeouts(Timeouts {
            connect: connect.unwrap_or(default.connect),
            request: request.unwrap_or(default.request),
        });
    }
    if let Some(path) = ca_file {
        builder = builder.ca_file(path);
    }
    if let Some(env) = environment {
        builder = builder.environment(env);
    }
    Ok(builder)
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
            #[new]
            #[pyo3(signature = (
                *, tenant_id=None, client_id=None, authority_host=None,
                managed_identity_client_id=None, managed_identity_object_id=None, managed_identity_resource_id=None,
                managed_identity_source=None, token_exchange_audience=None,
                connect_timeout=None, request_timeout=None, ca_file=None, environment=None,
                config_json=None, config_file=None, from_env=false,
            ))]
            #[allow(clippy::too_many_arguments)]
            fn new(
                py: Python<'_>,
                tenant_id: Option<String>,
                client_id: Option<String>,
                authority_host: Option<String>,
                managed_identity_client_id: Option<String>,
                managed_identity_object_id: Option<String>,
                managed_identity_resource_id: Option<String>,
                managed_identity_source: Option<String>,
                token_exchange_audience: Option<String>,
                connect_timeout: Option<f64>,
                request_timeout: Option<f64>,
                ca_file: Option<PathBuf>,
                environment: Option<HashMap<String, String>>,
                config_json: Option<String>,
                config_file: Option<PathBuf>,
                from_env: bool,
            ) -> PyResult<Self> {
                let credential = credential_builder(
                    tenant_id,
                    client_id,
                    authority_host,
                    managed_identity_client_id,
                    managed_identity_object_id,
                    managed_identity_resource_id,
                    managed_identity_source,
                    token_exchange_audience,
                    connect_timeout,
                    request_timeout,
                    ca_file,
                    environment,
                    config_json,
                    config_file,
                    from_env,
                )
                .and_then(CredentialBuilder::build)
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
        #[pyo3(signature = (*scopes, claims=None, tenant_id=None, enable_cae=false, **kwargs))]
        fn get_token(
            &self,
            py: Python<'_>,
            scopes: &Bound<'_, PyTuple>,
            claims: Option<String>,
            tenant_id: Option<String>,
            enable_cae: bool,
            kwargs: Option<&Bound<'_, PyDict>>,
        ) -> PyResult<Py<PyAny>> {
            // CAE only changes what Entra may put in the token; app-only tokens are requested the same.
            let _ = (enable_cae, kwargs);
            self.shared.get_token_sync(
                py,
                scopes,
                request_options(claims, tenant_id),
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
        #[pyo3(signature = (scopes, claims=None, tenant_id=None))]
        fn _get_token(
            &self,
            py: Python<'_>,
            scopes: &Bound<'_, PyTuple>,
            claims: Option<String>,
            tenant_id: Option<String>,
        ) -> PyResult<Py<PyAny>> {
            self.shared.get_token_async(
                py,
                scopes,
                request_options(claims, tenant_id),
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
