//! Replies of the API: Python-style compact JSON bodies as the original sends them,
//! `{"message": …}` errors, and the JSON 404 and 405 answers.

use axum::{
    extract::Request,
    http::{Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::render::write_json;

/// Python-style compact JSON (`", "` and `": "`) plus a newline, as the original emits.
pub fn json_response(status: StatusCode, value: &Value) -> Response {
    let mut body = Vec::with_capacity(1024);
    if write_json(&mut body, value).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    body.push(b'\n');
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub fn message(status: StatusCode, text: impl Into<String>) -> Response {
    json_response(status, &json!({"message": text.into()}))
}

pub async fn method_not_allowed_json(response: Response) -> Response {
    if response.status() != StatusCode::METHOD_NOT_ALLOWED {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut json = message(
        StatusCode::METHOD_NOT_ALLOWED,
        "The method is not allowed for the requested URL.",
    );
    if let Some(allow) = allow {
        json.headers_mut().insert(header::ALLOW, allow);
    }
    json
}

pub async fn not_found(request: Request) -> Response {
    if request.method() == Method::HEAD {
        return StatusCode::NOT_FOUND.into_response();
    }
    message(StatusCode::NOT_FOUND, "Not Found")
}
