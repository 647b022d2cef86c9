//! Reading request bodies with a hard size limit, so an oversize upload is refused
//! (413) without being buffered whole.

use actix_web::{HttpRequest, web};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::error::ApiError;

/// Reads the whole body, refusing anything over `limit` bytes.
///
/// # Errors
/// [`ApiError::TooLarge`] over the limit (decided from `Content-Length` before reading
/// when the client sends it), [`ApiError::BadRequest`] if the connection breaks.
pub async fn read_limited(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::TooLarge(limit));
    }
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(8 * 1024).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::BadRequest("request body could not be read"))?;
        if buf.len() + chunk.len() > limit {
            return Err(ApiError::TooLarge(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// The request's media type, or an empty string.
pub fn media_type(req: &HttpRequest) -> String {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// A `multipart/form-data` upload's document: the first part that carries a file (or
/// is named `file`, `letter` or `referral`), with its declared media type.
/// Other parts (a form's text fields) are ignored.
///
/// # Errors
/// [`ApiError::BadRequest`] for a broken upload or one without a document part.
pub async fn multipart_document(
    media_type: &str,
    body: Bytes,
) -> Result<(String, Bytes), ApiError> {
    let boundary = multer::parse_boundary(media_type)
        .map_err(|_| ApiError::BadRequest("multipart upload without a boundary"))?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let broken = |_| ApiError::BadRequest("multipart upload could not be read");
    while let Some(field) = form.next_field().await.map_err(broken)? {
        let is_document = field.file_name().is_some()
            || matches!(field.name(), Some("file" | "letter" | "referral"));
        if is_document {
            let declared = field
                .content_type()
                .map(ToString::to_string)
                .unwrap_or_default();
            let bytes = field.bytes().await.map_err(broken)?;
            return Ok((declared, bytes));
        }
    }
    Err(ApiError::BadRequest(
        "multipart upload has no file part (send the letter as a file named \"file\")",
    ))
}
