//! Page data: [`page_resource`] is `Resource::new` with one difference, for
//! the size of the browser's code.
//!
//! A resource's value travels inside the server-rendered page as JSON and a
//! server function's answer travels as JSON too. Leptos's default codec
//! reads the first with `serde_json::from_str` and server functions read the
//! second with `serde_json::from_slice`: two copies of every `Deserialize`
//! impl in the wasm (about 380 KB before wasm-opt). [`SliceJson`] reads
//! page data with `from_slice` as well, so both share one copy. The JSON is
//! the same; so is every value read from it. `clippy.toml` refuses
//! `Resource::new`, so a new page cannot bring the second copy back.

use std::future::Future;

use leptos::prelude::*;
use leptos::server::codee::{Decoder, Encoder};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// JSON like Leptos's `JsonSerdeCodec`, decoded from the text's bytes.
pub struct SliceJson;

impl<T: Serialize> Encoder<T> for SliceJson {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(val: &T) -> Result<String, serde_json::Error> {
        serde_json::to_string(val)
    }
}

impl<T: DeserializeOwned> Decoder<T> for SliceJson {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(val: &str) -> Result<T, serde_json::Error> {
        serde_json::from_slice(val.as_bytes())
    }
}

/// A resource whose value is sent with the page ([`SliceJson`]).
pub type PageResource<T> = Resource<T, SliceJson>;

/// `Resource::new(source, fetcher)` with [`SliceJson`].
#[track_caller]
pub fn page_resource<T, S, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> PageResource<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    S: PartialEq + Clone + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}
