//! A timer's percentiles over the whole range, from the merged sketches of
//! every interval in it: right within the sketch's accuracy, unlike an
//! average of per-interval percentiles.

use leptos::prelude::*;
use partout_model::api::Quantiles;

use super::plot::value_text;
use crate::format;

/// `p99.99` for 0.9999.
fn label(q: f64) -> String {
    let percent = format!("{:.4}", q * 100.0);
    let percent = percent.trim_end_matches('0').trim_end_matches('.');
    format!("p{percent}")
}

/// The table of quantiles.
#[component]
pub fn QuantileTable(quantiles: Quantiles) -> impl IntoView {
    let rows = quantiles
        .quantiles
        .iter()
        .map(|quantile| {
            let value = quantile
                .value
                .map_or_else(|| "no samples".to_owned(), value_text);
            view! {
                <tr data-q=quantile.q.to_string()>
                    <th scope="row">{label(quantile.q)}</th>
                    <td class="value">{value}</td>
                </tr>
            }
        })
        .collect_view();
    let caption = format!(
        "Over the whole range: {} samples, each value within {}%",
        format::count(quantiles.count),
        value_text(quantiles.relative_accuracy * 100.0)
    );
    view! {
        <div id="metric-quantiles">
            <h3>"Percentiles"</h3>
            <p class="muted">{caption}</p>
            <table class="quantiles">
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::label;

    #[test]
    fn labels_read_as_percentiles() {
        assert_eq!(label(0.5), "p50");
        assert_eq!(label(0.99), "p99");
        assert_eq!(label(0.999), "p99.9");
        assert_eq!(label(0.9999), "p99.99");
    }
}
