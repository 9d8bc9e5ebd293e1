//! `GET /v2/events`: the daemon's event stream ([`crate::events`]) as Server-Sent
//! Events (decisions.md D14), for the status page and for scripts (`curl -N`).
//!
//! Owns the wire form of an event: `event: result` with the plugin, its state,
//! duration and run id (one per recorded run), `event: reload` with the D8 reload
//! body, and `event: lagged` when this subscriber fell behind and skipped events
//! (the client should then re-read what it shows). A comment every 15 s keeps
//! proxies from closing an idle stream. The stream ends when the API server stops.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::State,
    response::{
        IntoResponse, Response,
        sse::{Event as SseEvent, KeepAlive, Sse},
    },
};
use futures_util::stream;
use serde_json::{Value, json};
use tokio::sync::broadcast::{Receiver, error::RecvError};
use tokio_util::sync::CancellationToken;

use super::context::AppState;
use crate::{
    events::{Event, ResultEvent},
    render,
};

/// Interval of the keep-alive comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The JSON `data` of a `result` event.
pub fn result_data(event: &ResultEvent) -> Value {
    let r = &event.result;
    json!({
        "plugin": event.spec.name,
        "runId": r.run_id,
        "state": r.state.as_str(),
        "status": r.state.smoker_status(),
        "duration": r.duration.as_secs_f64(),
        "startedAt": render::iso(&r.started_at),
        "output": r.output,
        "forced": r.forced,
        "catchUp": r.catch_up,
        "previousState": event.previous.as_ref().map(|p| p.state.as_str()),
    })
}

/// One daemon event on the wire.
fn sse(event: &Event) -> SseEvent {
    let (kind, data) = match event {
        Event::Result(result) => ("result", result_data(result)),
        Event::Reload(report) => ("reload", report.to_json()),
    };
    SseEvent::default().event(kind).data(data.to_string())
}

/// The next event for this subscriber, or `None` when the stream ends.
async fn next(rx: &mut Receiver<Event>, stop: &CancellationToken) -> Option<SseEvent> {
    let received = tokio::select! {
        received = rx.recv() => received,
        _ = stop.cancelled() => return None,
    };
    match received {
        Ok(event) => Some(sse(&event)),
        Err(RecvError::Lagged(skipped)) => Some(
            SseEvent::default()
                .event("lagged")
                .data(json!({"skipped": skipped}).to_string()),
        ),
        Err(RecvError::Closed) => None,
    }
}

/// `GET /v2/events`.
pub async fn events(State(ctx): State<AppState>) -> Response {
    let rx = ctx.runs.subscribe();
    let stop = ctx.stop.clone();
    let events = stream::unfold((rx, stop), |(mut rx, stop)| async move {
        let event = next(&mut rx, &stop).await?;
        Some((Ok::<_, Infallible>(event), (rx, stop)))
    });
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}
