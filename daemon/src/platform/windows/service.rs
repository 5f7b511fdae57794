//! smtp32d as a Windows service. `--install-service` registers it with the
//! service control manager (automatic start, as LocalService, running
//! `smtp32d.exe --service` with the same `--config` and `--socket`);
//! `--uninstall-service` removes it; `--service` is how the manager starts
//! it. The daemon then runs as it does in a console: the Stop and Shutdown
//! controls shut it down gracefully (as Ctrl-C does) and ParamChange
//! (`sc control smtp32d paramchange`) reloads the configuration.

use std::ffi::OsString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;
use windows_service::service::{
    ServiceAccess, ServiceControl, ServiceControlAccept, ServiceErrorControl, ServiceExitCode,
    ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

/// The service's name for the service control manager.
pub const SERVICE_NAME: &str = "smtp32d";
/// The account the installed service runs as.
const SERVICE_ACCOUNT: &str = r"NT AUTHORITY\LocalService";

/// Fired by the Stop and Shutdown controls.
static STOP: Notify = Notify::const_new();
/// Fired by the ParamChange control.
static RELOAD: Notify = Notify::const_new();
/// Set by [`run`]: the process serves the service manager, not a console.
static SERVING: AtomicBool = AtomicBool::new(false);
/// The daemon's body, run on the service's thread; returns the exit code.
static SERVE: Mutex<Option<Box<dyn FnOnce() -> u8 + Send>>> = Mutex::new(None);

/// True when the process runs as the service (under [`run`]).
pub fn is_service() -> bool {
    SERVING.load(Ordering::SeqCst)
}

/// Resolves when the service manager asks the service to stop.
pub async fn stop_requested() {
    STOP.notified().await
}

/// Resolves when the service manager asks for a reload.
pub async fn reload_requested() {
    RELOAD.notified().await
}

/// Registers the service: `smtp32d.exe --service` followed by `args`.
pub fn install(args: Vec<OsString>) -> windows_service::Result<()> {
    let access = ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE;
    let manager = ServiceManager::local_computer(None::<&str>, access)?;
    let executable_path = std::env::current_exe().map_err(windows_service::Error::Winapi)?;
    let mut launch_arguments = vec![OsString::from("--service")];
    launch_arguments.extend(args);
    let info = ServiceInfo {
        name: SERVICE_NAME.into(),
        display_name: "smtp32 daemon".into(),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path,
        launch_arguments,
        dependencies: vec![],
        account_name: Some(SERVICE_ACCOUNT.into()),
        account_password: None,
    };
    let service = manager.create_service(&info, ServiceAccess::CHANGE_CONFIG)?;
    service.set_description("Holds SMTP connections for the programs on this host (SMTP-32 API).")
}

/// Removes the service (it must be stopped first).
pub fn uninstall() -> windows_service::Result<()> {
    let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)?;
    manager
        .open_service(SERVICE_NAME, ServiceAccess::DELETE)?
        .delete()
}

/// Hands the process to the service manager, which runs `serve` on the
/// service's thread; returns when the service has stopped.
pub fn run(serve: impl FnOnce() -> u8 + Send + 'static) -> windows_service::Result<()> {
    *SERVE.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(serve));
    SERVING.store(true, Ordering::SeqCst);
    service_dispatcher::start(SERVICE_NAME, ffi_service_main)
}

define_windows_service!(ffi_service_main, service_main);

/// The service's thread: reports Running, serves, reports Stopped with the exit code.
fn service_main(_arguments: Vec<OsString>) {
    let handler = |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            STOP.notify_one();
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::ParamChange => {
            RELOAD.notify_one();
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let Ok(status) = service_control_handler::register(SERVICE_NAME, handler) else {
        return;
    };
    let report = |state, exit: u32| ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted: if state == ServiceState::Running {
            ServiceControlAccept::STOP
                | ServiceControlAccept::SHUTDOWN
                | ServiceControlAccept::PARAM_CHANGE
        } else {
            ServiceControlAccept::empty()
        },
        exit_code: match exit {
            0 => ServiceExitCode::Win32(0),
            code => ServiceExitCode::ServiceSpecific(code),
        },
        checkpoint: 0,
        wait_hint: Duration::default(),
        process_id: None,
    };
    let _ = status.set_service_status(report(ServiceState::Running, 0));
    let serve = SERVE.lock().unwrap_or_else(|e| e.into_inner()).take();
    let code = serve.map_or(1, |serve| serve());
    let _ = status.set_service_status(report(ServiceState::Stopped, code.into()));
}
