//! `virtsync run`: start the controller on libvirt and stop it on SIGINT
//! or SIGTERM. Everything it does lives in [`crate::controller`].

use std::sync::Arc;

use super::{exit, CliError, RunArgs};
use crate::backend::ConnectOptions;
use crate::controller::{Controller, Libvirt, RunConfig};

pub fn run(args: &RunArgs) -> Result<u8, CliError> {
    let common = &args.common;
    let mut cfg = RunConfig::new(common.dir.clone());
    cfg.load = common.load_options();
    cfg.selector = common.selector.clone();
    cfg.host = common.host.clone();
    cfg.owner = common.owner.clone();
    cfg.prune = args.prune.options();
    cfg.lock_timeout = args.lock_timeout;
    cfg.state_dir = Some(common.state_dir.clone());
    cfg.resync = args.resync;
    cfg.parallel = args.parallel as usize;
    cfg.listen = args.listen;
    cfg.pull = args.pull;
    let connector = Arc::new(Libvirt {
        default_uri: common.connect.clone(),
        options: ConnectOptions::default(),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let (controller, handle) = Controller::new(cfg, connector);
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("stopping: the running action finishes, no new one starts");
            handle.stop();
        });
        controller.run().await
    })?;
    Ok(exit::OK)
}

/// SIGINT (Ctrl-C) or SIGTERM (systemd, kill).
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
