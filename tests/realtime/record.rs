//! What the layer logged about the requests whose rejection reached their caller, kept per run:
//! each such warning carries the request's record (the generation each send carried, the logins
//! sent and the newest generation when the rejection was seen, each replay's credential and
//! whether its login was sent before or after the rejection, and why the last answer was
//! final). A failing run prints the records of its own requests.

use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// The span a run's callers are in: its `label` names the run.
pub const RUN_SPAN: &str = "realtime_run";

static RECORDS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// Installs the capture once for the test binary.
pub fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let filter = Targets::new()
            .with_target("thoughtspot_auth", Level::WARN)
            .with_target("realtime", Level::INFO);
        let _ = tracing_subscriber::registry()
            .with(Capture.with_filter(filter))
            .try_init();
    });
}

/// The warnings logged inside the run labelled `label`.
pub fn of_run(label: &str) -> Vec<String> {
    RECORDS
        .lock()
        .unwrap()
        .iter()
        .filter(|(run, _)| run == label)
        .map(|(_, text)| text.clone())
        .collect()
}

struct Label(String);

struct Capture;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != RUN_SPAN {
            return;
        }
        let mut text = Text::default();
        attrs.record(&mut text);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Label(text.label));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(scope) = ctx.event_scope(event) else {
            return;
        };
        let Some(label) = scope
            .from_root()
            .find_map(|span| span.extensions().get::<Label>().map(|l| l.0.clone()))
        else {
            return;
        };
        let mut text = Text::default();
        event.record(&mut text);
        RECORDS.lock().unwrap().push((label, text.fields));
    }
}

#[derive(Default)]
struct Text {
    label: String,
    fields: String,
}

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "label" {
            self.label = value.to_owned();
        } else {
            let _ = write!(self.fields, "{}={value} ", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "label" {
            self.label = format!("{value:?}");
        } else {
            let _ = write!(self.fields, "{}={value:?} ", field.name());
        }
    }
}
