//! How an issue's tag values spread over its events: each key with its
//! most frequent values as bars.

use leptos::prelude::*;
use partout_model::errors::TagDistribution;

use crate::format;

/// Every tag key with its top values.
#[component]
pub fn TagDistributions(tags: Vec<TagDistribution>) -> impl IntoView {
    if tags.is_empty() {
        return view! { <p class="muted">"No tags."</p> }.into_any();
    }
    let keys = tags
        .into_iter()
        .map(|tag| {
            let total = tag.total.max(1);
            let values = tag
                .values
                .into_iter()
                .map(|value| {
                    let share = value.count as f64 / total as f64 * 100.0;
                    view! {
                        <li class="tag-value" style=format!("--share: {share:.1}%")
                            title=format!("{} of {} events ({share:.0}%)", format::count(value.count), format::count(tag.total))>
                            <span class="tag-name">{value.value}</span>
                            <span class="tag-count">{format!("{share:.0}%")}</span>
                        </li>
                    }
                })
                .collect_view();
            let key = tag.key;
            view! {
                <div class="tag" data-tag=key.clone()>
                    <h4>{key.clone()}</h4>
                    <ul class="tag-values">{values}</ul>
                </div>
            }
        })
        .collect_view();
    view! { <div class="tags" data-testid="issue-tags">{keys}</div> }.into_any()
}
