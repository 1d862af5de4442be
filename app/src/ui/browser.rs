//! The few browser calls the charts need (the viewer's time zone, moving
//! keyboard focus, an element's width). Browser-only: call them from
//! effects and event handlers, which never run while the server renders.

use leptos::wasm_bindgen::{JsCast, JsValue};
use leptos::web_sys::js_sys;

/// The viewer's UTC offset at `ms` (milliseconds since the epoch), in
/// minutes east of UTC (Paris in winter: 60), daylight saving included.
pub fn offset_minutes(ms: i64) -> i32 {
    -(js_sys::Date::new(&JsValue::from_f64(ms as f64)).get_timezone_offset() as i32)
}

/// The viewer's time zone name (`Europe/Paris`), when the browser says.
pub fn zone_name() -> Option<String> {
    let format = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new());
    let options = format.resolved_options();
    js_sys::Reflect::get(&options, &JsValue::from_str("timeZone"))
        .ok()?
        .as_string()
        .filter(|z| !z.is_empty())
}

/// Moves keyboard focus to the element with this id, if there is one (SVG
/// elements too: their `focus()` is called by name).
pub fn focus_id(id: &str) {
    let Some(el) = leptos::prelude::document().get_element_by_id(id) else {
        return;
    };
    let target: JsValue = el.into();
    if let Ok(f) = js_sys::Reflect::get(&target, &JsValue::from_str("focus")) {
        if let Some(f) = f.dyn_ref::<js_sys::Function>() {
            let _ = f.call0(&target);
        }
    }
}

/// An element's width on screen, in CSS pixels.
pub fn width_of(el: &leptos::web_sys::Element) -> f64 {
    f64::from(el.client_width())
}
