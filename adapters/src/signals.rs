//! Stopping a process cleanly on Ctrl-C (SIGINT) or SIGTERM: the handler only raises a flag
//! (an atomic store is async-signal-safe); the program's loop looks at it and stops as it
//! should (the gateway drains and snapshots, the bridge saves its state).

use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

/// Raised by the handler.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Installs the handler for SIGINT and SIGTERM (once) and returns the flag it raises.
pub fn stop_flag() -> &'static AtomicBool {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
            libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        }
    });
    &STOP
}
