//! Telemetry: the tracing subscriber, metrics, and typed operational events.
//!
//! Logs and metrics carry ids, organisation codes, channels, states, counts and
//! durations — never patient identifiers or document text (STYLE.md §5).

pub mod events;
pub mod metrics;

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber. `RUST_LOG` overrides the configured filter.
/// Calling it twice is harmless (the second call changes nothing).
pub fn init(settings: &LogSettings) {
    let mut filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.filter));
    // The PDF libraries log fragments of the document they read, which is patient
    // data: they stay silent whatever the filter says.
    for quiet in ["lopdf=off", "pdf_extract=off"] {
        if let Ok(directive) = quiet.parse() {
            filter = filter.add_directive(directive);
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match settings.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Replaces the default panic message with the panic's location only. A panic inside
/// a document parser (caught and turned into a rejection) may carry document text in
/// its message, and stderr is a log.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(location = %at, "panic (message withheld: it may quote input)");
    }));
}

/// Runs blocking work on tokio's blocking pool inside the caller's span.
pub async fn spawn_blocking_in_span<F, T>(f: F) -> Result<T, tokio::task::JoinError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f)).await
}
