//! The "Destinations" field of the policy and server-plan forms: one
//! checkbox per configured destination (by name). None ticked means the
//! built-in `local`. A name the policy holds that is no longer configured
//! stays listed (ticked, marked) so saving keeps what was there.

use leptos::prelude::*;

use crate::destinations::api::list_destinations;
use crate::ui::error_message::error_text;
use crate::ui::resource::page_resource;

/// `options` in their order, keeping only the ticked ones.
fn ticked(options: &[String], selected: &[String], name: &str, on: bool) -> Vec<String> {
    options
        .iter()
        .filter(|o| {
            if o.as_str() == name {
                on
            } else {
                selected.contains(o)
            }
        })
        .cloned()
        .collect()
}

/// The checkboxes, bound to `selected`. `testid` names the group.
#[component]
pub fn DestinationChecks(selected: RwSignal<Vec<String>>, testid: &'static str) -> impl IntoView {
    let list = page_resource(|| (), |_| list_destinations());
    let body = move || {
        list.get().map(|r| match r {
            Err(e) => view! { <p class="warn small">{error_text(&e)}</p> }.into_any(),
            Ok(v) => {
                let mut options: Vec<String> =
                    v.destinations.iter().map(|d| d.name.clone()).collect();
                let describe: Vec<(String, String)> = v
                    .destinations
                    .iter()
                    .map(|d| (d.name.clone(), d.describe.clone()))
                    .collect();
                for n in selected.get_untracked() {
                    if !options.contains(&n) {
                        options.push(n);
                    }
                }
                let options = StoredValue::new(options);
                options
                    .get_value()
                    .into_iter()
                    .map(|name| {
                        let initially = selected.with_untracked(|s| s.contains(&name));
                        let known = describe.iter().find(|(n, _)| *n == name).map(|(_, d)| d.clone());
                        let toggle = name.clone();
                        view! {
                            <label class="check" data-testid="destination-check" data-name=name.clone()>
                                <input type="checkbox" checked=initially value=name.clone()
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        selected.update(|s| *s = ticked(&options.get_value(), s, &toggle, on));
                                    }/>
                                " " <strong>{name.clone()}</strong> " "
                                {match known {
                                    Some(d) => view! { <span class="muted mono small">{d}</span> }.into_any(),
                                    None => view! { <span class="tag tag-warn">"not configured: untick it, or add it on the Destinations page"</span> }.into_any(),
                                }}
                            </label>
                        }
                    })
                    .collect_view()
                    .into_any()
            }
        })
    };
    view! {
        <div class="destination-checks" data-testid=testid>
            <Transition fallback=|| view! { <p class="muted">"Loading destinations…"</p> }>{body}</Transition>
            <p class="hint-line muted">
                {move || {
                    let s = selected.get();
                    if s.is_empty() {
                        "None ticked: backups go to the built-in local directory only.".to_owned()
                    } else if s.len() == 1 {
                        format!("One copy, on {}. Two or more keep a backup when one place is lost.", s[0])
                    } else {
                        format!("{} copies of every backup: {}.", s.len(), s.join(", "))
                    }
                }}
                " " <a href="/destinations">"Manage destinations →"</a>
            </p>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_listed_order() {
        let o: Vec<String> = ["local", "s3", "dav"].map(String::from).to_vec();
        assert_eq!(ticked(&o, &["dav".into()], "s3", true), ["s3", "dav"]);
        assert_eq!(
            ticked(&o, &["s3".into(), "dav".into()], "s3", false),
            ["dav"]
        );
    }
}
