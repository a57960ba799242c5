//! Where tracking reports what the user should know but that does not stop training: a server
//! that cannot be reached, a server that answers again, metrics left for a later sync.

use std::sync::Arc;

/// A sink for warnings, called from the training thread and from the background sender.
pub type Notifier = Arc<dyn Fn(&str) + Send + Sync>;

/// The default sink: one `warning:` line on standard error.
pub fn stderr_notifier() -> Notifier {
    Arc::new(|message: &str| eprintln!("warning: {message}"))
}
