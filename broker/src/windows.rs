//! The broker as a Windows service (`certless serve --service`), under the service control
//! manager. The service's command line carries the same options as a console run
//! (docs/broker.md has the `sc.exe create` line); Stop and system shutdown end it gracefully,
//! like SIGTERM on Linux.
//! A service has no console: log to a file (`--log-file`).

use std::ffi::OsString;
use std::sync::Mutex;
use std::time::Duration;

use windows_service::service::{
    ServiceControl, ServiceControlAccept, ServiceExitCode, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::{define_windows_service, service_dispatcher};

use crate::{Config, Error};

/// The name the service is registered under (`sc.exe create certless ...`).
const SERVICE_NAME: &str = "certless";

/// The configuration and where to announce, handed from [`run_service`] to the service's entry
/// point (which the dispatcher calls on a thread of its own, with only the arguments of
/// `sc.exe start`).
static SERVICE: Mutex<Option<Service>> = Mutex::new(None);

struct Service {
    config: Config,
    announce: fn(&str),
}

define_windows_service!(ffi_service_main, service_main);

/// Connects to the service control manager and runs the broker as its service (installing the
/// logger of `config`); returns when the service has stopped. `announce` is as for
/// [`crate::run`]. Fails when this process was not started by the service control manager.
pub fn run_service(config: Config, announce: fn(&str)) -> Result<(), Error> {
    *crate::lock(&SERVICE) = Some(Service { config, announce });
    service_dispatcher::start(SERVICE_NAME, ffi_service_main).map_err(|e| {
        Error::from(format!(
            "the service control manager did not start this process ({e}); in a console, run \
             `certless serve` without --service"
        ))
    })
}

fn service_main(_arguments: Vec<OsString>) {
    let Some(Service { config, announce }) = crate::lock(&SERVICE).take() else {
        return;
    };
    if let Err(e) = run(config, announce) {
        log::error!("certless serve: the service failed: {e}");
    }
}

fn run(config: Config, announce: fn(&str)) -> Result<(), Error> {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop_tx = Mutex::new(Some(stop_tx));
    let handler = move |event| match event {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            if let Some(tx) = stop_tx.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let _ = tx.send(());
            }
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let status = service_control_handler::register(SERVICE_NAME, handler)
        .map_err(|e| format!("cannot register with the service control manager: {e}"))?;
    let report = |state: ServiceState, exit: u32, wait: Duration| {
        let _ = status.set_service_status(ServiceStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: state,
            controls_accepted: if state == ServiceState::Running {
                ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
            } else {
                ServiceControlAccept::empty()
            },
            exit_code: if exit == 0 {
                ServiceExitCode::Win32(0)
            } else {
                ServiceExitCode::ServiceSpecific(exit)
            },
            checkpoint: 0,
            wait_hint: wait,
            process_id: None,
        });
    };
    if let Err(e) = crate::install_logger(&config.log_level, config.log_file.as_deref()) {
        report(ServiceState::Stopped, 2, Duration::ZERO);
        return Err(e);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    report(ServiceState::Running, 0, Duration::ZERO);
    let drain = config.shutdown_timeout + Duration::from_secs(5);
    let stop = async move {
        let _ = stop_rx.await;
        report(ServiceState::StopPending, 0, drain);
    };
    let served = runtime.block_on(crate::run(&config, stop, announce));
    report(
        ServiceState::Stopped,
        if served.is_ok() { 0 } else { 2 },
        Duration::ZERO,
    );
    Ok(())
}
