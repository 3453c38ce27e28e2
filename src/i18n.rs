//! Languages and the one translation table every UI label goes through.
//!
//! [`K`] names each text; [`Lang::t`] looks it up, [`Lang::f`] fills `{0}`,
//! `{1}`... placeholders. The table is written once below with both
//! languages side by side, so a key cannot miss a translation. Feed strings
//! (product ids, channels, error texts) are data and are never translated;
//! the core's English sentences (log lines, warnings, reasons) are re-worded
//! here from their parts in Chinese and kept verbatim in English.

use std::fmt::Display;

/// A UI language.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Simplified Chinese.
    Zh,
}

impl Lang {
    /// Both languages, in menu order.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Zh];

    /// BCP 47 tag (`<html lang>`, storage, the select's values).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    /// The language's own name.
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Zh => "简体中文",
        }
    }

    /// Parses a tag: `zh`, `zh-CN`, `zh-Hans`... -> Chinese; else English.
    pub fn parse(tag: &str) -> Lang {
        if tag.trim().to_ascii_lowercase().starts_with("zh") {
            Lang::Zh
        } else {
            Lang::En
        }
    }

    /// The text of `k`.
    pub fn t(self, k: K) -> &'static str {
        let i = k as usize;
        match self {
            Lang::En => EN[i],
            Lang::Zh => ZH[i],
        }
    }

    /// The text of `k` with `{0}`, `{1}`... replaced by `args`.
    pub fn f(self, k: K, args: &[&dyn Display]) -> String {
        fill(self.t(k), args)
    }
}

