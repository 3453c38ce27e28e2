//! Order sync: channel x target matrix, stuck orders, invalid transitions,
//! lag histograms and the order-volume forecast.

use leptos::prelude::*;
use shoppulse_core::event::{SyncStatus, Target};
use shoppulse_core::time::format_hms;
use shoppulse_core::view::{LagHistogram, SyncCell};

use super::widgets::{keyed_by_content, Panel};
use crate::format::{duration_ms, opt_ms, percent, thousands};
use crate::state::Sections;

/// Short column heading for a target.
fn target_title(t: Target) -> &'static str {
    match t {
        Target::Payment => "payment",
        Target::Inventory => "inventory",
        Target::Logistics => "logistics",
        Target::CustomerService => "customer service",
    }
}

/// Channels in the order the cells list them.
fn channel_order(cells: &[SyncCell]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in cells {
        if !out.contains(&c.channel) {
            out.push(c.channel.clone());
        }
    }
    out
}

/// The order-sync panel.
#[component]
pub fn SyncPanel() -> impl IntoView {
    let sync = expect_context::<Sections>().sync;
    let cells = Memo::new(move |_| sync.with(|s| s.cells.clone()));
    let stuck = Memo::new(move |_| sync.with(|s| keyed_by_content(&s.stuck)));
    let invalid = Memo::new(move |_| sync.with(|s| keyed_by_content(&s.invalid)));
    let hist = Memo::new(move |_| sync.with(|s| s.lag_histograms.clone()));
    let forecast = Memo::new(move |_| sync.with(|s| s.forecast.clone()));
    let counts = Memo::new(move |_| sync.with(|s| (s.stuck_count, s.invalid_count, s.sla_ms)));
    view! {
        <Panel title="Order sync" testid="sync" wide=true>
            <SyncMatrix cells=cells />
            <div class="two-col">
                <div>
                    <h3>
                        {move || {
                            let (n, _, sla) = counts.get();
                            format!("Stuck orders ({}, SLA {})", thousands(n), duration_ms(sla as f64))
                        }}
                    </h3>
                    <ul class="rows bad" data-testid="stuck-orders">
                        <For each=move || stuck.get() key=|(k, _)| *k let:((_, o))>
                            <li data-order-id=o.order.to_string() data-channel=o.channel.clone() data-target=o.target.as_str()>
                                <span>
                                    {format!(
                                        "Order {} · {} → {} · {} for {}",
                                        o.order,
                                        o.channel,
                                        o.target.as_str(),
                                        o.status.as_str(),
                                        duration_ms(o.stuck_for_ms as f64),
                                    )}
                                </span>
                                {o.last_error.clone().map(|e| view! { <span class="err">{e}</span> })}
                            </li>
                        </For>
                    </ul>
                </div>
                <div>
                    <h3>{move || format!("Invalid transitions ({})", thousands(counts.get().1))}</h3>
                    <ul class="rows bad" data-testid="invalid-transitions">
                        <For each=move || invalid.get() key=|(k, _)| *k let:((_, t))>
                            <li data-order-id=t.order.to_string() data-channel=t.channel.clone() data-target=t.target.as_str()>
                                <span class="muted small">{format_hms(t.ts_ms)}</span>
                                " "
                                <span>{format!("Order {} ({} → {}): ", t.order, t.channel, t.target.as_str())}</span>
                                <span class="err">{t.reason.clone()}</span>
                            </li>
                        </For>
                    </ul>
                </div>
            </div>
            <div class="two-col">
                <div>
                    <h3>"Sync lag per channel"</h3>
                    <div class="hists" data-testid="lag-histograms">
                        {move || hist.get().into_iter().map(|h| view! { <LagBars hist=h /> }).collect_view()}
                    </div>
                </div>
                <div>
                    <h3>"Order volume forecast (next minute)"</h3>
                    <table class="table" data-testid="sync-forecast">
                        <thead>
                            <tr><th>"channel"</th><th>"last minute"</th><th>"next minute"</th></tr>
                        </thead>
                        <tbody>
                            {move || {
                                forecast
                                    .get()
                                    .into_iter()
                                    .map(|f| {
                                        view! {
                                            <tr data-channel=f.channel.clone()>
                                                <td>{f.channel.clone()}</td>
                                                <td class="num">{thousands(f.last_minute_orders)}</td>
                                                <td class="num">{format!("{:.1}", f.next_minute_orders)}</td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()
                            }}
                        </tbody>
                    </table>
                </div>
            </div>
        </Panel>
    }
}

/// Channel x target table; every cell carries `data-channel`, `data-target`
/// and one `data-<status>` count per status.
#[component]
fn SyncMatrix(
    /// One cell per (channel, target) seen.
    cells: Memo<Vec<SyncCell>>,
) -> impl IntoView {
    view! {
        <div class="scroll-x">
            <table class="table matrix" data-testid="sync-matrix">
                <thead>
                    <tr>
                        <th>"channel"</th>
                        {Target::ALL.into_iter().map(|t| view! { <th data-target=t.as_str()>{target_title(t)}</th> }).collect_view()}
                    </tr>
                </thead>
                <tbody>
                    {move || {
                        let cells = cells.get();
                        channel_order(&cells)
                            .into_iter()
                            .map(|ch| {
                                let row = Target::ALL
                                    .into_iter()
                                    .map(|t| {
                                        let cell = cells.iter().find(|c| c.channel == ch && c.target == t).cloned();
                                        view! { <MatrixCell channel=ch.clone() target=t cell=cell /> }
                                    })
                                    .collect_view();
                                view! {
                                    <tr data-channel=ch.clone()>
                                        <th scope="row">{ch.clone()}</th>
                                        {row}
                                    </tr>
                                }
                            })
                            .collect_view()
                    }}
                </tbody>
            </table>
        </div>
    }
}

/// One matrix cell: counts per status, failure rate, lag percentiles.
#[component]
fn MatrixCell(
    /// Row channel.
    channel: String,
    /// Column target.
    target: Target,
    /// The cell's figures, when this pair has been seen.
    cell: Option<SyncCell>,
) -> impl IntoView {
    let Some(c) = cell else {
        return view! {
            <td class="cell empty" data-testid="sync-cell" data-channel=channel data-target=target.as_str()>"—"</td>
        }
        .into_any();
    };
    let health = if c.count(SyncStatus::Failed) > 0 || c.failure_rate >= 0.2 {
        "cell bad"
    } else if c.count(SyncStatus::Pending) + c.count(SyncStatus::Retrying) > 0 {
        "cell warn"
    } else {
        "cell ok"
    };
    let statuses = SyncStatus::ALL
        .into_iter()
        .map(|s| {
            view! {
                <span class=format!("st st-{}", s.as_str()) data-status=s.as_str()>
                    {format!("{} {}", s.as_str(), thousands(c.count(s)))}
                </span>
                " "
            }
        })
        .collect_view();
    view! {
        <td
            class=health
            data-testid="sync-cell"
            data-channel=channel
            data-target=target.as_str()
            data-pending=c.count(SyncStatus::Pending).to_string()
            data-synced=c.count(SyncStatus::Synced).to_string()
            data-failed=c.count(SyncStatus::Failed).to_string()
            data-retrying=c.count(SyncStatus::Retrying).to_string()
        >
            <div class="statuses">{statuses}</div>
            <div class="small">
                <span data-testid="failure-rate">{format!("fail {}", percent(c.failure_rate))}</span>
                {format!(" · retries {}", thousands(c.retries))}
            </div>
            <div class="small muted" data-testid="lag-percentiles">
                {format!(
                    "p50 {} · p95 {} · p99 {}",
                    opt_ms(c.lag_p50_ms),
                    opt_ms(c.lag_p95_ms),
                    opt_ms(c.lag_p99_ms),
                )}
            </div>
        </td>
    }
    .into_any()
}

/// Bucket label: upper bound of the bucket.
fn bound_label(ms: u64) -> String {
    if ms == u64::MAX {
        "more".to_owned()
    } else {
        // reason: bucket bounds are small
        #[allow(clippy::cast_precision_loss)]
        let v = ms as f64;
        format!("≤{}", duration_ms(v))
    }
}

/// A small SVG bar histogram of one channel's sync lag.
#[component]
fn LagBars(
    /// The channel's buckets.
    hist: LagHistogram,
) -> impl IntoView {
    let max = hist
        .buckets
        .iter()
        .map(|&(_, n)| n)
        .max()
        .unwrap_or(0)
        .max(1);
    let n = hist.buckets.len().max(1);
    let bw = 100.0 / n as f64;
    let bars = hist
        .buckets
        .iter()
        .enumerate()
        .map(|(i, &(bound, count))| {
            let h = count as f64 / max as f64 * 36.0;
            view! {
                <rect
                    x=format!("{:.2}", i as f64 * bw + bw * 0.1)
                    y=format!("{:.2}", 40.0 - h)
                    width=format!("{:.2}", bw * 0.8)
                    height=format!("{h:.2}")
                    data-bound=bound_label(bound)
                    data-count=count.to_string()
                >
                    <title>{format!("{}: {}", bound_label(bound), count)}</title>
                </rect>
            }
        })
        .collect_view();
    let first = hist
        .buckets
        .first()
        .map(|&(b, _)| bound_label(b))
        .unwrap_or_default();
    let last = hist
        .buckets
        .last()
        .map(|&(b, _)| bound_label(b))
        .unwrap_or_default();
    view! {
        <figure class="hist" data-channel=hist.channel.clone()>
            <figcaption>{hist.channel.clone()}</figcaption>
            <svg viewBox="0 0 100 40" preserveAspectRatio="none" class="hist-svg" role="img">
                {bars}
            </svg>
            <div class="hist-axis muted small"><span>{first}</span><span>{last}</span></div>
        </figure>
    }
}