/// Replaces `{0}`..`{9}` in `template` by `args`.
pub fn fill(template: &str, args: &[&dyn Display]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let b = after.as_bytes();
        if let (Some(&d @ b'0'..=b'9'), Some(b'}')) = (b.first(), b.get(1)) {
            if let Some(a) = args.get(usize::from(d - b'0')) {
                out.push_str(&a.to_string());
            }
            rest = &after[2..];
        } else {
            out.push('{');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

macro_rules! table {
    ($($key:ident => $en:literal, $zh:literal;)*) => {
        /// Every translatable text.
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        pub enum K { $(#[allow(missing_docs)] $key),* }
        const EN: &[&str] = &[$($en),*];
        const ZH: &[&str] = &[$($zh),*];
    };
}

table! {
    // ---- connection and feed health
    Connecting => "connecting", "正在连接";
    Live => "live", "实时";
    ReconnectingIn => "reconnecting in {0} s", "{0} 秒后重新连接";
    Resynced => "gap — resynced", "断档 — 已重新同步";
    Offline => "offline", "离线";
    Unauthorized => "unauthorized — check the token", "未授权 — 请检查访问令牌";
    ViewerToken => "Viewer token", "查看令牌";
    Connect => "Connect", "连接";
    Applied => "applied", "已处理";
    Rejected => "rejected", "已拒绝";
    Late => "late", "迟到";
    EventsPerS => "events/s", "事件/秒";
    BehindFeed => "behind feed", "落后于数据源";
    NewestEvent => "newest event (UTC)", "最新事件 (UTC)";
    NEvents => "{0} events", "{0} 个事件";
    NoHello => "no hello yet", "尚未收到问候";
    UnnamedSource => "unnamed source", "未命名数据源";
    ReplayMax => "replay as fast as possible", "以最快速度回放";
    ReplayX => "replay ×{0}", "回放 ×{0}";
    RetryingIn => "retrying in {0} s", "{0} 秒后重试";
    GapsLast => "gaps {0} (last: {1})", "断档 {0} 次（最近：{1}）";
    DisconnectsLast => "disconnects {0} (last: {1})", "断开 {0} 次（最近：{1}）";
    LastError => "last error: {0}", "最近错误：{0}";
    Now => "now", "现在";
    RejectedInput => "Rejected input", "被拒绝的输入";
    LineN => "line {0}", "第 {0} 行";
    // ---- loading and empty states
    Loading => "Connecting to the event feed…", "正在连接事件数据源…";
    LoadingHint => "The dashboard appears as soon as the gateway answers.", "网关响应后即显示仪表盘。";
    EmptyTitle => "Waiting for events — start the gateway with --simulate or POST to /ingest", "等待事件 — 使用 --simulate 启动网关，或向 /ingest 发送 POST 请求";
    FeedColon => "Feed: ", "数据源：";
    EmptyEg => "e.g. ", "例如 ";
    EmptyOr => " or open this page with ", " 或用以下参数打开本页 ";
    EmptySettings => "You can also set the feed URL in Settings.", "也可以在“设置”中填写数据源地址。";
    // ---- toolbar
    Controls => "Dashboard controls", "仪表盘控制";
    Pause => "Pause", "暂停";
    Resume => "Resume", "继续";
    PauseHint => "Pause the live view; events keep arriving and apply on resume", "暂停实时视图；事件仍会接收，继续时应用";
    Queued => "{0} queued", "已排队 {0} 个";
    QueueFull => "queue full: the rest is fetched again on resume", "队列已满：继续时将重新获取其余事件";
    Language => "Language", "语言";
    ThemeDark => "Dark", "深色";
    ThemeLight => "Light", "浅色";
    ThemeToggle => "Switch to the {0} theme", "切换到{0}主题";
    Settings => "Settings", "设置";
    // ---- behaviour
    Behaviour => "Shopper behaviour", "顾客行为";
    ActiveShoppers => "active shoppers (5 min)", "活跃顾客（5 分钟）";
    LiveLog => "Live log", "实时日志";
    TopProducts => "Top products", "热门商品";
    Actions => "Actions", "行为";
    StepBrowse => "browse", "浏览";
    StepCart => "cart", "加购";
    StepCheckout => "checkout", "结账";
    StepPurchase => "purchase", "购买";
    FromPrevious => "from previous step", "相对上一步";
    BrowseToPurchase => "browse → purchase: {0}", "浏览 → 购买：{0}";
    ProductN => "Product {0}", "商品 {0}";
    ColAction => "action", "行为";
    Col1m => "1 m", "1 分钟";
    Col5m => "5 m", "5 分钟";
    Col1h => "1 h", "1 小时";
    ColAll => "all", "全部";
    ColProduct => "product", "商品";
    ColCount => "count", "次数";
    ColError => "error bound", "误差上限";
    ActBrowse => "browse", "浏览";
    ActAddToCart => "add to cart", "加入购物车";
    ActRemove => "remove from cart", "移出购物车";
    ActCheckout => "checkout", "结账";
    ActPurchase => "purchase", "购买";
    ActOther => "other", "其他";
    LogBrowse => "User {0} is browsing product {1}", "用户 {0} 正在浏览商品 {1}";
    LogAdd => "User {0} has added product {1} to cart", "用户 {0} 已将商品 {1} 加入购物车";
    LogRemove => "User {0} has removed product {1} from cart", "用户 {0} 已将商品 {1} 移出购物车";
    LogCheckout => "User {0} is checking out with product {1}", "用户 {0} 正在结账，商品 {1}";
    LogPurchase => "User {0} has purchased product {1}", "用户 {0} 已购买商品 {1}";
    LogOther => "User {0} did {2} on product {1}", "用户 {0} 对商品 {1} 执行了 {2}";
    NoActivity => "No activity yet — shopper events appear here as they arrive.", "暂无活动 — 顾客事件到达后显示在这里。";
    // ---- inventory
    Inventory => "Inventory", "库存";
    InvSummary => "{0} tracked · {1} low · {2} out · {3} oversold", "跟踪 {0} 个 · 低库存 {1} · 缺货 {2} · 超卖 {3}";
    LowStock => "Low stock", "低库存";
    OutOfStock => "Out of stock", "缺货";
    Oversold => "Oversold", "超卖";
    Warnings => "Warnings", "警告";
    WarnLow => "Warning: Product {0} is low on stock", "警告：商品 {0} 库存不足";
    WarnOversold => "Warning: Product {0} is oversold", "警告：商品 {0} 已超卖";
    TagOut => "out of stock", "缺货";
    Since => " since {0}", "，自 {0} 起";
    OversoldQty => "Product {0} oversold: quantity {1}", "商品 {0} 超卖：数量 {1}";
    LeftOf => "{0} left (≤ {1})", "剩余 {0}（≤ {1}）";
    OutNowAtRate => "out of stock now at this rate", "按此速度现已缺货";
    OutInAt => "out {0} at {1}/h", "{0}缺货，每小时 {1}";
    NotDepleting => "not depleting", "未在减少";
    ColQuantity => "quantity", "数量";
    ColThreshold => "threshold", "阈值";
    ColState => "state", "状态";
    ColPerHour => "sold per hour", "每小时消耗";
    ColStockout => "projected stock-out", "预计缺货时间";
    ColUpdated => "updated", "更新时间";
    StateLow => "low", "低库存";
    StateOut => "out", "缺货";
    StateOversold => "oversold", "超卖";
    NothingLow => "Nothing is low on stock.", "没有低库存商品。";
    // ---- recommendations
    Recommendations => "Recommendations", "推荐";
    Trending => "Trending", "趋势";
    BoughtTogether => "Bought together", "经常一起购买";
    ForActive => "For active shoppers", "为活跃顾客推荐";
    PairOf => "Product {0} + Product {1}", "商品 {0} + 商品 {1}";
    UserN => "User {0}", "用户 {0}";
    NoSuggestion => "no suggestion yet", "暂无推荐";
    SuggestionsFor => "Suggestions for user ", "为用户推荐 ";
    UserIdPlaceholder => "user id, e.g. 1", "用户 ID，例如 1";
    ReasonBoughtWith => "bought with {0}", "与 {0} 一起购买";
    ReasonViewedWith => "viewed with {0}", "与 {0} 一起浏览";
    ReasonTrending => "trending", "热门";
    ReasonPurchased => "you purchased", "您购买过";
    ReasonInCart => "in your cart", "在您的购物车中";
    ReasonViewed => "you viewed", "您浏览过";
    ColScore => "score", "得分";
    // ---- sales
    Sales => "Sales", "销售";
    Window => "window ", "时间窗口 ";
    Range => "show ", "显示 ";
    SpanMinute => "minute", "分钟";
    SpanHour => "hour", "小时";
    SpanDay => "day", "天";
    LastNMinutes => "last {0} minutes", "最近 {0} 分钟";
    LastNHours => "last {0} hours", "最近 {0} 小时";
    LastNDays => "last {0} days", "最近 {0} 天";
    Total => "total", "合计";
    Incomplete => "incomplete", "不完整";
    ByChannel => "By channel", "按渠道";
    RecentWindows => "Recent windows", "最近的时间窗口";
    SalesNotes => "{0} orders in another currency (not in totals) · {1} late orders", "{0} 个其他币种订单（未计入合计）· {1} 个迟到订单";
    HiddenNote => "Hidden channels: {0} (totals include them)", "已隐藏的渠道：{0}（合计包含它们）";
    BusinessFigures => "Business figures", "业务数据";
    Revenue => "revenue", "收入";
    Orders => "orders", "订单";
    AvgOrder => "avg order", "平均订单额";
    CancelledRefunded => "cancelled / refunded", "取消 / 退款";
    ColChannel => "channel", "渠道";
    ColRevenue => "revenue", "收入";
    ColOrders => "orders", "订单";
    ColCancelled => "cancelled", "取消";
    ColAov => "AOV", "平均订单额";
    ColCurrency => "currency", "币种";
    ColWindow => "window (UTC)", "时间窗口 (UTC)";
    StIncomplete => "⚠ incomplete", "⚠ 不完整";
    StClosed => "closed", "已关闭";
    StOpen => "open", "进行中";
    NoWindows => "No {0} windows yet", "暂无{0}窗口";
    RevenueAxis => "revenue ({0})", "收入（{0}）";
    ChartLabel => "Revenue per channel and orders per window", "各渠道收入与每个时间窗口的订单数";
    FigureLine => "Sales on {0}: {1}", "{0} 销售额：{1}";
    // ---- sync
    OrderSync => "Order sync", "订单同步";
    StuckOrders => "Stuck orders ({0}, SLA {1})", "卡住的订单（{0}，SLA {1}）";
    StuckLine => "Order {0} · {1} → {2} · {3} for {4}", "订单 {0} · {1} → {2} · {3} 已 {4}";
    InvalidTransitions => "Invalid transitions ({0})", "无效的状态转换（{0}）";
    InvalidLine => "Order {0} ({1} → {2}): ", "订单 {0}（{1} → {2}）：";
    LagPerChannel => "Sync lag per channel", "各渠道同步延迟";
    Forecast => "Order volume forecast (next minute)", "订单量预测（下一分钟）";
    ColLastMinute => "last minute", "上一分钟";
    ColNextMinute => "next minute", "下一分钟";
    TPayment => "payment", "支付";
    TInventory => "inventory", "库存";
    TLogistics => "logistics", "物流";
    TCustomerService => "customer service", "客服";
    SPending => "pending", "待处理";
    SSynced => "synced", "已同步";
    SFailed => "failed", "失败";
    SRetrying => "retrying", "重试中";
    FailPct => "fail {0}", "失败率 {0}";
    Retries => " · retries {0}", " · 重试 {0}";
    Percentiles => "p50 {0} · p95 {1} · p99 {2}", "p50 {0} · p95 {1} · p99 {2}";
    More => "more", "更多";
    LagHistLabel => "Sync lag of {0}", "{0} 的同步延迟";
    ColTarget => "target", "目标系统";
    ColStatus => "status", "状态";
    ColSince => "since", "开始时间";
    ColStuckFor => "stuck for (ms)", "卡住时长（毫秒）";
    ColLastError => "last error", "最近错误";
    ColRetries => "retries", "重试";
    ColFailureRate => "failure rate", "失败率";
    ColOrder => "order", "订单";
    ReasonLogisticsFirst => "logistics synced before payment", "物流在支付之前已同步";
    ReasonAfterSynced => "{0} after synced", "已同步后又变为 {0}";
    ReasonAttemptDown => "attempt went down from {0} to {1}", "尝试次数从 {0} 降到 {1}";
    OpenCell => "Show orders of {0} → {1}", "查看 {0} → {1} 的订单";
    // ---- alerts
    Alerts => "Alerts", "告警";
    AlertsOpen => "{0} open", "{0} 个未处理";
    AckAll => "Acknowledge all", "全部确认";
    ClearResolved => "Clear resolved", "清除已恢复";
    Ack => "Acknowledge", "确认";
    AckOne => "Acknowledge alert: {0}", "确认告警：{0}";
    Acked => "acknowledged", "已确认";
    Resolved => "resolved", "已恢复";
    NoAlerts => "No alerts. Low stock, sync failures, slow syncs and stuck orders raise one here; thresholds are in Settings.", "暂无告警。低库存、同步失败、同步缓慢和卡住的订单会在这里告警；阈值可在“设置”中调整。";
    AlertLow => "Product {0} is low on stock: {1} left (threshold {2})", "商品 {0} 库存不足：剩余 {1}（阈值 {2}）";
    AlertOut => "Product {0} is out of stock", "商品 {0} 缺货";
    AlertOversold => "Product {0} is oversold: quantity {1}", "商品 {0} 已超卖：数量 {1}";
    AlertFail => "{0} → {1}: sync failure rate {2} (threshold {3})", "{0} → {1}：同步失败率 {2}（阈值 {3}）";
    AlertLag => "{0} → {1}: sync lag p95 {2} (threshold {3})", "{0} → {1}：同步延迟 p95 {2}（阈值 {3}）";
    AlertStuck => "{0}: {1} orders stuck longer than {2}", "{0}：{1} 个订单卡住超过 {2}";
    TimesN => "×{0}", "×{0}";
    FirstLast => "first {0} · last {1}", "首次 {0} · 最近 {1}";
    HeldSummary => "{0} more alerts not listed (at most {1} new per minute): {2}", "另有 {0} 条告警未列出（每分钟最多新增 {1} 条）：{2}";
    KindLow => "low stock", "低库存";
    KindOut => "out of stock", "缺货";
    KindOversold => "oversold", "超卖";
    KindFail => "sync failures", "同步失败";
    KindLag => "slow sync", "同步缓慢";
    KindStuck => "stuck orders", "卡住的订单";
    ColKind => "kind", "类型";
    ColSubject => "subject", "对象";
    ColFirst => "first seen", "首次出现";
    ColLast => "last seen", "最近出现";
    ColActive => "active", "进行中";
    ColAcked => "acknowledged", "已确认";
    ColValue => "value", "数值";
    // ---- drill-down
    Close => "Close", "关闭";
    CloseDetails => "Close details", "关闭详情";
    ProductDetails => "Product {0}", "商品 {0}";
    CellDetails => "{0} → {1}", "{0} → {1}";
    OrderDetails => "Order {0}", "订单 {0}";
    Stock => "Stock", "库存";
    NotTracked => "No stock level seen for this product yet.", "尚未看到该商品的库存数据。";
    QtyNow => "{0} on hand", "现有 {0}";
    ThresholdN => "low at ≤ {0}", "≤ {0} 为低库存";
    Depletion => "Depletion", "消耗";
    PerHour => "{0} per hour", "每小时 {0}";
    Velocity => "Trending score", "趋势得分";
    TopCount => "Views and purchases (top products)", "浏览与购买次数（热门商品）";
    StockHistory => "Stock history", "库存历史";
    OftenWith => "Often bought or viewed with", "经常一起购买或浏览";
    NoPartners => "No co-purchases seen yet.", "尚未看到共同购买。";
    StateLabel => "State", "状态";
    UnsyncedOrders => "Failed, retrying and pending orders", "失败、重试和待处理的订单";
    NoUnsynced => "No failed or stuck order in this cell.", "此单元没有失败或卡住的订单。";
    CellFigures => "Now: {0}", "当前：{0}";
    CurrentSync => "Sync state per target", "各目标系统的同步状态";
    Timeline => "Events seen by this dashboard", "本仪表盘收到的事件";
    NoTimeline => "No event of this order since this page opened.", "自本页打开以来没有该订单的事件。";
    UnknownOrder => "This order is not (or no longer) in the sync state.", "该订单不在（或已不在）同步状态中。";
    AttemptN => "attempt {0}", "第 {0} 次尝试";
    OrderStatusIs => "order {0}", "订单状态：{0}";
    LatencyN => "latency {0}", "延迟 {0}";
    // ---- settings
    SettingsTitle => "Settings", "设置";
    FeedUrl => "Feed URL", "数据源地址";
    FeedUrlHelp => "WebSocket of the gateway; empty: this page's /ws. A ?feed= in the page address wins.", "网关的 WebSocket 地址；留空则使用本页的 /ws。页面地址中的 ?feed= 优先。";
    Threshold => "Low-stock threshold", "低库存阈值";
    ThresholdHelp => "Low at or below this quantity.", "数量小于或等于此值时为低库存。";
    ProductThresholds => "Per-product thresholds", "按商品设置阈值";
    ProductThresholdsHelp => "One per line: product=threshold, e.g. 101=5", "每行一个：商品=阈值，例如 101=5";
    Sla => "Sync SLA (seconds)", "同步 SLA（秒）";
    SlaHelp => "Pending or retrying longer than this is stuck.", "待处理或重试超过此时长即视为卡住。";
    ChartWindow => "Chart window", "图表时间窗口";
    ChannelsShown => "Channels shown", "显示的渠道";
    NoChannels => "No channel seen yet.", "尚未看到任何渠道。";
    AlertRules => "Alerts", "告警";
    FailRate => "Failure-rate alert (%)", "失败率告警（%）";
    LagAlert => "Lag p95 alert (ms)", "延迟 p95 告警（毫秒）";
    AlertsPerMin => "New alerts per minute at most", "每分钟最多新增告警数";
    Notify => "Browser notifications for new alerts", "新告警时发送浏览器通知";
    PanelsComputed => "Panels computed", "计算的面板";
    ComputedHelp => "A panel turned off is not computed: on a busy feed its share of the CPU goes to the others. Turned back on, it reloads its state from the gateway.", "关闭的面板不再计算：数据繁忙时，它的 CPU 份额留给其他面板。重新打开时，它会从网关重新加载状态。";
    FallingBehind => "Falling behind the feed: turning off Recommendations or Order sync in Settings frees their share of the CPU.", "跟不上数据流：在设置中关闭“推荐”或“订单同步”可腾出它们占用的 CPU。";
    NotComputed => "Not computed: turned off in the settings.", "未计算：已在设置中关闭。";
    NotifyDenied => "Notifications are blocked for this site.", "本站的通知已被阻止。";
    Save => "Save", "保存";
    Reset => "Defaults", "恢复默认";
    Saved => "Saved.", "已保存。";
    NotSaved => "Not saved: fix the fields marked below.", "未保存：请修正下面标出的字段。";
    ErrFeedUrl => "Feed URL must start with ws:// or wss:// and name a host, e.g. ws://127.0.0.1:9001/ws", "数据源地址必须以 ws:// 或 wss:// 开头并包含主机名，例如 ws://127.0.0.1:9001/ws";
    ErrThreshold => "Threshold must be a whole number from 0 to 1,000,000", "阈值必须是 0 到 1,000,000 之间的整数";
    ErrProductLine => "Line {0}: write product=threshold, e.g. 101=5", "第 {0} 行：请写成 商品=阈值，例如 101=5";
    ErrProductThreshold => "Line {0}: threshold must be a whole number from 0 to 1,000,000", "第 {0} 行：阈值必须是 0 到 1,000,000 之间的整数";
    ErrProductCount => "At most {0} per-product thresholds", "最多 {0} 个按商品阈值";
    ErrSla => "SLA must be a whole number of seconds from 1 to 604,800 (7 days)", "SLA 必须是 1 到 604,800（7 天）之间的整秒数";
    ErrFailPct => "Failure-rate alert must be a whole percentage from 1 to 100", "失败率告警必须是 1 到 100 之间的整数百分比";
    ErrLagMs => "Lag alert must be a whole number of milliseconds from 1 to 3,600,000", "延迟告警必须是 1 到 3,600,000 之间的整毫秒数";
    ErrAlertsPerMin => "Alerts per minute must be a whole number from 1 to 100", "每分钟告警数必须是 1 到 100 之间的整数";
    // ---- export
    CsvLabel => "Download {0} as CSV", "将{0}下载为 CSV";
    PngLabel => "Download the chart as PNG", "将图表下载为 PNG";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_aligned_and_complete() {
        assert_eq!(EN.len(), ZH.len());
        assert_eq!(Lang::En.t(K::Live), "live");
        assert_eq!(Lang::Zh.t(K::Live), "实时");
        assert_eq!(Lang::Zh.t(K::PngLabel), "将图表下载为 PNG");
        for (en, zh) in EN.iter().zip(ZH) {
            assert!(!en.is_empty() && !zh.is_empty());
            let holes = |s: &str| (0..10).filter(|i| s.contains(&format!("{{{i}}}"))).count();
            assert_eq!(holes(en), holes(zh), "{en} / {zh}");
        }
    }

    #[test]
    fn fills_placeholders() {
        assert_eq!(
            Lang::En.f(K::LogBrowse, &[&1, &101]),
            "User 1 is browsing product 101"
        );
        assert_eq!(
            Lang::Zh.f(K::LogBrowse, &[&1, &101]),
            "用户 1 正在浏览商品 101"
        );
        assert_eq!(fill("{x} {1} {0}", &[&"a", &"b"]), "{x} b a");
        assert_eq!(fill("{0", &[&"a"]), "{0");
    }

    #[test]
    fn parses_tags() {
        assert_eq!(Lang::parse("zh-CN"), Lang::Zh);
        assert_eq!(Lang::parse("zh-Hans-CN"), Lang::Zh);
        assert_eq!(Lang::parse("en-US"), Lang::En);
        assert_eq!(Lang::parse(""), Lang::En);
    }
}
